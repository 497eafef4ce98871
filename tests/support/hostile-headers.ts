// Generated hostile header blocks for the From check (issue 12, finding 1): From values built from the pieces an
// attacker would combine (angle-addrs, display names, quotes, comments, groups, encoded words, folding) and header
// blocks with NUL, bare CR and bare LF in them. Used by the Node fuzzer (tests/fuzz/header-block.test.ts) and by the
// Thunderbird oracle (tests/e2e/from-oracle.test.ts), which compares the address the add-on would verify with the
// author Thunderbird itself reads.
import fc from "fast-check";
import { parseSingleMailbox } from "../../src/core/mime/address.js";
import { inspectMail, MimeInspectError } from "../../src/core/mime/inspect.js";

/** The address the attacker (mallory) is allowed to claim, and the one they want Thunderbird to show. */
export const OWN = "mallory@evil.example";
export const VICTIM = "ceo@bank.example";

const PIECES = [
  OWN,
  VICTIM,
  `<${OWN}>`,
  `<${VICTIM}>`,
  `"${OWN}"`,
  `"<${VICTIM}>"`,
  "Mallory",
  '"Mallory Q."',
  '"CEO"',
  "(comment)",
  `(${VICTIM})`,
  ",",
  ";",
  ":",
  "Group:",
  " ",
  "\t",
  "\r\n ",
  "\n ",
  "\u0000",
  "\r",
  "\n",
  "\r\n",
  "=?utf-8?q?ceo=40bank=2Eexample?=",
  "=?utf-8?b?PGNlb0BiYW5rLmV4YW1wbGU+?=",
  '"',
  "\\",
  "@",
  "<",
  ">",
  ".",
  '"m a"@evil.example',
  "mallory@[127.0.0.1]",
  "MALLORY@EVIL.EXAMPLE",
  "\u00e9",
  "\u00a0",
  "\u0085",
  "\u00c3\u00a9",
  "\u00ff",
  "\u000b",
  "\u000c",
];

/** A From value: 1–6 pieces, biased toward things that look like one mailbox. */
export const fromValue: fc.Arbitrary<string> = fc.oneof(
  { weight: 2, arbitrary: fc.array(fc.constantFrom(...PIECES), { minLength: 1, maxLength: 6 }).map((p) => p.join("")) },
  { weight: 1, arbitrary: fc.array(fc.constantFrom(...PIECES), { minLength: 1, maxLength: 3 }).map((p) => p.join(" ")) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom("", "Mallory ", '"M" ', '"Bank, CEO" ', "=?utf-8?q?M?= "), fc.constantFrom(`<${OWN}>`, OWN), fc.constantFrom("", " ", `<${VICTIM}>`, ` <${VICTIM}>`, "\u0000 x", "\r", " (c)", ",x@y.example"))
      .map(([a, b, c]) => a + b + c),
  },
);

const EOL = fc.constantFrom("\r\n", "\n");

/** Other header lines before or after From, some with a stray CR, LF or NUL inside. */
const otherHeader = fc.constantFrom(
  "X-A: b",
  "X-A: b\r",
  "X-A: b\rFrom: " + VICTIM,
  "X-A: b\u0000",
  "Reply-To: " + VICTIM,
  "Sender: " + VICTIM,
  "X-Mail-Over-XMPP: from=" + VICTIM + "; verified=yes",
  "X-A: b\r\n\tcontinued",
);

export interface HostileMail {
  readonly raw: string;
  readonly description: string;
  /** The From header values, as generated. */
  readonly froms: readonly string[];
}

/** A whole mail: other headers, one or two From headers, a Subject and a unique Message-ID, a body. */
export const hostileMail: fc.Arbitrary<HostileMail> = fc
  .record({
    before: fc.array(otherHeader, { maxLength: 2 }),
    froms: fc.array(fromValue, { minLength: 1, maxLength: 2 }),
    after: fc.array(otherHeader, { maxLength: 1 }),
    eol: EOL,
    mixed: fc.boolean(),
    n: fc.nat(),
  })
  .map(({ before, froms, after, eol, mixed, n }) => {
    const lines = [...before, ...froms.map((f) => `From: ${f}`), ...after, "To: alice@example.org", `Subject: case ${n}`, `Message-ID: <fuzz-${n}@oracle.test>`];
    // `mixed`: the first line ends in the other line end (mail that was passed through tools that differ).
    const joined = lines.map((l, i) => l + (mixed && i === 0 ? (eol === "\n" ? "\r\n" : "\n") : eol)).join("");
    return { raw: `${joined}${eol}body${eol}`, description: JSON.stringify(froms), froms };
  });

export type AddonReading = { readonly kind: "rejected"; readonly why: string } | { readonly kind: "unverified" } | { readonly kind: "verifiable"; readonly address: string };

/**
 * What the receiver (src/xmpp/receiver.ts) makes of a mail's From before it compares it with the sender's JID: the
 * structure check (not-mime), then exactly one From header holding exactly one mailbox. The same functions, in the
 * same order, as the receiver.
 */
export function addonReading(raw: string): AddonReading {
  const bytes = Uint8Array.from(raw, (c) => c.charCodeAt(0) & 0xff);
  try {
    const mail = inspectMail(bytes);
    if (mail.from.length !== 1) return { kind: "unverified" };
    const mailbox = parseSingleMailbox(mail.from[0]!);
    return mailbox ? { kind: "verifiable", address: mailbox.address.toLowerCase() } : { kind: "unverified" };
  } catch (error) {
    if (error instanceof MimeInspectError) return { kind: "rejected", why: error.message };
    throw error;
  }
}

/**
 * The address a reader sees in an author string as Thunderbird lists it (`Name <a@b>`, `"x" <a@b>` or `a@b`), read
 * without the add-on's parser: the last angle-bracketed part when the string ends in one, else the whole string.
 */
export function shownAddress(author: string): string {
  const trimmed = author.trim();
  if (trimmed.endsWith(">")) {
    const open = trimmed.lastIndexOf("<");
    if (open >= 0) return trimmed.slice(open + 1, -1).trim().toLowerCase();
  }
  return trimmed.toLowerCase();
}
