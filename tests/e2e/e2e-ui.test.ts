// End-to-end encryption as the user sees it (docs/protocol.md §10.3 fingerprint, §10.6 trust; issue 15 item 3), in a
// real Thunderbird 153 on a virtual display, driven with the real keyboard (xdotool), on each server (Prosody, ejabberd):
// - the options page shows this device's fingerprint, the one of the device the add-on published (computed here from
//   alice's capability item as a stranger's client reads it);
// - bob's account replaces its device by a new one after alice's first Send pinned the old one: alice's compose
//   indicator (Alt+Shift+X) says "key changed", its "Accept new key" button is reached and pressed with the keyboard,
//   and the next Send (Ctrl+Return) goes over XMPP, sealed for the new device and filed there.
// What a page shows is read from the background's log lines (e2e-own-shown, e2e-peer-shown: the test helper cannot
// read another add-on's DOM) and the screenshots: artifacts/screenshots/{options-e2e,compose-key-changed,
// compose-key-accepted}.png from Prosody, *-ejabberd.png from ejabberd (MOX_SCREENSHOTS_DIR overrides);
// MOX_SERVERS=prosody|ejabberd runs one server only, MOX_E2E_DUMP=1 prints the add-on's events.
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CapabilityCache } from "../../src/core/capability-cache.js";
import { fingerprint } from "../../src/core/e2e/keys.js";
import { emptyTrust } from "../../src/core/e2e/trust.js";
import { createLogger } from "../../src/core/log.js";
import { publishCapability, announcedDevicesFrom, queryCapabilityInfo, retractCapability } from "../../src/xmpp/capability.js";
import { Keyring, memoryDeviceKeyStore, memoryTrustStore } from "../../src/xmpp/e2e-keyring.js";
import { MailReceiver, type FiledMail } from "../../src/xmpp/receiver.js";
import type { XmppSession } from "../../src/xmpp/session.js";
import { findOnPath } from "../support/bin.js";
import { e2eSkipReason, startE2E, type E2E } from "../support/e2e-env.js";
import { ourSession, sleep, waitFor, whenOnline } from "../support/mail-fixtures.js";
import { grabWindow, screenshot, screenshotOver } from "../support/screenshot.js";
import { testServers } from "../support/servers.js";
import type { SinkMessage } from "../support/smtp.js";
import type { MoxEvent } from "../support/thunderbird.js";

const skipReason = e2eSkipReason() ?? (findOnPath("xdotool") === null || findOnPath("xwd") === null ? "xdotool/xwd not installed (apt-get install xdotool x11-apps)" : null);
if (skipReason) console.warn(`skipping the e2e UI test: ${skipReason}`);
const SHOTS = process.env.MOX_SCREENSHOTS_DIR ?? join(process.cwd(), "artifacts", "screenshots");
const DOMAIN = "localhost";
const log = createLogger(() => {}, () => "debug");
const td = new TextDecoder();
const subjectOf = (m: SinkMessage) => /^Subject: (.*)$/im.exec(m.raw.toString("latin1"))?.[1]?.trim();
const traceOf = (raw: string) => /^X-Mail-Over-XMPP: ([^\r\n]*)/m.exec(raw)?.[1] ?? "";

/** One installation of an account run by this process: receives and opens mail with its own keys (memory stores). */
interface NodeDevice {
  readonly session: XmppSession;
  readonly keyring: Keyring;
  readonly filed: FiledMail[];
  /** Publishes the capability item with this device (keeping the account's other fresh devices); the count listed. */
  publish(): Promise<number>;
  stop(): Promise<void>;
}

async function nodeDevice(env: E2E, user: string, resource: string, receive = true): Promise<NodeDevice> {
  const session = ourSession(env.server, user, `secret-${user}`, resource, log);
  const caps = new CapabilityCache(() => Date.now());
  const keyring = new Keyring({
    keys: memoryDeviceKeyStore(),
    trust: memoryTrustStore(emptyTrust()),
    announced: announcedDevicesFrom(caps, () => session),
    log,
  });
  const filed: FiledMail[] = [];
  if (receive) {
    const store = new Map<string, unknown>();
    new MailReceiver({
      session,
      log,
      sink: { file: async (m) => void filed.push(m) },
      directory: { confirmedJids: async () => [], addressBookJids: async () => [], isKnown: async () => true },
      store: { get: async (k) => store.get(k), set: async (k, v) => void store.set(k, v) },
      e2e: keyring,
    }).start();
  }
  session.start();
  await whenOnline(session);
  return {
    session,
    keyring,
    filed,
    async publish() {
      const report = await publishCapability(session, new Date(), { device: (await keyring.device()).public });
      if (report.devices) keyring.setOwnDevices(report.devices);
      return report.devices?.length ?? 0;
    },
    stop: () => session.stop().catch(() => undefined),
  };
}

describe.skipIf(skipReason !== null)("end-to-end encryption as the user sees it (real Thunderbird, keyboard, screenshots)", () => {
  describe.each(testServers())("on %s", (kind) => {
    let env: E2E;
    let display = "";
    let started = 0;
    const nodes: NodeDevice[] = [];
    const alice = `alice@${DOMAIN}`;
    /** Screenshot names: plain from Prosody (the ones docs use), with the server's name from the other. */
    const suffix = kind === "prosody" ? "" : `-${kind}`;
    const bob = `bob@${DOMAIN}`;
    const track = (d: NodeDevice) => {
      nodes.push(d);
      return d;
    };

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
      await sleep(300);
    };
    const press = async (...combo: string[]) => {
      for (const k of combo) xdotool("key", "--clearmodifiers", k);
      await sleep(300);
    };
    const events = (name: string) => env.tb.events().filter((e) => e.event === name);
    /** The next `name` event (after the `before` already seen) that matches. */
    const nextEvent = async (name: string, before: number, pred: (e: MoxEvent) => boolean = () => true, timeoutMs = 15_000): Promise<MoxEvent> => {
      let found: MoxEvent | undefined;
      await waitFor(() => (found = events(name).slice(before).find(pred)) !== undefined, timeoutMs, `alice's ${name} event`);
      return found!;
    };
    /** The compose window with its indicator open (the popup reaches past the window's right edge). */
    const shotCompose = (name: string, compose: string, underneath: ReturnType<typeof grabWindow>) => {
      const geometry = xdotool("getwindowgeometry", "--shell", compose);
      const num = (k: string) => Number(new RegExp(`^${k}=(\\d+)`, "m").exec(geometry)?.[1] ?? 0);
      const file = join(SHOTS, `${name}${suffix}.png`);
      const size = screenshotOver(display, file, underneath, { x: num("X"), y: num("Y"), width: num("WIDTH") + 380, height: num("HEIGHT") });
      console.log(`[e2e] screenshot ${file} (${size.width}x${size.height})`);
    };

    beforeAll(async () => {
      started = performance.now();
      mkdirSync(SHOTS, { recursive: true });
      env = await startE2E({
        kind,
        users: ["alice", "bob", "carol"].map((u) => ({ user: u, password: `secret-${u}` })),
        as: "alice",
        serverOptions: { domain: DOMAIN },
        managed: { logLevel: "debug" },
        thunderbird: { xvfb: true, identities: [{ email: alice, fullName: "Alice", fcc: true }], extraPrefs: { "mail.warn_on_send_accel_key": false } },
      });
      display = env.tb.display()!;
      await env.tb.waitForEvent((e) => e.event === "status" && e.state === "online", 30_000);
      await env.tb.waitForEvent((e) => e.event === "capability-published" && Number(e.devices) >= 1, 20_000);
      console.log(`[e2e] ${kind}: server, sink and Thunderbird online, device published after ${Math.round(performance.now() - started)} ms`);
    }, 120_000);

    afterAll(async () => {
      if (process.env.MOX_E2E_DUMP) console.log(env?.tb.events().map((e) => JSON.stringify(e)).join("\n"));
      for (const d of nodes) await d.stop();
      await env?.stop();
      console.log(`[measure] ${kind}: e2e-ui took ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }, 60_000);

    it("the options page shows this device's fingerprint: the one of the device alice's add-on published", async () => {
      // What a stranger's client reads in alice's item, and the fingerprint computed here from it (keys.ts).
      const probe = track(await nodeDevice(env, "carol", "probe", false));
      const info = await queryCapabilityInfo(probe.session, alice, new Date(), 5_000);
      expect(info.capable).toBe(true);
      expect(info.devices.map((d) => d.id), "alice's item lists the device her add-on made").toEqual(events("e2e-device-created").map((e) => String(e.device)));
      const expected = await fingerprint(info.devices[0]!);
      expect(expected).toMatch(/^\d{5}( \d{5}){7}$/);
      await probe.stop();

      // Settings, as the user opens it: the toolbar button's panel (Alt+Shift+Z), Tab to "Delivery log", Tab to "Settings".
      const before = events("e2e-own-shown").length;
      const main = await findWindow("Mozilla Thunderbird");
      await keys(main, "alt+shift+z");
      await sleep(1_000);
      await press("Tab", "Tab", "Return");
      await waitFor(() => xdotool("getwindowname", main).includes("Settings"), 15_000, "the settings tab in front");
      const shown = await nextEvent("e2e-own-shown", before);
      expect(shown, "what the options page was given to show").toMatchObject({ devices: 1, fingerprint: expected });
      // The encryption section is at the end of the page: scroll there with the mouse wheel (no control gets focus).
      const geometry = xdotool("getwindowgeometry", "--shell", main);
      const num = (k: string) => Number(new RegExp(`^${k}=(\\d+)`, "m").exec(geometry)?.[1] ?? 0);
      xdotool("mousemove", "--window", main, String(Math.round(num("WIDTH") / 2)), String(Math.round(num("HEIGHT") / 2)));
      for (let i = 0; i < 40; i++) xdotool("click", "5");
      await sleep(800);
      const file = join(SHOTS, `options-e2e${suffix}.png`);
      const size = screenshot(display, file, main);
      console.log(`[e2e] screenshot ${file} (${size.width}x${size.height})`);
      await keys(main, "ctrl+w");
    }, 60_000);

    it("bob's new device after alice pinned his old one: the compose indicator says 'key changed', Accept by keyboard, the next Send is sealed for the new device", async () => {
      // bob's first installation publishes; alice's first Send to bob pins it (trust on first use) and is filed there.
      const bobOld = track(await nodeDevice(env, "bob", "old"));
      expect(await bobOld.publish(), "bob's item lists his first device").toBe(1);
      const oldId = (await bobOld.keyring.device()).public.id;
      const first = `First ${Date.now()}`;
      let decided = events("send-decided").length;
      await expect(env.tb.helper.send({ to: `Bob <${bob}>`, subject: first, body: "Hello Bob" }), "the first Send went over XMPP").rejects.toThrow(/aborted/i);
      expect(await nextEvent("send-decided", decided)).toMatchObject({ result: "cancel", e2e: 1, filed: 1 });
      expect(events("e2e-pinned-first-use").filter((e) => e.jid === bob)).toMatchObject([{ devices: 1 }]);
      await waitFor(() => bobOld.filed.some((m) => m.subject === first), 10_000, "filed at bob's first device");

      // bob replaces it: the old installation is gone, a new one announces only itself (the old item retracted first,
      // or publishing would keep the old device, fresh for 30 days).
      await bobOld.stop();
      const bobNew = track(await nodeDevice(env, "bob", "new"));
      await retractCapability(bobNew.session);
      expect(await bobNew.publish(), "bob's item lists only his new device").toBe(1);
      const newId = (await bobNew.keyring.device()).public.id;
      expect(newId).not.toBe(oldId);

      // alice's add-on still has bob's old answer: the next Send is sealed for the old device, nobody files it (the new
      // device holds no key for it and stays silent), so it goes by SMTP and the add-on reads bob's item again.
      const second = `Second ${Date.now()}`;
      decided = events("send-decided").length;
      const refreshed = events("capability-refreshed").length;
      await env.tb.helper.send({ to: `Bob <${bob}>`, subject: second, body: "Still there?" }, 30_000);
      expect(await nextEvent("send-decided", decided, () => true, 30_000)).toMatchObject({ result: "smtp", filed: 0 });
      await env.sink.waitFor((m) => subjectOf(m) === second, 20_000);
      expect(await nextEvent("capability-refreshed", refreshed, (e) => e.jid === bob)).toMatchObject({ why: "not-filed", capable: true, devices: 1 });
      expect(bobNew.filed.some((m) => m.subject === second), "the new device could not open a copy sealed for the old one").toBe(false);

      // The compose window's indicator (Alt+Shift+X) for a mail to bob: "key changed".
      const third = `Third ${Date.now()}`;
      await env.tb.helper.command("compose", { to: `Bob <${bob}>`, subject: third, body: "After the key change" });
      const compose = await findWindow(`Write: ${third}`);
      await sleep(800);
      const underneath = grabWindow(display, compose);
      const peerShown = events("e2e-peer-shown").length;
      await keys(compose, "alt+shift+x");
      const changed = await nextEvent("e2e-peer-shown", peerShown);
      expect(changed, "the indicator's view of bob (his old device pinned, the new one announced)").toMatchObject({ state: "changed", devices: 2 });
      // Keyboard only: the first control is "Compare keys" (open it for the screenshot), the next "Accept new key".
      await press("Tab", "space");
      await sleep(800);
      shotCompose("compose-key-changed", compose, underneath);
      const acceptedBefore = events("e2e-devices-accepted").length;
      await press("Tab", "Return");
      expect(await nextEvent("e2e-devices-accepted", acceptedBefore, () => true, 10_000), "Accept new key, pressed with the keyboard").toMatchObject({ jid: bob, devices: 1 });
      const afterAccept = events("e2e-peer-shown").length;
      expect(await nextEvent("e2e-peer-shown", afterAccept, (e) => e.state !== "changed"), "the indicator after Accept").toMatchObject({ state: "unchanged", devices: 1 });
      await sleep(800);
      shotCompose("compose-key-accepted", compose, underneath);

      // Send (Ctrl+Return): over XMPP, sealed for the new device, filed there with e2e=yes; nothing by SMTP.
      await press("Escape");
      decided = events("send-decided").length;
      const smtpBefore = env.sink.messages.length;
      await keys(compose, "ctrl+Return");
      expect(await nextEvent("send-decided", decided, () => true, 20_000), "the Send after Accept").toMatchObject({ result: "cancel", e2e: 1, filed: 1 });
      await waitFor(() => bobNew.filed.some((m) => m.subject === third), 10_000, "filed at bob's new device");
      const filed = bobNew.filed.find((m) => m.subject === third)!;
      expect(filed.verified).toBe(true);
      expect(traceOf(td.decode(filed.raw))).toMatch(new RegExp(`^from=${alice}; verified=yes; .*; e2e=yes$`));
      await sleep(1_000);
      expect(env.sink.messages.slice(smtpBefore).filter((m) => subjectOf(m) === third), "nothing by SMTP").toEqual([]);
    }, 120_000);
  });
});
