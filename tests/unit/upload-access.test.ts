// Uploads without CORS (issue 11 point 9): the cross-origin probe, the login's check (UploadAccess) with a fake fetch
// that behaves like Thunderbird's (CORS enforced unless the host is permitted), and the send path that must not try
// an upload the check found blocked. Real Thunderbird + ejabberd as shipped: tests/e2e/upload-cors.test.ts.
import type { Element } from "@xmpp/xml";
import { describe, expect, it } from "vitest";
import { describeLimitation } from "../../src/core/limitations.js";
import { silentLogger } from "../../src/core/log.js";
import type { SessionStatus } from "../../src/core/status.js";
import { MailSender } from "../../src/xmpp/mail-sender.js";
import { realScheduler } from "../../src/xmpp/runtime.js";
import type { XmppSession } from "../../src/xmpp/session.js";
import { UploadAccess } from "../../src/xmpp/upload-access.js";
import { probeCrossOrigin, type UploadService, type UploadSlot } from "../../src/xmpp/upload.js";

/**
 * fetch as a browser extension sees it: a host in `permitted` or `cors` answers; any other host that is `up` answers
 * only in no-cors mode (opaque); a host that is not up fails. Also enforces Fetch's rule that no-cors needs
 * redirect "follow". Records every call.
 */
function browserFetch(world: { permitted: Set<string>; cors: Set<string>; up: Set<string> }) {
  const calls: Array<{ url: string; mode: string; method: string }> = [];
  const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = String(input);
    const mode = init?.mode ?? "cors";
    calls.push({ url, mode, method: init?.method ?? "GET" });
    if (mode === "no-cors" && ((init?.redirect ?? "follow") !== "follow" || !["GET", "HEAD", "POST"].includes(init?.method ?? "GET"))) {
      throw new TypeError("no-cors needs redirect follow and a simple method");
    }
    const host = new URL(url).host;
    if (!world.up.has(host)) throw new TypeError("NetworkError when attempting to fetch resource.");
    if (mode === "no-cors" || world.permitted.has(host) || world.cors.has(host)) return new Response(null, { status: 404 });
    throw new TypeError("NetworkError when attempting to fetch resource.");
  }) as typeof fetch;
  return { fetchFn, calls };
}

const SERVICE: UploadService = { jid: "upload.example.org", maxFileSize: null };
const slotOn = (put: string, get = put): UploadSlot => ({ putUrl: `https://${put}/upload/s1/probe.bin`, putHeaders: {}, getUrl: `https://${get}/upload/s1/probe.bin` });

function fakeSession(): { session: XmppSession; requests: Element[]; sent: Element[]; setStatus(s: SessionStatus): void } {
  const requests: Element[] = [];
  const sent: Element[] = [];
  const listeners = new Set<(s: SessionStatus) => void>();
  let status: SessionStatus = { state: "online", jid: "alice@example.org/tb", since: 0 };
  const session = {
    get jid() {
      return status.state === "online" ? status.jid : null;
    },
    get status() {
      return status;
    },
    onStatus(l: (s: SessionStatus) => void) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    onStanza() {
      return () => {};
    },
    async request(iq: Element): Promise<Element> {
      requests.push(iq);
      throw new Error("no server here");
    },
    async send(stanza: Element) {
      sent.push(stanza);
      return { status: "acked" };
    },
  } as unknown as XmppSession;
  return {
    session,
    requests,
    sent,
    setStatus(s) {
      status = s;
      for (const l of listeners) l(s);
    },
  };
}

describe("probeCrossOrigin", () => {
  it("tells a host that answers cross-origin from one that answers without CORS and from one that is down", async () => {
    const { fetchFn, calls } = browserFetch({ permitted: new Set(), cors: new Set(["cors.example"]), up: new Set(["cors.example", "nocors.example"]) });
    expect(await probeCrossOrigin("https://cors.example/u/x", 1_000, fetchFn)).toBe("readable");
    expect(await probeCrossOrigin("https://nocors.example/u/x", 1_000, fetchFn)).toBe("no-cors");
    expect(await probeCrossOrigin("https://down.example/u/x", 1_000, fetchFn)).toBe("unreachable");
    // A preflighted OPTIONS (as the real PUT is preflighted), then a GET: a probe never uploads anything.
    expect(calls.map((c) => `${c.method} ${c.mode} ${new URL(c.url).host}`)).toEqual([
      "OPTIONS cors cors.example",
      "OPTIONS cors nocors.example",
      "GET no-cors nocors.example",
      "OPTIONS cors down.example",
      "GET no-cors down.example",
    ]);
  });

  it("ends within its deadline when the host never answers", async () => {
    const hang = (() => new Promise<Response>(() => {})) as typeof fetch;
    const t0 = Date.now();
    expect(await probeCrossOrigin("https://slow.example/x", 50, hang)).toBe("unreachable");
    expect(Date.now() - t0).toBeLessThan(1_000);
  });
});

describe("UploadAccess: the login's check", () => {
  const world = () => ({ permitted: new Set<string>(), cors: new Set<string>(), up: new Set(["up.example.org", "get.example.org"]) });

  it("ok when the upload host sends CORS headers (Prosody), without any permission", async () => {
    const w = world();
    w.cors.add("up.example.org");
    const access = new UploadAccess({ session: fakeSession().session, log: silentLogger, fetchFn: browserFetch(w).fetchFn, locate: async () => ({ service: SERVICE, slot: slotOn("up.example.org") }) });
    expect(await access.recheck()).toMatchObject({ state: "ok", host: "up.example.org" });
    expect(access.limitation(47_000)).toBeNull();
  });

  it("blocked (no-permission) on a host without CORS headers (ejabberd as shipped), naming the origin that fixes it", async () => {
    const { fetchFn } = browserFetch(world());
    const access = new UploadAccess({ session: fakeSession().session, log: silentLogger, fetchFn, locate: async () => ({ service: SERVICE, slot: slotOn("up.example.org") }) });
    expect(await access.recheck()).toEqual({ state: "blocked", service: SERVICE, block: { reason: "no-permission", host: "up.example.org", origins: ["https://up.example.org/*"] } });
    const limitation = access.limitation(47_000)!;
    expect(limitation).toEqual({ feature: "upload", inlineLimitBytes: 47_000, blocked: { reason: "no-permission", host: "up.example.org", origins: ["https://up.example.org/*"] } });
    expect(describeLimitation(limitation)).toBe(
      "uploads blocked (XEP-0363): your server's upload host sends no CORS headers and the add-on has no permission for it: mail over about 45 KiB goes by ordinary mail",
    );
    // The diagnostic report's text never names the host.
    expect(describeLimitation(limitation)).not.toContain("up.example.org");
  });

  it("becomes ok when the permission is granted and the check runs again, telling its listeners", async () => {
    const w = world();
    const access = new UploadAccess({ session: fakeSession().session, log: silentLogger, fetchFn: browserFetch(w).fetchFn, locate: async () => ({ service: SERVICE, slot: slotOn("up.example.org") }) });
    await access.recheck();
    let changes = 0;
    access.onChange(() => changes++);
    w.permitted.add("up.example.org");
    expect(await access.recheck()).toMatchObject({ state: "ok" });
    expect(changes).toBe(1);
    expect(access.limitation(47_000)).toBeNull();
  });

  it("checks the get URL's host too, when it differs from the put URL's", async () => {
    const w = world();
    w.cors.add("up.example.org");
    const access = new UploadAccess({ session: fakeSession().session, log: silentLogger, fetchFn: browserFetch(w).fetchFn, locate: async () => ({ service: SERVICE, slot: slotOn("up.example.org", "get.example.org") }) });
    expect(await access.recheck()).toMatchObject({ state: "blocked", block: { reason: "no-permission", host: "get.example.org", origins: ["https://get.example.org/*"] } });
  });

  it("blocked (unreachable) when the upload host does not answer; none without a service; unknown when the check cannot be made", async () => {
    const { fetchFn } = browserFetch({ permitted: new Set(), cors: new Set(), up: new Set() });
    const session = fakeSession().session;
    expect(await new UploadAccess({ session, log: silentLogger, fetchFn, locate: async () => ({ service: SERVICE, slot: slotOn("up.example.org") }) }).recheck()).toMatchObject({
      state: "blocked",
      block: { reason: "unreachable" },
    });
    expect(await new UploadAccess({ session, log: silentLogger, fetchFn, locate: async () => null }).recheck()).toEqual({ state: "none" });
    const unknown = await new UploadAccess({ session, log: silentLogger, fetchFn, locate: async () => Promise.reject(new Error("slot refused")) }).recheck();
    expect(unknown).toEqual({ state: "unknown", detail: "slot refused" });
  });

  it("runs at every login of the session", async () => {
    const fake = fakeSession();
    let located = 0;
    const access = new UploadAccess({
      session: fake.session,
      log: silentLogger,
      fetchFn: browserFetch(world()).fetchFn,
      locate: async () => {
        located++;
        return null;
      },
    });
    access.start(); // online already: checks now
    fake.setStatus({ state: "connecting", attempt: 1 });
    fake.setStatus({ state: "online", jid: "alice@example.org/tb", since: 1 });
    await access.settled(1_000);
    expect(located).toBe(2);
    access.stop();
  });
});

describe("MailSender with uploads blocked at login", () => {
  const raw = (bytes: number) => new TextEncoder().encode(`Subject: x\r\n\r\n${"y".repeat(bytes)}`);

  async function blockedSender() {
    const fake = fakeSession();
    const { fetchFn, calls } = browserFetch({ permitted: new Set(), cors: new Set(), up: new Set(["up.example.org"]) });
    const access = new UploadAccess({ session: fake.session, log: silentLogger, fetchFn, locate: async () => ({ service: SERVICE, slot: slotOn("up.example.org") }) });
    await access.recheck();
    const probeCalls = calls.length;
    const sender = new MailSender({ session: fake.session, log: silentLogger, scheduler: realScheduler, uploadAccess: access, fetchFn, filedGraceMs: 1 });
    sender.start();
    return { fake, calls, probeCalls, sender };
  }

  it("does not try an upload for a mail too large to go inline: fails at once, with the reason", async () => {
    const { fake, calls, probeCalls, sender } = await blockedSender();
    const t0 = Date.now();
    const outcome = await sender.deliver({ to: "bob@example.net", raw: raw(200 * 1024), subject: "x", fallbackBody: "x" }, 8_000);
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(outcome).toEqual({
      status: "failed",
      reason: "not deliverable over XMPP: too large to send inline and uploads are blocked: the upload host up.example.org sends no CORS headers and the add-on has no permission for it",
    });
    expect(fake.requests).toEqual([]); // no disco, no slot
    expect(calls.length).toBe(probeCalls); // no PUT
    expect(fake.sent).toEqual([]);
  });

  it("sends a mail that fits the fallback inline limit inline, as without an upload service", async () => {
    const { fake, sender } = await blockedSender();
    const outcome = await sender.deliver({ to: "bob@example.net", raw: raw(30 * 1024), subject: "x", fallbackBody: "x" }, 8_000);
    expect(outcome).toMatchObject({ status: "accepted", route: "inline" });
    expect(fake.requests).toEqual([]);
    expect(fake.sent).toHaveLength(1);
  });
});
