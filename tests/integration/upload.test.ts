// XEP-0363 upload of sealed (AES-256-GCM) mail against a real Prosody with mod_http_file_share: discovery, slot,
// PUT, GET, the security checks on URLs, headers and sizes, and a server that dies mid-upload.
// A few cases need an HTTP server that misbehaves on purpose (endless body, redirect, silence): a local node:http one.
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import xml, { type Element } from "@xmpp/xml";
import { createLogger } from "../../src/core/log.js";
import { openPayload, sealPayload } from "../../src/core/payload-crypto.js";
import { realScheduler, webCryptoSha1 } from "../../src/xmpp/runtime.js";
import { XmppSession } from "../../src/xmpp/session.js";
import {
  discoverUploadService,
  downloadBytes,
  NS_UPLOAD,
  requestSlot,
  uploadBytes,
  UploadError,
  type UploadErrorCode,
  type UploadService,
} from "../../src/xmpp/upload.js";
import { startServer, testServers, type XmppServer } from "../support/servers.js";


const MiB = 1024 * 1024;
const FIVE_MB = 5 * MiB;
const log = createLogger(() => undefined, () => "error");

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) globalThis.crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

async function uploadErrorOf(promise: Promise<unknown>): Promise<UploadError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error, "expected an UploadError").toBeInstanceOf(UploadError);
  return error as UploadError;
}

async function expectCode(promise: Promise<unknown>, code: UploadErrorCode): Promise<UploadError> {
  const error = await uploadErrorOf(promise);
  expect(error.code, error.message).toBe(code);
  return error;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** A fetch that records every call and refuses to touch the network. */
function recordingFetch(): { fetchFn: typeof fetch; calls: string[] } {
  const calls: string[] = [];
  const fetchFn = (async (input: RequestInfo | URL) => {
    calls.push(String(input));
    throw new Error("network must not be used");
  }) as typeof fetch;
  return { fetchFn, calls };
}

/** A loopback HTTP server for the misbehaving cases. */
async function localServer(handler: (path: string, res: ServerResponse) => void): Promise<{ url: string; server: Server; closed: () => number }> {
  let closedConnections = 0;
  const server = createServer((req, res) => {
    res.on("close", () => closedConnections++);
    handler(req.url ?? "/", res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, server, closed: () => closedConnections };
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

describe.each(testServers())("XEP-0363 upload against a real %s", (kind) => {
  let server: XmppServer;
  let session: XmppSession;
  let service: UploadService;

  beforeAll(async () => {
        // The same limit on both (Prosody's default; ejabberd's is 100 MiB), so the discovered value can be compared.
    server = await startServer(kind, { users: [{ user: "alice", password: "secret-a" }], upload: true, uploadSizeLimit: 10 * MiB });
    session = new XmppSession(
      { jid: `alice@${server.domain}`, websocketUrl: server.wsUrl, resource: "upload-it" },
      {
        scheduler: realScheduler,
        random: Math.random,
        sha1: webCryptoSha1,
        log,
        credentials: { load: async () => ({ password: "secret-a" }), saveKeys: async () => undefined },
      },
    );
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not online: ${JSON.stringify(session.status)}`)), 15_000);
      const off = session.onStatus((s) => {
        if (s.state === "online") {
          clearTimeout(timer);
          off();
          resolve();
        }
      });
      session.start();
    });
  });
  afterAll(async () => {
    await session?.stop();
    await server?.cleanup();
  });

  it("discovers the upload component and its max-file-size", async () => {
    const found = await discoverUploadService(session, server.domain, 5_000);
    expect(found).toEqual({ jid: `upload.${server.domain}`, maxFileSize: 10 * MiB });
    service = found!;
  });

  it("finds no service on an entity without upload (and does not guess on errors)", async () => {
    // The upload component itself lists no items and is an upload service: found on "the domain itself" path.
    await expect(discoverUploadService(session, `upload.${server.domain}`, 5_000)).resolves.toEqual({
      jid: `upload.${server.domain}`,
      maxFileSize: 10 * MiB,
    });
    // A user account: disco answers (or errors) without the feature → null.
    await expect(discoverUploadService(session, `alice@${server.domain}`, 5_000)).resolves.toBeNull();
  });

  it("slot + PUT + GET of a 5 MiB sealed payload round-trips and opens to the same bytes (median of 3)", async () => {
    const uploadMs: number[] = [];
    const downloadMs: number[] = [];
    for (let round = 0; round < 3; round++) {
      const plain = randomBytes(FIVE_MB);
      const sealed = await sealPayload(plain);
      const t0 = performance.now();
      const slot = await requestSlot(
        session,
        service,
        { filename: "mail.bin", size: sealed.ciphertext.length, contentType: "application/octet-stream" },
        10_000,
      );
      await uploadBytes(slot, sealed.ciphertext, 20_000);
      const t1 = performance.now();
      // Prosody: /file_share/ with a bearer token for the PUT; ejabberd: /upload/ with the secret in the URL itself.
      expect(slot.getUrl).toMatch(new RegExp(`^${server.httpUrl}/${kind === "prosody" ? "file_share" : "upload"}/`));
      expect(Object.keys(slot.putHeaders)).toEqual(kind === "prosody" ? ["Authorization"] : []);

      const t2 = performance.now();
      const downloaded = await downloadBytes(slot.getUrl, sealed.ciphertext.length, 20_000);
      const opened = await openPayload(downloaded, sealed, FIVE_MB);
      const t3 = performance.now();
      expect(sameBytes(downloaded, sealed.ciphertext)).toBe(true);
      expect(sameBytes(opened, plain)).toBe(true);
      uploadMs.push(t1 - t0);
      downloadMs.push(t3 - t2);
    }
    console.log(
      `[measure] 5 MiB sealed payload on loopback ${kind}: slot+upload median ${median(uploadMs).toFixed(1)} ms ` +
        `(${uploadMs.map((v) => v.toFixed(1)).join(", ")}); download+open median ${median(downloadMs).toFixed(1)} ms ` +
        `(${downloadMs.map((v) => v.toFixed(1)).join(", ")})`,
    );
  });

  it("refuses a file above max-file-size: locally from the advertised limit, and by Prosody's file-too-large error", async () => {
    const size = service.maxFileSize! + 1;
    const file = { filename: "mail.bin", size, contentType: "application/octet-stream" };
    // With the advertised limit: refused before asking (the session is not even used).
    const offline = { request: () => Promise.reject(new Error("must not be asked")) } as unknown as XmppSession;
    await expectCode(requestSlot(offline, service, file, 5_000), "too-large");
    // Without it, the server says so: Prosody <not-acceptable/><file-too-large/>, ejabberd the same with a text.
    const error = await expectCode(requestSlot(session, { jid: service.jid, maxFileSize: null }, file, 5_000), "too-large");
    expect(error.message).toMatch(/not-acceptable/);
  });

  it("a slot refusal other than size is slot-refused (an entity that answers with an error)", async () => {
    // Ask an entity that is no upload service: its error reply (service-unavailable) is a refusal too.
    const error = await uploadErrorOf(
      requestSlot(session, { jid: `alice@${server.domain}`, maxFileSize: null }, { filename: "x.bin", size: 10, contentType: "application/octet-stream" }, 5_000),
    );
    expect(error.code).toBe("slot-refused");
  });

  it.runIf(kind === "ejabberd")("the PUT must go to the slot's own secret URL: another path is refused", async () => {
    const data = randomBytes(1000);
    const slot = await requestSlot(session, service, { filename: "mail.bin", size: data.length, contentType: "application/octet-stream" }, 5_000);
    const forged = { ...slot, putUrl: slot.putUrl.replace(/\/upload\/[^/]+\//, "/upload/0000000000/") };
    expect((await expectCode(uploadBytes(forged, data, 5_000), "http-status")).httpStatus).toBeGreaterThanOrEqual(400);
    await uploadBytes(slot, data, 5_000);
    expect(sameBytes(await downloadBytes(slot.getUrl, data.length, 5_000), data)).toBe(true);
  });

  it.skipIf(kind !== "prosody")("the PUT needs the slot's Authorization header: without it Prosody refuses (so we do send it)", async () => {
    const data = randomBytes(1000);
    const slot = await requestSlot(session, service, { filename: "mail.bin", size: data.length, contentType: "application/octet-stream" }, 5_000);
    expect(slot.putHeaders.Authorization).toMatch(/^Bearer /);
    const error = await expectCode(uploadBytes({ ...slot, putHeaders: {} }, data, 5_000), "http-status");
    expect(error.httpStatus).toBe(401);
    // The same slot with its header works, and the file is what we sent.
    await uploadBytes(slot, data, 5_000);
    expect(sameBytes(await downloadBytes(slot.getUrl, data.length, 5_000), data)).toBe(true);
    // A completed slot cannot be overwritten.
    expect((await expectCode(uploadBytes(slot, data, 5_000), "http-status")).httpStatus).toBe(409);
  });

  it("downloadBytes with maxBytes below the file size fails with oversize-download", async () => {
    const data = randomBytes(256 * 1024);
    const slot = await requestSlot(session, service, { filename: "mail.bin", size: data.length, contentType: "application/octet-stream" }, 5_000);
    await uploadBytes(slot, data, 5_000);
    await expectCode(downloadBytes(slot.getUrl, data.length - 1, 5_000), "oversize-download");
    await expect(downloadBytes(slot.getUrl, data.length, 5_000)).resolves.toHaveLength(data.length);
    // A missing file is an HTTP status, not an empty payload.
    const missing = `${server.httpUrl}/${kind === "prosody" ? "file_share" : "upload"}/no-such-slot/mail.bin`;
    expect((await expectCode(downloadBytes(missing, MiB, 5_000), "http-status")).httpStatus).toBe(404);
  });

  // Last: kills the server (the tests above need it).
  it("a server killed during an upload makes the promise reject (network/timeout) within the timeout", async () => {
    const size = 8 * MiB;
    const data = randomBytes(size);
    const slot = await requestSlot(session, service, { filename: "mail.bin", size, contentType: "application/octet-stream" }, 5_000);
    // Trickle the body (64 KiB every 20 ms, ≈2.6 s in all) so that the kill surely lands mid-upload.
    let sent = 0;
    const slowFetch: typeof fetch = (input, init) => {
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          await new Promise((r) => setTimeout(r, 20));
          if (sent >= size) {
            controller.close();
            return;
          }
          const chunk = data.subarray(sent, sent + 64 * 1024);
          sent += chunk.length;
          controller.enqueue(chunk);
        },
      });
      const headers = { ...(init?.headers as Record<string, string>), "Content-Length": String(size) };
      return fetch(input, { ...init, headers, body, duplex: "half" } as RequestInit);
    };
    const timeoutMs = 10_000;
    const t0 = performance.now();
    const upload = uploadBytes(slot, data, timeoutMs, slowFetch);
    upload.catch(() => undefined);
    while (sent < 512 * 1024) await new Promise((r) => setTimeout(r, 10));
    await server.kill();
    const error = await uploadErrorOf(upload);
    const ms = performance.now() - t0;
    expect(["network", "timeout"]).toContain(error.code);
    expect(sent).toBeLessThan(size);
    expect(ms).toBeLessThan(timeoutMs + 500);
    console.log(`[measure] upload rejected ${error.code} ${(ms).toFixed(0)} ms after start, after ${(sent / MiB).toFixed(2)} MiB (${error.message})`);
  });
});

describe("upload URL, slot and download safeguards (no XMPP server needed)", () => {
  function fakeSession(reply: Element): XmppSession {
    return { request: async () => reply } as unknown as XmppSession;
  }
  function slotReply(put: string, get: string, headers: Array<[string, string]>): Element {
    return xml(
      "iq",
      { type: "result" },
      xml("slot", { xmlns: NS_UPLOAD }, xml("put", { url: put }, ...headers.map(([name, value]) => xml("header", { name }, value))), xml("get", { url: get })),
    );
  }
  const file = { filename: "mail.bin", size: 10, contentType: "application/octet-stream" };
  const svc: UploadService = { jid: "upload.example.org", maxFileSize: 100 };

  it("discovery skips entities that answer with an error, and rejects instead of answering null when one never answered", async () => {
    const stanzaError = (condition: string) => Object.assign(new Error(condition), { name: "StanzaError", condition });
    const timeout = () => Object.assign(new Error("timeout"), { name: "TimeoutError" });
    const info = (features: string[], max?: string) =>
      xml(
        "iq",
        { type: "result" },
        xml(
          "query",
          { xmlns: "http://jabber.org/protocol/disco#info" },
          ...features.map((f) => xml("feature", { var: f })),
          max === undefined
            ? null
            : xml(
                "x",
                { xmlns: "jabber:x:data", type: "result" },
                xml("field", { var: "FORM_TYPE", type: "hidden" }, xml("value", {}, NS_UPLOAD)),
                xml("field", { var: "max-file-size" }, xml("value", {}, max)),
              ),
        ),
      );
    const items = (...jids: string[]) =>
      xml("iq", { type: "result" }, xml("query", { xmlns: "http://jabber.org/protocol/disco#items" }, ...jids.map((jid) => xml("item", { jid }))));
    const session = (answers: Record<string, (kind: "info" | "items") => Element | Error>): XmppSession =>
      ({
        request: async (iq: Element) => {
          const kind = iq.getChild("query")?.attrs.xmlns?.endsWith("#items") ? "items" : "info";
          const answer = answers[iq.attrs.to ?? ""]?.(kind) ?? stanzaError("service-unavailable");
          if (answer instanceof Error) throw answer;
          return answer;
        },
      }) as unknown as XmppSession;

    const ok = session({
      "example.org": (k) => (k === "items" ? items("conference.example.org", "broken.example.org", "upload.example.org") : info([])),
      "conference.example.org": () => info(["http://jabber.org/protocol/muc"]),
      "broken.example.org": () => stanzaError("remote-server-not-found"),
      "upload.example.org": () => info([NS_UPLOAD], "52428800"),
    });
    await expect(discoverUploadService(ok, "example.org", 1_000)).resolves.toEqual({ jid: "upload.example.org", maxFileSize: 50 * MiB });

    const noLimit = session({ "example.org": (k) => (k === "items" ? items() : info([NS_UPLOAD])) });
    await expect(discoverUploadService(noLimit, "example.org", 1_000)).resolves.toEqual({ jid: "example.org", maxFileSize: null });

    const badLimit = session({ "example.org": (k) => (k === "items" ? items() : info([NS_UPLOAD], "-1")) });
    await expect(discoverUploadService(badLimit, "example.org", 1_000)).resolves.toEqual({ jid: "example.org", maxFileSize: null });

    const none = session({ "example.org": (k) => (k === "items" ? items("conference.example.org") : info([])), "conference.example.org": () => info([]) });
    await expect(discoverUploadService(none, "example.org", 1_000)).resolves.toBeNull();

    const silent = session({ "example.org": (k) => (k === "items" ? items("upload.example.org") : info([])), "upload.example.org": () => timeout() });
    await expectCode(discoverUploadService(silent, "example.org", 1_000), "timeout");
  });

  it("an http:// URL to a non-loopback host is insecure-url, without any network call", async () => {
    const { fetchFn, calls } = recordingFetch();
    for (const url of ["http://example.org/file_share/x/mail.bin", "http://10.0.0.1/x", "http://127.0.0.1.nip.io/x", "ftp://127.0.0.1/x", "not a url"]) {
      await expectCode(downloadBytes(url, MiB, 1_000, fetchFn), "insecure-url");
      await expectCode(uploadBytes({ putUrl: url, putHeaders: {}, getUrl: "https://example.org/x" }, new Uint8Array(1), 1_000, fetchFn), "insecure-url");
    }
    expect(calls).toEqual([]);
  });

  it("slots: keeps only Authorization/Cookie/Expires, refuses CR/LF in values and insecure URLs", async () => {
    const ok = await requestSlot(
      fakeSession(
        slotReply("https://up.example.org/put/1", "https://up.example.org/get/1", [
          ["authorization", "Bearer abc"],
          ["Cookie", "foo=bar"],
          ["Expires", "Tue, 01 Jan 2030 00:00:00 GMT"],
          ["X-Evil", "1"],
          ["Host", "attacker.example"],
          ["Content-Type", "text/html"],
        ]),
      ),
      svc,
      file,
      1_000,
    );
    expect(ok).toEqual({
      putUrl: "https://up.example.org/put/1",
      getUrl: "https://up.example.org/get/1",
      putHeaders: { Authorization: "Bearer abc", Cookie: "foo=bar", Expires: "Tue, 01 Jan 2030 00:00:00 GMT" },
    });
    await expectCode(
      requestSlot(fakeSession(slotReply("https://a.example/p", "https://a.example/g", [["Authorization", "Bearer a\r\nX-Injected: 1"]])), svc, file, 1_000),
      "slot-refused",
    );
    await expectCode(requestSlot(fakeSession(slotReply("http://a.example/p", "https://a.example/g", [])), svc, file, 1_000), "insecure-url");
    await expectCode(requestSlot(fakeSession(slotReply("https://a.example/p", "http://a.example/g", [])), svc, file, 1_000), "insecure-url");
    await expectCode(requestSlot(fakeSession(slotReply("https://u:p@a.example/p", "https://a.example/g", [])), svc, file, 1_000), "insecure-url");
    await expectCode(requestSlot(fakeSession(xml("iq", { type: "result" })), svc, file, 1_000), "slot-refused");
    // loopback http is fine (tests), in every spelling of loopback
    for (const host of ["127.0.0.1:5280", "127.1.2.3", "localhost:8080", "[::1]:5280"]) {
      await expect(requestSlot(fakeSession(slotReply(`http://${host}/p`, `http://${host}/g`, [])), svc, file, 1_000)).resolves.toMatchObject({
        putHeaders: {},
      });
    }
  });

  it("the download is cut as soon as it exceeds maxBytes, whatever Content-Length says (endless chunked body)", async () => {
    let written = 0;
    const { url, server, closed } = await localServer((_path, res) => {
      res.writeHead(200, { "Content-Type": "application/octet-stream" }); // chunked, no Content-Length
      const chunk = new Uint8Array(64 * 1024);
      const timer = setInterval(() => {
        if (res.destroyed) {
          clearInterval(timer);
          return;
        }
        res.write(chunk);
        written += chunk.length;
      }, 1);
      res.on("close", () => clearInterval(timer));
    });
    try {
      await expectCode(downloadBytes(`${url}/endless`, MiB, 10_000), "oversize-download");
      await new Promise((r) => setTimeout(r, 100));
      expect(closed()).toBe(1); // we hung up
      expect(written).toBeLessThan(16 * MiB);
    } finally {
      await closeServer(server);
    }
  });

  it("a download follows no redirect at all, not even to the same server (issue 12 finding 3)", async () => {
    const { url, server } = await localServer((path, res) => {
      if (path === "/to-insecure") res.writeHead(302, { Location: "http://example.org/file" }).end();
      else if (path === "/to-local") res.writeHead(307, { Location: "/file" }).end();
      else res.writeHead(200, { "Content-Type": "application/octet-stream" }).end("payload");
    });
    const seen: string[] = [];
    const tracing: typeof fetch = (input, init) => {
      seen.push(String(input));
      expect(init?.redirect).toBe("error");
      return fetch(input, init);
    };
    try {
      await expectCode(downloadBytes(`${url}/to-insecure`, MiB, 5_000, tracing), "network");
      await expectCode(downloadBytes(`${url}/to-local`, MiB, 5_000, tracing), "network");
      expect(seen).toEqual([`${url}/to-insecure`, `${url}/to-local`]); // one request each, nothing followed
      expect(new TextDecoder().decode(await downloadBytes(`${url}/file`, MiB, 5_000))).toBe("payload");
    } finally {
      await closeServer(server);
    }
  });

  it("a server that never answers makes download and upload fail with timeout, on time", async () => {
    const { url, server } = await localServer(() => {
      // accept the request, never respond
    });
    try {
      for (const attempt of [
        () => downloadBytes(`${url}/silent`, MiB, 300),
        () => uploadBytes({ putUrl: `${url}/silent`, putHeaders: {}, getUrl: `${url}/silent` }, new Uint8Array(10), 300),
      ]) {
        const t0 = performance.now();
        await expectCode(attempt(), "timeout");
        const ms = performance.now() - t0;
        expect(ms).toBeGreaterThanOrEqual(290);
        expect(ms).toBeLessThan(1_000);
      }
    } finally {
      await closeServer(server);
    }
  });
});
