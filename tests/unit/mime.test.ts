// The MIME builder checked against an independent parser (postal-mime), field by field,
// plus raw-byte checks that no parser would report (line lengths, CRLF, Bcc leaks).
import PostalMime, { type Email, type Mailbox } from "postal-mime";
import { describe, expect, it } from "vitest";
import { buildMessage, newMessageId, parseAddressList, type BuildOptions } from "../../src/core/mime/build.js";
import type { OutgoingAttachment, OutgoingMail } from "../../src/core/mime/compose-input.js";

const DATE = new Date("2026-03-03T13:05:09.000Z");
const MID = "<3f1c9a52-0d4e-4b8e-9d1a-1c2b3d4e5f60@example.org>";
const OPTS: BuildOptions = { date: DATE, messageId: MID };

function mail(over: Partial<OutgoingMail> = {}): OutgoingMail {
  return {
    from: "Alice Example <alice@example.org>",
    to: ["Bob <bob@example.net>"],
    cc: [],
    bcc: [],
    replyTo: [],
    subject: "Hello",
    text: "Hi Bob,\nsee you.\n",
    isPlainText: true,
    attachments: [],
    ...over,
  };
}

const decoder = new TextDecoder();
const raw = (bytes: Uint8Array) => decoder.decode(bytes);
/** The header block (before the first empty line), unfolded. */
const headerBlock = (bytes: Uint8Array) => raw(bytes).split("\r\n\r\n")[0]!;
const headerNames = (bytes: Uint8Array) =>
  headerBlock(bytes)
    .split("\r\n")
    .filter((l) => !/^[ \t]/.test(l))
    .map((l) => l.slice(0, l.indexOf(":")).toLowerCase());

async function parse(bytes: Uint8Array): Promise<Email> {
  return PostalMime.parse(bytes);
}

/**
 * postal-mime keeps the CRLF that RFC 2046 assigns to the boundary delimiter and returns
 * line-based parts with LF: compare with LF line ends and without trailing newlines.
 */
const body = (s: string | undefined) => (s ?? "").replace(/\r\n/g, "\n").replace(/\n+$/, "");

const mailbox = (a: Email["from"]): Mailbox => {
  if (a === undefined || a.address === undefined) throw new Error("not a mailbox");
  return a;
};

/** Every line CRLF-terminated, none longer than 998 octets; returns the lines (as bytes lengths). */
function assertLines(bytes: Uint8Array): number[] {
  const lengths: number[] = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x0a) {
      expect(bytes[i - 1], `bare LF at ${i}`).toBe(0x0d);
      lengths.push(i - 1 - start);
      start = i + 1;
    } else if (bytes[i] === 0x0d) {
      expect(bytes[i + 1], `bare CR at ${i}`).toBe(0x0a);
    }
  }
  if (start < bytes.length) lengths.push(bytes.length - start);
  for (const n of lengths) expect(n).toBeLessThanOrEqual(998);
  return lengths;
}

describe("buildMessage: plain text", () => {
  it("builds a single text/plain part that parses back field by field", async () => {
    const m = mail({ cc: ["Carol <carol@example.com>", "dave@example.com"], replyTo: ["Alice Replies <reply@example.org>"] });
    const bytes = buildMessage(m, OPTS);
    const p = await parse(bytes);
    expect(mailbox(p.from)).toEqual({ name: "Alice Example", address: "alice@example.org" });
    expect(p.to).toEqual([{ name: "Bob", address: "bob@example.net" }]);
    expect(p.cc).toEqual([
      { name: "Carol", address: "carol@example.com" },
      { name: "", address: "dave@example.com" },
    ]);
    expect(p.replyTo).toEqual([{ name: "Alice Replies", address: "reply@example.org" }]);
    expect(p.bcc).toBeUndefined();
    expect(p.subject).toBe("Hello");
    expect(p.messageId).toBe(MID);
    expect(p.date).toBe(DATE.toISOString());
    expect(body(p.text)).toBe("Hi Bob,\nsee you.");
    expect(p.attachments).toEqual([]);

    const head = headerBlock(bytes);
    expect(head).toMatch(/^MIME-Version: 1\.0$/m);
    expect(head).toMatch(/^Content-Type: text\/plain; charset=UTF-8$/m);
    expect(head).toMatch(/^Content-Transfer-Encoding: 7bit$/m);
    expect(head).toMatch(/^Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d [+-]\d{4}$/m);
    expect(head).toContain(`Message-ID: ${MID}`);
    expect(raw(bytes)).not.toContain("multipart");
  });

  it("writes non-ASCII text as quoted-printable UTF-8 and keeps it exact", async () => {
    const text = "Grüße aus Köln – schöne Tage 🎉\nline two with trailing space \n\tand a tab\n=equals=";
    const bytes = buildMessage(mail({ text }), OPTS);
    expect(headerBlock(bytes)).toMatch(/^Content-Transfer-Encoding: quoted-printable$/m);
    expect(body((await parse(bytes)).text)).toBe(text);
  });

  it("uses base64 for mostly non-Latin text", async () => {
    const text = "日本語のテキストです。".repeat(30);
    const bytes = buildMessage(mail({ text }), OPTS);
    expect(headerBlock(bytes)).toMatch(/^Content-Transfer-Encoding: base64$/m);
    expect(body((await parse(bytes)).text)).toBe(text);
  });

  it("ignores html when the mail is plain text", async () => {
    const bytes = buildMessage(mail({ isPlainText: true, html: "<p>not sent</p>" }), OPTS);
    expect(raw(bytes)).not.toContain("text/html");
    expect(raw(bytes)).not.toContain("not sent");
  });
});

describe("buildMessage: HTML", () => {
  const html = '<html><body><p>Hallo <b>Jürgen</b></p>\n<p>2nd</p></body></html>\n';
  const text = "Hallo *Jürgen*\n\n2nd\n";

  it("sends multipart/alternative text + html by default (auto) and for both", async () => {
    for (const deliveryFormat of [undefined, "auto", "both"] as const) {
      const bytes = buildMessage(mail({ isPlainText: false, html, text, deliveryFormat }), OPTS);
      expect(headerBlock(bytes)).toMatch(/^Content-Type: multipart\/alternative;/m);
      const s = raw(bytes);
      expect(s.indexOf("Content-Type: text/plain; charset=UTF-8")).toBeGreaterThan(0);
      // text first, html last (RFC 2046 §5.1.4: the preferred alternative last)
      expect(s.indexOf("text/plain")).toBeLessThan(s.indexOf("text/html"));
      const p = await parse(bytes);
      expect(body(p.text)).toBe(body(text));
      expect(body(p.html)).toBe(body(html));
      expect(p.attachments).toEqual([]);
    }
  });

  it("respects deliveryFormat plaintext (text only) and html (html only)", async () => {
    const plain = buildMessage(mail({ isPlainText: false, html, text, deliveryFormat: "plaintext" }), OPTS);
    expect(raw(plain)).not.toContain("text/html");
    expect(raw(plain)).not.toContain("multipart/alternative");
    expect(body((await parse(plain)).text)).toBe(body(text));

    const onlyHtml = buildMessage(mail({ isPlainText: false, html, text, deliveryFormat: "html" }), OPTS);
    expect(raw(onlyHtml)).not.toContain("text/plain");
    expect(headerBlock(onlyHtml)).toMatch(/^Content-Type: text\/html; charset=UTF-8$/m);
    expect(body((await parse(onlyHtml)).html)).toBe(body(html));
  });

  it("breaks a 5000-character HTML line into lines of at most 76 characters", async () => {
    const long = "<p>" + "x".repeat(5000) + "</p>";
    const bytes = buildMessage(mail({ isPlainText: false, html: long, text: "x" }), OPTS);
    const lengths = assertLines(bytes);
    expect(Math.max(...lengths)).toBeLessThanOrEqual(78);
    expect(body((await parse(bytes)).html)).toBe(long);
  });
});

describe("buildMessage: Unicode headers", () => {
  it("encodes subject and display names (RFC 2047) but never the addr-spec", async () => {
    const m = mail({
      from: "Jürgen Größ <juergen@example.de>",
      to: ["日本語 太郎 <taro@example.jp>", '"Doe, John \\"JD\\"" <john@example.net>', "Émoji 🎉👨‍👩‍👧 <emoji@example.net>"],
      cc: ["Zoë O'Brien <zoe@example.ie>", "Renée Dupont-Martin <renee@example.fr>"],
      subject: "日本語の件名 – Grüße 🎉",
    });
    const bytes = buildMessage(m, OPTS);
    const head = headerBlock(bytes);
    expect(head).toMatch(/^[\x00-\x7f]*$/); // headers are 7-bit
    expect(head).toContain("<juergen@example.de>");
    expect(head).toContain("<taro@example.jp>");
    expect(head).toContain("=?UTF-8?");
    expect(head).not.toMatch(/=\?UTF-8\?[QB]\?[^?]*@/); // no address inside an encoded-word
    // RFC 2047 §2/§5: each encoded-word is one token of at most 75 characters, no white space inside
    const words = head.match(/=\?UTF-8\?[QB]\?[^?]*\?=/g) ?? [];
    expect(words.length).toBeGreaterThanOrEqual(5);
    expect(words.some((w) => w.includes("?Q?"))).toBe(true);
    for (const w of words) {
      expect(w.length).toBeLessThanOrEqual(75);
      expect(w).toMatch(/^=\?UTF-8\?(?:Q\?[A-Za-z0-9!*+\-/=_]+|B\?[A-Za-z0-9+/]+={0,2})\?=$/);
    }
    const p = await parse(bytes);
    expect(p.subject).toBe("日本語の件名 – Grüße 🎉");
    expect(mailbox(p.from)).toEqual({ name: "Jürgen Größ", address: "juergen@example.de" });
    expect(p.to).toEqual([
      { name: "日本語 太郎", address: "taro@example.jp" },
      { name: 'Doe, John "JD"', address: "john@example.net" },
      { name: "Émoji 🎉👨‍👩‍👧", address: "emoji@example.net" },
    ]);
    expect(p.cc).toEqual([
      { name: "Zoë O'Brien", address: "zoe@example.ie" },
      { name: "Renée Dupont-Martin", address: "renee@example.fr" },
    ]);
  });

  it("encodes ASCII that would otherwise be read as an encoded-word or lose whitespace", async () => {
    for (const subject of ["=?UTF-8?Q?not_encoded?=", "  leading and trailing  ", "a  double\tspace"]) {
      const p = await parse(buildMessage(mail({ subject }), OPTS));
      expect(p.subject).toBe(subject);
    }
  });

  it("folds a long subject at 78 characters and it parses back identical", async () => {
    const subjects = [
      "Re: Fwd: " + "the quarterly report for the department of redundancy department ".repeat(6).trim(),
      "Größenordnung der Überweisungen im dritten Quartal – bitte prüfen und freigeben ".repeat(5).trim(),
      "averyveryverylongwordwithoutanyspaceatall".repeat(5) + " and more",
      "🎉".repeat(60),
    ];
    for (const subject of subjects) {
      const bytes = buildMessage(mail({ subject }), OPTS);
      const lines = headerBlock(bytes).split("\r\n");
      const start = lines.findIndex((l) => l.startsWith("Subject:"));
      const subjectLines = [lines[start]!];
      for (let i = start + 1; i < lines.length && /^[ \t]/.test(lines[i]!); i++) subjectLines.push(lines[i]!);
      expect(subjectLines.length).toBeGreaterThan(1);
      for (const l of subjectLines) expect(l.length).toBeLessThanOrEqual(78);
      expect((await parse(bytes)).subject).toBe(subject);
    }
  });

  it("folds long address lists between mailboxes", async () => {
    const to = Array.from({ length: 20 }, (_, i) => `Recipient Number ${i} <recipient${i}@example.net>`);
    const bytes = buildMessage(mail({ to }), OPTS);
    for (const l of headerBlock(bytes).split("\r\n")) expect(l.length).toBeLessThanOrEqual(78);
    const p = await parse(bytes);
    expect(p.to).toEqual(to.map((_, i) => ({ name: `Recipient Number ${i}`, address: `recipient${i}@example.net` })));
  });
});

describe("buildMessage: attachments", () => {
  const allBytes = Uint8Array.from({ length: 256 }, (_, i) => i);
  const big = Uint8Array.from({ length: 100_003 }, (_, i) => (i * 7919 + (i >> 8)) & 0xff);
  const attachments: OutgoingAttachment[] = [
    { name: "bytes.bin", contentType: "application/octet-stream", data: allBytes },
    { name: "Überweisung €.pdf", contentType: "application/pdf", data: big },
    { name: "notes.txt", contentType: "text/plain", data: new TextEncoder().encode("line 1\nline 2 ünïcödé\r\nno final newline") },
  ];

  it("wraps body and three attachments in multipart/mixed, byte-exact after parsing", async () => {
    const bytes = buildMessage(mail({ isPlainText: false, html: "<p>see attached</p>", text: "see attached", attachments }), OPTS);
    expect(headerBlock(bytes)).toMatch(/^Content-Type: multipart\/mixed;/m);
    expect(raw(bytes)).toContain("multipart/alternative");
    const p = await parse(bytes);
    expect(body(p.text)).toBe("see attached");
    expect(body(p.html)).toBe("<p>see attached</p>");
    expect(p.attachments.map((a) => [a.filename, a.mimeType, a.disposition])).toEqual([
      ["bytes.bin", "application/octet-stream", "attachment"],
      ["Überweisung €.pdf", "application/pdf", "attachment"],
      ["notes.txt", "text/plain", "attachment"],
    ]);
    p.attachments.forEach((a, i) => {
      expect(new Uint8Array(a.content as ArrayBuffer)).toEqual(attachments[i]!.data);
    });
  });

  it("writes base64 in 76-character lines and RFC 2231 + legacy name parameters", async () => {
    const bytes = buildMessage(mail({ attachments }), OPTS);
    const s = raw(bytes);
    expect(s).toContain("filename*=UTF-8''%C3%9Cberweisung%20%E2%82%AC.pdf");
    expect(s).toMatch(/Content-Type: application\/pdf;\s+name="=\?UTF-8\?[QB]\?[^"]+\?="/);
    expect(s).toContain('filename="bytes.bin"');
    const parts = s.split(/\r\n--=_mox_[0-9a-f]+/);
    const b64 = parts[2]!.split("\r\n\r\n")[1]!.split("\r\n").filter((l) => l !== "");
    expect(b64.slice(0, -1).every((l) => l.length === 76)).toBe(true);
    expect(b64.at(-1)!.length).toBeLessThanOrEqual(76);

    // A reader that ignores RFC 2231 falls back to the Content-Type name parameter.
    const legacy = s.replace(/;\r\n filename\*=UTF-8''%C3%9Cberweisung%20%E2%82%AC\.pdf/, "");
    expect(legacy).not.toBe(s);
    const p = await parse(new TextEncoder().encode(legacy));
    expect(p.attachments[1]!.filename).toBe("Überweisung €.pdf");
  });

  it("splits very long non-ASCII file names into RFC 2231 sections", async () => {
    const name = "Sehr langer Dateiname mit Umlauten äöü und noch viel mehr Text – Entwurf v12 (final).docx";
    const bytes = buildMessage(mail({ attachments: [{ name, contentType: "application/msword", data: allBytes }] }), OPTS);
    expect(raw(bytes)).toContain("filename*0*=UTF-8''");
    expect(raw(bytes)).toContain("filename*1*=");
    for (const l of raw(bytes).split("\r\n")) expect(l.length).toBeLessThanOrEqual(78);
    expect((await parse(bytes)).attachments[0]!.filename).toBe(name);
  });

  it("falls back to application/octet-stream for a malformed content type", async () => {
    const bytes = buildMessage(mail({ attachments: [{ name: "x", contentType: "evil\r\nBcc: x@y", data: allBytes }] }), OPTS);
    expect(raw(bytes)).not.toMatch(/^Bcc:/im);
    expect((await parse(bytes)).attachments[0]!.mimeType).toBe("application/octet-stream");
  });

  it("keeps a forwarded message/rfc822 unencoded when it can, octet-stream otherwise", async () => {
    const eml = new TextEncoder().encode("From: x@example.org\r\nSubject: inner\r\n\r\nGrüße\r\n");
    const ok = buildMessage(mail({ attachments: [{ name: "inner.eml", contentType: "message/rfc822", data: eml }] }), OPTS);
    expect(raw(ok)).toMatch(/Content-Type: message\/rfc822;[^]*?Content-Transfer-Encoding: 8bit/);
    // the part body is the .eml itself, byte for byte
    expect(raw(ok)).toContain("Content-Transfer-Encoding: 8bit\r\n\r\n" + decoder.decode(eml) + "\r\n--=_mox_");
    expect(headerBlock(ok)).toMatch(/^Content-Transfer-Encoding: 8bit$/m); // the enclosing multipart too
    const p = await parse(ok);
    expect(p.attachments[0]!.mimeType).toBe("message/rfc822");
    expect(p.attachments[0]!.filename).toBe("inner.eml");
    // postal-mime hands unencoded parts back with LF line ends
    expect(body(decoder.decode(p.attachments[0]!.content as ArrayBuffer))).toBe(body(decoder.decode(eml)));

    const lfOnly = new TextEncoder().encode("From: x@example.org\nSubject: inner\n\nbody\n");
    const fallback = buildMessage(mail({ attachments: [{ name: "lf.eml", contentType: "message/rfc822", data: lfOnly }] }), OPTS);
    const q = await parse(fallback);
    expect(q.attachments[0]!.mimeType).toBe("application/octet-stream");
    expect(new Uint8Array(q.attachments[0]!.content as ArrayBuffer)).toEqual(lfOnly);
  });
});

describe("buildMessage: reply, priority, receipt", () => {
  it("writes In-Reply-To and References (parent last, brackets added)", async () => {
    const p = await parse(
      buildMessage(mail({ inReplyTo: "parent@example.net", references: ["<root@example.net>", "<mid@example.net>"] }), OPTS),
    );
    expect(p.inReplyTo).toBe("<parent@example.net>");
    expect(p.references).toBe("<root@example.net> <mid@example.net> <parent@example.net>");

    const q = await parse(buildMessage(mail({ inReplyTo: "<p@x.example>" }), OPTS));
    expect(q.inReplyTo).toBe("<p@x.example>");
    expect(q.references).toBe("<p@x.example>");

    const many = Array.from({ length: 40 }, (_, i) => `<ref-${i}-0123456789@lists.example.org>`);
    const bytes = buildMessage(mail({ references: many }), OPTS);
    for (const l of headerBlock(bytes).split("\r\n")) expect(l.length).toBeLessThanOrEqual(78);
    expect((await parse(bytes)).references).toBe(many.join(" "));

    expect(() => buildMessage(mail({ inReplyTo: "<a@b>\r\nBcc: x@y" }), OPTS)).toThrow(/CR or LF/);
    expect(() => buildMessage(mail({ references: ["<a b@c>"] }), OPTS)).toThrow(/Message-ID/);
  });

  it("maps priority to X-Priority and returnReceipt to Disposition-Notification-To", async () => {
    const expected = { highest: "1 (Highest)", high: "2 (High)", low: "4 (Low)", lowest: "5 (Lowest)" } as const;
    for (const [priority, value] of Object.entries(expected)) {
      const p = await parse(buildMessage(mail({ priority: priority as keyof typeof expected }), OPTS));
      expect(p.headers.find((h) => h.key === "x-priority")?.value).toBe(value);
    }
    const normal = await parse(buildMessage(mail({ priority: "normal" }), OPTS));
    expect(normal.headers.some((h) => h.key === "x-priority")).toBe(false);

    const none = await parse(buildMessage(mail(), OPTS));
    expect(none.headers.some((h) => h.key === "disposition-notification-to")).toBe(false);

    const receipt = await parse(buildMessage(mail({ from: "Jürgen Größ <juergen@example.de>", returnReceipt: true }), OPTS));
    const dnt = receipt.headers.find((h) => h.key === "disposition-notification-to")?.value ?? "";
    expect(dnt).toContain("<juergen@example.de>");
    const dntParsed = await parse(new TextEncoder().encode(`From: ${dnt}\r\n\r\n`));
    expect(mailbox(dntParsed.from)).toEqual({ name: "Jürgen Größ", address: "juergen@example.de" });
  });
});

describe("buildMessage: custom headers", () => {
  it("accepts X-* and List-* headers", async () => {
    const p = await parse(
      buildMessage(
        mail({
          customHeaders: [
            { name: "X-Mailer-Note", value: "hello world" },
            { name: "List-Id", value: "Project list <project.lists.example.org>" },
            { name: "X-Unicode", value: "Grüße" },
          ],
        }),
        { ...OPTS, extraHeaders: [{ name: "Jabber-ID", value: "alice@chat.example.org" }] },
      ),
    );
    const get = (k: string) => p.headers.find((h) => h.key === k)?.value;
    expect(get("x-mailer-note")).toBe("hello world");
    expect(get("list-id")).toBe("Project list <project.lists.example.org>");
    expect(get("x-unicode")).toMatch(/^=\?UTF-8\?[QB]\?[^?]+\?=$/);
    expect((await parse(new TextEncoder().encode(`Subject: ${get("x-unicode")}\r\n\r\n`))).subject).toBe("Grüße");
    expect(get("jabber-id")).toBe("alice@chat.example.org");
  });

  it("rejects header injection and names outside X-*/List-*", () => {
    const bad: Array<[{ name: string; value: string }, RegExp]> = [
      [{ name: "X-Evil", value: "a\r\nBcc: x" }, /CR or LF/],
      [{ name: "X-Evil", value: "a\nBcc: x" }, /CR or LF/],
      [{ name: "X-Evil", value: "a\rBcc: x" }, /CR or LF/],
      [{ name: "X-Evil\r\nBcc", value: "x" }, /CR or LF/],
      [{ name: "Bcc", value: "x@y" }, /only X-\* and List-\*/],
      [{ name: "Subject", value: "x" }, /only X-\* and List-\*/],
      [{ name: "X-Bad Name", value: "x" }, /invalid header name|only X-/],
      [{ name: "X-Colon:", value: "x" }, /invalid header name|only X-/],
      [{ name: "X-Priority", value: "1" }, /written by the message builder/],
      [{ name: "X-Nul", value: "a\u0000b" }, /control character/],
    ];
    for (const [h, msg] of bad) {
      expect(() => buildMessage(mail({ customHeaders: [h] }), OPTS), JSON.stringify(h)).toThrow(msg);
    }
    expect(() => buildMessage(mail(), { ...OPTS, extraHeaders: [{ name: "Bcc", value: "x@y" }] })).toThrow(/written by the message builder/);
    expect(() => buildMessage(mail(), { ...OPTS, extraHeaders: [{ name: "Content-Type", value: "text/html" }] })).toThrow(
      /written by the message builder/,
    );
  });
});

describe("buildMessage: Bcc", () => {
  const m = mail({
    to: ["Bob <bob@example.net>"],
    cc: ["carol@example.com"],
    bcc: ["Secret One <secret1@hidden.example>", "secret2@hidden.example"],
  });

  it("writes no Bcc header in the To/Cc copy and leaks no Bcc address", async () => {
    const bytes = buildMessage(m, OPTS);
    expect(headerNames(bytes)).not.toContain("bcc");
    expect(raw(bytes)).not.toContain("secret");
    expect(raw(bytes)).not.toContain("hidden.example");
    expect((await parse(bytes)).bcc).toBeUndefined();
  });

  it("shows only the recipient itself in a Bcc copy", async () => {
    const bytes = buildMessage(m, { ...OPTS, bccVisible: ["secret2@hidden.example"] });
    expect(headerNames(bytes).filter((n) => n === "bcc")).toHaveLength(1);
    expect(raw(bytes)).not.toContain("secret1");
    expect((await parse(bytes)).bcc).toEqual([{ name: "", address: "secret2@hidden.example" }]);

    const named = await parse(buildMessage(m, { ...OPTS, bccVisible: ["Secret One <secret1@HIDDEN.example>"] }));
    expect(named.bcc).toEqual([{ name: "Secret One", address: "secret1@HIDDEN.example" }]);
  });

  it("lists every Bcc recipient in the sender's own copy (Sent folder), and only there", async () => {
    const parsed = await parse(buildMessage(m, { ...OPTS, senderCopy: true }));
    expect(parsed.bcc).toEqual([
      { name: "Secret One", address: "secret1@hidden.example" },
      { name: "", address: "secret2@hidden.example" },
    ]);
    expect(() => buildMessage(m, { ...OPTS, senderCopy: true, bccVisible: ["secret2@hidden.example"] })).toThrow(/exclude/);
  });

  it("refuses a bccVisible that names others or more than one recipient", () => {
    expect(() => buildMessage(m, { ...OPTS, bccVisible: ["bob@example.net"] })).toThrow(/not a Bcc recipient/);
    expect(() => buildMessage(m, { ...OPTS, bccVisible: ["secret1@hidden.example", "secret2@hidden.example"] })).toThrow(
      /at most one/,
    );
    expect(() => buildMessage(m, { ...OPTS, bccVisible: ["secret1@hidden.example, secret2@hidden.example"] })).toThrow(
      /at most one/,
    );
  });
});

describe("buildMessage: rejects malformed input", () => {
  it.each<[string, Partial<OutgoingMail>, RegExp]>([
    ["CRLF in subject", { subject: "Hi\r\nBcc: x@y" }, /Subject must not contain CR or LF/],
    ["LF in subject", { subject: "Hi\nthere" }, /Subject must not contain CR or LF/],
    ["CRLF in To", { to: ["bob@example.net\r\nBcc: x@y"] }, /To: CR or LF/],
    ["LF in a display name", { cc: ["Bob\n <bob@example.net>"] }, /Cc: CR or LF/],
    ["CR in From", { from: "Alice <alice@example.org>\rBcc: x@y" }, /From: CR or LF/],
    ["empty From", { from: "" }, /From is empty/],
    ["blank From", { from: "   " }, /From is empty/],
    ["From without address", { from: "Alice" }, /not a valid e-mail address/],
    ["two From addresses", { from: "a@example.org, b@example.org" }, /exactly one/],
    ["unexpanded mailing list", { to: ["Team <TeamList>"] }, /unexpanded mailing list/],
    ["space in domain", { to: ["bob@exa mple.net"] }, /not a valid e-mail address/],
    ["angle-bracketed address with space", { to: ["Bob <bob@exa mple.net>"] }, /not a valid e-mail address/],
    ["empty angle brackets", { to: ["Bob <>"] }, /not a valid e-mail address/],
  ])("%s", (_label, over, msg) => {
    expect(() => buildMessage(mail(over), OPTS)).toThrow(msg);
  });

  it("rejects a bad Message-ID or Date", () => {
    expect(() => buildMessage(mail(), { ...OPTS, messageId: "no-brackets@example.org" })).toThrow(/Message-ID/);
    expect(() => buildMessage(mail(), { ...OPTS, messageId: "<a@b>\r\nBcc: x@y" })).toThrow(/CR or LF/);
    expect(() => buildMessage(mail(), { ...OPTS, date: new Date("nope") })).toThrow(/Date/);
  });
});

describe("buildMessage: edge cases", () => {
  it("handles an empty subject and body, a Bcc-only mail and HTML mode without html", async () => {
    const bytes = buildMessage(mail({ subject: "", text: "", to: [], bcc: ["x@example.net"], isPlainText: false }), OPTS);
    assertLines(bytes);
    expect(headerNames(bytes)).not.toContain("to");
    expect(headerNames(bytes)).not.toContain("bcc");
    expect(raw(bytes)).not.toContain("text/html");
    const p = await parse(bytes);
    expect(p.subject ?? "").toBe("");
    expect(body(p.text)).toBe("");
  });

  it("keeps internationalised addresses (RFC 6532) as UTF-8, unencoded", async () => {
    const bytes = buildMessage(mail({ to: ["Jürgen <jürgen@größ.example>"] }), OPTS);
    expect(raw(bytes)).toContain("<jürgen@größ.example>");
    expect((await parse(bytes)).to).toEqual([{ name: "Jürgen", address: "jürgen@größ.example" }]);
  });

  it("folds very long ASCII display names and file names", async () => {
    const longWord = "Z".repeat(300);
    const bytes = buildMessage(
      mail({
        to: [`${longWord} <z@example.net>`],
        attachments: [{ name: "a".repeat(400) + ".txt", contentType: "text/plain", data: new Uint8Array([65]) }],
      }),
      OPTS,
    );
    assertLines(bytes);
    for (const l of headerBlock(bytes).split("\r\n")) expect(l.length).toBeLessThanOrEqual(78);
    const p = await parse(bytes);
    expect(p.to).toEqual([{ name: longWord, address: "z@example.net" }]);
    expect(p.attachments[0]!.filename).toBe("a".repeat(400) + ".txt");
  });
});

describe("buildMessage: wire format", () => {
  it("has CRLF-only lines of at most 998 octets, headers folded at 78", async () => {
    const m = mail({
      from: "Jürgen Größ <juergen@example.de>",
      to: Array.from({ length: 30 }, (_, i) => `Ünïcödé Recipient ${i} <r${i}@example.net>`),
      subject: "x".repeat(2000),
      isPlainText: false,
      text: "a".repeat(3000) + "\n" + "ü".repeat(3000) + "\r\nmixed\rline\nends\n",
      html: "<p>" + "b ".repeat(3000) + "</p>",
      attachments: [{ name: "Überweisung €.pdf".repeat(10), contentType: "application/pdf", data: new Uint8Array(5000).fill(10) }],
      references: Array.from({ length: 50 }, (_, i) => `<r${i}@example.org>`),
      customHeaders: [{ name: "X-Long", value: "word ".repeat(400).trim() }],
    });
    const bytes = buildMessage(m, OPTS);
    assertLines(bytes);
    for (const l of headerBlock(bytes).split("\r\n")) expect(l.length).toBeLessThanOrEqual(78);
    const p = await parse(bytes);
    expect(p.subject).toBe("x".repeat(2000));
    expect(body(p.text)).toBe("a".repeat(3000) + "\n" + "ü".repeat(3000) + "\nmixed\nline\nends");
    expect(p.attachments[0]!.filename).toBe("Überweisung €.pdf".repeat(10));
  });
});

describe("newMessageId", () => {
  it("returns a fresh <uuid@domain> on each call", () => {
    const ids = Array.from({ length: 1000 }, () => newMessageId("example.org"));
    expect(new Set(ids).size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^<[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}@example\.org>$/);
  });

  it("uses the injected randomness and converts a Unicode domain to ASCII", () => {
    const zero = () => new Uint8Array(16);
    expect(newMessageId("example.org", zero)).toBe("<00000000-0000-4000-8000-000000000000@example.org>");
    expect(newMessageId("bücher.example", zero)).toBe("<00000000-0000-4000-8000-000000000000@xn--bcher-kva.example>");
    expect(() => newMessageId("", zero)).toThrow(/domain/);
    expect(() => newMessageId("bad domain", zero)).toThrow(/domain/);
    expect(() => newMessageId("a>b", zero)).toThrow(/domain/);
    expect(() => newMessageId("example.org", () => new Uint8Array(8))).toThrow(/16 bytes/);
  });

  it("produces an id that buildMessage accepts", async () => {
    const id = newMessageId("example.org");
    expect((await parse(buildMessage(mail(), { date: DATE, messageId: id }))).messageId).toBe(id);
  });
});

describe("parseAddressList", () => {
  it.each<[string, Array<{ name: string; address: string }>]>([
    ["", []],
    ["  ,  ", []],
    ["bob@example.net", [{ name: "", address: "bob@example.net" }]],
    ["<bob@example.net>", [{ name: "", address: "bob@example.net" }]],
    ["Bob <bob@example.net>", [{ name: "Bob", address: "bob@example.net" }]],
    ["Alice Example <Alice@Example.ORG>", [{ name: "Alice Example", address: "Alice@Example.ORG" }]],
    ['"Doe, John" <john@example.net>', [{ name: "Doe, John", address: "john@example.net" }]],
    ['"Doe, John" <john@example.net>, "Roe, Jane" <jane@example.net>', [
      { name: "Doe, John", address: "john@example.net" },
      { name: "Roe, Jane", address: "jane@example.net" },
    ]],
    ['"Say \\"hi\\"" <hi@example.net>', [{ name: 'Say "hi"', address: "hi@example.net" }]],
    ["a@example.net, b@example.net,c@example.net", [
      { name: "", address: "a@example.net" },
      { name: "", address: "b@example.net" },
      { name: "", address: "c@example.net" },
    ]],
    ["a@example.net; Bob <b@example.net>", [
      { name: "", address: "a@example.net" },
      { name: "Bob", address: "b@example.net" },
    ]],
    ["Jürgen Größ <jürgen@größ.example>", [{ name: "Jürgen Größ", address: "jürgen@größ.example" }]],
    ["  Spaced   Out   < spaced@example.net >  ", [{ name: "Spaced Out", address: "spaced@example.net" }]],
    ["bob@example.net (Bob Comment)", [{ name: "Bob Comment", address: "bob@example.net" }]],
    ["Bob bob@example.net", [{ name: "Bob", address: "bob@example.net" }]],
    ["Smith, John <john@example.net>", [{ name: "Smith, John", address: "john@example.net" }]],
    ["Team: a@example.net, Bob <b@example.net>;", [
      { name: "", address: "a@example.net" },
      { name: "Bob", address: "b@example.net" },
    ]],
    ["undisclosed-recipients:;", []],
    ["Mailing List <ListName>", [{ name: "Mailing List", address: "ListName" }]],
    ['"quoted local"@example.net', [{ name: "", address: '"quoted local"@example.net' }]],
    ['Bob <"bob smith"@example.net>', [{ name: "Bob", address: '"bob smith"@example.net' }]],
    ["=?UTF-8?Q?J=C3=BCrgen?= <j@example.de>", [{ name: "=?UTF-8?Q?J=C3=BCrgen?=", address: "j@example.de" }]],
  ])("%j", (input, expected) => {
    expect(parseAddressList(input)).toEqual(expected);
  });
});
