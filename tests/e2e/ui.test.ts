// The user's side in a real Thunderbird 153 on a virtual display, driven with the real keyboard (xdotool): the settings
// page opens on first install, the compose window's indicator (Alt+Shift+X) shows the route per recipient and can
// switch XMPP off for the message, the toolbar button (Alt+Shift+Z) shows the state and leads to the delivery log.
// Screenshots go to artifacts/screenshots/ (MOX_SCREENSHOTS_DIR overrides; `npm run screenshots` writes docs/screenshots/).
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findOnPath } from "../support/bin.js";
import { e2eSkipReason, startE2E, type E2E } from "../support/e2e-env.js";
import { waitFor } from "../support/mail-fixtures.js";
import { startMailPeer, type MailPeer } from "../support/mail-peer.js";
import { grabWindow, screenshot, screenshotOver } from "../support/screenshot.js";
import type { SinkMessage } from "../support/smtp.js";

const skipReason = e2eSkipReason() ?? (findOnPath("xdotool") === null || findOnPath("xwd") === null ? "xdotool/xwd not installed (apt-get install xdotool x11-apps)" : null);
if (skipReason) console.warn(`skipping UI e2e test: ${skipReason}`);
const SHOTS = process.env.MOX_SCREENSHOTS_DIR ?? join(process.cwd(), "artifacts", "screenshots");
/** MOX_UI_DARK=1: the same under a dark system theme (prefers-color-scheme: dark), screenshots named *-dark.png. */
const DARK = process.env.MOX_UI_DARK === "1";
const subjectOf = (m: SinkMessage) => /^Subject: (.*)$/im.exec(m.raw.toString("latin1"))?.[1]?.trim();

describe.skipIf(skipReason !== null)("the user's side in a real Thunderbird (keyboard, screenshots)", () => {
  let env: E2E;
  let bob: MailPeer;
  let display = "";

  const xdotool = (...args: string[]) => execFileSync("xdotool", args, { env: { ...process.env, DISPLAY: display }, encoding: "utf8" }).trim();
  const findWindow = async (name: string, timeoutMs = 20_000): Promise<string> => {
    let id = "";
    await waitFor(() => {
      try {
        id = xdotool("search", "--name", name).split("\n").at(-1) ?? "";
      } catch {
        id = "";
      }
      return id !== "";
    }, timeoutMs, `window "${name}"`);
    return id;
  };
  const keys = async (window: string, ...combo: string[]) => {
    xdotool("windowfocus", "--sync", window);
    for (const k of combo) xdotool("key", "--clearmodifiers", k);
    await new Promise((r) => setTimeout(r, 300));
  };
  const shot = (name: string, windowId?: string) => {
    const file = join(SHOTS, `${name}${DARK ? "-dark" : ""}.png`);
    const size = screenshot(display, file, windowId);
    console.log(`[e2e] screenshot ${file} (${size.width}x${size.height})`);
  };

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    env = await startE2E({
      users: ["alice", "bob", "dora"].map((u) => ({ user: u, password: `secret-${u}` })),
      as: "alice",
      managed: { logLevel: "debug" },
      thunderbird: { xvfb: true, identities: [{ email: "alice@example.test", fullName: "Alice", fcc: true }], extraPrefs: { "mail.warn_on_send_accel_key": false, ...(DARK ? { "ui.systemUsesDarkTheme": 1 } : {}) } },
    });
    display = env.tb.display()!;
    bob = await startMailPeer(env.server, "bob", "secret-bob");
    await env.tb.waitForEvent((e) => e.event === "status" && e.state === "online", 30_000);
  });

  afterAll(async () => {
    await bob?.stop();
    await env?.stop();
  });

  it("opens no settings page on first install when a policy presets the account; the toolbar's Settings opens it", async () => {
    // The policy gives the address and the password (tests/support/e2e-env.ts): nothing for the user to enter.
    await env.tb.waitForEvent((e) => e.event === "onboarding-skipped", 30_000);
    const main = await findWindow("Mozilla Thunderbird");
    await new Promise((r) => setTimeout(r, 2_000));
    expect(env.tb.events().some((e) => e.event === "onboarding-opened")).toBe(false);
    expect(xdotool("getwindowname", main)).not.toContain("Settings");
    // The status panel (Alt+Shift+Z): Tab to "Delivery log", Tab to "Settings", Enter.
    await keys(main, "alt+shift+z");
    await new Promise((r) => setTimeout(r, 1_000));
    for (const key of ["Tab", "Tab", "Return"]) xdotool("key", "--clearmodifiers", key);
    await waitFor(() => xdotool("getwindowname", main).includes("Settings"), 15_000, "the settings tab in front");
    await new Promise((r) => setTimeout(r, 1_000));
    shot("options", main);
    // Back to the mail tab (the toolbar button lives in the mail space's toolbar).
    await keys(await findWindow("Mozilla Thunderbird"), "ctrl+w");
  });

  it("shows in the compose window how the message will travel, and sends by mail only when switched so", async () => {
    const subject = `Indicator ${Date.now()}`;
    await env.tb.helper.command("compose", { to: ["Bob <bob@localhost>", "carol@nowhere.test"], subject, body: "Who gets this how?" });
    const compose = await findWindow(`Write: ${subject}`);
    await new Promise((r) => setTimeout(r, 800));
    const before = env.tb.events().filter((e) => e.event === "route-previewed").length;
    const underneath = grabWindow(display, compose);
    await keys(compose, "alt+shift+x");
    await waitFor(() => env.tb.events().filter((e) => e.event === "route-previewed").length > before, 10_000, "the indicator asked for a preview");
    const preview = env.tb.events().filter((e) => e.event === "route-previewed").at(-1)!;
    // whole-message policy: bob could take XMPP, carol cannot, so everything goes by mail.
    expect(preview).toMatchObject({ result: "smtp", recipients: 2 });
    await new Promise((r) => setTimeout(r, 800));
    // The compose window with the indicator open (the popup reaches past the window's right edge).
    const geometry = xdotool("getwindowgeometry", "--shell", compose);
    const num = (k: string) => Number(new RegExp(`^${k}=(\\d+)`, "m").exec(geometry)?.[1] ?? 0);
    const file = join(SHOTS, `compose-indicator${DARK ? "-dark" : ""}.png`);
    const size = screenshotOver(display, file, underneath, { x: num("X"), y: num("Y"), width: num("WIDTH") + 380, height: num("HEIGHT") });
    console.log(`[e2e] screenshot ${file} (${size.width}x${size.height})`);
    // Keyboard only: the checkbox is the popup's only control.
    xdotool("key", "--clearmodifiers", "Tab");
    xdotool("key", "--clearmodifiers", "space");
    await env.tb.waitForEvent((e) => e.event === "xmpp-switched" && e.off === true, 10_000);
    xdotool("key", "--clearmodifiers", "Escape");
    await keys(compose, "ctrl+Return");
    const msg = await env.sink.waitFor((m) => subjectOf(m) === subject, 20_000);
    expect([...msg.envelope.to].sort()).toEqual(["bob@localhost", "carol@nowhere.test"]);
    expect(bob.filed.some((m) => m.subject === subject)).toBe(false);
    const decided = await env.tb.waitForEvent((e) => e.event === "send-decided" && String(e.summary).includes("switched-off"), 10_000);
    expect(decided).toMatchObject({ result: "smtp" });
  });

  it("confirms a learned XMPP address with one click, sends over XMPP, and saves the address in the address book", async () => {
    const dora = await startMailPeer(env.server, "dora", "secret-dora");
    try {
      // Dora's mail by SMTP announces an XMPP address on another domain: learned, but not used until confirmed.
      const raw = ["From: Dora <dora@elsewhere.test>", "To: alice@example.test", "Subject: hello from dora", `Message-ID: <dora-${Date.now()}@elsewhere.test>`, "Date: Mon, 23 Nov 2026 10:00:00 +0000", "X-Jabber-ID: dora@localhost", "", "Hi!", ""].join("\r\n");
      await env.tb.helper.command("importTo", { folder: "Incoming", raw });
      await env.tb.waitForEvent((e) => e.event === "jabber-id-learned" && e.jid === "dora@localhost", 10_000);
      const subject = `Confirmed ${Date.now()}`;
      await env.tb.helper.command("compose", { to: "Dora <dora@elsewhere.test>", subject, body: "Now over XMPP" });
      const compose = await findWindow(`Write: ${subject}`);
      await new Promise((r) => setTimeout(r, 800));
      const underneath = grabWindow(display, compose);
      await keys(compose, "alt+shift+x");
      await new Promise((r) => setTimeout(r, 800));
      const geometry = xdotool("getwindowgeometry", "--shell", compose);
      const num = (k: string) => Number(new RegExp(`^${k}=(\\d+)`, "m").exec(geometry)?.[1] ?? 0);
      screenshotOver(display, join(SHOTS, `compose-confirm${DARK ? "-dark" : ""}.png`), underneath, { x: num("X"), y: num("Y"), width: num("WIDTH") + 380, height: num("HEIGHT") });
      // The first control in the panel is the "Use dora@localhost for this address" button.
      xdotool("key", "--clearmodifiers", "Tab");
      xdotool("key", "--clearmodifiers", "Return");
      await env.tb.waitForEvent((e) => e.event === "mapping-confirmed" && e.jid === "dora@localhost", 10_000);
      // Now the first control is "Save the XMPP address in the address book".
      await waitFor(() => env.tb.events().filter((e) => e.event === "route-previewed").at(-1)?.routes === "xmpp", 10_000, "the indicator shows XMPP");
      xdotool("key", "--clearmodifiers", "Tab");
      xdotool("key", "--clearmodifiers", "Return");
      const saved = await env.tb.waitForEvent((e) => e.event === "address-book-jid-saved", 10_000);
      expect(saved.how).toBe("created");
      xdotool("key", "--clearmodifiers", "Escape");
      await keys(compose, "ctrl+Return");
      await waitFor(() => dora.filed.some((m) => m.subject === subject), 15_000, "filed at dora");
    } finally {
      await dora.stop();
    }
  });

  it("shows the session state on the toolbar button and leads to the delivery log", async () => {
    // A mail over XMPP first, so the log has both routes.
    const subject = `For the log ${Date.now()}`;
    await env.tb.helper.send({ to: "bob@localhost", subject, body: "Over XMPP" }).catch(() => undefined);
    await waitFor(() => bob.filed.some((m) => m.subject === subject), 10_000, "filed at bob");
    const main = await findWindow("Mozilla Thunderbird");
    await keys(main, "alt+shift+z");
    await new Promise((r) => setTimeout(r, 1_000));
    shot("toolbar-status");
    xdotool("key", "--clearmodifiers", "Tab");
    xdotool("key", "--clearmodifiers", "Return");
    await waitFor(() => xdotool("getwindowname", main).includes("Delivery log"), 15_000, "the delivery log tab");
    await new Promise((r) => setTimeout(r, 1_000));
    shot("delivery-log", main);
  });
});
