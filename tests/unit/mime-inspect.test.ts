// The receiver's door check against an independent parser (postal-mime) on messages our builder makes, plus the
// malformed inputs it must refuse.
import PostalMime from "postal-mime";
import { describe, expect, it } from "vitest";
import { buildMessage, newMessageId } from "../../src/core/mime/build.js";
import { inspectMail, MimeInspectError } from "../../src/core/mime/inspect.js";

const enc = new TextEncoder();
const base = { to: ["bob@example.org"], cc: [], bcc: [], replyTo: [], isPlainText: false };

describe("inspectMail", () => {
  it.each([
    ["plain text", { ...base, subject: "Hello", text: "Hi", isPlainText: true, attachments: [] }],
    ["HTML + text, Unicode subject", { ...base, subject: "Grüße – 日本語 😀", text: "Hi", html: "<p>Hi</p>", attachments: [] }],
    [
      "three attachments",
      {
        ...base,
        subject: "files",
        text: "see attached",
        html: "<b>see</b>",
        attachments: [
          { name: "a.bin", contentType: "application/octet-stream", data: Uint8Array.from({ length: 256 }, (_, i) => i) },
          { name: "Überweisung €.pdf", contentType: "application/pdf", data: enc.encode("%PDF-1.4") },
          { name: "c.txt", contentType: "text/plain", data: enc.encode("text") },
        ],
      },
    ],
  ])("agrees with postal-mime on %s", async (_label, mail) => {
    const messageId = newMessageId("example.org");
    const raw = buildMessage({ from: "Jürgen Größ <jurgen@example.org>", ...mail }, { date: new Date(), messageId });
    const ours = inspectMail(raw);
    const ref = await PostalMime.parse(raw);
    expect(ours.messageId).toBe(ref.messageId);
    expect(ours.subject).toBe(ref.subject);
    expect(ours.from).toHaveLength(1);
    expect(ours.from[0]).toContain("<jurgen@example.org>");
    expect(ours.parts).toBeGreaterThanOrEqual(1 + ref.attachments.length);
  });

  it.each([
    ["no headers at all", "just text"],
    ["a header line without a colon", "From bob@example.org\r\nSubject: x\r\n\r\nbody"],
    ["a multipart without boundary", "From: a@b\r\nContent-Type: multipart/mixed\r\n\r\nbody"],
    ["a truncated multipart", "From: a@b\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nhalf"],
  ])("refuses %s", (_label, text) => {
    expect(() => inspectMail(enc.encode(text))).toThrow(MimeInspectError);
  });

  it("refuses nesting deeper than the limit and accepts it within", () => {
    const nest = (depth: number): string =>
      depth === 0 ? "Content-Type: text/plain\r\n\r\nleaf\r\n" : `Content-Type: multipart/mixed; boundary=b${depth}\r\n\r\n--b${depth}\r\n${nest(depth - 1)}--b${depth}--\r\n`;
    const mail = (depth: number) => enc.encode(`From: a@b\r\n${nest(depth)}`);
    expect(inspectMail(mail(20)).parts).toBe(21);
    expect(() => inspectMail(mail(21))).toThrow(/nesting/);
  });

  it("refuses a header block larger than the limit without scanning the body", () => {
    const big = enc.encode(`From: a@b\r\nX-Big: ${"a".repeat(300 * 1024)}\r\n\r\nbody`);
    expect(() => inspectMail(big)).toThrow(/too large/);
  });

  it("reports no Message-ID when there are two or it is malformed", () => {
    expect(inspectMail(enc.encode("From: a@b\r\nMessage-ID: <x@y>\r\nMessage-ID: <z@y>\r\n\r\n")).messageId).toBeNull();
    expect(inspectMail(enc.encode("From: a@b\r\nMessage-ID: not-an-id\r\n\r\n")).messageId).toBeNull();
    expect(inspectMail(enc.encode("From: a@b\r\nMessage-ID: <x@y>\r\n\r\n")).messageId).toBe("<x@y>");
  });
});
