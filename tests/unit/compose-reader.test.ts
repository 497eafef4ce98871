// The compose adapter against a fake of the compose/contacts/messages API shapes Thunderbird 128–153 return.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import PostalMime from "postal-mime";
import { buildMessage } from "../../src/core/mime/build.js";
import { readOutgoingMail } from "../../src/platform/compose-reader.js";

const vcard = (email: string) => `BEGIN:VCARD\r\nVERSION:4.0\r\nEMAIL;PREF=1:${email}\r\nEND:VCARD\r\n`;
const g = globalThis as Record<string, unknown>;

beforeEach(() => {
  g.messenger = {
    contacts: { get: async (id: string) => ({ id, type: "contact", properties: { vCard: vcard(`${id}@example.org`) } }) },
    mailingLists: {
      listMembers: async () => [
        { id: "m1", type: "contact", properties: { vCard: vcard("m1@example.org") } },
        { id: "m2", type: "contact", properties: { PrimaryEmail: "m2@example.org" } },
      ],
    },
    messages: { getFull: async () => ({ headers: { "message-id": ["<parent@example.org>"], references: ["<root@example.org> junk"] } }) },
    compose: {
      listAttachments: async () => [{ id: 7, name: "Überweisung €.pdf" }],
      getAttachmentFile: async () => new File([Uint8Array.from({ length: 256 }, (_, i) => i)], "x.pdf", { type: "application/pdf" }),
    },
  };
});
afterEach(() => {
  delete g.messenger;
});

describe("readOutgoingMail", () => {
  it("turns compose details into an OutgoingMail: references expanded, reply headers, attachments byte for byte", async () => {
    const mail = await readOutgoingMail(3, {
      from: "Alice <alice@example.org>",
      to: ["Bob <bob@example.org>", { id: "carol", type: "contact" }],
      cc: { id: "list", type: "mailingList" },
      bcc: [],
      replyTo: [],
      subject: "Re: plans",
      body: "<p>Hi</p>",
      plainTextBody: "Hi",
      isPlainText: false,
      deliveryFormat: "both",
      priority: "high",
      returnReceipt: true,
      relatedMessageId: 42,
      customHeaders: [{ name: "X-Test", value: "1" }],
    } as messenger.compose.ComposeDetails);
    expect(mail).toMatchObject({
      from: "Alice <alice@example.org>",
      to: ["Bob <bob@example.org>", "carol@example.org"],
      cc: ["m1@example.org", "m2@example.org"],
      html: "<p>Hi</p>",
      text: "Hi",
      priority: "high",
      returnReceipt: true,
      inReplyTo: "<parent@example.org>",
      references: ["<root@example.org>", "<parent@example.org>"],
      customHeaders: [{ name: "X-Test", value: "1" }],
    });
    expect(mail.attachments[0]!.data).toEqual(Uint8Array.from({ length: 256 }, (_, i) => i));
    const parsed = await PostalMime.parse(buildMessage(mail, { date: new Date(), messageId: "<m@example.org>" }));
    expect(parsed.inReplyTo).toBe("<parent@example.org>");
    expect(parsed.attachments[0]!.filename).toBe("Überweisung €.pdf");
  });

  it("refuses a message without a sender", async () => {
    await expect(readOutgoingMail(1, { to: ["bob@example.org"] } as messenger.compose.ComposeDetails)).rejects.toThrow(/no sender/);
  });
});
