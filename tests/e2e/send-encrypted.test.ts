// A message the user set to be signed (or encrypted) is never delivered over XMPP, because that would bypass
// Thunderbird's OpenPGP step: it goes by SMTP, signed by Thunderbird, even to a recipient who accepts mail over XMPP.
// A real OpenPGP key (generated with GnuPG) is put into the test profile's keyrings and configured for the identity.
import PostalMime from "postal-mime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findOnPath } from "../support/bin.js";
import { e2eSkipReason, startE2E, type E2E } from "../support/e2e-env.js";
import { startMailPeer, type MailPeer } from "../support/mail-peer.js";
import { generateTestKey, openPgpProfileSeed, type TestKey } from "../support/openpgp-profile.js";
import { rmSync } from "node:fs";
import type { SinkMessage } from "../support/smtp.js";

const skipReason = e2eSkipReason() ?? (findOnPath("gpg") === null || findOnPath("sqlite3") === null ? "gpg/sqlite3 not installed (apt-get install gnupg sqlite3)" : null);
if (skipReason) console.warn(`skipping send-encrypted e2e test: ${skipReason}`);
const subjectOf = (m: SinkMessage) => /^Subject: (.*)$/im.exec(m.raw.toString("latin1"))?.[1]?.trim();

describe.skipIf(skipReason !== null)("a message set to be signed or encrypted in a real Thunderbird", () => {
  let env: E2E;
  let bob: MailPeer;
  let key: TestKey;
  let seed = "";

  beforeAll(async () => {
    key = generateTestKey("Alice <alice@example.test>", ["bob@localhost"]);
    seed = await openPgpProfileSeed(9); // this short run sends nothing
    env = await startE2E({
      users: ["alice", "bob"].map((u) => ({ user: u, password: `secret-${u}` })),
      as: "alice",
      thunderbird: {
        identities: [{ email: "alice@example.test", fullName: "Alice" }],
        prepareProfile: (dir) => key.install(dir, seed),
        extraPrefs: { "mail.identity.id1.openpgp_key_id": key.keyId, "mail.identity.id1.attachPgpKey": false },
      },
    });
    bob = await startMailPeer(env.server, "bob", "secret-bob");
    await env.tb.waitForEvent((e) => e.event === "status" && e.state === "online", 30_000);
  });

  afterAll(async () => {
    if (process.env.MOX_E2E_DUMP) {
      console.log(env?.tb.events().map((e) => JSON.stringify(e)).join("\n"));
      console.log(env?.tb.outputTail(60));
    }
    await bob?.stop();
    await env?.stop();
    key?.cleanup();
    if (seed) rmSync(seed, { recursive: true, force: true });
  });

  it("goes by SMTP, OpenPGP-signed by Thunderbird, though the recipient accepts mail over XMPP", async () => {
    const subject = `Signed ${Date.now()}`;
    const sent = await env.tb.helper.send(
      {
      to: "bob@localhost",
      subject,
      body: "This must be signed, so it cannot go over XMPP.",
      encryption: { name: "OpenPGP", encryptBody: false, encryptSubject: false, signMessage: true },
      },
      30_000,
    );
    expect(sent.result?.mode).toBe("sendNow");
    const msg = await env.sink.waitFor((m) => subjectOf(m) === subject, 30_000);
    expect(msg.envelope.to).toEqual(["bob@localhost"]);
    const text = msg.raw.toString("latin1");
    expect(text).toMatch(/^Content-Type: multipart\/signed;[\s\S]*?protocol="application\/pgp-signature"/im);
    expect(text).toContain("-----BEGIN PGP SIGNATURE-----");
    const parsed = await PostalMime.parse(msg.raw);
    expect(parsed.from?.address).toBe("alice@example.test");
    expect(bob.filed.some((m) => m.subject === subject)).toBe(false);
    const decided = await env.tb.waitForEvent((e) => e.event === "send-decided" && String(e.summary).includes("signed"), 10_000);
    expect(decided).toMatchObject({ result: "smtp" });
  });

  it("goes by SMTP, OpenPGP-encrypted by Thunderbird, though the recipient accepts mail over XMPP", async () => {
    const subject = `Encrypted ${Date.now()}`;
    const sent = await env.tb.helper.send(
      {
        to: "bob@localhost",
        subject,
        body: "Secret: this must be encrypted, so it cannot go over XMPP.",
        encryption: { name: "OpenPGP", encryptBody: true, encryptSubject: false, signMessage: false },
      },
      30_000,
    );
    expect(sent.result?.mode).toBe("sendNow");
    const msg = await env.sink.waitFor((m) => subjectOf(m) === subject, 30_000);
    expect(msg.envelope.to).toEqual(["bob@localhost"]);
    const text = msg.raw.toString("latin1");
    expect(text).toMatch(/^Content-Type: multipart\/encrypted;[\s\S]*?protocol="application\/pgp-encrypted"/im);
    expect(text).toContain("-----BEGIN PGP MESSAGE-----");
    expect(text).not.toContain("Secret: this must be encrypted");
    expect(bob.filed.some((m) => m.subject === subject)).toBe(false);
    await env.tb.waitForEvent((e) => e.event === "send-decided" && String(e.summary).includes("encrypted"), 10_000);
  });
});
