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
