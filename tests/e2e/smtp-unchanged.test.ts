// Mail to a recipient without XMPP goes out by SMTP exactly as Thunderbird would send it without the add-on:
// a real Thunderbird 153 with the built add-on (dist/) online, a compose/send through the helper extension,
// and a local SMTP sink that must receive the message intact.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import PostalMime from "postal-mime";
import { e2eSkipReason, startE2E, type E2E } from "../support/e2e-env.js";

const skipReason = e2eSkipReason();
if (skipReason) console.warn(`skipping smtp-unchanged e2e test: ${skipReason}`);

describe.skipIf(skipReason !== null)("mail to a non-XMPP recipient", () => {
  let env: E2E | null = null;

  beforeAll(async () => {
    env = await startE2E({
      users: [
        { user: "alice", password: "secret-a" },
        { user: "bob", password: "secret-b" },
      ],
      as: "alice",
    });
  });

  afterAll(async () => {
    if (env) {
      const q = await env.stop();
      if (q) console.log(`[e2e] Thunderbird quit: ${q.how} (exit code ${q.code}) in ${q.ms} ms`);
    }
  });

  it("goes out by SMTP unchanged", async () => {
    const { tb, sink } = env!;
    // Send only once the add-on is online, so that whatever it does on send is in play.
    const online = await tb.waitForEvent((e) => e.event === "status" && e.state === "online", 30_000);
    console.log(`[e2e] helper ready ${tb.readyMs} ms, add-on online ${Math.round(tb.timeOf(online)! - tb.spawnedAt)} ms after spawn`);

    const subject = `Plain SMTP still works – grüße ${Date.now()}`;
    const body = "Hello Carol,\n\nthis one has no XMPP address and must go out by SMTP.\nUmlauts: äöü ß.\n\n-- \nAlice";
    const t0 = performance.now();
    const sent = await tb.helper.send({ to: "carol@nowhere.test", subject, body });
    const sendMs = Math.round(performance.now() - t0);
    // Thunderbird reported success: sendMessage resolved (it rejects on failure) in Send Now mode.
    expect(sent.result?.mode).toBe("sendNow");
    expect(sent.result?.headerMessageId).toBeTruthy();

    const msg = await sink.waitFor((m) => m.envelope.to.includes("carol@nowhere.test"), 20_000);
    console.log(
      `[e2e] helper send resolved after ${sendMs} ms (compose open ${sent.openMs} ms, sendMessage ${sent.sendMs} ms); ` +
        `SMTP sink had it ${Math.round(msg.receivedAt - (performance.timeOrigin + t0))} ms after the send command`,
    );

    expect(msg.envelope.from).toBe("alice@example.test");
    expect(msg.envelope.to).toEqual(["carol@nowhere.test"]);

    const parsed = await PostalMime.parse(msg.raw);
    expect(parsed.subject).toBe(subject);
    expect(parsed.from?.address).toBe("alice@example.test");
    expect(parsed.to?.map((a) => a.address)).toEqual(["carol@nowhere.test"]);
    expect(parsed.messageId).toBe(`<${sent.result!.headerMessageId}>`);
    expect((parsed.text ?? "").replace(/\r\n/g, "\n").trimEnd()).toBe(body.trimEnd());
    // Of the add-on, only the announced JID (X-Jabber-ID, setting announceJid, on by default) is in a plain SMTP mail.
    expect(parsed.headers.filter((h) => /xmpp|mox|jabber/i.test(h.key)).map((h) => [h.key, h.value])).toEqual([["x-jabber-id", "alice@localhost"]]);

    // compose.onAfterSend fired without an error.
    const after = await tb.helper.waitForEvent((e) => e.type === "afterSend" && e.tabId === sent.tabId, 10_000);
    expect((after.sendInfo as { error?: string }).error).toBeUndefined();
    expect(sink.messages).toHaveLength(1);
  });
});
