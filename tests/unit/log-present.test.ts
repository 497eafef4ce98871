// The delivery log page's lines about end-to-end encryption (issue 15): what a recipient's XMPP copy was, and why a
// copy was refused, in the words the page shows.
import { describe, expect, it } from "vitest";
import en from "../../_locales/en/messages.json";
import type { DeliveryRecord } from "../../src/core/send-flow.js";
import { E2E_MARK, e2eLine, matches, routeLine } from "../../src/ui/log/present.js";
import type { Text } from "../../src/ui/shared/text.js";

type Recipient = DeliveryRecord["recipients"][number];

/** The English text of a Text, substituted as messenger.i18n does ($NAME$ → its placeholder's $n). */
function english(text: Text): string {
  const message: { message: string; placeholders?: Record<string, { content: string }> } = en[text.key];
  return message.message.replace(/\$([A-Za-z0-9_]+)\$/g, (_, name: string) => {
    const content = message.placeholders?.[name.toLowerCase()]?.content ?? "";
    return text.subs?.[Number(content.slice(1)) - 1] ?? "";
  });
}

const bob: Recipient = { address: "Bob <bob@x.test>", field: "to", jid: "bob@x.test", via: "address-book", reason: "xmpp", outcome: "filed", smtp: false };

describe("e2eLine", () => {
  it("says a copy sent as version 1 was end-to-end encrypted, with the lock", () => {
    const line = e2eLine({ ...bob, e2e: true });
    expect(line).toEqual({ line: { key: "logE2e_encrypted" }, mark: E2E_MARK, encrypted: true });
    expect(E2E_MARK).toBe("🔒");
    expect(english(line!.line)).toBe("end-to-end encrypted");
  });

  it("says a copy sent as version 0 was not, and why, without the lock", () => {
    const line = e2eLine({ ...bob, e2e: false });
    expect(line).toEqual({ line: { key: "logE2e_notEncrypted" }, mark: "", encrypted: false });
    expect(english(line!.line)).toBe("not end-to-end encrypted (their add-on does not support it)");
  });

  it("says when it went as version 0 because this computer's keys were not published yet", () => {
    const line = e2eLine({ ...bob, e2e: false, e2eWhyNot: "own-keys-unpublished" });
    expect(line).toEqual({ line: { key: "logE2e_ownKeysUnpublished" }, mark: "", encrypted: false });
    expect(english(line!.line)).toMatch(/^not end-to-end encrypted: this computer's encryption keys were not published yet/);
    expect(e2eLine({ ...bob, e2e: false, e2eWhyNot: "peer-without-e2e" })).toEqual({ line: { key: "logE2e_notEncrypted" }, mark: "", encrypted: false });
  });

  it("says nothing when the record does not tell: SMTP only, a record from before version 1, or a stored value that is not a boolean", () => {
    expect(e2eLine(bob)).toBeNull();
    expect(e2eLine({ address: "carol@y.test", field: "cc", reason: "no-jid", smtp: true })).toBeNull();
    expect(e2eLine({ ...bob, e2e: "yes" } as unknown as Recipient)).toBeNull();
    expect(e2eLine({ ...bob, e2e: 1 } as unknown as Recipient)).toBeNull();
  });

  it("keeps the encryption line apart from the route line (an unconfirmed encrypted copy is still 'also by mail')", () => {
    const accepted: Recipient = { ...bob, outcome: "accepted", smtp: true, e2e: true };
    expect(routeLine(accepted)).toEqual({ line: { key: "logOutcome_accepted", subs: ["bob@x.test", ""] }, kind: "both" });
    expect(e2eLine(accepted)?.encrypted).toBe(true);
  });
});

describe("a copy refused because the recipient's key changed", () => {
  // The text src/xmpp/e2e-keyring.ts sealingFor gives, which the flow records as the failed copy's detail.
  const why = "the recipient's key changed (bob@x.test): not sent over XMPP until you accept the new key in the compose window or the options";
  const refused: Recipient = { ...bob, outcome: "failed", detail: why, smtp: true };

  it("shows why, and that the mail went by SMTP", () => {
    const { line, kind } = routeLine(refused);
    expect(kind).toBe("smtp");
    expect(english(line)).toBe(`XMPP to bob@x.test failed (${why}), sent by mail`);
    expect(e2eLine(refused)).toBeNull();
  });

  it("is found by searching for its reason", () => {
    const entry: DeliveryRecord = { at: 0, holdMs: 5, policy: "whole-message", summary: "", result: "smtp", recipients: [refused] };
    expect(matches(entry, "key changed")).toBe(true);
    expect(matches(entry, "withdrawn")).toBe(false);
  });
});
