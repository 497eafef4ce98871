// A new user, from install to the first mail delivered over XMPP, in a real Thunderbird 153 on a virtual display with
// the real keyboard and mouse (xdotool): the settings page opens by itself on first install; the user types their
// XMPP address, password and WebSocket URL and presses Enter; the add-on comes online; a mail written to a recipient
// who has the add-on goes over XMPP when sent with Ctrl+Enter. Each step is timed.
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findOnPath } from "../support/bin.js";
import { e2eSkipReason, startE2E, type E2E } from "../support/e2e-env.js";
import { waitFor } from "../support/mail-fixtures.js";
import { startMailPeer, type MailPeer } from "../support/mail-peer.js";

const skipReason = e2eSkipReason() ?? (findOnPath("xdotool") === null ? "xdotool not installed (apt-get install xdotool)" : null);
if (skipReason) console.warn(`skipping new-user e2e test: ${skipReason}`);

describe.skipIf(skipReason !== null)("a new user, from install to the first XMPP delivery", () => {
  let env: E2E;
  let bob: MailPeer;

  beforeAll(async () => {
    env = await startE2E({
      users: ["alice", "bob"].map((u) => ({ user: u, password: `secret-${u}` })),
      as: "alice",
      unconfigured: true,
      thunderbird: { xvfb: true, identities: [{ email: "alice@localhost", fullName: "Alice" }], extraPrefs: { "mail.warn_on_send_accel_key": false } },
    });
    bob = await startMailPeer(env.server, "bob", "secret-bob");
  });

  afterAll(async () => {
    await bob?.stop();
    await env?.stop();
  });

  it("sets up in a few keystrokes and delivers the first mail over XMPP", async () => {
    const display = env.tb.display()!;
    const xdotool = (...args: string[]) => execFileSync("xdotool", args, { env: { ...process.env, DISPLAY: display }, encoding: "utf8" }).trim();
    const at = () => Math.round(performance.now() - env.tb.spawnedAt);
    const steps: string[] = [];
    const step = (what: string) => steps.push(`${(at() / 1000).toFixed(1)} s  ${what}`);

    // 1. Install → the settings page opens by itself.
    await env.tb.waitForEvent((e) => e.event === "onboarding-opened", 30_000);
    let main = "";
    await waitFor(() => {
      try {
        main = xdotool("search", "--name", "Mail over XMPP – Settings").split("\n")[0] ?? "";
      } catch {
        main = "";
      }
      return main !== "";
    }, 15_000, "the settings page in front");
    step("the settings page is open");
    await new Promise((r) => setTimeout(r, 1_000));

    // 2. Click into the page, then: Tab to the address field, type it, the password, the WebSocket URL, Enter.
    xdotool("windowfocus", "--sync", main);
    xdotool("mousemove", "--window", main, "600", "170", "click", "1");
    const type = (text: string) => xdotool("type", "--delay", "15", text);
    xdotool("key", "Tab", "Tab");
    type("alice@localhost");
    xdotool("key", "Tab");
    type("secret-alice");
    xdotool("key", "Tab");
    type(env.server.wsUrl);
    xdotool("key", "Return");
    step("typed address, password and WebSocket URL, pressed Enter");

    // 3. Online.
    await env.tb.waitForEvent((e) => e.event === "status" && e.state === "online", 20_000);
    step("the add-on is online");
    expect(env.tb.events().some((e) => e.event === "status" && e.state === "online" && String(e.jid).startsWith("alice@localhost/"))).toBe(true);

    // 4. Write to bob (who has the add-on) and send with Ctrl+Enter.
    const subject = `My first mail over XMPP ${Date.now()}`;
    await env.tb.helper.command("compose", { to: "bob@localhost", subject, body: "Hello Bob!" });
    let compose = "";
    await waitFor(() => {
      try {
        compose = xdotool("search", "--name", `Write: ${subject}`).split("\n")[0] ?? "";
      } catch {
        compose = "";
      }
      return compose !== "";
    }, 15_000, "the compose window");
    await new Promise((r) => setTimeout(r, 800));
    xdotool("windowfocus", "--sync", compose);
    xdotool("key", "--clearmodifiers", "ctrl+Return");
    await waitFor(() => bob.filed.some((m) => m.subject === subject), 15_000, "filed at bob");
    step("bob's Thunderbird filed the first mail over XMPP");
    expect(env.sink.messages).toEqual([]);
    console.log(`[e2e] new user, from Thunderbird's start:\n  ${steps.join("\n  ")}`);
  });
});
