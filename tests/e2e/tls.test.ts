// TLS as in real life (issue 11 point 5), in a real Thunderbird 153, on each server: a CA made at test time
// (tests/support/test-ca.ts) and trusted in the test profile's NSS database (certutil); the server's WebSocket on
// wss:// and its XEP-0363 upload service on https:// with a certificate from that CA. The add-on, configured with the
// wss:// URL, comes online; a small (inline) and a large mail (uploaded over https from the add-on's origin,
// moz-extension://) go from Thunderbird to a recipient engine in Node, and a large mail from that engine is downloaded
// by Thunderbird over https and filed. A second Thunderbird that does not trust the CA is told by "Test connection"
// that TLS failed because of the certificate.
//
// MOX_TLS_BASELINE=1 runs the same sends once more over plain ws:// and http:// and prints both for comparison.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type BuildOptions } from "esbuild";
import PostalMime from "postal-mime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildMessage, newMessageId } from "../../src/core/mime/build.js";
import { MailSender } from "../../src/xmpp/mail-sender.js";
import { fallbackBody } from "../../src/xmpp/mail-stanza.js";
import { realScheduler } from "../../src/xmpp/runtime.js";
import { e2eSkipReason, startE2E, type E2E } from "../support/e2e-env.js";
import { filler, quietLog, waitFor } from "../support/mail-fixtures.js";
import { startMailPeer, type MailPeer } from "../support/mail-peer.js";
import { freePort } from "../support/ports.js";
import { testServers, type ServerKind } from "../support/servers.js";
import { launchThunderbird } from "../support/thunderbird.js";
// @ts-expect-error -- plain ESM build script without type declarations; its esbuild options (node:dns stub, target)
import { options as addonBuildOptions } from "../../scripts/build.mjs";
import { makeTestCa, trustCaInNode, type TestCa } from "../support/test-ca.js";

const skipReason = e2eSkipReason();
if (skipReason) console.warn(`skipping TLS e2e test: ${skipReason}`);

const USERS = ["alice", "bob"].map((user) => ({ user, password: `secret-${user}` }));
const LARGE_ATTACHMENT = 150_000; // bytes; ~200 KB of MIME once base64-encoded: far over the inline limit
const modes = process.env.MOX_TLS_BASELINE === "1" ? (["tls", "plain"] as const) : (["tls"] as const);

interface Found {
  folder: string | null;
  subject: string;
  raw?: string;
}

const CONNECTION_TEST_EXT = fileURLToPath(new URL("./fixtures/connection-test-ext/", import.meta.url));

/** Bundles the connection-test fixture extension (the add-on's own Test connection code) into `outDir`. */
async function buildConnectionTestExt(outDir: string): Promise<string> {
  mkdirSync(outDir, { recursive: true });
  await build({
    ...(addonBuildOptions as BuildOptions),
    entryPoints: { background: join(CONNECTION_TEST_EXT, "background.ts") },
    outdir: outDir,
    sourcemap: false,
  });
  copyFileSync(join(CONNECTION_TEST_EXT, "manifest.json"), join(outDir, "manifest.json"));
  return outDir;
}

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  return out;
}

describe.skipIf(skipReason !== null).each(testServers().flatMap((kind) => modes.map((mode) => [kind, mode] as [ServerKind, "tls" | "plain"])))(
  "mail over %s with %s in a real Thunderbird",
  (kind, mode) => {
    let dir: string;
    let ca: TestCa;
    let env: E2E;
    let bob: MailPeer;
    let untrust: (() => void) | null = null;
    const filedAt = new Map<string, number>();
    const tag = `${kind}/${mode}`;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), "mox-e2e-tls-"));
      ca = makeTestCa(join(dir, "ca"));
      const cert = ca.issueCert(["localhost", "127.0.0.1"]);
      if (mode === "tls") untrust = await trustCaInNode(ca.certPem);
      env = await startE2E({
        kind,
        users: USERS,
        as: "alice",
        serverOptions: { upload: true, uploadCors: true, ...(mode === "tls" ? { tls: { certFile: cert.certFile, keyFile: cert.keyFile } } : {}) },
        thunderbird: { identities: [{ email: "alice@localhost", fullName: "Alice" }], ...(mode === "tls" ? { trustCa: ca.certFile } : {}) },
      });
      const online = await env.tb.waitForEvent((e) => e.event === "status" && e.state === "online", 30_000);
      console.log(`[measure] ${tag}: Thunderbird start → add-on online ${Math.round(env.tb.timeOf(online)! - env.tb.spawnedAt)} ms (helper ready at ${env.tb.readyMs} ms)`);
      bob = await startMailPeer(env.server, "bob", "secret-bob");
      bob.beforeFile = async (mail) => void filedAt.set(mail.subject, performance.now());
    });

    afterAll(async () => {
      if (process.env.MOX_E2E_DUMP) console.log(env?.tb.events().map((e) => JSON.stringify(e)).join("\n"));
      await bob?.stop().catch(() => {});
      await env?.stop();
      untrust?.();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it(`serves ${mode === "tls" ? "wss:// and https://" : "ws:// and http://"}`, () => {
      expect(env.server.wsUrl.startsWith(mode === "tls" ? "wss://127.0.0.1:" : "ws://127.0.0.1:")).toBe(true);
    });

    /** Sends from Thunderbird to bob; resolves with the ms from the helper's send command to bob's engine filing it. */
    async function sendToBob(subject: string, body: string, attachments: Array<{ name: string; base64: string }> = []): Promise<number> {
      const t0 = performance.now();
      await expect(env.tb.helper.send({ to: "bob@localhost", subject, body, attachments })).rejects.toThrow(/aborted/i);
      await waitFor(() => filedAt.has(subject), 30_000, `${subject} filed at bob`);
      return filedAt.get(subject)! - t0;
    }

    it("sends a small mail inline from Thunderbird, filed by the recipient", async () => {
      const subject = `Small over ${mode} ${Date.now()}`;
      const ms = await sendToBob(subject, "Hello Bob, a small one.");
      console.log(`[measure] ${tag}: small mail Thunderbird send → filed at bob ${ms.toFixed(0)} ms`);
      const parsed = await PostalMime.parse(bob.filed.find((m) => m.subject === subject)!.raw);
      expect(parsed.text?.trim()).toBe("Hello Bob, a small one.");
      expect(env.sink.messages).toEqual([]);
    });

    it("sends a large mail from Thunderbird through the upload service, filed by the recipient byte for byte", async () => {
      const subject = `Large over ${mode} ${Date.now()}`;
      const bytes = randomBytes(LARGE_ATTACHMENT);
      const ms = await sendToBob(subject, "A large one.", [{ name: "big.bin", base64: Buffer.from(bytes).toString("base64") }]);
      const mail = bob.filed.find((m) => m.subject === subject)!;
      console.log(`[measure] ${tag}: large mail (${mail.raw.length} B) Thunderbird send → filed at bob ${ms.toFixed(0)} ms`);
      const parsed = await PostalMime.parse(mail.raw);
      const attachment = parsed.attachments.find((a) => a.filename === "big.bin");
      expect(attachment).toBeDefined();
      expect(Buffer.from(attachment!.content as ArrayBuffer).equals(Buffer.from(bytes))).toBe(true);
      expect(env.sink.messages).toEqual([]);
      // It went through the upload service (the only way a mail this size travels), on the https:// origin with TLS.
      const uploaded = env.tb.events().filter((e) => e.event === "upload-done" || e.event === "mail-uploaded");
      if (uploaded.length) expect(String(uploaded.at(-1)!.url ?? "")).toMatch(mode === "tls" ? /^https:/ : /^http:/);
    });

    it("downloads a large mail from the recipient engine's upload over https and files it", async () => {
      const sender = new MailSender({ session: bob.session, log: quietLog, scheduler: realScheduler });
      sender.start();
      const subject = `Large to Thunderbird over ${mode} ${Date.now()}`;
      const messageId = newMessageId("localhost");
      const text = filler(200_000);
      const raw = buildMessage(
        { from: "Bob <bob@localhost>", to: ["alice@localhost"], cc: [], bcc: [], replyTo: [], subject, text, isPlainText: true, attachments: [] },
        { date: new Date(), messageId },
      );
      const t0 = performance.now();
      const outcome = await sender.deliver(
        { to: env.jidOf("alice"), raw, subject, fallbackBody: fallbackBody({ from: "Bob <bob@localhost>", to: ["alice@localhost"], subject, text: "", attachmentNames: [] }) },
        30_000,
      );
      const ms = performance.now() - t0;
      console.log(`[measure] ${tag}: large mail (${raw.length} B) bob's engine send → filed receipt from Thunderbird ${ms.toFixed(0)} ms (${outcome.status})`);
      expect(outcome).toMatchObject({ status: "filed" });
      const found = await env.tb.helper.command<Found[]>("findMessages", { headerMessageId: messageId.slice(1, -1), withRaw: true }, 10_000);
      expect(found.map((f) => f.folder)).toEqual(["Mail over XMPP"]);
      expect(found[0]!.raw).toContain(text.slice(0, 2_000));
    });

    it.runIf(mode === "tls")("Test connection in a Thunderbird that does not trust the CA says TLS failed because of the certificate", async () => {
      const ext = await buildConnectionTestExt(join(dir, "connection-test-ext"));
      const closed = await freePort();
      const base = { jid: "alice@localhost", password: "secret-alice" };
      const tb = await launchThunderbird({
        addonDir: ext,
        helperExt: false,
        smtpPort: env.sink.port,
        managed: { targets: [{ label: "untrusted", ...base, websocketUrl: env.server.wsUrl }, { label: "closed", ...base, websocketUrl: `wss://127.0.0.1:${closed}/ws` }] },
      });
      try {
        await tb.waitForEvent((e) => e.event === "connection-tests-done", 60_000);
        const results = tb.events().filter((e) => e.event === "connection-tested");
        console.log(`[e2e] ${tag}: Test connection without the CA trusted:\n  ${results.map((r) => JSON.stringify(r)).join("\n  ")}`);
        expect(results.find((r) => r.label === "untrusted")).toMatchObject({ ok: false, kind: "tls", detail: expect.stringMatching(/^TLS failed: the server's certificate is not trusted/) });
        // A port where nothing listens stays "refused": 1015 is Thunderbird's answer to a failed TLS handshake only.
        expect(results.find((r) => r.label === "closed")).toMatchObject({ ok: false, kind: "refused" });
      } finally {
        await tb.quit();
      }
    });
  },
);
