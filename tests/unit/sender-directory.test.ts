// Issue 13 item 1: a JID the user confirmed in the compose window's indicator ("Use … for this address") counts in the
// receiving side's sender check like a confirmed mapping, so the mail that person then sends over XMPP is verified.
// An unconfirmed learned JID (an X-Jabber-ID header anyone can write) never does.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkSender } from "../../src/core/receive-rules.js";
import { createResolutionStore } from "../../src/platform/resolution-store.js";
import { createSenderDirectory } from "../../src/platform/sender-directory.js";
import { createFakeHost, installFakeHost } from "../support/fake-messenger.js";

let uninstall: () => void;
beforeEach(() => {
  const host = createFakeHost(new Map<string, unknown>([["mappings", { "carol@mail.example": ["carol@old.example"] }]]));
  Object.assign(host.messenger as object, { contacts: { quickSearch: async () => [] } });
  uninstall = installFakeHost(host);
});
afterEach(() => uninstall());

const evidence = (senderJid: string, confirmedJids: string[]) => ({
  fromAddresses: ["alice@mail.example"],
  senderJid,
  confirmedJids,
  addressBookJids: [],
  senderKnown: false,
});

describe("sender directory: confirmed JIDs", () => {
  it("a suggestion the user has not confirmed does not verify; the confirmed one does", async () => {
    const store = createResolutionStore();
    const directory = createSenderDirectory();
    await store.rememberLearned("alice@mail.example", "alice@xmpp.example");
    expect(await directory.confirmedJids("Alice@Mail.example")).toEqual([]);
    expect(checkSender(evidence("alice@xmpp.example", await directory.confirmedJids("alice@mail.example")))).toMatchObject({ verified: false });

    await store.rememberLearned("alice@mail.example", "Alice@XMPP.example", true);
    const confirmed = await directory.confirmedJids("alice@mail.example");
    expect(confirmed).toEqual(["alice@xmpp.example"]);
    expect(checkSender(evidence("alice@xmpp.example", confirmed))).toEqual({ verified: true, how: "confirmed-mapping", known: false });
    // Only for that address, and only that JID.
    expect(checkSender(evidence("mallory@xmpp.example", confirmed))).toMatchObject({ verified: false });
    expect(await directory.confirmedJids("bob@mail.example")).toEqual([]);
  });

  it("keeps the explicit mappings and ignores malformed learned entries", async () => {
    const directory = createSenderDirectory();
    expect(await directory.confirmedJids("carol@mail.example")).toEqual(["carol@old.example"]);
    await messenger.storage.local.set({ learnedMappings: { "carol@mail.example": { jid: "carol@new.example", confirmed: true }, "x@y.example": { jid: "bad jid", confirmed: true }, "z@y.example": "nope" } });
    expect(await directory.confirmedJids("carol@mail.example")).toEqual(["carol@old.example", "carol@new.example"]);
    expect(await directory.confirmedJids("x@y.example")).toEqual([]);
    expect(await directory.confirmedJids("z@y.example")).toEqual([]);
  });
});
