// SASLprep (RFC 4013, a profile of stringprep, RFC 3454): what SCRAM (RFC 5802 §2.2) does to a username and a
// password before using them. Pure string work; the tables are RFC 3454's appendices as RFC 4013 uses them.

/** A string was rejected by SASLprep. The message names the category, never the string or the character. */
export class SaslprepError extends Error {
  override name = "SaslprepError";
  constructor(readonly category: string) {
    super(`SASLprep: prohibited character (${category})`);
  }
}

/**
 * SASLprep (RFC 4013), as a "query" string (RFC 5802 §2.2: unassigned code points allowed).
 *
 * Covered: mapping to nothing (RFC 3454 B.1), non-ASCII spaces to U+0020 (C.1.2), NFKC, and the prohibited
 * tables C.1.2, C.2.1, C.2.2, C.3, C.4, C.5 (lone surrogates), C.6, C.7, C.8, C.9.
 * Not covered: the bidirectional check (RFC 3454 §6; JavaScript regexes have no Bidi_Class property, and an
 * approximation could reject passwords the server accepts); NFKC follows the JS engine's Unicode version rather
 * than Unicode 3.2, which only matters for characters assigned after 3.2.
 * Throws SaslprepError, whose message never contains the input.
 */
export function saslprep(s: string): string {
  let mapped = "";
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (isMappedToNothing(cp)) continue;
    mapped += isNonAsciiSpace(cp) ? " " : ch;
  }
  const normalized = mapped.normalize("NFKC");
  for (const ch of normalized) {
    const category = prohibitedCategory(ch.codePointAt(0) ?? 0);
    if (category) throw new SaslprepError(category);
  }
  return normalized;
}

// ---------------------------------------------------------------------------------------------------------------
// Tables (RFC 3454 appendices, as RFC 4013 uses them)

function inRanges(cp: number, ranges: readonly (readonly [number, number])[]): boolean {
  return ranges.some(([lo, hi]) => cp >= lo && cp <= hi);
}

// B.1: commonly mapped to nothing
const B1: readonly (readonly [number, number])[] = [
  [0x00ad, 0x00ad], [0x034f, 0x034f], [0x1806, 0x1806], [0x180b, 0x180d], [0x200b, 0x200d],
  [0x2060, 0x2060], [0xfe00, 0xfe0f], [0xfeff, 0xfeff],
];
// C.1.2: non-ASCII space characters
const C12: readonly (readonly [number, number])[] = [
  [0x00a0, 0x00a0], [0x1680, 0x1680], [0x2000, 0x200b], [0x202f, 0x202f], [0x205f, 0x205f], [0x3000, 0x3000],
];
// C.2.1: ASCII control characters
const C21: readonly (readonly [number, number])[] = [[0x0000, 0x001f], [0x007f, 0x007f]];
// C.2.2: non-ASCII control characters
const C22: readonly (readonly [number, number])[] = [
  [0x0080, 0x009f], [0x06dd, 0x06dd], [0x070f, 0x070f], [0x180e, 0x180e], [0x200c, 0x200d], [0x2028, 0x2029],
  [0x2060, 0x2063], [0x206a, 0x206f], [0xfeff, 0xfeff], [0xfff9, 0xfffc], [0x1d173, 0x1d17a],
];
// C.3: private use
const C3: readonly (readonly [number, number])[] = [[0xe000, 0xf8ff], [0xf0000, 0xffffd], [0x100000, 0x10fffd]];
// C.6: inappropriate for plain text
const C6: readonly (readonly [number, number])[] = [[0xfff9, 0xfffd]];
// C.7: inappropriate for canonical representation
const C7: readonly (readonly [number, number])[] = [[0x2ff0, 0x2ffb]];
// C.8: change display properties or deprecated
const C8: readonly (readonly [number, number])[] = [
  [0x0340, 0x0341], [0x200e, 0x200f], [0x202a, 0x202e], [0x206a, 0x206f],
];
// C.9: tagging characters
const C9: readonly (readonly [number, number])[] = [[0xe0001, 0xe0001], [0xe0020, 0xe007f]];

function isMappedToNothing(cp: number): boolean {
  return inRanges(cp, B1);
}

function isNonAsciiSpace(cp: number): boolean {
  return inRanges(cp, C12);
}

function prohibitedCategory(cp: number): string | undefined {
  if (inRanges(cp, C12)) return "non-ASCII space";
  if (inRanges(cp, C21)) return "ASCII control character";
  if (inRanges(cp, C22)) return "non-ASCII control character";
  if (inRanges(cp, C3)) return "private use character";
  if ((cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) === 0xfffe) return "non-character code point"; // C.4
  if (cp >= 0xd800 && cp <= 0xdfff) return "unpaired surrogate"; // C.5
  if (inRanges(cp, C6)) return "character inappropriate for plain text";
  if (inRanges(cp, C7)) return "ideographic description character";
  if (inRanges(cp, C8)) return "display-changing or deprecated character";
  if (inRanges(cp, C9)) return "tagging character";
  return undefined;
}
