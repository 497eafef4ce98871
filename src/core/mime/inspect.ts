// What the receiving side needs to know about an incoming RFC 5322 message before filing it, and a structural check
// that it is a well-formed MIME tree of bounded depth. Thunderbird does the full parse when it displays the mail;
// this only guards the door (and keeps a 130 KiB general parser out of the add-on). Pure, bounded, never throws
// for malformed input other than with MimeInspectError.

import { runInSlices, runToEnd, type SliceOptions, type Steps } from "../slices.js";

export class MimeInspectError extends Error {
  override readonly name = "MimeInspectError";
}

export interface InspectLimits {
  readonly maxHeaderBytes: number;
  readonly maxDepth: number;
  readonly maxParts: number;
}

const DEFAULT_INSPECT_LIMITS: InspectLimits = { maxHeaderBytes: 256 * 1024, maxDepth: 20, maxParts: 1000 };

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

const LF = 0x0a;
const CR = 0x0d;
const HTAB = 0x09;
const SP = 0x20;
const DASH = 0x2d;
/** RFC 2046 §5.1.1: a boundary is 1 to 70 characters. */
const MAX_BOUNDARY = 70;

/**
 * Parses one header block, [start, stop) (stop at the empty line that ends it, or at the end of a part that has
 * headers only). Every line must be a field (name ":" value) or the folded continuation of one. With `only` (a
 * lower-case name), only that field is returned (a part's Content-Type); the others are checked for form alone.
 */
function parseHeaderBlock(bytes: Uint8Array, start: number, stop: number, only?: string): Header[] {
  const text = latin1.decode(bytes.subarray(start, stop));
  const headers: Header[] = [];
  for (const line of text.replace(/\r?\n[ \t]+/g, " ").split(/\r?\n/)) {
    if (line === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0 || !FIELD_NAME.test(line.slice(0, colon))) throw new MimeInspectError("malformed header line");
    if (only !== undefined && (colon !== only.length || line.slice(0, colon).toLowerCase() !== only)) continue;
    headers.push({ name: line.slice(0, colon).toLowerCase(), value: trimWsp(line.slice(colon + 1)) });
  }
  return headers;
}

const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]+$/;

/**
 * Strips only RFC 5322 whitespace (SP, HTAB): String.prototype.trim would also strip a NBSP (byte 0xA0 read as latin1),
 * which Thunderbird keeps as part of the author (the From oracle saw `a@b<0xA0>` verified as a@b, shown as `a@b\ufffd`).
 * A loop, not /[ \t]+$/: that regex retries at every blank of a long inner run (quadratic, 1 s for 40 kB of spaces).
 */
function trimWsp(value: string): string {
  let a = 0;
  let b = value.length;
  while (a < b && (value.charCodeAt(a) === SP || value.charCodeAt(a) === HTAB)) a++;
  while (b > a && (value.charCodeAt(b - 1) === SP || value.charCodeAt(b - 1) === HTAB)) b--;
  return a === 0 && b === value.length ? value : value.slice(a, b);
}

function boundaryOf(headers: readonly Header[]): string | null {
  const ct = headers.find((h) => h.name === "content-type")?.value ?? "";
  if (!/^\s*multipart\//i.test(ct)) return null;
  const m = /;\s*boundary\s*=\s*(?:"([^"]*)"|([^\s;"]+))/i.exec(ct);
  const boundary = m?.[1] ?? m?.[2];
  if (!boundary) throw new MimeInspectError("multipart without a boundary");
  if (boundary.length > MAX_BOUNDARY) throw new MimeInspectError(`multipart boundary longer than ${MAX_BOUNDARY} characters`);
  return boundary;
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

/** Work done by one scan, for tests and benchmarks: every byte each pass read (the native line search included). */
export interface ScanStats {
  examined: number;
}

/** The scan hands control back to its driver after about this much work (bytes examined). */
const STEP_BYTES = 64 * 1024;
/** A header block is read by about this many passes: line search, latin1 decode, unfolding, split, field checks. */
const HEADER_PASSES = 5;

interface Frame {
  readonly boundary: string;
  readonly hash: number;
  /** Depth of the part whose Content-Type declared the boundary; its children are one deeper. */
  readonly depth: number;
  separators: number;
}

/** The hash the scan computes over a delimiter line's token bytes (a boundary is latin1, one byte per character). */
function hashOf(boundary: string): number {
  let h = 0;
  for (let i = 0; i < boundary.length; i++) h = (Math.imul(h, 31) + boundary.charCodeAt(i)) | 0;
  return h;
}

const truncated = () => new MimeInspectError("multipart body without its closing delimiter (truncated?)");

/**
 * The structure check, as one pass over the line starts of the whole mail (RFC 2046 §5.1.1: a delimiter is a line of
 * "--" boundary, "--" more for the closing one, then optional blanks). The open multiparts' boundaries sit on a stack
 * and in a Map, so a line starting with "--" costs a lookup of its token, whatever the depth; every other line costs
 * a search for its LF. Header blocks are parsed as the pass reaches them. `examined` counts the work: by
 * construction at most 8 × the mail's size (each byte: the line search; at most two more reads of a "--" line;
 * HEADER_PASSES − 1 more in a header block; one more in the mail's own), about 5 × on the worst input measured
 * (bench/mime-scan.ts). `run(budget)` stops after about `budget` bytes of work and resumes where it stopped, so that a
 * driver can hand the thread back between slices (`inspectMailSliced`). (A plain method rather than a generator: V8
 * optimizes a long-running loop in a plain function while it runs, not one in a generator.)
 *
 * A line that is a delimiter of an enclosing multipart ends every part inside it: an inner multipart still open then
 * is truncated (rejected). A multipart needs at least one part and its closing delimiter; nothing after the top-level
 * closing delimiter (the epilogue) is read. A nested multipart may not reuse an open boundary, nor one that differs
 * from an open one by a trailing "--" (its delimiter lines would read two ways).
 */
class MimeScan {
  examined = 0;
  readonly #bytes: Uint8Array;
  readonly #limits: InspectLimits;
  readonly #frames: Frame[] = [];
  readonly #open = new Map<string, number>(); // boundary → index in #frames
  readonly #hashes = new Map<number, number>(); // hash of an open boundary → how many open boundaries have it
  #top: Header[] | null = null;
  #parts = 1;
  #depth = 0; // of the part whose header block or body the pass is in
  #headerStart = 0; // start of the header block being read, or -1 in a body
  #pos = 0; // start of the current line
  #lineEnd = -1; // its end (LF or end of mail), once found; -1 before
  #strip = -1; // while stripping the padding of a long "--" line: how far it got; -1 otherwise
  #built = 0; // bytes of the last token #lookup turned into a string
  #done = false;

  constructor(bytes: Uint8Array, limits: InspectLimits) {
    this.#bytes = bytes;
    this.#limits = limits;
  }

  /** Works until about `budget` more bytes are examined or the check is complete (true). Throws MimeInspectError. */
  run(budget: number): boolean {
    const bytes = this.#bytes;
    const size = bytes.length;
    const limits = this.#limits;
    const frames = this.#frames;
    const stop = this.examined + budget;
    let examined = this.examined;
    let pos = this.#pos;
    let lineEnd = this.#lineEnd;
    try {
      while (!this.#done) {
        if (pos >= size) {
          // The mail or its last part ends in its header block; then every multipart must have been closed.
          if (this.#headerStart >= 0) examined += this.#endHeaderBlock(size);
          if (frames.length > 0) throw truncated();
          this.#done = true;
          break;
        }
        if (examined >= stop) return false;
        if (lineEnd < 0) {
          // Short lines are searched in JS (cheaper than a native call per line), the rest natively.
          let lf = pos;
          const near = Math.min(size, pos + 16);
          while (lf < near && bytes[lf] !== LF) lf++;
          if (lf === near) lf = near < size ? bytes.indexOf(LF, near) : -1;
          lineEnd = lf === -1 ? size : lf;
          examined += (lf === -1 ? size : lf + 1) - pos;
        }
        const next = lineEnd < size ? lineEnd + 1 : size;
        if (frames.length > 0 && lineEnd - pos > 2 && bytes[pos] === DASH && bytes[pos + 1] === DASH) {
          // A delimiter candidate: strip the transport padding, a step at a time (a line may be megabytes of blanks).
          let t = this.#strip < 0 ? lineEnd : this.#strip;
          const floor = Math.max(pos + 2, t - STEP_BYTES);
          const from = t;
          while (t > floor && (bytes[t - 1] === SP || bytes[t - 1] === HTAB || bytes[t - 1] === CR)) t--;
          examined += from - t;
          if (t === floor && floor > pos + 2) {
            this.#strip = t; // more padding: on with it after the budget check
            continue;
          }
          this.#strip = -1;
          const length = t - pos - 2;
          if (length >= 1 && length <= MAX_BOUNDARY + 2) {
            examined += length;
            const found = this.#lookup(pos + 2, t);
            examined += this.#built;
            if (found !== null) {
              examined += this.#delimiter(found, pos, next);
              pos = next;
              lineEnd = -1;
              continue;
            }
          }
        }
        if (this.#headerStart >= 0) {
          if (lineEnd < size && (lineEnd === pos || (lineEnd === pos + 1 && bytes[pos] === CR))) {
            examined += this.#endHeaderBlock(pos);
            if (frames.length === 0) this.#done = true; // a single-part mail: its body needs no check
          } else if (lineEnd - this.#headerStart > limits.maxHeaderBytes) {
            throw new MimeInspectError("header block too large");
          }
        }
        pos = next;
        lineEnd = -1;
      }
      return true;
    } finally {
      this.examined = examined;
      this.#pos = pos;
      this.#lineEnd = lineEnd;
    }
  }

  /**
   * The open boundary the token [from, to) delimits, as [index in #frames, closing], or null. Hashes first (of the
   * token, and of the token less a closing "--"), so that most lines need no string; #built is the work of one.
   */
  #lookup(from: number, to: number): [number, boolean] | null {
    const bytes = this.#bytes;
    let i = from;
    let h = 0;
    for (; i < to - 2; i++) h = (Math.imul(h, 31) + bytes[i]!) | 0;
    const hShort = h;
    for (; i < to; i++) h = (Math.imul(h, 31) + bytes[i]!) | 0;
    const length = to - from;
    const closable = length > 2 && bytes[to - 1] === DASH && bytes[to - 2] === DASH;
    this.#built = 0;
    if (!this.#hashes.has(h) && !(closable && this.#hashes.has(hShort))) return null;
    this.#built = length;
    const token = latin1.decode(bytes.subarray(from, to));
    const at = this.#open.get(token);
    if (at !== undefined) return [at, false];
    const closes = closable ? this.#open.get(token.slice(0, -2)) : undefined;
    return closes !== undefined ? [closes, true] : null;
  }

  /** A delimiter line of the open multipart `at` starts at `pos`; returns the work it took. */
  #delimiter([at, closing]: [number, boolean], pos: number, next: number): number {
    const frames = this.#frames;
    const limits = this.#limits;
    let work = 0;
    if (this.#headerStart >= 0) work += this.#endHeaderBlock(pos); // a part of headers only (or a multipart without a body)
    if (at !== frames.length - 1) throw truncated(); // an inner multipart never closed
    const frame = frames[at]!;
    if (closing) {
      if (frame.separators === 0) throw truncated();
      frames.pop();
      this.#open.delete(frame.boundary);
      const left = this.#hashes.get(frame.hash)! - 1;
      if (left === 0) this.#hashes.delete(frame.hash);
      else this.#hashes.set(frame.hash, left);
      if (frames.length === 0) this.#done = true; // the top-level multipart is complete; the epilogue is not read
      this.#depth = frame.depth;
    } else {
      frame.separators += 1;
      this.#depth = frame.depth + 1;
      if (this.#depth > limits.maxDepth) throw new MimeInspectError(`MIME nesting deeper than ${limits.maxDepth}`);
      if (++this.#parts > limits.maxParts) throw new MimeInspectError(`more than ${limits.maxParts} MIME parts`);
      this.#headerStart = next;
    }
    return work;
  }

  /** The header block from #headerStart to `stop` is complete: parse it, open its multipart if it is one; the work. */
  #endHeaderBlock(stop: number): number {
    const start = this.#headerStart;
    if (stop - start > this.#limits.maxHeaderBytes) throw new MimeInspectError("header block too large");
    let work = (HEADER_PASSES - 1) * (stop - start);
    const headers = parseHeaderBlock(this.#bytes, start, stop, this.#top === null ? undefined : "content-type");
    if (this.#top === null) {
      work += stop;
      checkHeaderBytes(this.#bytes, stop);
      if (headers.length === 0) throw new MimeInspectError("no header fields");
      this.#top = headers;
    }
    this.#headerStart = -1;
    const boundary = boundaryOf(headers);
    if (boundary === null) return work;
    const open = this.#open;
    if (open.has(boundary) || open.has(`${boundary}--`) || (boundary.endsWith("--") && open.has(boundary.slice(0, -2)))) {
      throw new MimeInspectError("nested multipart reuses an enclosing boundary");
    }
    open.set(boundary, this.#frames.length);
    const hash = hashOf(boundary);
    this.#hashes.set(hash, (this.#hashes.get(hash) ?? 0) + 1);
    this.#frames.push({ boundary, hash, depth: this.#depth, separators: 0 });
    return work;
  }

  /** What the receiver needs, once `run` returned true. */
  result(): InspectedMail {
    const headers: Header[] = this.#top ?? [];
    const messageIds = headers.filter((h) => h.name === "message-id").map((h) => h.value);
    const subject = headers.find((h) => h.name === "subject")?.value ?? "";
    return {
      from: headers.filter((h) => h.name === "from").map((h) => h.value),
      messageId: messageIds.length === 1 && /^<[^<>\s]+>$/.test(messageIds[0]!) ? messageIds[0]! : null,
      subject: decodeWords(subject),
      parts: this.#parts,
    };
  }
}

/** The scan as steps of STEP_BYTES work (see slices.ts); `stats.examined` follows its work. */
function* scanMail(bytes: Uint8Array, limits: InspectLimits, stats: ScanStats): Steps<InspectedMail> {
  const scan = new MimeScan(bytes, limits);
  const base = stats.examined;
  try {
    while (!scan.run(STEP_BYTES)) {
      stats.examined = base + scan.examined;
      yield scan.examined;
    }
  } finally {
    stats.examined = base + scan.examined;
  }
  return scan.result();
}

/** Reads what the receiver needs and checks the MIME structure, in one go (see `scanMail`). */
export function inspectMail(bytes: Uint8Array, limits: InspectLimits = DEFAULT_INSPECT_LIMITS, stats: ScanStats = { examined: 0 }): InspectedMail {
  return runToEnd(scanMail(bytes, limits, stats));
}

export interface InspectSliceOptions extends SliceOptions {
  readonly limits?: InspectLimits;
  readonly stats?: ScanStats;
}

/**
 * `inspectMail` in slices (default 10 ms; `sliceWork` counts bytes examined), with a macrotask between them, so that
 * a 25 MiB hostile mail never holds the background page for long. The receiver calls this form.
 */
export function inspectMailSliced(bytes: Uint8Array, options: InspectSliceOptions = {}): Promise<InspectedMail> {
  return runInSlices(scanMail(bytes, options.limits ?? DEFAULT_INSPECT_LIMITS, options.stats ?? { examined: 0 }), options);
}
