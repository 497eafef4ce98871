import PostalMime from "postal-mime";
import { describe, expect, it } from "vitest";
import { buildCopies } from "../../src/core/copies.js";

const mail = {
  from: "Alice <alice@example.org>",
  to: ["Bob <bob@example.org>"],
  cc: ["carol@example.org"],
  bcc: ["dave@example.org", "Erin <erin@example.org>"],
  replyTo: [],
  subject: "Plans",
  text: "Hi all",
  isPlainText: true,
  attachments: [],
};

describe("buildCopies", () => {
  it("gives To/Cc recipients one shared copy without Bcc, and each Bcc recipient a copy naming only itself", async () => {
    const copies = buildCopies(
      mail,
      [
        { address: "Bob <bob@example.org>", jid: "bob@example.org" },
        { address: "carol@example.org", jid: "carol@example.org" },
        { address: "dave@example.org", jid: "dave@example.org" },
        { address: "Erin <erin@example.org>", jid: "erin@xmpp.example.org" },
      ],
      { date: new Date(), messageId: "<m@example.org>" },
    );
    expect(copies.map((c) => c.jid)).toEqual(["bob@example.org", "carol@example.org", "dave@example.org", "erin@xmpp.example.org"]);
    expect(copies[0]!.raw).toBe(copies[1]!.raw);
    const text = copies.map((c) => new TextDecoder().decode(c.raw));
    for (const t of text.slice(0, 2)) {
      expect(t).not.toMatch(/^Bcc:/im);
      expect(t).not.toContain("dave@");
      expect(t).not.toContain("erin@");
    }
    const dave = await PostalMime.parse(copies[2]!.raw);
    expect(dave.bcc?.map((a) => a.address)).toEqual(["dave@example.org"]);
    expect(text[2]).not.toContain("erin@");
    const erin = await PostalMime.parse(copies[3]!.raw);
    expect(erin.bcc?.map((a) => a.address)).toEqual(["erin@example.org"]);
    expect(text[3]).not.toContain("dave@");
    // Every copy is the same mail: same Message-ID, so replies thread and the receiver de-duplicates.
    expect(new Set(text.map((t) => /^Message-ID: (.*)$/im.exec(t)?.[1]))).toEqual(new Set(["<m@example.org>"]));
  });
});
