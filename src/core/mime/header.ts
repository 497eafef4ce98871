// Header-field encoding: RFC 2047 encoded-words, RFC 5322 phrases and folding,
// RFC 2231 parameters. Every function returns ASCII (addr-specs excepted, see address.ts).
import { encodeBase64 } from "../base64.js";
import { CRLF, utf8 } from "./codec.js";

/** Folding target (RFC 5322 §2.1.1 "SHOULD be no more than 78 characters"). */
const FOLD_AT = 78;
/** Hard limit of a line, CRLF excluded (RFC 5322 §2.1.1 "MUST be no more than 998"). */
export const MAX_LINE = 998;
/** RFC 2047 §2: an encoded-word is at most 75 characters. */
const MAX_ENCODED_WORD = 75;
/** "=?UTF-8?Q?" + "?=" */
const ENCODED_WORD_OVERHEAD = 12;

const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;
const CR_OR_LF = /[\r\n]/;
const NON_ASCII = /[^\x00-\x7f]/;

function hasCrOrLf(s: string): boolean {
  return CR_OR_LF.test(s);
}

function isAscii(s: string): boolean {
  return !NON_ASCII.test(s);
}

/** Throws when `value` contains CR or LF (header injection) — `what` names the field in the message. */
export function assertSingleLine(value: string, what: string): void {
  if (hasCrOrLf(value)) throw new Error(`${what} must not contain CR or LF (header injection): ${JSON.stringify(value)}`);
}

/** Q-encoding of one code point in the restrictive set valid in phrases and unstructured text. */
function qChar(cp: string): string {
  if (/^[A-Za-z0-9!*+\-/]$/.test(cp)) return cp;
  if (cp === " ") return "_";
  let out = "";
  for (const b of utf8(cp)) out += "=" + (b < 16 ? "0" : "") + b.toString(16).toUpperCase();
  return out;
}

/**
 * RFC 2047 encoded-words (UTF-8) for `text`, Q or B, whichever is shorter. Words never split a
 * code point; the first word is at most `firstMax` characters, the others at most `restMax`
 * (both capped at 75).
 */
function encodeWords(text: string, firstMax: number = MAX_ENCODED_WORD, restMax: number = MAX_ENCODED_WORD): string[] {
  const cps = Array.from(text);
  const qParts = cps.map(qChar);
  const qLength = qParts.reduce((n, p) => n + p.length, 0);
  const bLength = Math.ceil(utf8(text).length / 3) * 4;
  const words: string[] = [];
  const clamp = (n: number) => Math.min(MAX_ENCODED_WORD, Math.max(n, ENCODED_WORD_OVERHEAD + 12));
  const limit = () => clamp(words.length === 0 ? firstMax : restMax);
  if (qLength <= bLength) {
    let cur = "";
    for (const part of qParts) {
      if (cur !== "" && ENCODED_WORD_OVERHEAD + cur.length + part.length > limit()) {
        words.push(`=?UTF-8?Q?${cur}?=`);
        cur = "";
      }
      cur += part;
    }
    words.push(`=?UTF-8?Q?${cur}?=`);
  } else {
    let cur: number[] = [];
    for (const cp of cps) {
      const bytes = Array.from(utf8(cp));
      if (cur.length > 0 && ENCODED_WORD_OVERHEAD + Math.ceil((cur.length + bytes.length) / 3) * 4 > limit()) {
        words.push(`=?UTF-8?B?${encodeBase64(Uint8Array.from(cur))}?=`);
        cur = [];
      }
      cur = cur.concat(bytes);
    }
    words.push(`=?UTF-8?B?${encodeBase64(Uint8Array.from(cur))}?=`);
  }
  return words;
}

/**
 * Folds a structured field whose value is a sequence of atoms that may be separated by
 * whitespace. Atoms are joined by one space, and a line is broken before an atom that
 * would pass 78 characters. An atom is never split.
 */
export function foldAtoms(name: string, atoms: readonly string[]): string {
  const lines: string[] = [];
  let line = name + ":";
  let first = true;
  for (const atom of atoms) {
    const fits = line.length + 1 + atom.length <= FOLD_AT;
    // The first atom stays beside the name when it fits there or fits nowhere; otherwise it
    // gets a line of its own ("Name:" CRLF SP atom is valid folding white space).
    if (fits || (first && atom.length + 1 > FOLD_AT)) {
      line += " " + atom;
    } else {
      lines.push(line);
      line = " " + atom;
    }
    first = false;
  }
  if (first) line += " ";
  lines.push(line);
  return lines.join(CRLF);
}

/**
 * An unstructured field (Subject, X-…): printable ASCII is folded at its own whitespace, which
 * is kept exactly. Text that cannot be written that way (non-ASCII, control characters, "=?",
 * leading/trailing whitespace, or — with `encodeLongWords` — a word too long to fold) is sent
 * as RFC 2047 encoded-words, which round-trip exactly.
 */
export function foldUnstructured(name: string, value: string, encodeLongWords: boolean): string {
  assertSingleLine(value, `Header ${name}`);
  const tokens = value.match(/[ \t]*[^ \t]+/g) ?? [];
  const prefix = name.length + 2;
  const tooLong =
    tokens.some((t) => t.length + 1 > FOLD_AT) || (tokens[0] !== undefined && prefix + tokens[0].length > FOLD_AT);
  const needsEncoding =
    !isAscii(value) || CONTROL.test(value) || value.includes("=?") || /^[ \t]|[ \t]$/.test(value) || (encodeLongWords && tooLong);
  if (value === "") return name + ": ";
  if (needsEncoding) {
    return foldAtoms(name, encodeWords(value, Math.min(MAX_ENCODED_WORD, FOLD_AT - prefix)));
  }
  if (tokens.some((t) => prefix + t.length > MAX_LINE)) {
    throw new Error(`Header ${name} has a word too long for one line (${MAX_LINE} octets)`);
  }
  const lines: string[] = [];
  let line = name + ": " + tokens[0]!;
  for (const tok of tokens.slice(1)) {
    if (line.length + tok.length > FOLD_AT) {
      lines.push(line);
      line = tok; // starts with the whitespace it was separated by: unfolding restores it
    } else {
      line += tok;
    }
  }
  lines.push(line);
  return lines.join(CRLF);
}

const ATEXT_WORD = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+$/;

/** A display name as RFC 5322 phrase atoms: plain atoms, one quoted-string, or encoded-words. */
export function phraseAtoms(name: string): string[] {
  if (name === "") return [];
  const words = name.split(" ");
  // Words longer than 60 characters go as encoded-words too, so that they can be folded.
  if (isAscii(name) && !CONTROL.test(name) && !name.includes("=?") && words.every((w) => ATEXT_WORD.test(w) && w.length <= 60)) {
    return words;
  }
  if (isAscii(name) && !CONTROL.test(name) && !name.includes("=?")) {
    const quoted = '"' + name.replace(/[\\"]/g, "\\$&") + '"';
    if (quoted.length + 1 <= FOLD_AT - 10) return [quoted];
  }
  return encodeWords(name);
}

/** RFC 2231 attribute-char: what may stand unencoded in an extended parameter value. */
function pctEncode(value: string): string[] {
  const out: string[] = [];
  for (const cp of Array.from(value)) {
    if (/^[A-Za-z0-9!#$&+\-.^_`|~]$/.test(cp)) out.push(cp);
    else {
      let enc = "";
      for (const b of utf8(cp)) enc += "%" + (b < 16 ? "0" : "") + b.toString(16).toUpperCase();
      out.push(enc);
    }
  }
  return out;
}

/**
 * One MIME parameter as atoms for `foldAtoms` (each ending in ";" except the last of the
 * field, which the caller handles). Printable ASCII short enough becomes `attr="value"`;
 * anything else becomes RFC 2231 `attr*=UTF-8''…`, split into `attr*0*`, `attr*1*`… sections
 * when long.
 */
export function parameterAtoms(attr: string, value: string): string[] {
  if (/^[\x20-\x7e]*$/.test(value)) {
    const quoted = `${attr}="${value.replace(/[\\"]/g, "\\$&")}"`;
    if (quoted.length + 2 <= FOLD_AT - 2) return [quoted];
  }
  const pieces = pctEncode(value);
  const single = `${attr}*=UTF-8''${pieces.join("")}`;
  if (single.length + 2 <= FOLD_AT - 2) return [single];
  const atoms: string[] = [];
  let cur = "";
  let section = 0;
  const head = () => (section === 0 ? `${attr}*0*=UTF-8''` : `${attr}*${section}*=`);
  for (const piece of pieces) {
    if (cur !== "" && head().length + cur.length + piece.length + 2 > FOLD_AT - 2) {
      atoms.push(head() + cur);
      section++;
      cur = "";
    }
    cur += piece;
  }
  atoms.push(head() + cur);
  return atoms;
}

/**
 * Legacy `name=` parameter for readers that ignore RFC 2231: the value itself when it is
 * printable ASCII (up to 900 characters), else RFC 2047 encoded-words inside the quotes (what
 * Thunderbird and most mailers write and read). Long values fold between the encoded-words.
 */
export function legacyNameAtoms(attr: string, value: string): string[] {
  if (/^[\x20-\x7e]*$/.test(value) && !value.includes("=?")) {
    const quoted = `${attr}="${value.replace(/[\\"]/g, "\\$&")}"`;
    // A long ASCII name stays readable on one long line (legal up to 998 octets).
    if (quoted.length <= 900) return [quoted];
  }
  // ' name="' before the first word, '";' after the last: keep every folded line within 78.
  const words = encodeWords(value, FOLD_AT - 1 - (attr.length + 2), FOLD_AT - 3);
  const atoms = [...words];
  atoms[0] = `${attr}="` + atoms[0]!;
  atoms[atoms.length - 1] = atoms[atoms.length - 1]! + '"';
  return atoms;
}

/** A header field name per RFC 5322 §3.6.8 (printable ASCII except ":"), at most 76 characters. */
export function isFieldName(name: string): boolean {
  return /^[!-9;-~]{1,76}$/.test(name);
}

/** Throws unless `value` is a single line without control characters other than TAB. */
export function assertHeaderValue(name: string, value: string): void {
  assertSingleLine(value, `Header ${name}`);
  if (CONTROL.test(value)) throw new Error(`Header ${name} contains a control character: ${JSON.stringify(value)}`);
}
