// Hostile but well-formed MIME for the structure check (issue 12, finding 2): the inputs that cost a multipart scanner
// the most, shared by tests/unit/mime-scan.test.ts, the fuzzer and bench/mime-scan.ts. Each mail is accepted (every
// multipart is closed), so a scanner has to read it to the end; the filler sits in the innermost part, where a
// scanner that re-reads the body once per level reads it `depth` times.

export type Filler =
  /** Lines of "--" and 70 bytes that differ from every open boundary only in their last two (boundaries are long
   * runs of "-", so a naive byte search matches a long prefix at every position of the line). */
  | "near-miss"
  /** Lines of only "--": the most line starts per byte that still look like delimiters. */
  | "dashes"
  /** Lines of "--" and one character: every line costs a token lookup. */
  | "dash-token"
  /** Lines whose token has the same 32-bit hash as the innermost boundary (the scanner's pre-filter) but is not it. */
  | "collision"
  /** One delimiter of the innermost boundary padded with megabytes of blanks (transport padding), then its closing. */
  | "padding"
  /** As many parts as allowed (1000 in all) inside the innermost multipart, each a header block of short fields. */
  | "headers";

export interface WorstOptions {
  readonly filler: Filler;
  /** Nesting levels of multipart (1 … 20). */
  readonly depth: number;
  /** Approximate total size in bytes. */
  readonly size: number;
  readonly eol: "\r\n" | "\n";
}

/** The boundary of level `i` (0-based): 70 characters, 68 of them "-", distinct per level. */
export function worstBoundary(i: number): string {
  return "-".repeat(68) + String.fromCharCode(97 + Math.floor(i / 26), 97 + (i % 26));
}

const latin1 = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

function concat(...chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** `line` repeated into `length` bytes (whole lines only), without building a giant string. */
function repeatLine(line: Uint8Array, length: number): Uint8Array {
  const count = Math.max(1, Math.floor(length / line.length));
  const out = new Uint8Array(count * line.length);
  out.set(line);
  for (let filled = line.length; filled < out.length; filled *= 2) out.copyWithin(filled, 0, Math.min(filled, out.length - filled));
  return out;
}

/**
 * A mail of about `size` bytes that the structure check accepts, with depth + 1 parts (one more for "padding", 1000
 * for "headers").
 */
export function worstMail({ filler, depth, size, eol }: WorstOptions): Uint8Array {
  let head = `From: mallory@evil.example${eol}Subject: structure${eol}Message-ID: <bomb@evil.example>${eol}MIME-Version: 1.0${eol}`;
  let tail = "";
  for (let i = 0; i < depth; i++) {
    const b = worstBoundary(i);
    head += `Content-Type: multipart/mixed; boundary="${b}"${eol}${eol}--${b}${eol}`;
    tail = `${eol}--${b}--${eol}${tail}`;
  }
  const inner = worstBoundary(depth - 1);
  head += `Content-Type: text/plain${eol}${eol}`;
  const room = Math.max(0, size - head.length - tail.length);
  let body: Uint8Array;
  if (filler === "padding") {
    // The leaf, then a second part whose delimiter line is "--boundary" and `room` blanks.
    body = concat(latin1(`${eol}--${inner}`), new Uint8Array(room).fill(0x20), latin1(`${eol}Content-Type: text/plain${eol}${eol}x`));
  } else if (filler === "headers") {
    // An empty line ends the leaf's (empty) body's first line; then each part: delimiter, header block, empty line.
    const count = 999 - depth;
    const block = repeatLine(latin1(`X-F: v${eol}`), Math.min(Math.floor(room / count), 200 * 1024));
    const one = concat(latin1(`--${inner}${eol}`), block, latin1(eol));
    const all = repeatLine(one, one.length * count);
    body = concat(latin1(eol), all.subarray(0, all.length - eol.length));
  } else {
    const collision = inner.slice(0, 68) + String.fromCharCode(inner.charCodeAt(68) + 1, inner.charCodeAt(69) - 31);
    const line = filler === "collision" ? `--${collision}${eol}` : filler === "near-miss" ? `--${"-".repeat(68)}zz${eol}` : filler === "dashes" ? `--${eol}` : `--x${eol}`;
    body = repeatLine(latin1(line), room);
  }
  return concat(latin1(head), body, latin1(tail));
}
