// Split from core-session-logic.test.ts (one test file per module), assertions unchanged.
import { describe, expect, it } from "vitest";
import { capsVer, capsVerificationString, OWN_DISCO_INFO } from "../../src/core/caps.js";
import { NS_MAIL } from "../../src/core/protocol.js";
import { webCryptoSha1 } from "../../src/xmpp/runtime.js";

describe("XEP-0115 caps", () => {
  // XEP-0115 §5.2 simple generation example.
  const exodus = {
    identities: [{ category: "client", type: "pc", name: "Exodus 0.9.1" }],
    features: [
      "http://jabber.org/protocol/disco#info",
      "http://jabber.org/protocol/disco#items",
      "http://jabber.org/protocol/muc",
      "http://jabber.org/protocol/caps",
    ],
  };
  it("builds the verification string of the XEP example", () => {
    expect(capsVerificationString(exodus)).toBe(
      "client/pc//Exodus 0.9.1<http://jabber.org/protocol/caps<http://jabber.org/protocol/disco#info<" +
        "http://jabber.org/protocol/disco#items<http://jabber.org/protocol/muc<",
    );
  });
  it("hashes it to the XEP's ver", async () => {
    expect(await capsVer(exodus, webCryptoSha1)).toBe("QgayPKawpkPSDYmwT/WM94uAlu0=");
  });
  it("rejects duplicate features", () => {
    expect(() => capsVerificationString({ identities: [], features: ["a", "a"] })).toThrow(/duplicate/);
  });
  it("advertises the mail feature", () => {
    expect(OWN_DISCO_INFO.features).toContain(NS_MAIL);
    expect(NS_MAIL.startsWith("urn:xmpp:")).toBe(false);
  });
});
