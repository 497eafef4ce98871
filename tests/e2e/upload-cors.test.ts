// XEP-0363 uploads from a real Thunderbird against ejabberd 23.01 as shipped: its mod_http_upload sends no CORS
// headers (uploadCors: false), so the add-on's cross-origin fetch works only with a host permission for the upload
// host (issue 11 point 9). Two Thunderbirds in turn on the same server, alice's account:
//   - permission granted: a 200 KB mail is uploaded (sending) and downloaded (receiving) — over XMPP both ways;
//   - not granted: the login's check says "blocked", a 200 KB Send goes by SMTP at once (not after the hold), a mail
//     sent to alice by upload is rejected at once with download-failed, and small mail still goes inline.
//
// "Granted" is set up the way Thunderbird itself stores a granted optional permission on release builds:
// <profile>/extension-preferences.json, { "<add-on id>": { permissions, origins, data_collection } }, which Gecko's
// ExtensionPermissions (LegacyPermissionStore; the rkv store is Nightly-only) writes when the user clicks "Allow" in
// the prompt of permissions.request, and reads when the add-on starts. A prompt cannot be clicked by the helper
// extension (permissions.request only works for the calling add-on, and only in a user action).
import { readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildMessage, newMessageId } from "../../src/core/mime/build.js";
import { MailReceiver, type FiledMail } from "../../src/xmpp/receiver.js";
import { MailSender } from "../../src/xmpp/mail-sender.js";
import { fallbackBody } from "../../src/xmpp/mail-stanza.js";
import { realScheduler } from "../../src/xmpp/runtime.js";
import { downloadBytes } from "../../src/xmpp/upload.js";
import { publishCapability } from "../../src/xmpp/capability.js";
import { DIST_DIR, e2eSkipReason, E2E_STRANGER_LIMITS } from "../support/e2e-env.js";
import { ourSession, quietLog, waitFor, whenOnline } from "../support/mail-fixtures.js";
import { isServerAvailable, startServer, type XmppServer } from "../support/servers.js";
import { startSmtpSink, type SinkMessage, type SmtpSink } from "../support/smtp.js";
import { ADDON_ID, launchThunderbird, type MoxEvent, type TB } from "../support/thunderbird.js";

const skipReason = e2eSkipReason() ?? (isServerAvailable("ejabberd") ? null : "ejabberd is not installed");
if (skipReason) console.warn(`skipping upload-cors e2e test: ${skipReason}`);

const subjectOf = (m: SinkMessage) => /^Subject: (.*)$/im.exec(m.raw.toString("latin1"))?.[1]?.trim();
/** ~200 KB of attachment: well above the inline limits (12 KiB, 64 KiB without upload). */
const bigAttachment = () => {
  const bytes = new Uint8Array(200 * 1024);
  for (let i = 0; i < bytes.length; i += 65536) crypto.getRandomValues(bytes.subarray(i, Math.min(bytes.length, i + 65536)));
  return { name: "big.bin", type: "application/octet-stream", base64: Buffer.from(bytes).toString("base64") };
};

function grantInProfile(origins: string[]) {
  return (profileDir: string) =>
    writeFileSync(join(profileDir, "extension-preferences.json"), JSON.stringify({ [ADDON_ID]: { permissions: [], origins, data_collection: [] } }));
}

/** bob: the add-on's engine in Node (no CORS in Node) on `server`, capable, filing into memory, recording downloads. */
async function startBob(server: XmppServer) {
  const filed: FiledMail[] = [];
  const downloads: string[] = [];
  const session = ourSession(server, "bob", "secret-b", "engine", quietLog);
  const memory = new Map<string, unknown>();
  new MailReceiver({
    session,
    sink: { file: async (mail) => void filed.push(mail) },
    directory: { confirmedJids: async () => [], addressBookJids: async () => [], isKnown: async () => true },
    store: { get: async (k) => memory.get(k), set: async (k, v) => void memory.set(k, v) },
    log: quietLog,
    download: (url, max, timeout) => {
      downloads.push(url);
      return downloadBytes(url, max, timeout);
    },
  }).start();
  session.start();
  await whenOnline(session);
  await publishCapability(session, new Date());
  const sender = new MailSender({ session, log: quietLog, scheduler: realScheduler });
  sender.start();
  return { session, sender, filed, downloads };
}

const USERS = [
  { user: "alice", password: "secret-a" },
  { user: "bob", password: "secret-b" },
];

/** Alice's Thunderbird on `server`, online; `grant`: the upload host permission already granted in the profile. */
async function launchAlice(server: XmppServer, sink: SmtpSink, grant: boolean): Promise<TB> {
  const tb = await launchThunderbird({
    addonDir: DIST_DIR,
    smtpPort: sink.port,
    managed: { jid: `alice@${server.domain}`, password: "secret-a", websocketUrl: server.wsUrl, ...E2E_STRANGER_LIMITS },
    ...(grant ? { prepareProfile: grantInProfile(["http://127.0.0.1/*"]) } : {}),
  });
  await tb.waitForEvent((e) => e.event === "status" && e.state === "online", 30_000);
  return tb;
}

describe.skipIf(skipReason !== null).each([
  ["prosody", {}],
  ["ejabberd", { uploadCors: true }],
] as const)("XEP-0363 on %s with CORS headers, in a real Thunderbird: no permission needed", (kind, options) => {
  let server: XmppServer;
  let sink: SmtpSink;
  let bob: Awaited<ReturnType<typeof startBob>>;
  let tb: TB;

  beforeAll(async () => {
    server = await startServer(kind, { users: USERS, upload: true, ...options });
    sink = await startSmtpSink();
    bob = await startBob(server);
    tb = await launchAlice(server, sink, false);
  }, 90_000);

  afterAll(async () => {
    await tb?.quit();
    await bob?.session.stop();
    await sink?.stop();
    await server?.cleanup();
  });

  it("finds at login that uploads work, and sends a 200 KB mail by upload", async () => {
    expect(await tb.waitForEvent((e) => e.event === "upload-access", 20_000)).toMatchObject({ state: "ok" });
    const subject = `Big by upload on ${kind} ${Date.now()}`;
    const downloadsBefore = bob.downloads.length;
    await expect(tb.helper.send({ to: `bob@${server.domain}`, subject, body: "A large mail", attachments: [bigAttachment()] }, 30_000)).rejects.toThrow(/aborted/i);
    await waitFor(() => bob.filed.some((m) => m.subject === subject), 15_000, "filed at bob");
    expect(bob.downloads.length).toBe(downloadsBefore + 1);
    expect(tb.events().some((e) => e.event === "status-shown" && /uploads blocked/.test(String(e.text)))).toBe(false);
  });
});

describe.skipIf(skipReason !== null)("XEP-0363 on ejabberd without CORS headers, in a real Thunderbird", () => {
  let server: XmppServer;
  let sink: SmtpSink;
  let bobEngine: Awaited<ReturnType<typeof startBob>>;
  const bobFiled = () => bobEngine.filed;

  beforeAll(async () => {
    server = await startServer("ejabberd", { users: USERS, upload: true, uploadCors: false });
    sink = await startSmtpSink();
    bobEngine = await startBob(server);
  }, 60_000);

  afterAll(async () => {
    await bobEngine?.session.stop();
    await sink?.stop();
    await server?.cleanup();
  });

  const launch = (grant: boolean) => launchAlice(server, sink, grant);

  /** bob sends alice a mail of about `bytes`; the outcome and how long it took. */
  async function bobSends(subject: string, bytes: number) {
    const messageId = newMessageId("localhost");
    const text = "x".repeat(bytes);
    const raw = buildMessage(
      { from: "Bob <bob@localhost>", to: ["alice@localhost"], cc: [], bcc: [], replyTo: [], subject, text, isPlainText: true, attachments: [] },
      { date: new Date(), messageId },
    );
    const t0 = performance.now();
    const outcome = await bobEngine.sender.deliver(
      { to: "alice@localhost", raw, subject, fallbackBody: fallbackBody({ from: "bob@localhost", to: ["alice@localhost"], subject, text: "big", attachmentNames: [] }) },
      15_000,
    );
    return { outcome, ms: performance.now() - t0, messageId };
  }

  const uploadedFiles = () => {
    const root = join((server as unknown as { dir: string }).dir, "upload");
    const out: number[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(d, e.name));
        else out.push(statSync(join(d, e.name)).size);
      }
    };
    walk(root);
    return out;
  };

  describe("host permission for the upload host granted", () => {
    let tb: TB;
    beforeAll(async () => {
      tb = await launch(true);
    }, 60_000);
    afterAll(async () => {
      if (process.env.MOX_E2E_DUMP) console.log(tb?.events().map((e) => JSON.stringify(e)).join("\n"));
      await tb?.quit();
    });

    it("finds at login that uploads work", async () => {
      const access = await tb.waitForEvent((e) => e.event === "upload-access", 20_000);
      expect(access).toMatchObject({ state: "ok" });
    });

    it("sends a 200 KB mail by upload: bob downloads and files it, nothing at SMTP", async () => {
      const subject = `Big by upload ${Date.now()}`;
      const smtpBefore = sink.messages.length;
      const downloadsBefore = bobEngine.downloads.length;
      const bigFilesBefore = uploadedFiles().filter((size) => size > 200 * 1024).length;
      const t0 = performance.now();
      await expect(tb.helper.send({ to: "bob@localhost", subject, body: "A large mail", attachments: [bigAttachment()] }, 30_000)).rejects.toThrow(/aborted/i);
      await waitFor(() => bobFiled().some((m) => m.subject === subject), 15_000, "filed at bob");
      console.log(`[e2e] ejabberd without CORS, permission granted: 200 KB Send → filed at bob ${Math.round(performance.now() - t0)} ms`);
      expect(bobEngine.downloads.length).toBe(downloadsBefore + 1);
      expect(bobEngine.downloads.at(-1)).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/upload\//);
      expect(uploadedFiles().filter((size) => size > 200 * 1024).length).toBe(bigFilesBefore + 1);
      expect(bobFiled().find((m) => m.subject === subject)!.raw.length).toBeGreaterThan(200 * 1024);
      await new Promise((r) => setTimeout(r, 500));
      expect(sink.messages.length).toBe(smtpBefore);
    });

    it("receives a 200 KB mail by upload: downloads it from the own upload host and files it", async () => {
      const subject = `Big to alice ${Date.now()}`;
      const { outcome, ms, messageId } = await bobSends(subject, 200 * 1024);
      console.log(`[e2e] ejabberd without CORS, permission granted: 200 KB bob → alice ${outcome.status} in ${Math.round(ms)} ms`);
      expect(outcome).toMatchObject({ status: "filed", route: "external" });
      const found = await tb.helper.command<Array<{ folder: string | null }>>("findMessages", { headerMessageId: messageId.slice(1, -1) }, 10_000);
      expect(found.map((f) => f.folder)).toEqual(["Mail over XMPP"]);
    });
  });

  describe("no host permission", () => {
    let tb: TB;
    let blocked: MoxEvent;
    beforeAll(async () => {
      tb = await launch(false);
      blocked = await tb.waitForEvent((e) => e.event === "upload-access", 20_000);
    }, 60_000);
    afterAll(async () => {
      if (process.env.MOX_E2E_DUMP) console.log(tb?.events().map((e) => JSON.stringify(e)).join("\n"));
      await tb?.quit();
    });

    it("finds at login that uploads are blocked, and why; the status says so", async () => {
      expect(blocked).toMatchObject({ state: "blocked", reason: "no-permission", origins: "http://127.0.0.1/*" });
      const shown = await tb.waitForEvent((e) => e.event === "status-shown" && /uploads blocked/.test(String(e.text)), 10_000);
      console.log(`[e2e] status: ${String(shown.text)}`);
      expect(shown.text).toMatch(/upload host sends no CORS headers and the add-on has no permission for it: mail over about \d+ KiB goes by ordinary mail/);
    });

    it("sends a 200 KB mail by SMTP at once, without trying an upload", async () => {
      const subject = `Big, no permission ${Date.now()}`;
      const heldBefore = tb.events().filter((e) => e.event === "send-held").length;
      const sent = await tb.helper.send({ to: "bob@localhost", subject, body: "A large mail", attachments: [bigAttachment()] }, 30_000);
      const msg = await sink.waitFor((m) => subjectOf(m) === subject, 20_000);
      const toSink = msg.receivedAt - sent.sendStartedAt;
      await waitFor(() => tb.events().filter((e) => e.event === "send-held").length > heldBefore, 10_000, "send-held");
      const held = tb.events().filter((e) => e.event === "send-held")[heldBefore]!;
      console.log(`[e2e] ejabberd without CORS, no permission: 200 KB Send → SMTP sink ${toSink} ms (add-on held the Send ${String(held.ms)} ms; hold limit 8000 ms)`);
      expect(msg.envelope.to).toEqual(["bob@localhost"]);
      expect(held.ms as number).toBeLessThan(1_000);
      expect(toSink).toBeLessThan(3_000);
      expect(bobFiled().some((m) => m.subject === subject)).toBe(false);
    });

    it("still sends a small mail over XMPP (inline)", async () => {
      const subject = `Small, no permission ${Date.now()}`;
      await expect(tb.helper.send({ to: "bob@localhost", subject, body: "small" }, 30_000)).rejects.toThrow(/aborted/i);
      await waitFor(() => bobFiled().some((m) => m.subject === subject), 10_000, "filed at bob");
    });

    it("rejects a 200 KB mail sent by upload at once with download-failed (the sender falls back to SMTP)", async () => {
      const { outcome, ms } = await bobSends(`Big to alice, no permission ${Date.now()}`, 200 * 1024);
      console.log(`[e2e] ejabberd without CORS, no permission: 200 KB bob → alice ${JSON.stringify(outcome)} in ${Math.round(ms)} ms`);
      expect(outcome).toMatchObject({ status: "failed", reason: "rejected: download-failed" });
      expect(ms).toBeLessThan(3_000);
    });
  });
});
