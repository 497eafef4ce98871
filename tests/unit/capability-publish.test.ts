// The capability publish procedure (docs/protocol.md §2) against a scripted server, and the retry schedule of
// CapabilityPublisher with a fake clock. Real servers: tests/integration/capability.test.ts, server-features.test.ts.
import xml, { type Element } from "@xmpp/xml";
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../src/core/log.js";
import type { SessionStatus } from "../../src/core/status.js";
import { CAPABILITY_MAX_AGE_MS, CapabilityUnavailableError, publishCapability, type PepSupport } from "../../src/xmpp/capability.js";
import { CAPABILITY_REFRESH_MS, CapabilityPublisher } from "../../src/xmpp/capability-publisher.js";
import type { XmppSession } from "../../src/xmpp/session.js";

const STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";
const PUBSUB_ERRORS = "http://jabber.org/protocol/pubsub#errors";

/** A StanzaError as xmpp.js builds it from an <error/> element. */
function stanzaError(conditions: Array<[string, string?, Record<string, string>?]>, text = ""): Error {
  const element = xml(
    "error",
    { type: "cancel" },
    ...conditions.map(([name, ns, attrs]) => xml(name, { xmlns: ns ?? STANZAS, ...(attrs ?? {}) })),
    ...(text ? [xml("text", { xmlns: STANZAS }, text)] : []),
  );
  const error = new Error(conditions[0]![0]) as Error & { condition: string; text: string; element: Element };
  error.name = "StanzaError";
  error.condition = conditions[0]![0];
  error.text = text;
  error.element = element;
  return error;
}

type Reply = Element | Error;
/** What the procedure sent, one short word each: disco, publish(<options>), configure. */
function describeIq(iq: Element): string {
  const pubsub = iq.getChild("pubsub");
  if (iq.getChild("query")) return "disco";
  if (pubsub?.getChild("configure")) return "configure";
  const options = pubsub?.getChild("publish-options")?.getChild("x")?.getChildren("field").filter((f) => f.attrs.var !== "FORM_TYPE").map((f) => String(f.attrs.var).replace("pubsub#", ""));
  return options ? `publish(${options.join(",")})` : "publish()";
}

function fakeSession(script: (what: string, n: number) => Reply): { session: XmppSession; sent: string[]; setStatus(s: SessionStatus): void } {
  const sent: string[] = [];
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
    async request(iq: Element): Promise<Element> {
      const what = describeIq(iq);
      sent.push(what);
      const reply = script(what, sent.filter((s) => s === what).length);
      if (reply instanceof Error) throw reply;
      return reply;
    },
  } as unknown as XmppSession;
  return {
    session,
    sent,
    setStatus(s) {
      status = s;
      for (const l of listeners) l(s);
    },
  };
}

const ok = xml("iq", { type: "result" });
const full: PepSupport = { pep: true, publishOptions: true, configNode: true, accessOpen: false };
const noWait = { wait: async () => {} };

describe("publishCapability (scripted server)", () => {
  it("asks disco#info first and publishes with every option when the server takes them (Prosody)", async () => {
    const { session, sent } = fakeSession((what) =>
      what === "disco"
        ? xml("iq", { type: "result" }, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" }, xml("identity", { category: "pubsub", type: "pep" }), xml("feature", { var: "http://jabber.org/protocol/pubsub#publish-options" })))
        : ok,
    );
    const report = await publishCapability(session, new Date(), noWait);
    expect(report.step).toBe("all-options");
    expect(sent).toEqual(["disco", "publish(access_model,persist_items,max_items)"]);
  });

  it("drops max_items when the server rejects it as ejabberd 23.01 does", async () => {
    const { session, sent } = fakeSession((what) =>
      what.includes("max_items") ? stanzaError([["resource-constraint"]], "Unknown field 'pubsub#max_items' of type 'http://jabber.org/protocol/pubsub#publish-options'") : ok,
    );
    const report = await publishCapability(session, new Date(), { ...noWait, support: full });
    expect(report).toMatchObject({ step: "without-max-items", rejected: [expect.stringContaining("resource-constraint - Unknown field 'pubsub#max_items'")] });
    expect(sent).toEqual(["publish(access_model,persist_items,max_items)", "publish(access_model,persist_items)"]);
  });

  it("starts at the rung that worked last time, and still walks down from there", async () => {
    const { session, sent } = fakeSession((what) => (what.includes("persist") ? stanzaError([["resource-constraint"]]) : ok));
    expect((await publishCapability(session, new Date(), { ...noWait, support: full, startAt: "without-max-items" })).step).toBe("access-only");
    expect(sent).toEqual(["publish(access_model,persist_items)", "publish(access_model)"]);
    const again = fakeSession(() => ok);
    expect((await publishCapability(again.session, new Date(), { ...noWait, support: full, startAt: "configured-node" })).step).toBe("configured-node");
    expect(again.sent).toEqual(["configure", "publish()"]);
  });

  it("keeps only access_model when persist_items is refused too", async () => {
    const { session, sent } = fakeSession((what) => (what.includes("persist") ? stanzaError([["precondition-not-met", PUBSUB_ERRORS], ["conflict"]]) : ok));
    expect((await publishCapability(session, new Date(), { ...noWait, support: full })).step).toBe("access-only");
    expect(sent.at(-1)).toBe("publish(access_model)");
  });

  it("retries once when two first publishes race (item-not-found), then succeeds on the same rung", async () => {
    const { session, sent } = fakeSession((what, n) => (what.startsWith("publish(") && n === 1 ? stanzaError([["item-not-found"]]) : ok));
    const report = await publishCapability(session, new Date(), { ...noWait, support: full });
    expect(report.step).toBe("all-options");
    expect(sent).toEqual(["publish(access_model,persist_items,max_items)", "publish(access_model,persist_items,max_items)"]);
  });

  it("configures the node as its owner when publish-options are not implemented, creating the node first if needed", async () => {
    const { session, sent } = fakeSession((what, n) => {
      if (what.startsWith("publish(") && what !== "publish()") return stanzaError([["feature-not-implemented"], ["unsupported", PUBSUB_ERRORS, { feature: "publish-options" }]]);
      if (what === "configure" && n === 1) return stanzaError([["item-not-found"]]);
      return ok;
    });
    const report = await publishCapability(session, new Date(), { ...noWait, support: full });
    expect(report.step).toBe("configured-node");
    expect(sent).toEqual(["publish(access_model,persist_items,max_items)", "configure", "publish()", "configure"]);
  });

  it("goes straight to configuring when disco#info does not list publish-options", async () => {
    const { session, sent } = fakeSession(() => ok);
    const report = await publishCapability(session, new Date(), { ...noWait, support: { ...full, publishOptions: false } });
    expect(report.step).toBe("configured-node");
    expect(sent).toEqual(["configure", "publish()"]);
  });

  it("says no-open-access when the node cannot be opened (the item is still published for contacts)", async () => {
    const { session, sent } = fakeSession((what) => (what === "configure" ? stanzaError([["forbidden"]]) : ok));
    const error = await publishCapability(session, new Date(), { ...noWait, support: { ...full, publishOptions: false } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CapabilityUnavailableError);
    expect(error).toMatchObject({ code: "no-open-access", detail: "forbidden" });
    expect(sent).toEqual(["configure", "publish()"]);
  });

  it("says no-pep without publishing when disco#info shows no PEP service", async () => {
    const { session, sent } = fakeSession(() => ok);
    await expect(publishCapability(session, new Date(), { ...noWait, support: { ...full, pep: false } })).rejects.toMatchObject({ code: "no-pep" });
    expect(sent).toEqual([]);
  });

  it("says refused for a plain refusal and does not walk the ladder", async () => {
    const { session, sent } = fakeSession(() => stanzaError([["not-allowed"]], "quota"));
    await expect(publishCapability(session, new Date(), { ...noWait, support: full })).rejects.toMatchObject({ code: "refused", detail: "not-allowed - quota" });
    expect(sent).toHaveLength(1);
  });

  it("rejects with the transport error (not a CapabilityUnavailableError) on a timeout, so it is retried", async () => {
    const { session } = fakeSession(() => new Error("timeout"));
    const error = await publishCapability(session, new Date(), { ...noWait, support: full }).catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(CapabilityUnavailableError);
  });
});

/** A manual clock: timers fire when advanced. */
function fakeScheduler() {
  let now = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  let next = 1;
  return {
    now: () => now,
    setTimeout(fn: () => void, ms: number) {
      timers.set(next, { at: now + ms, fn });
      return next++;
    },
    clearTimeout(h: unknown) {
      timers.delete(h as number);
    },
    pending: () => [...timers.values()].map((t) => t.at - now),
    async advance(ms: number) {
      now += ms;
      for (const [id, t] of [...timers]) {
        if (t.at <= now) {
          timers.delete(id);
          t.fn();
        }
      }
      await new Promise((r) => setTimeout(r, 0));
    },
  };
}

describe("CapabilityPublisher", () => {
  it("reports the failure as a limitation, retries after ~1 min doubling to at most 1 h, and clears it on success", async () => {
    const scheduler = fakeScheduler();
    let fail = true;
    let attempts = 0;
    const { session } = fakeSession(() => ok);
    const publisher = new CapabilityPublisher({
      session,
      scheduler,
      random: () => 1,
      log: silentLogger,
      wallClock: () => 1_000_000 + scheduler.now(),
      publish: async () => {
        attempts += 1;
        if (fail) throw new CapabilityUnavailableError("refused", "not-allowed");
        return { step: "all-options", requests: 1, rejected: [] };
      },
    });
    const seen: unknown[] = [];
    publisher.onChange((l) => seen.push(l));
    publisher.start();
    await scheduler.advance(0);
    expect(publisher.limitation).toEqual({ feature: "capability", code: "refused", detail: "not-allowed", retryAt: 1_000_000 + 60_000 });
    const delays: number[] = [];
    for (let i = 0; i < 8; i++) {
      delays.push(scheduler.pending()[0]!);
      await scheduler.advance(scheduler.pending()[0]!);
    }
    expect(delays).toEqual([60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000, 3_600_000, 3_600_000]);
    expect(attempts).toBe(9);
    fail = false;
    await scheduler.advance(scheduler.pending()[0]!);
    expect(publisher.limitation).toBeNull();
    expect(seen.at(-1)).toBeNull();
    // Only the refresh is due now, a day later (no retry).
    expect(scheduler.pending()).toEqual([CAPABILITY_REFRESH_MS]);
    publisher.stop();
  });

  it("tries again at every login with the backoff from the start, and not while offline", async () => {
    const scheduler = fakeScheduler();
    let attempts = 0;
    const fake = fakeSession(() => ok);
    const publisher = new CapabilityPublisher({
      session: fake.session,
      scheduler,
      random: () => 0,
      log: silentLogger,
      publish: async () => {
        attempts += 1;
        throw new Error("timeout");
      },
    });
    publisher.start();
    await scheduler.advance(0);
    await scheduler.advance(30_000);
    expect(attempts).toBe(2);
    expect(publisher.limitation).toMatchObject({ code: "no-answer" });
    fake.setStatus({ state: "connecting", attempt: 1 });
    expect(scheduler.pending()).toEqual([]);
    fake.setStatus({ state: "online", jid: "alice@example.org/tb", since: 1 });
    await scheduler.advance(0);
    expect(attempts).toBe(3);
    expect(scheduler.pending()).toEqual([30_000]);
    publisher.stop();
  });

  it("re-publishes every 24 h while the session stays online, so the item never reaches the 30-day staleness", async () => {
    const scheduler = fakeScheduler();
    const stamps: number[] = [];
    const fake = fakeSession(() => ok);
    const publisher = new CapabilityPublisher({
      session: fake.session,
      scheduler,
      random: () => 1,
      log: silentLogger,
      wallClock: () => Date.UTC(2026, 0, 1) + scheduler.now(),
      publish: async (_s, now) => {
        stamps.push(now.getTime());
        return { step: "all-options", requests: 1, rejected: [] };
      },
    });
    publisher.start();
    await scheduler.advance(0);
    expect(stamps).toHaveLength(1);
    // 40 days online without a new login: a publish at least every 24 h, each with the then-current time.
    for (let day = 0; day < 40; day++) await scheduler.advance(CAPABILITY_REFRESH_MS);
    expect(stamps).toHaveLength(41);
    const gaps = stamps.slice(1).map((t, i) => t - stamps[i]!);
    expect(Math.max(...gaps)).toBe(CAPABILITY_REFRESH_MS);
    expect(CAPABILITY_REFRESH_MS * 2).toBeLessThan(CAPABILITY_MAX_AGE_MS);
    // Offline: no refresh timer; the next login publishes at once and schedules the next refresh.
    fake.setStatus({ state: "connecting", attempt: 1 });
    expect(scheduler.pending()).toEqual([]);
    fake.setStatus({ state: "online", jid: "alice@example.org/tb", since: 2 });
    await scheduler.advance(0);
    expect(stamps).toHaveLength(42);
    expect(scheduler.pending()).toEqual([CAPABILITY_REFRESH_MS]);
    publisher.stop();
    expect(scheduler.pending()).toEqual([]);
  });

  it("publishes this device's keys and hands the account's devices back; keys that cannot be had: version 0 and an e2e limitation", async () => {
    const scheduler = fakeScheduler();
    const device = { id: "a".repeat(32), agree: "B".repeat(88), sign: "C".repeat(88) };
    const other = { id: "d".repeat(32), agree: "E".repeat(88), sign: "F".repeat(88) };
    let keysFail = false;
    const own: unknown[] = [];
    const options: unknown[] = [];
    const { session } = fakeSession(() => ok);
    const publisher = new CapabilityPublisher({
      session,
      scheduler,
      random: () => 1,
      log: silentLogger,
      keyring: {
        device: async () => {
          if (keysFail) throw new Error("IndexedDB unavailable");
          return { public: device } as never;
        },
        setOwnDevices: (d) => void own.push(d),
      },
      publish: async (_s, _now, opts) => {
        options.push(opts.device ?? null);
        return { step: "all-options", requests: 1, rejected: [], ...(opts.device ? { devices: [opts.device, other] } : {}) };
      },
    });
    const changes: unknown[] = [];
    publisher.onChange((l) => changes.push(l));
    publisher.start();
    await scheduler.advance(0);
    expect(options).toEqual([device]);
    expect(own).toEqual([[device, other]]);
    expect(publisher.e2eLimitation).toBeNull();
    keysFail = true;
    await publisher.publishNow();
    expect(options.at(-1)).toBeNull();
    expect(publisher.e2eLimitation).toEqual({ feature: "e2e" });
    expect(changes.length).toBeGreaterThan(0);
    keysFail = false;
    await publisher.publishNow();
    expect(publisher.e2eLimitation).toBeNull();
    publisher.stop();
  });
});
