// Issue 13 item 1, in a real Thunderbird 153 with the built add-on: a user with two identities, alice@localhost (her
// JID) and alice@mail.example (another provider). Only the identity bound to the XMPP account sends over XMPP; mail
// from the other goes entirely by SMTP, so its recipient never files it as from an unverified sender. The recipient is
// a Node process running the add-on's receiving engine (tests/support/mail-peer.ts).
import PostalMime from "postal-mime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { e2eSkipReason, startE2E, type E2E } from "../support/e2e-env.js";
import { startMailPeer, type MailPeer } from "../support/mail-peer.js";
import { waitFor } from "../support/mail-fixtures.js";
import { testServers } from "../support/servers.js";
import type { SinkMessage } from "../support/smtp.js";

const skipReason = e2eSkipReason();
if (skipReason) console.warn(`skipping identity-binding e2e test: ${skipReason}`);

const USERS = ["alice", "bob"].map((user) => ({ user, password: `secret-${user}` }));
const IDENTITIES = [
  { email: "alice@localhost", fullName: "Alice" },
  { email: "alice@mail.example", fullName: "Alice Mail" },
];
const subjectOf = (m: SinkMessage) => /^Subject: (.*)$/im.exec(m.raw.toString("latin1"))?.[1]?.trim();

for (const binding of ["default", "bound"] as const) {
  // default: xmppIdentities "" (only the JID's own address); bound: the user ticked alice@mail.example too.
  describe.skipIf(skipReason !== null).each(testServers())(`two identities in a real Thunderbird (${binding === "default" ? "default binding" : "alice@mail.example bound"}, %s)`, (kind) => {
    let env: E2E;
    let bob: MailPeer;

    beforeAll(async () => {
      env = await startE2E({
        kind,
        users: USERS,
        as: "alice",
        managed: { xmppIdentities: binding === "default" ? "" : "alice@mail.example" },
        thunderbird: { identities: IDENTITIES },
      });
      bob = await startMailPeer(env.server, "bob", "secret-bob");
      await env.tb.waitForEvent((e) => e.event === "status" && e.state === "online", 30_000);
    });

    afterAll(async () => {
      if (process.env.MOX_E2E_DUMP) console.log(env?.tb.events().map((e) => JSON.stringify(e)).join("\n"));
      await bob?.stop().catch(() => {});
      if (env) await env.stop();
    });

    const decided = async (count: number) => {
      await waitFor(() => env.tb.events().filter((e) => e.event === "send-decided").length >= count, 20_000, "send-decided event");
      return env.tb.events().filter((e) => e.event === "send-decided")[count - 1]!;
    };

    it("a Send from the identity whose address is the JID goes over XMPP and is verified at the recipient", async () => {
      const smtpBefore = env.sink.messages.length;
      const subject = `From the JID identity ${Date.now()}`;
      await expect(env.tb.helper.send({ to: "bob@localhost", from: "alice@localhost", subject, body: "Hi Bob" })).rejects.toThrow(/aborted/i);
      await waitFor(() => bob.filed.some((m) => m.subject === subject), 10_000, "filed at bob");
      const mail = bob.filed.find((m) => m.subject === subject)!;
      expect(mail.verified).toBe(true);
      expect(mail.fromAddress).toBe("alice@localhost");
      await new Promise((r) => setTimeout(r, 500));
      expect(env.sink.messages.length).toBe(smtpBefore);
    });

    it(
      binding === "default"
        ? "a Send from the other identity goes entirely by SMTP: the sink has it, bob's XMPP account nothing"
        : "a Send from the other identity, once bound, goes over XMPP (and bob, without a confirmed mapping, cannot verify it)",
      async () => {
        const decisions = env.tb.events().filter((e) => e.event === "send-decided").length;
        const filedBefore = bob.filed.length;
        const subject = `From the other identity ${Date.now()}`;
        if (binding === "default") {
          const sent = await env.tb.helper.send({ to: "bob@localhost", from: "alice@mail.example", subject, body: "Hi Bob, by mail" });
          expect(sent.result?.mode).toBe("sendNow");
          const msg = await env.sink.waitFor((m) => subjectOf(m) === subject, 20_000);
          expect(msg.envelope.to).toEqual(["bob@localhost"]);
          const parsed = await PostalMime.parse(msg.raw);
          expect(parsed.from?.address).toBe("alice@mail.example");
          // Still announced: a recipient with the add-on can learn the JID and confirm it for this address.
          expect(parsed.headers.find((h) => h.key === "x-jabber-id")?.value).toBe("alice@localhost");
          const decision = await decided(decisions + 1);
          expect(decision).toMatchObject({ result: "smtp" });
          expect(String(decision.summary)).toContain("unbound-identity 1");
          await new Promise((r) => setTimeout(r, 1_000));
          expect(bob.filed.length).toBe(filedBefore);
        } else {
          await expect(env.tb.helper.send({ to: "bob@localhost", from: "alice@mail.example", subject, body: "Hi Bob, over XMPP" })).rejects.toThrow(/aborted/i);
          await waitFor(() => bob.filed.some((m) => m.subject === subject), 10_000, "filed at bob");
          // This is why the default binds only the JID's own address: bob has no mapping for alice@mail.example.
          expect(bob.filed.find((m) => m.subject === subject)!.verified).toBe(false);
          expect(env.sink.messages.some((m) => subjectOf(m) === subject)).toBe(false);
        }
      },
    );
  });
}
