// The MIME structure check on hostile input (issue 12, finding 2, "One mail freezes every extension"): the work it
// does is bounded by a small multiple of the mail's size whatever the depth, delimiters count only as whole lines
// (as Thunderbird and postal-mime read them), and the receiver's sliced form hands the event loop back while it reads
// a multi-megabyte mail. The old scanner re-read the body once per level with a byte-by-byte delimiter search: on the
// inputs below it examined ~1,500 × the mail's size (bench/mime-scan.ts keeps it as the baseline).
import { describe, expect, it } from "vitest";
import { inspectMail, inspectMailSliced, MimeInspectError, type ScanStats } from "../../src/core/mime/inspect.js";
import { worstMail, worstBoundary, type Filler } from "../support/mime-worst.js";

const enc = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const KiB = 1024;
const MiB = 1024 * KiB;

function examined(bytes: Uint8Array): { parts: number; examined: number } {
  const stats: ScanStats = { examined: 0 };
  const { parts } = inspectMail(bytes, undefined, stats);
  return { parts, examined: stats.examined };
}

describe("the structure check's work bound", () => {
  const fillers: Filler[] = ["near-miss", "dashes", "dash-token", "collision", "padding"];
  it.each(fillers.flatMap((filler) => [1, 20].flatMap((depth) => (["\r\n", "\n"] as const).map((eol) => ({ filler, depth, eol })))))(
    "$filler lines at depth $depth ($eol): at most 3 × the size examined, and the whole mail read",
    ({ filler, depth, eol }) => {
      const mail = worstMail({ filler, depth, size: 256 * KiB, eol });
      const result = examined(mail);
      // Accepted with every part: the scan did reach the closing delimiters at the very end.
      expect(result.parts).toBe(depth + 1 + (filler === "padding" ? 1 : 0));
      expect(result.examined).toBeGreaterThanOrEqual(mail.length);
      expect(result.examined).toBeLessThanOrEqual(3 * mail.length);
    },
  );

  it("header blocks at the part limit (1000 parts of short fields): at most 6 × the size", () => {
    for (const eol of ["\r\n", "\n"] as const) {
      const mail = worstMail({ filler: "headers", depth: 20, size: MiB, eol });
      const result = examined(mail);
      expect(result.parts).toBe(1000);
      expect(result.examined).toBeLessThanOrEqual(6 * mail.length);
    }
  });

  it("the work per byte does not grow with the size or the depth", () => {
    const perByte = (size: number, depth: number) => {
      const mail = worstMail({ filler: "near-miss", depth, size, eol: "\r\n" });
      return examined(mail).examined / mail.length;
    };
    const small = perByte(64 * KiB, 1);
    for (const [size, depth] of [[MiB, 1], [MiB, 20], [4 * MiB, 20]] as const) expect(perByte(size, depth)).toBeLessThan(small * 1.1);
  });

  it("a header value of 256 KiB of blanks with text on both sides is read in linear time (no backtracking trim)", () => {
    // The value trim was /^[ \t]+|[ \t]+$/: retried at every blank of an inner run, ~45 s for this header.
    const mail = enc(`From: a@b.example\r\nX-Pad: a${" ".repeat(250 * KiB)}b\r\n\r\nbody`);
    const t0 = performance.now();
    expect(inspectMail(mail).from).toEqual(["a@b.example"]);
    expect(performance.now() - t0).toBeLessThan(2_000);
  });
});

describe("delimiters are whole lines", () => {
  const mixed = (boundary: string, body: string) => enc(`From: a@b\r\nContent-Type: multipart/mixed; boundary="${boundary}"\r\n\r\n${body}`);

  it("a boundary that is a prefix of another is its own (b1 inside b10 and the other way round)", () => {
    const inner = "--b10\r\nContent-Type: text/plain\r\n\r\none\r\n--b10\r\n\r\ntwo\r\n--b10--\r\n";
    const raw = mixed("b1", `--b1\r\nContent-Type: multipart/mixed; boundary=b10\r\n\r\n${inner}--b1--\r\n`);
    expect(inspectMail(raw).parts).toBe(4);
    const raw2 = mixed("b10", `--b10\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\n\r\nx\r\n--b1--\r\n--b10--\r\n`);
    expect(inspectMail(raw2).parts).toBe(3);
  });

  it("a line that only starts with the delimiter is body text, as in Thunderbird and postal-mime", () => {
    expect(() => inspectMail(mixed("XX", "--XX\r\n\r\na\r\n--XXY--\r\n"))).toThrow(/closing delimiter/);
    expect(() => inspectMail(mixed("XX", "--XX\r\n\r\na\r\n--XX--tail\r\n"))).toThrow(/closing delimiter/);
    expect(inspectMail(mixed("XX", "--XX\r\n\r\na\r\n --XX\r\n--XXY\r\n--XX--\r\n")).parts).toBe(2);
  });

  it("accepts transport padding after a delimiter and a closing delimiter at the very end without a line break", () => {
    expect(inspectMail(mixed("XX", "--XX \t \r\n\r\na\r\n--XX\t\r\n\r\nb\r\n--XX--  ")).parts).toBe(3);
    expect(inspectMail(enc("From: a@b\nContent-Type: multipart/mixed; boundary=XX\n\n--XX\n\na\n--XX--")).parts).toBe(2);
  });

  it("reads a part without header fields (an empty line right after the delimiter) as text", () => {
    expect(inspectMail(mixed("XX", "--XX\r\n\r\nplain text, no headers\r\n--XX--\r\n")).parts).toBe(2);
  });

  it("refuses an inner multipart left open when an outer delimiter comes, and a multipart with no part", () => {
    const open = mixed("o", "--o\r\nContent-Type: multipart/mixed; boundary=i\r\n\r\n--i\r\n\r\nx\r\n--o--\r\n");
    expect(() => inspectMail(open)).toThrow(/closing delimiter/);
    expect(() => inspectMail(mixed("o", "--o--\r\n"))).toThrow(/closing delimiter/);
    const headersOnly = mixed("o", "--o\r\nContent-Type: multipart/mixed; boundary=i\r\n--o--\r\n");
    expect(() => inspectMail(headersOnly)).toThrow(/closing delimiter/);
  });

  it("refuses a nested multipart that reuses an open boundary or one a closing delimiter could be read as", () => {
    for (const inner of ["o", "o--"]) {
      const raw = mixed("o", `--o\r\nContent-Type: multipart/mixed; boundary="${inner}"\r\n\r\n--${inner}\r\n\r\nx\r\n--${inner}--\r\n--o--\r\n`);
      expect(() => inspectMail(raw)).toThrow(/reuses an enclosing boundary/);
    }
  });

  it("refuses a boundary longer than 70 characters (RFC 2046) instead of matching a prefix of it", () => {
    const b = "a".repeat(71);
    expect(() => inspectMail(enc(`From: a@b\r\nContent-Type: multipart/mixed; boundary=${b}\r\n\r\n--${b}\r\n\r\nx\r\n--${b}--\r\n`))).toThrow(
      /longer than 70/,
    );
    expect(inspectMail(mixed(worstBoundary(0), `--${worstBoundary(0)}\r\n\r\nx\r\n--${worstBoundary(0)}--\r\n`)).parts).toBe(2);
  });

  it("refuses a mail that starts with an empty line (Thunderbird reads no header fields there)", () => {
    expect(() => inspectMail(enc("\r\nFrom: a@b\r\nSubject: x\r\n\r\nbody"))).toThrow(/no header fields/);
  });

  it("does not read the epilogue after the top-level closing delimiter", () => {
    const stats: ScanStats = { examined: 0 };
    const raw = mixed("XX", `--XX\r\n\r\na\r\n--XX--\r\n${"--XX\r\n".repeat(10_000)}`);
    expect(inspectMail(raw, undefined, stats).parts).toBe(2);
    expect(stats.examined).toBeLessThan(1_000);
  });
});

describe("inspectMailSliced: the form the receiver calls", () => {
  it("agrees with inspectMail, result and error alike", async () => {
    for (const raw of [worstMail({ filler: "dashes", depth: 20, size: 512 * KiB, eol: "\n" }), enc("From: a@b\r\n\r\nhi")]) {
      expect(await inspectMailSliced(raw, { sliceWork: 64 * KiB })).toEqual(inspectMail(raw));
    }
    const truncated = worstMail({ filler: "near-miss", depth: 20, size: 512 * KiB, eol: "\r\n" }).subarray(0, 400 * KiB);
    expect(() => inspectMail(truncated)).toThrow(MimeInspectError);
    await expect(inspectMailSliced(truncated, { sliceWork: 64 * KiB })).rejects.toThrow(/closing delimiter/);
  });

  it("keeps the event loop turning while it reads an 8 MiB worst-case mail (longest gap under 150 ms)", async () => {
    const mail = worstMail({ filler: "headers", depth: 20, size: 8 * MiB, eol: "\r\n" });
    const sync: ScanStats = { examined: 0 };
    const t0 = performance.now();
    inspectMail(mail, undefined, sync);
    const syncMs = performance.now() - t0;
    let ticks = 0;
    let longest = 0;
    let last = performance.now();
    const probe = setInterval(() => {
      const now = performance.now();
      longest = Math.max(longest, now - last);
      last = now;
      ticks += 1;
    }, 5);
    try {
      last = performance.now();
      const stats: ScanStats = { examined: 0 };
      const result = await inspectMailSliced(mail, { stats });
      longest = Math.max(longest, performance.now() - last); // (a scan that never yielded is one long gap)
      expect(result.parts).toBe(1000);
      expect(stats.examined).toBe(sync.examined);
    } finally {
      clearInterval(probe);
    }
    console.log(`[measure] sliced inspect of ${(mail.length / MiB).toFixed(1)} MiB: longest event-loop gap ${longest.toFixed(1)} ms (${ticks} probe ticks; one synchronous run ${syncMs.toFixed(0)} ms)`);
    expect(ticks).toBeGreaterThan(2); // the probe ran during the scan: it did yield
    expect(longest).toBeLessThan(150);
  });
});
