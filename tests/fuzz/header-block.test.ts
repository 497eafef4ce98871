// Fuzzing the top-level header block the receiver reads the sender from (issue 12, finding 1): NUL, bare CR, bare LF
// and the From variants an attacker combines. The Thunderbird side of the comparison (what author Thunderbird shows
// for the same bytes) is tests/e2e/from-oracle.test.ts; here, what must hold without Thunderbird:
// - a header block with a NUL or a bare CR is always rejected (not-mime), whatever else it holds;
// - line endings are settled: the same mail with every CRLF turned into LF reads the same (From, Subject, Message-ID);
// - a verifiable From is one plain mailbox: its address occurs in the header value exactly as read.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { inspectMail, MimeInspectError } from "../../src/core/mime/inspect.js";
import { addonReading, hostileMail, OWN, VICTIM } from "../support/hostile-headers.js";

const SCALE = Number(process.env.MOX_FUZZ_RUNS ?? 1);
const runs = (n: number) => Math.max(1, Math.round(n * SCALE));
const bytesOf = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);

function headerBlock(raw: string): string {
  const end = /\r?\n\r?\n/.exec(raw);
  return end ? raw.slice(0, end.index + end[0].length) : raw;
}

describe("fuzz: the header block the sender is read from", () => {
  it("rejects every header block with a NUL or a bare CR, and reads LF-only mail like CRLF mail", () => {
    let rejected = 0;
    let verifiable = 0;
    let compared = 0;
    fc.assert(
      fc.property(hostileMail, ({ raw, froms }) => {
        const reading = addonReading(raw);
        const block = headerBlock(raw);
        if (/\u0000|\r(?!\n)/.test(block)) {
          expect(reading.kind).toBe("rejected");
          rejected += 1;
          return;
        }
        if (reading.kind === "verifiable") verifiable += 1;
        // Settled line ends: the LF-only form of a CRLF mail reads the same, field for field.
        if (!raw.includes("\u0000") && !/\r(?!\n)/.test(raw)) {
          const crlf = inspectOrNull(raw);
          const lf = inspectOrNull(raw.replace(/\r\n/g, "\n"));
          expect(lf).toEqual(crlf);
          compared += 1;
        }
        if (reading.kind === "verifiable") {
          // The verified address is written as such in one of the generated From values (it is not assembled from
          // pieces of several, or from another header); Thunderbird's reading is compared in the e2e oracle.
          expect(froms.some((f) => f.toLowerCase().includes(reading.address))).toBe(true);
        }
      }),
      { numRuns: runs(3000) },
    );
    console.log(`[measure] fuzz header block: ${rejected} rejected (NUL/bare CR), ${verifiable} verifiable, ${compared} LF/CRLF compared`);
    expect(rejected).toBeGreaterThan(100);
    expect(verifiable).toBeGreaterThan(50);
  });

  it("the issue's three inputs: one unclear From, two rejected header blocks", () => {
    expect(addonReading(`From: <${OWN}> <${VICTIM}>\r\nSubject: x\r\n\r\nb\r\n`)).toEqual({ kind: "unverified" });
    expect(addonReading(`From: ${VICTIM}\u0000 <${OWN}>\r\nSubject: x\r\n\r\nb\r\n`).kind).toBe("rejected");
    expect(addonReading(`X-A: b\rFrom: ${VICTIM}\r\nFrom: ${OWN}\r\nSubject: x\r\n\r\nb\r\n`).kind).toBe("rejected");
  });
});

function inspectOrNull(raw: string): unknown {
  try {
    const m = inspectMail(bytesOf(raw));
    return { from: m.from, subject: m.subject, messageId: m.messageId };
  } catch (error) {
    if (error instanceof MimeInspectError) return "rejected";
    throw error;
  }
}
