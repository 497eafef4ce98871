// The background's request handlers (src/background/handlers.ts) with their dependencies faked: what each one
// checks, stores and starts.
import { describe, expect, it, vi } from "vitest";
import { silentLogger } from "../../src/core/log.js";
import { DEFAULT_SETTINGS } from "../../src/core/settings.js";
import { createHandlers, type HandlerDeps } from "../../src/background/handlers.js";
import { validateRequest } from "../../src/background/router.js";

function setup() {
  const order: string[] = [];
  const deps = {
    log: silentLogger,
    settingsStore: {
      load: async () => ({ settings: DEFAULT_SETTINGS, locked: new Set(), policyErrors: [] }),
      save: vi.fn(async () => (order.push("save"), { ok: true as const, resolved: { settings: DEFAULT_SETTINGS, locked: new Set(), policyErrors: [] } })),
    },
    credentials: { setPassword: vi.fn(async () => void order.push("password")), sourceFor: vi.fn() },
    lifecycle: { reconfigure: vi.fn(async () => void order.push("reconfigure")), passwordChanged: vi.fn(() => void order.push("password-changed")) },
    status: () => ({ state: "disconnected", reason: "not configured" }),
    xmppOff: new Set<number>(),
    resolutionStore: { rememberLearned: vi.fn(async () => {}) },
  };
  return { order, deps, handlers: createHandlers(deps as unknown as HandlerDeps) };
}

describe("background request handlers", () => {
  it("saveAccount stores a new password, then the settings, then restarts the session", async () => {
    const { order, deps, handlers } = setup();
    expect(await handlers.saveAccount({ jid: " alice@example.org ", password: "secret", websocketUrl: "" })).toEqual({ ok: true });
    expect(deps.credentials.setPassword).toHaveBeenCalledWith("alice@example.org", "secret");
    expect(deps.settingsStore.save).toHaveBeenCalledWith({ jid: "alice@example.org", websocketUrl: "" });
    expect(order).toEqual(["password", "password-changed", "save", "reconfigure"]);
  });

  it("saveAccount without a password keeps the stored one", async () => {
    const { order, handlers } = setup();
    expect(await handlers.saveAccount({ jid: "alice@example.org", password: "", websocketUrl: "wss://example.org/ws" })).toEqual({ ok: true });
    expect(order).toEqual(["save", "reconfigure"]);
  });

  it("saveAccount refuses an invalid address or URL before storing anything", async () => {
    const { order, handlers } = setup();
    expect(await handlers.saveAccount({ jid: "not a jid", password: "secret", websocketUrl: "" })).toMatchObject({ ok: false, error: expect.stringMatching(/^jid: /) });
    expect(await handlers.saveAccount({ jid: "alice@example.org", password: "secret", websocketUrl: "http://example.org/" })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^websocketUrl: /),
    });
    expect(order).toEqual([]);
  });

  it("confirmMapping takes one mailbox and a bare JID only", async () => {
    const { deps, handlers } = setup();
    expect(await handlers.confirmMapping({ address: "a@example.org, b@example.org", jid: "a@example.org" })).toHaveProperty("error");
    expect(await handlers.confirmMapping({ address: "Ann <a@example.org>", jid: "a@example.org/phone" })).toHaveProperty("error");
    expect(deps.resolutionStore.rememberLearned).not.toHaveBeenCalled();
    expect(await handlers.confirmMapping({ address: "Ann <a@example.org>", jid: "ann@xmpp.example.org" })).toEqual({ ok: true });
    expect(deps.resolutionStore.rememberLearned).toHaveBeenCalledWith("a@example.org", "ann@xmpp.example.org", true);
  });

  it("setXmppOff switches a compose tab to SMTP only and back; getStatus answers the current status", async () => {
    const { deps, handlers } = setup();
    await handlers.setXmppOff({ tabId: 7, off: true });
    expect(deps.xmppOff.has(7)).toBe(true);
    await handlers.setXmppOff({ tabId: 7, off: false });
    expect(deps.xmppOff.has(7)).toBe(false);
    expect(await handlers.getStatus({})).toEqual({ state: "disconnected", reason: "not configured" });
  });
});

describe("end-to-end encryption requests (issue 15)", () => {
  const bobView = {
    jid: "bob@example.org",
    state: "changed" as const,
    devices: [
      { id: "a".repeat(32), fingerprint: "11111 22222 33333 44444 55555 66666 77777 88888", pinned: true, announced: false },
      { id: "b".repeat(32), fingerprint: "12345 12345 12345 12345 12345 12345 12345 12345", pinned: false, announced: true },
    ],
  };
  function withKeyring() {
    const { deps } = setup();
    const e2e = {
      ownView: vi.fn(async () => ({ devices: [{ id: "c".repeat(32), fingerprint: "00001 00002 00003 00004 00005 00006 00007 00008", thisDevice: true }] })),
      peerView: vi.fn(async (jid: string) => ({ ...bobView, jid })),
      changedPeers: vi.fn(async () => [bobView]),
      accept: vi.fn(async () => {}),
    };
    return { e2e, handlers: createHandlers({ ...deps, e2e } as unknown as HandlerDeps) };
  }

  it("answers 'e2e unavailable' to every e2e request when there is no keyring", async () => {
    const { handlers } = setup();
    expect(await handlers.e2eOwn({})).toEqual({ error: "e2e unavailable" });
    expect(await handlers.e2ePeer({ jid: "bob@example.org" })).toEqual({ error: "e2e unavailable" });
    expect(await handlers.e2eChangedPeers({})).toEqual({ error: "e2e unavailable" });
    expect(await handlers.e2eAccept({ jid: "bob@example.org" })).toEqual({ error: "e2e unavailable" });
  });

  it("passes the keyring's views through", async () => {
    const { e2e, handlers } = withKeyring();
    expect(await handlers.e2eOwn({})).toEqual(await e2e.ownView());
    expect(await handlers.e2ePeer({ jid: "carol@example.org" })).toEqual({ ...bobView, jid: "carol@example.org" });
    expect(e2e.peerView).toHaveBeenCalledWith("carol@example.org");
    expect(await handlers.e2eChangedPeers({})).toEqual({ peers: [bobView] });
  });

  it("accepts only for a bare JID", async () => {
    const { e2e, handlers } = withKeyring();
    for (const jid of ["bob@example.org/phone", "not a jid", "", `${"x".repeat(2000)}@example.org`]) {
      expect(await handlers.e2eAccept({ jid })).toEqual({ error: "not a bare JID" });
      expect(await handlers.e2ePeer({ jid })).toEqual({ error: "not a bare JID" });
    }
    expect(e2e.accept).not.toHaveBeenCalled();
    expect(e2e.peerView).not.toHaveBeenCalled();
    expect(await handlers.e2eAccept({ jid: "bob@example.org" })).toEqual({ ok: true });
    expect(e2e.accept).toHaveBeenCalledWith("bob@example.org");
  });

  it("says so when this device's keys cannot be read (the key store failed)", async () => {
    const { e2e, handlers } = withKeyring();
    e2e.ownView.mockRejectedValueOnce(new Error("IndexedDB blocked"));
    expect(await handlers.e2eOwn({})).toEqual({ error: "this device's keys are unavailable" });
  });

  it("the router checks the payloads of the e2e requests", () => {
    expect(validateRequest({ type: "e2ePeer", payload: { jid: "bob@example.org", extra: 1 } })).toEqual({ type: "e2ePeer", payload: { jid: "bob@example.org" } });
    expect(validateRequest({ type: "e2eOwn" })).toEqual({ type: "e2eOwn", payload: {} });
    expect(validateRequest({ type: "e2eChangedPeers", payload: {} })).toEqual({ type: "e2eChangedPeers", payload: {} });
    expect(() => validateRequest({ type: "e2eAccept", payload: { jid: 5 } })).toThrow(/jid must be a string/);
    expect(() => validateRequest({ type: "e2eAccept", payload: { jid: "x".repeat(5000) } })).toThrow(/too long/);
  });
});
