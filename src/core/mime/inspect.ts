// What the receiving side needs to know about an incoming RFC 5322 message before filing it, and a structural check
// that it is a well-formed MIME tree of bounded depth. Thunderbird does the full parse when it displays the mail;
// this only guards the door (and keeps a 130 KiB general parser out of the add-on). Pure, bounded, never throws
// for malformed input other than with MimeInspectError.

export class MimeInspectError extends Error {
  override readonly name = "MimeInspectError";
}

export interface InspectLimits {
  readonly maxHeaderBytes: number;
  readonly maxDepth: number;
  readonly maxParts: number;
}

export const DEFAULT_INSPECT_LIMITS: InspectLimits = { maxHeaderBytes: 256 * 1024, maxDepth: 20, maxParts: 1000 };

export interface InspectedMail {
  /** Raw (unfolded, not decoded) values of every From header. */
  readonly from: readonly string[];
  readonly messageId: string | null;
  /** Subject with RFC 2047 encoded words decoded. */
  readonly subject: string;
  readonly parts: number;
}

interface Header {
  readonly name: string;
  readonly value: string;
}

const latin1 = new TextDecoder("latin1");

/** Splits a header block at the first empty line; returns the headers and the body offset. */
function readHeaders(bytes: Uint8Array, start: number, end: number, limits: InspectLimits): { headers: Header[]; bodyStart: number } {
  let i = start;
  let stop = -1;
  const scanEnd = Math.min(end, start + limits.maxHeaderBytes);
  for (; i < scanEnd; i++) {
    if (bytes[i] === 0x0a && (bytes[i + 1] === 0x0a || (bytes[i + 1] === 0x0d && bytes[i + 2] === 0x0a))) {
      stop = i + 1;
      break;
    }
  }
  if (stop === -1) {
    if (scanEnd < end) throw new MimeInspectError("header block too large");
    stop = end; // headers only, no body
  }
  const text = latin1.decode(bytes.subarray(start, stop));
  const headers: Header[] = [];
  for (const line of text.replace(/\r?\n[ \t]+/g, " ").split(/\r?\n/)) {
    if (line === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0 || !/^[\x21-\x39\x3b-\x7e]+$/.test(line.slice(0, colon))) throw new MimeInspectError("malformed header line");
    headers.push({ name: line.slice(0, colon).toLowerCase(), value: trimWsp(line.slice(colon + 1)) });
  }
  const bodyStart = stop >= end ? end : stop + (bytes[stop] === 0x0d ? 2 : 1);
  return { headers, bodyStart };
}

/**
 * Strips only RFC 5322 whitespace (SP, HTAB): String.prototype.trim would also strip a NBSP (byte 0xA0 read as latin1),
 * which Thunderbird keeps as part of the author (the From oracle saw `a@b<0xA0>` verified as a@b, shown as `a@b\ufffd`).
 */
function trimWsp(value: string): string {
  return value.replace(/^[ \t]+|[ \t]+$/g, "");
}

function boundaryOf(headers: readonly Header[]): string | null {
  const ct = headers.find((h) => h.name === "content-type")?.value ?? "";
  if (!/^\s*multipart\//i.test(ct)) return null;
  const m = /;\s*boundary\s*=\s*(?:"([^"]{1,70})"|([^\s;"]{1,70}))/i.exec(ct);
  const boundary = m?.[1] ?? m?.[2];
  if (!boundary) throw new MimeInspectError("multipart without a boundary");
  return boundary;
}

function indexOfBytes(hay: Uint8Array, needle: Uint8Array, from: number, end: number): number {
  outer: for (let i = from; i <= end - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** Walks the multipart tree below [start, end), checking delimiters, depth and part count. */
function walk(bytes: Uint8Array, start: number, end: number, depth: number, limits: InspectLimits, counter: { parts: number }): void {
  if (depth > limits.maxDepth) throw new MimeInspectError(`MIME nesting deeper than ${limits.maxDepth}`);
  if (++counter.parts > limits.maxParts) throw new MimeInspectError(`more than ${limits.maxParts} MIME parts`);
  const { headers, bodyStart } = readHeaders(bytes, start, end, limits);
  const boundary = boundaryOf(headers);
  if (!boundary) return;
  const delimiter = new TextEncoder().encode(`--${boundary}`);
  const positions: number[] = [];
  let closed = false;
  let at = bodyStart;
  for (;;) {
    const found = indexOfBytes(bytes, delimiter, at, end);
    if (found === -1) break;
    const atLineStart = found === bodyStart || bytes[found - 1] === 0x0a;
    at = found + delimiter.length;
    if (!atLineStart) continue;
    if (bytes[at] === 0x2d && bytes[at + 1] === 0x2d) {
      positions.push(found);
      closed = true;
      break;
    }
    positions.push(found);
  }
  if (positions.length < 2 || !closed) throw new MimeInspectError("multipart body without its closing delimiter (truncated?)");
  for (let k = 0; k + 1 < positions.length; k++) {
    let partStart = positions[k]! + delimiter.length;
    while (partStart < end && bytes[partStart] !== 0x0a) partStart++; // rest of the delimiter line (transport padding)
    partStart++;
    let partEnd = positions[k + 1]!;
    if (bytes[partEnd - 1] === 0x0a) partEnd--;
    if (bytes[partEnd - 1] === 0x0d) partEnd--;
    if (partEnd < partStart) partEnd = partStart;
    walk(bytes, partStart, partEnd, depth + 1, limits, counter);
  }
}

function decodeWords(value: string): string {
  return value
    .replace(/(=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=)\s+(?==\?)/g, "$1")
    .replace(/=\?([^?\s*]+)(?:\*[^?\s]*)?\?([bBqQ])\?([^?\s]*)\?=/g, (word, charset: string, enc: string, text: string) => {
      try {
        const bytes =
          enc.toUpperCase() === "B"
            ? Uint8Array.from(atob(text), (c) => c.charCodeAt(0))
            : Uint8Array.from(text.replace(/_/g, " ").replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), (c) => c.charCodeAt(0));
        return new TextDecoder(charset.toLowerCase(), { fatal: false }).decode(bytes);
      } catch {
        return word;
      }
    });
}

/**
 * The top-level header block may hold no NUL and no CR that is not followed by LF. Thunderbird and this inspector
 * read such a block differently (a NUL ends Thunderbird's From value; a bare CR starts a new header line there but not
 * here), so a sender could show Thunderbird another author than the one checked, or slip a header past the rename of
 * trace headers. Bare LF line ends are accepted: both read them as line ends (mbox files use them throughout).
 */
function checkHeaderBytes(bytes: Uint8Array, end: number): void {
  for (let i = 0; i < end; i++) {
    const b = bytes[i];
    if (b === 0x00) throw new MimeInspectError("NUL in the header block");
    if (b === 0x0d && bytes[i + 1] !== 0x0a) throw new MimeInspectError("bare CR in the header block");
  }
}

export function inspectMail(bytes: Uint8Array, limits: InspectLimits = DEFAULT_INSPECT_LIMITS): InspectedMail {
  const { headers, bodyStart } = readHeaders(bytes, 0, bytes.length, limits);
  checkHeaderBytes(bytes, bodyStart);
  if (headers.length === 0) throw new MimeInspectError("no header fields");
  const counter = { parts: 0 };
  walk(bytes, 0, bytes.length, 0, limits, counter);
  const messageIds = headers.filter((h) => h.name === "message-id").map((h) => h.value);
  const subject = headers.find((h) => h.name === "subject")?.value ?? "";
  return {
    from: headers.filter((h) => h.name === "from").map((h) => h.value),
    messageId: messageIds.length === 1 && /^<[^<>\s]+>$/.test(messageIds[0]!) ? messageIds[0]! : null,
    subject: decodeWords(subject),
    parts: counter.parts,
  };
}
