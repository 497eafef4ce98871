// The background's request handlers (src/background/handlers.ts) with their dependencies faked: what each one
// checks, stores and starts.
import { describe, expect, it, vi } from "vitest";
import { silentLogger } from "../../src/core/log.js";
import { DEFAULT_SETTINGS } from "../../src/core/settings.js";
import { createHandlers, type HandlerDeps } from "../../src/background/handlers.js";

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
