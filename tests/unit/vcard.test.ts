import { describe, expect, it } from "vitest";
import { vcardEmailsAndJids } from "../../src/core/vcard.js";

describe("vcardEmailsAndJids", () => {
  it("reads Thunderbird's EMAIL and IMPP:xmpp fields, with parameters, groups and folding", () => {
    const vcard = [
      "BEGIN:VCARD",
      "VERSION:4.0",
      "FN:Bob Example",
      "EMAIL;PREF=1:Bob@Example.org",
      "item1.EMAIL;TYPE=work:bob@work.example",
      "IMPP:xmpp:bob@chat.example.n",
      " et",
      "IMPP:sip:bob@voip.example",
      "IMPP;PREF=1:xmpp:bob%40escaped@chat.example.net?message",
      "END:VCARD",
    ].join("\r\n");
    expect(vcardEmailsAndJids(vcard)).toEqual({
      emails: ["bob@example.org", "bob@work.example"],
      jids: ["bob@chat.example.net", "bob@escaped@chat.example.net"],
    });
  });
  it("finds nothing in a card without those fields", () => {
    expect(vcardEmailsAndJids("BEGIN:VCARD\nFN:x\nEND:VCARD")).toEqual({ emails: [], jids: [] });
  });
});

describe("writing the XMPP field", async () => {
  const { newVcard, vcardWithJid } = await import("../../src/platform/address-book-writer.js");
  it("adds an IMPP line to an existing card once, keeping everything else", () => {
    const card = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Bob\r\nEMAIL:bob@mail.test\r\nEND:VCARD\r\n";
    const updated = vcardWithJid(card, "bob@xmpp.test");
    expect(updated).toBe("BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Bob\r\nEMAIL:bob@mail.test\r\nIMPP:xmpp:bob@xmpp.test\r\nEND:VCARD\r\n");
    expect(vcardWithJid(updated, "BOB@xmpp.test")).toBe(updated);
    expect(vcardEmailsAndJids(updated).jids).toEqual(["bob@xmpp.test"]);
    expect(() => vcardWithJid("BEGIN:VCARD\r\nFN:x", "a@b.test")).toThrow(/END:VCARD/);
  });
  it("creates a card whose name cannot inject vCard lines", () => {
    const card = newVcard("Eve\r\nIMPP:xmpp:evil@x.test; Boss", "eve@mail.test", "eve@xmpp.test");
    expect(vcardEmailsAndJids(card)).toEqual({ emails: ["eve@mail.test"], jids: ["eve@xmpp.test"] });
    expect(card).toContain("FN:Eve IMPP:xmpp:evil@x.test\\; Boss");
  });
});
