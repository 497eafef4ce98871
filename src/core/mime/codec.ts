// Transfer encodings for the MIME builder: UTF-8, base64 (RFC 2045 §6.8), quoted-printable
// (RFC 2045 §6.7). Browser-safe: Uint8Array and TextEncoder only, no Node Buffer.

import { encodeBase64 } from "../base64.js";

export const CRLF = "\r\n";

const encoder = new TextEncoder();

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Base64 body: lines of at most `lineLength` (76) characters joined by CRLF, no trailing CRLF. */
export function base64Body(bytes: Uint8Array, lineLength = 76): string {
  const flat = encodeBase64(bytes);
  const lines: string[] = [];
  for (let i = 0; i < flat.length; i += lineLength) lines.push(flat.slice(i, i + lineLength));
  return lines.join(CRLF);
}

function hex2(b: number): string {
  return "=" + (b < 16 ? "0" : "") + b.toString(16).toUpperCase();
}

/**
 * Quoted-printable body of `text` (already CRLF-normalised). Hard line breaks stay CRLF,
 * encoded lines are at most 76 characters (soft breaks "="), trailing whitespace is encoded.
 */
function quotedPrintableBody(text: string): string {
  const out: string[] = [];
  for (const line of text.split(CRLF)) {
    const bytes = utf8(line);
    let cur = "";
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      const last = i === bytes.length - 1;
      let tok: string;
      if (b === 0x20 || b === 0x09) tok = last ? hex2(b) : String.fromCharCode(b);
      else if (b >= 33 && b <= 126 && b !== 61) tok = String.fromCharCode(b);
      else tok = hex2(b);
      // Keep room for the soft-break "=" (76 = 75 + "="); the final segment may use all 76.
      if (cur.length + tok.length > (last ? 76 : 75)) {
        out.push(cur + "=");
        cur = "";
      }
      cur += tok;
    }
    out.push(cur);
  }
  return out.join(CRLF);
}

/** Normalises every line ending (CRLF, CR, LF) to CRLF. */
function toCrlf(text: string): string {
  return text.replace(/\r\n|\r|\n/g, CRLF);
}

export interface EncodedText {
  readonly encoding: "7bit" | "quoted-printable" | "base64";
  readonly body: string;
}

/**
 * Chooses the transfer encoding for a UTF-8 text part: 7bit for short-lined printable
 * ASCII, otherwise quoted-printable (readable for Latin scripts) unless base64 is clearly
 * shorter (CJK, emoji-heavy text: QP would be up to three times the size).
 */
export function encodeText(text: string): EncodedText {
  const normal = toCrlf(text);
  const printableAscii = /^[\t\x20-\x7e]*$/;
  const lines = normal.split(CRLF);
  if (lines.every((l) => l.length <= 78 && printableAscii.test(l))) {
    return { encoding: "7bit", body: normal };
  }
  const qp = quotedPrintableBody(normal);
  const bytes = utf8(normal);
  const b64Length = Math.ceil(bytes.length / 3) * 4 * (78 / 76);
  if (qp.length <= b64Length * 1.25) return { encoding: "quoted-printable", body: qp };
  return { encoding: "base64", body: base64Body(bytes) };
}
