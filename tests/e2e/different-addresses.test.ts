// Issue 13 item 1, the whole path for two people whose mail addresses are not their JIDs, in two real Thunderbirds 153
// on virtual displays, driven with the real keyboard (xdotool) where the user acts: Alice (alice@mail.example, JID
// alice@localhost) and Bob (bob@mail.example, JID bob@localhost). Ordinary mail goes through the test SMTP sink and is
// put into the other Thunderbird's Local Folders (as if fetched), where the add-on learns the X-Jabber-ID.
//   1. Alice writes to Bob: by SMTP (no JID for him), announcing alice@localhost. Bob's add-on learns it (suggestion).
//   2. Bob replies; in his compose indicator he clicks "Use alice@localhost for this address" (Bob: 1 action). His reply
//      goes by SMTP (his address is not bound: reason unbound-identity), announcing bob@localhost.
//   3. Alice writes again; she clicks "Use bob@localhost" (Alice: 1 action). Her address is bound (the options'
//      checkbox, here through the policy: Alice's second action), so the mail goes over XMPP, and Bob's Thunderbird
//      files it as verified (how=confirmed-mapping) in the verified folder — not with the unverified senders.
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findOnPath } from "../support/bin.js";
import { DIST_DIR, e2eSkipReason, startE2E, type E2E, E2E_STRANGER_LIMITS } from "../support/e2e-env.js";
import { waitFor } from "../support/mail-fixtures.js";
import { testServers } from "../support/servers.js";
import type { SinkMessage } from "../support/smtp.js";
import { launchThunderbird, type TB } from "../support/thunderbird.js";

const skipReason = e2eSkipReason() ?? (findOnPath("xdotool") === null ? "xdotool not installed (apt-get install xdotool)" : null);
if (skipReason) console.warn(`skipping different-addresses e2e test: ${skipReason}`);

const ALICE_MAIL = "alice@mail.example";
const BOB_MAIL = "bob@mail.example";
const PREFS = { "mail.warn_on_send_accel_key": false };
const subjectOf = (m: SinkMessage) => /^Subject: (.*)$/im.exec(m.raw.toString("latin1"))?.[1]?.trim();
const jabberIdOf = (m: SinkMessage) => /^X-Jabber-ID: *(.*)$/im.exec(m.raw.toString("latin1"))?.[1]?.trim();

/** The real keyboard on one Thunderbird's own X display. */
function keyboard(tb: TB) {
  const display = tb.display()!;
  const xdotool = (...args: string[]) => execFileSync("xdotool", args, { env: { ...process.env, DISPLAY: display }, encoding: "utf8" }).trim();
  const findWindow = async (name: string): Promise<string> => {
    let id = "";
    await waitFor(() => {
      try {
        id = xdotool("search", "--name", name).split("\n").at(-1) ?? "";
      } catch {
        id = "";
      }
      return id !== "";
    }, 20_000, `window "${name}"`);
    return id;
  };
  const keys = async (window: string, ...combo: string[]) => {
    xdotool("windowfocus", "--sync", window);
    for (const k of combo) xdotool("key", "--clearmodifiers", k);
    await new Promise((r) => setTimeout(r, 300));
  };
  return { xdotool, findWindow, keys };
}

describe.skipIf(skipReason !== null).each(testServers())("mail address ≠ JID: from the first ordinary mail to a verified mail over XMPP, two real Thunderbirds (%s)", (kind) => {
  let env: E2E;
  let bobTb: TB;
  const actions = { alice: ["bind alice@mail.example (options checkbox; policy here)"], bob: [] as string[] };

  beforeAll(async () => {
    env = await startE2E({
      kind,
      users: [
        { user: "alice", password: "secret-alice" },
        { user: "bob", password: "secret-bob" },
      ],
      as: "alice",
      managed: { xmppIdentities: ALICE_MAIL },
      thunderbird: { xvfb: true, identities: [{ email: ALICE_MAIL, fullName: "Alice" }], extraPrefs: PREFS },
    });
    bobTb = await launchThunderbird({
      addonDir: DIST_DIR,
      smtpPort: env.sink.port,
      xvfb: true,
      // Bob leaves the default: only his JID's own address is bound, so bob@mail.example sends by SMTP.
      managed: { jid: "bob@localhost", password: "secret-bob", websocketUrl: env.server.wsUrl, ...E2E_STRANGER_LIMITS, xmppIdentities: "" },
      identities: [{ email: BOB_MAIL, fullName: "Bob" }],
      extraPrefs: PREFS,
    });
    await Promise.all([
      env.tb.waitForEvent((e) => e.event === "status" && e.state === "online", 30_000),
      bobTb.waitForEvent((e) => e.event === "status" && e.state === "online", 30_000),
    ]);
  }, 120_000);

  afterAll(async () => {
    if (process.env.MOX_E2E_DUMP) {
      console.log(`--- alice ---\n${env?.tb.events().map((e) => JSON.stringify(e)).join("\n")}`);
      console.log(`--- bob ---\n${bobTb?.events().map((e) => JSON.stringify(e)).join("\n")}`);
    }
    console.log(`[measure] ${kind}: user actions until a verified mail over XMPP: alice ${actions.alice.length} (${actions.alice.join("; ")}), bob ${actions.bob.length} (${actions.bob.join("; ")})`);
    await bobTb?.quit();
    await env?.stop();
  }, 60_000);

  /** Ordinary mail from the sink into a Thunderbird's Local Folders, as if its mail account had fetched it. */
  async function deliverBySmtp(to: TB, subject: string): Promise<SinkMessage> {
    const msg = await env.sink.waitFor((m) => subjectOf(m) === subject, 20_000);
    await to.helper.command("importTo", { folder: "Inbox", raw: msg.raw.toString("latin1") });
    return msg;
  }

  /** Opens a compose window in `tb`, opens the indicator (Alt+Shift+X), presses its first control, then sends. */
  async function composeConfirmAndSend(tb: TB, to: string, subject: string, confirmedJid: string): Promise<void> {
    const { findWindow, keys, xdotool } = keyboard(tb);
    await tb.helper.command("compose", { to, subject, body: `${subject}: hello` });
    const compose = await findWindow(`Write: ${subject}`);
    await new Promise((r) => setTimeout(r, 800));
    await keys(compose, "alt+shift+x");
    await new Promise((r) => setTimeout(r, 800));
    // The first control in the indicator is "Use <jid> for this address".
    xdotool("key", "--clearmodifiers", "Tab");
    xdotool("key", "--clearmodifiers", "Return");
    await tb.waitForEvent((e) => e.event === "mapping-confirmed" && e.jid === confirmedJid, 10_000);
    xdotool("key", "--clearmodifiers", "Escape");
    await keys(compose, "ctrl+Return");
  }

  it("1. Alice's first mail to Bob goes by SMTP and announces her JID; Bob's add-on learns it as a suggestion", async () => {
    const subject = `First contact ${Date.now()}`;
    const sent = await env.tb.helper.send({ to: `Bob <${BOB_MAIL}>`, subject, body: "Hello Bob" });
    expect(sent.result?.mode).toBe("sendNow");
    const msg = await deliverBySmtp(bobTb, subject);
    expect(jabberIdOf(msg)).toBe("alice@localhost");
    const learned = await bobTb.waitForEvent((e) => e.event === "jabber-id-learned" && e.jid === "alice@localhost", 10_000);
    expect(learned.from).toBe(ALICE_MAIL);
    const decided = await env.tb.waitForEvent((e) => e.event === "send-decided", 10_000);
    expect(String(decided.summary)).toContain("no-jid 1");
  });

  it("2. Bob confirms Alice's JID with one click; his reply goes by SMTP (his address is not bound) and announces his", async () => {
    const subject = `Re: first contact ${Date.now()}`;
    await composeConfirmAndSend(bobTb, `Alice <${ALICE_MAIL}>`, subject, "alice@localhost");
    actions.bob.push("click 'Use alice@localhost for this address'");
    const msg = await deliverBySmtp(env.tb, subject);
    expect(jabberIdOf(msg)).toBe("bob@localhost");
    expect(msg.envelope.to).toEqual([ALICE_MAIL]);
    const decided = await bobTb.waitForEvent((e) => e.event === "send-decided" && String(e.summary).includes("unbound-identity"), 10_000);
    expect(decided).toMatchObject({ result: "smtp" });
    await env.tb.waitForEvent((e) => e.event === "jabber-id-learned" && e.jid === "bob@localhost", 10_000);
  });

  it("3. Alice confirms Bob's JID with one click; her mail goes over XMPP and Bob's Thunderbird files it as verified", async () => {
    const smtpBefore = env.sink.messages.length;
    const subject = `Over XMPP at last ${Date.now()}`;
    await composeConfirmAndSend(env.tb, `Bob <${BOB_MAIL}>`, subject, "bob@localhost");
    actions.alice.push("click 'Use bob@localhost for this address'");
    const filed = await bobTb.waitForEvent((e) => e.event === "mail-filed", 15_000);
    expect(filed).toMatchObject({ verified: true, folder: "Mail over XMPP" });
    const verifiedFolder = await bobTb.helper.command<Array<{ subject: string; author: string }>>("folderMessages", { folder: "Mail over XMPP" });
    expect(verifiedFolder.find((m) => m.subject === subject)?.author).toContain(ALICE_MAIL);
    const unverified = await bobTb.helper.command<Array<{ subject: string }>>("folderMessages", { folder: "Mail over XMPP - unverified senders" });
    expect(unverified.some((m) => m.subject === subject)).toBe(false);
    const decided = await env.tb.waitForEvent((e) => e.event === "send-decided" && e.result === "cancel", 15_000);
    expect(String(decided.summary)).toContain("1 xmpp");
    await new Promise((r) => setTimeout(r, 500));
    expect(env.sink.messages.length).toBe(smtpBefore);
  });
});
