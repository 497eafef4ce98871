// The resource bug of issue 14: with a JID such as alice@example.org/laptop and no WebSocket URL, the login looked for
// the endpoint at "example.org/laptop" while "Test connection" looked at "example.org". Every path now takes the
// domain of the bare JID (core/jid.ts) through one helper.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { silentLogger } from "../../src/core/log.js";
import { DEFAULT_SETTINGS, type Settings } from "../../src/core/settings.js";
import type { SessionStatus } from "../../src/core/status.js";
import { createHandlers, type HandlerDeps } from "../../src/background/handlers.js";
import { createLive, createSessionLifecycle, type SessionLifecycleDeps } from "../../src/background/session-lifecycle.js";
import { createWebsocketEndpoint, discoveryDomain } from "../../src/background/websocket-endpoint.js";
import type { FindResult } from "../../src/xmpp/endpoint-probe.js";

const JID = "alice@example.org/laptop";

function recordingEndpoint() {
  const asked: string[] = [];
  const endpoint = createWebsocketEndpoint(silentLogger, async (domain): Promise<FindResult> => {
    asked.push(domain);
    return { error: "nothing there", noWebsocket: true, tried: [] };
  });
  return { asked, endpoint };
}

function settingsStore(settings: Settings) {
  return {
    load: async () => ({ settings, locked: new Set<never>(), policyErrors: [] }),
    save: async () => ({ ok: false as const, errors: [] }),
    onChange: () => () => {},
  };
}

describe("discoveryDomain", () => {
  it("is the domain of the bare JID, without resource, trimmed", () => {
    expect(discoveryDomain(JID)).toBe("example.org");
    expect(discoveryDomain("  bob@chat.example.net  ")).toBe("chat.example.net");
    expect(discoveryDomain("carol@example.com/a/b@c")).toBe("example.com");
  });
  it("is empty (nothing looked up) for an address without a local part", () => {
    expect(discoveryDomain("example.org")).toBe("");
    expect(discoveryDomain("")).toBe("");
  });
});

describe("the WebSocket endpoint for a JID with a resource", () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it("is looked for at the same domain when the session connects as in Test connection and Discover", async () => {
    const settings: Settings = { ...DEFAULT_SETTINGS, jid: JID, websocketUrl: "", password: "" };
    const { asked, endpoint } = recordingEndpoint();
    const published: SessionStatus[] = [];
    const lifecycle = createSessionLifecycle({
      log: silentLogger,
      setLogLevel: () => {},
      live: createLive(),
      publish: (s) => void published.push(s),
      settingsStore: settingsStore(settings),
      credentials: {} as SessionLifecycleDeps["credentials"],
      endpoint,
      resource: async () => "thunderbird-00000000",
      store: { get: async () => undefined, set: async () => {} },
      mailSink: { file: async () => {} },
      folderSink: { filedInto: async () => undefined, ownFolderKey: async () => null },
      directory: { confirmedJids: async () => [], addressBookJids: async () => [], isKnown: async () => false },
      resolveHost: async () => [],
      admit: async () => ({ admit: true }),
      uploadEstimator: {} as SessionLifecycleDeps["uploadEstimator"],
    } as SessionLifecycleDeps);

    // The login.
    await lifecycle.reconfigure();
    expect(published.at(-1)).toMatchObject({ state: "error" });
    const atLogin = asked.splice(0);

    // Test connection and Discover on the options page, with the same JID typed in.
    const handlers = createHandlers({
      log: silentLogger,
      settingsStore: settingsStore(settings),
      endpoint,
    } as unknown as HandlerDeps);
    expect(await handlers.testConnection({ jid: JID, password: "secret", websocketUrl: "" })).toMatchObject({ ok: false, kind: "no-websocket" });
    const atTest = asked.splice(0);
    expect(await handlers.discoverWebsocket({ jid: JID })).toMatchObject({ noWebsocket: true });
    const atDiscover = asked.splice(0);

    expect(atLogin).toEqual(["example.org"]);
    expect(atTest).toEqual(atLogin);
    expect(atDiscover).toEqual(atLogin);
  });

  it("is the one entered when there is one, without looking", async () => {
    const { asked, endpoint } = recordingEndpoint();
    expect(await endpoint.forLogin({ ...DEFAULT_SETTINGS, jid: JID, websocketUrl: "wss://xmpp.example.org/ws" })).toEqual({ url: "wss://xmpp.example.org/ws" });
    expect(asked).toEqual([]);
  });

  it("says why there is none: no WebSocket at all, or discovery failed", async () => {
    const none = createWebsocketEndpoint(silentLogger, async () => ({ error: "x", noWebsocket: true, tried: ["wss://example.org/ws"] }));
    const failed = createWebsocketEndpoint(silentLogger, async () => ({ error: "x", noWebsocket: false, tried: [] }));
    const settings = { ...DEFAULT_SETTINGS, jid: JID };
    expect(await none.forLogin(settings)).toEqual({ reason: expect.stringContaining("offers no XMPP WebSocket"), code: "no-websocket" });
    expect(await failed.forLogin(settings)).toEqual({ reason: "no WebSocket URL: enter it in the options", code: "no-url" });
  });
});
