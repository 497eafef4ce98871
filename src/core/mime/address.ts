// Address lists: a tolerant parser for what Thunderbird hands over ("Name <a@b>", quoted
// names with commas, bare addresses, "<a@b>", groups) and the RFC 5322 writer.
import { phraseAtoms } from "./header.js";

export interface ParsedAddress {
  name: string;
  address: string;
}

/** A whitespace-separated word of a segment: as displayed (quotes removed) and as written. */
interface Word {
  display: string;
  raw: string;
}

interface Segment {
  words: Word[];
  address: string;
  hasAngle: boolean;
  comment: string;
}

const displayOf = (words: readonly Word[]) => words.map((w) => w.display).join(" ");

/**
 * Parses "Name <a@b>, \"Doe, John\" <j@d>, c@d, <e@f>" into name/address pairs. Tolerant:
 * `,` and `;` both separate, group names ("Team: a@b, c@d;") are dropped and their members
 * kept, a comment serves as the name when there is none ("a@b (Alice)"), "Name a@b" without
 * brackets takes the last word as the address, and an unquoted "Smith, John <j@d>" keeps
 * "Smith, John" as the name. Names lose their quotes and escapes; unquoted whitespace runs
 * become one space. Nothing is lowercased, nothing is decoded.
 */
export function parseAddressList(header: string): ParsedAddress[] {
  const segments: Segment[] = [];
  let words: Word[] = [];
  let newWord = true;
  let angle = "";
  let inAngle = false;
  let hasAngle = false;
  let comment = "";

  const append = (display: string, raw: string) => {
    const last = words[words.length - 1];
    if (newWord || last === undefined) words.push({ display, raw });
    else {
      last.display += display;
      last.raw += raw;
    }
    newWord = false;
  };
  const endSegment = () => {
    segments.push({ words, address: angle.trim(), hasAngle, comment: comment.trim() });
    words = [];
    newWord = true;
    angle = "";
    inAngle = false;
    hasAngle = false;
    comment = "";
  };

  const s = header;
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (inAngle) {
      // Inside <…>: everything up to ">" is the address, quoted local parts included.
      if (c === ">") {
        inAngle = false;
        i++;
        continue;
      }
      if (c === '"') {
        const end = scanQuoted(s, i);
        angle += s.slice(i, end);
        i = end;
        continue;
      }
      angle += c;
      i++;
      continue;
    }
    if (c === '"') {
      const end = scanQuoted(s, i);
      append(unquote(s.slice(i, end)), s.slice(i, end));
      i = end;
      continue;
    }
    if (c === "(") {
      const end = scanComment(s, i);
      comment += (comment ? " " : "") + s.slice(i + 1, end - 1);
      newWord = true;
      i = end;
      continue;
    }
    if (c === "<") {
      if (hasAngle) {
        // a second <…> in one segment: keep the first
        const close = s.indexOf(">", i);
        i = close < 0 ? s.length : close + 1;
        continue;
      }
      angle = "";
      inAngle = true;
      hasAngle = true;
      newWord = true;
      i++;
      continue;
    }
    if (c === "," || c === ";") {
      endSegment();
      i++;
      continue;
    }
    if (c === ":" && !hasAngle) {
      // group syntax: "display-name:" — drop the group name, keep its members
      words = [];
      newWord = true;
      comment = "";
      i++;
      continue;
    }
    if (/\s/.test(c)) {
      newWord = true;
      i++;
      continue;
    }
    append(c, c);
    i++;
  }
  endSegment();

  const result: ParsedAddress[] = [];
  let carry = ""; // "Smith" from an unquoted "Smith, John <j@d>"
  const flushCarry = () => {
    if (carry !== "") result.push({ name: "", address: carry });
    carry = "";
  };
  for (let k = 0; k < segments.length; k++) {
    const seg = segments[k]!;
    if (seg.hasAngle) {
      const own = seg.words.length > 0 ? displayOf(seg.words) : seg.comment;
      const fullName = carry !== "" ? (own !== "" ? `${carry}, ${own}` : carry) : own;
      carry = "";
      if (fullName === "" && seg.address === "") continue;
      result.push({ name: fullName, address: seg.address });
      continue;
    }
    if (seg.words.length === 0) {
      flushCarry();
      continue;
    }
    const last = seg.words[seg.words.length - 1]!;
    if (last.raw.includes("@")) {
      flushCarry();
      const rest = displayOf(seg.words.slice(0, -1));
      result.push({ name: rest !== "" ? rest : seg.comment, address: last.raw });
      continue;
    }
    const anyAt = seg.words.some((w) => w.raw.includes("@"));
    // No address in this segment: if the next segment carries <…>, this was the first half
    // of an unquoted name with a comma; otherwise it is a bare address (validated later).
    const next = segments[k + 1];
    if (!anyAt && next !== undefined && next.hasAngle) {
      carry = carry !== "" ? `${carry}, ${displayOf(seg.words)}` : displayOf(seg.words);
    } else {
      flushCarry();
      result.push({ name: "", address: seg.words.map((w) => w.raw).join(" ") });
    }
  }
  flushCarry();
  return result;
}

/** Index just past the quoted-string starting at `start` (an unterminated one runs to the end). */
function scanQuoted(s: string, start: number): number {
  let i = start + 1;
  while (i < s.length) {
    if (s[i] === "\\") i += 2;
    else if (s[i] === '"') return i + 1;
    else i++;
  }
  return s.length;
}

/** Index just past the (possibly nested) comment starting at `start`. */
function scanComment(s: string, start: number): number {
  let depth = 0;
  let i = start;
  while (i < s.length) {
    const c = s[i];
    if (c === "\\") i += 2;
    else {
      if (c === "(") depth++;
      else if (c === ")") {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
  }
  return s.length;
}

function unquote(q: string): string {
  const inner = q.endsWith('"') && q.length >= 2 ? q.slice(1, -1) : q.slice(1);
  return inner.replace(/\\(.)/g, "$1");
}

const LOCAL_DOT_ATOM = /^[^\s<>()[\]\\,;:@"]+$/u;
const QUOTED_LOCAL = /^"(?:[^"\\\r\n]|\\.)*"$/u;
const DOMAIN = /^(?:[^\s<>()[\]\\,;:@"]+|\[[^\s[\]\\]+\])$/u;

/**
 * Validates an addr-spec: local@domain, no whitespace or control characters, at most 254
 * octets. UTF-8 (RFC 6532) is allowed and never encoded. Throws with `what` in the message.
 */
export function assertAddrSpec(address: string, what: string): void {
  if (/[\r\n]/.test(address)) throw new Error(`${what}: CR or LF in address ${JSON.stringify(address)}`);
  const at = address.lastIndexOf("@");
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  const ok =
    at > 0 &&
    at < address.length - 1 &&
    (LOCAL_DOT_ATOM.test(local) || QUOTED_LOCAL.test(local)) &&
    DOMAIN.test(domain) &&
    !/[\x00-\x1f\x7f]/.test(address) &&
    new TextEncoder().encode(address).length <= 254;
  if (!ok) {
    const hint = at < 0 ? " (no @: an unexpanded mailing list?)" : "";
    throw new Error(`${what}: not a valid e-mail address ${JSON.stringify(address)}${hint}`);
  }
}

/** Atoms of one mailbox for `foldAtoms`: the encoded display name, then "<addr>" (or the bare addr). */
export function mailboxAtoms(mailbox: ParsedAddress): string[] {
  const name = phraseAtoms(mailbox.name);
  if (name.length === 0) return [mailbox.address];
  return [...name, `<${mailbox.address}>`];
}

/** Atoms of an address list: mailboxes separated by "," (attached to the previous atom). */
export function addressListAtoms(list: readonly ParsedAddress[]): string[] {
  const atoms: string[] = [];
  list.forEach((mb, idx) => {
    const a = mailboxAtoms(mb);
    if (idx < list.length - 1) a[a.length - 1] = a[a.length - 1]! + ",";
    atoms.push(...a);
  });
  return atoms;
}

/** Parses the entries (each may hold several addresses) and validates every address. */
export function parseAndValidate(entries: readonly string[], what: string): ParsedAddress[] {
  const out: ParsedAddress[] = [];
  for (const entry of entries) {
    if (typeof entry !== "string") throw new Error(`${what}: expected a string, got ${typeof entry}`);
    if (/[\r\n]/.test(entry)) throw new Error(`${what}: CR or LF in ${JSON.stringify(entry)} (header injection)`);
    for (const mb of parseAddressList(entry)) {
      assertAddrSpec(mb.address, what);
      out.push(mb);
    }
  }
  return out;
}

const ATEXT = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]";
const DOT_ATOM = `${ATEXT}+(?:\\.${ATEXT}+)*`;
const QUOTED = '"(?:[^"\\\\\\r\\n]|\\\\[\\x20-\\x7e])*"';
/**
 * A dot-atom local part only: a quoted one ("a b"@x) is read unquoted by some parsers and quoted by others (found by
 * the fuzzer against postal-mime), and no JID has one, so such a From is simply never verified.
 */
const ADDR_SPEC = `${DOT_ATOM}@${DOT_ATOM}`;
/**
 * A display name: words separated by whitespace, each an atom (with "." as older mailers write "J. Doe", and 8-bit
 * characters as raw UTF-8 names arrive) or a quoted string. Requiring whitespace between words keeps the match linear.
 */
const WORD = `(?:[A-Za-z0-9!#$%&'*+/=?^_\`{|}~.\u0080-\u00ff-]+|${QUOTED})`;
const PHRASE = `${WORD}(?:[ \\t]+${WORD})*[ \\t]*`;
const SINGLE_ANGLE = new RegExp(`^[ \\t]*(${PHRASE})?<(${ADDR_SPEC})>[ \\t]*$`);
const SINGLE_BARE = new RegExp(`^[ \\t]*(${ADDR_SPEC})[ \\t]*$`);

/**
 * Exactly one RFC 5322 mailbox and nothing else: `[display-name] <addr-spec>` or a bare `addr-spec` — no second
 * angle-addr, no list, no group, no comment, no trailing text. This is the only From the receiver checks against the
 * sender's JID: a tolerant reading of anything else could pick another address than the one Thunderbird displays
 * (`<mallory@x> <ceo@bank>` shows ceo@bank). Null when the value is anything else. Linear: the patterns have no
 * nested ambiguity beyond the phrase's words, which are separated by whitespace or quotes.
 */
export function parseSingleMailbox(value: string): ParsedAddress | null {
  if (value.length > 2_000) return null;
  const angle = SINGLE_ANGLE.exec(value);
  const mailbox = angle ? { name: (angle[1] ?? "").trim(), address: angle[2]! } : null;
  const bare = mailbox ? null : SINGLE_BARE.exec(value);
  const found = mailbox ?? (bare ? { name: "", address: bare[1]! } : null);
  // "=?" is atext, but Thunderbird decodes an RFC 2047 encoded word even inside an address's atoms: the From oracle
  // (tests/e2e/from-oracle.test.ts) saw `M=?utf-8?q?ceo=40bank=2Eexample?=M@evil.example` shown as
  // `"M ceo@bank.example M"@evil.example`. An address holding "=?" is never verified.
  return found && !found.address.includes("=?") ? found : null;
}

/**
 * The address in an author string as Thunderbird reports it (`"Name" <a@b>`, `Name <a@b>` or `a@b`): the last
 * angle-addr, else the whole value; lowercased.
 */
export function displayedAddress(author: string): string {
  const angle = /<([^<>]*)>\s*$/.exec(author);
  return (angle ? angle[1]! : author).trim().toLowerCase();
}
