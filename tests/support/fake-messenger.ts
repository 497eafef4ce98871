// A fake Thunderbird host for the background page: one shared storage (local + managed) that fires real onChanged
// events, runtime messaging and ports, dns. Enough to run src/background/main.ts under Node against a real Prosody.
type Listener<A extends unknown[]> = (...args: A) => unknown;

class FakeEvent<A extends unknown[]> {
  readonly listeners = new Set<Listener<A>>();
  addListener(l: Listener<A>) {
    this.listeners.add(l);
  }
  removeListener(l: Listener<A>) {
    this.listeners.delete(l);
  }
  hasListener(l: Listener<A>) {
    return this.listeners.has(l);
  }
  fire(...args: A): unknown[] {
    return [...this.listeners].map((l) => l(...args));
  }
}

export interface FakePort {
  name: string;
  sender: { id: string; url: string };
  received: unknown[];
  onMessage: FakeEvent<[unknown]>;
  onDisconnect: FakeEvent<[]>;
  postMessage(message: unknown): void;
  disconnect(): void;
}

export interface FakeHost {
  messenger: unknown;
  local: Map<string, unknown>;
  setManaged(data: Record<string, unknown> | undefined): void;
  /** Sends a request as the options page would; resolves with the background's reply. */
  request(type: string, payload?: unknown, sender?: { id: string; url: string }): Promise<unknown>;
  connectStatusPort(): FakePort;
  /** Fires the window "online" event (network back). */
  fireOnline(): void;
  consoleLines: string[];
}

const EXTENSION_ID = "mail-over-xmpp@mailoverxmpp.net";
const BASE_URL = "moz-extension://fake-uuid/";

export function createFakeHost(initialLocal: Map<string, unknown> = new Map()): FakeHost {
  const local = initialLocal;
  let managed: Record<string, unknown> | undefined;
  const onChanged = new FakeEvent<[Record<string, { oldValue?: unknown; newValue?: unknown }>, string]>();
  const onMessage = new FakeEvent<[unknown, unknown, (r: unknown) => void]>();
  const onConnect = new FakeEvent<[FakePort]>();
  const windowListeners = new Map<string, Set<() => void>>();
  const clone = <T>(v: T): T => (v === undefined ? v : structuredClone(v));

  const storageLocal = {
    async get(keys?: string | string[] | null) {
      const names = keys == null ? [...local.keys()] : Array.isArray(keys) ? keys : [keys];
      const out: Record<string, unknown> = {};
      for (const k of names) if (local.has(k)) out[k] = clone(local.get(k));
      return out;
    },
    async set(items: Record<string, unknown>) {
      const changes: Record<string, { oldValue?: unknown; newValue?: unknown }> = {};
      for (const [k, v] of Object.entries(items)) {
        changes[k] = { oldValue: clone(local.get(k)), newValue: clone(v) };
        local.set(k, clone(v));
      }
      queueMicrotask(() => onChanged.fire(changes, "local"));
    },
    async remove(keys: string | string[]) {
      const changes: Record<string, { oldValue?: unknown }> = {};
      for (const k of Array.isArray(keys) ? keys : [keys]) {
        if (local.has(k)) changes[k] = { oldValue: local.get(k) };
        local.delete(k);
      }
      queueMicrotask(() => onChanged.fire(changes, "local"));
    },
  };

  const messenger = {
    storage: {
      local: storageLocal,
      managed: {
        async get() {
          if (!managed) throw new Error("Managed storage manifest not found");
          return clone(managed);
        },
      },
      onChanged,
    },
    runtime: {
      id: EXTENSION_ID,
      getURL: (path: string) => BASE_URL + path.replace(/^\//, ""),
      getManifest: () => ({ version: "0.0.0-test" }),
      getBrowserInfo: async () => ({ name: "FakeBird", version: "0" }),
      onInstalled: new FakeEvent<[{ reason: string }]>(),
      openOptionsPage: async () => {},
      onMessage,
      onConnect,
    },
    folders: { onFolderInfoChanged: new FakeEvent<[unknown, unknown]>() },
    // The "Block sender" button (src/platform/block-action.ts); tests fire onClicked with a tab.
    messageDisplayAction: { onClicked: new FakeEvent<[unknown, unknown]>() },
    messageDisplay: { onMessagesDisplayed: new FakeEvent<[unknown, unknown]>() },
    compose: {
      onBeforeSend: new FakeEvent<[unknown, unknown]>(),
      onAfterSend: new FakeEvent<[unknown, unknown]>(),
      onAfterSave: new FakeEvent<[unknown, unknown]>(),
      async getComposeState() {
        return { canSendNow: true, canSendLater: true };
      },
      async listAttachments() {
        return [];
      },
    },
    tabs: {
      onRemoved: new FakeEvent<[number, unknown]>(),
      removed: [] as number[],
      async remove(tabId: number) {
        messenger.tabs.removed.push(tabId);
      },
    },
    contacts: { onCreated: new FakeEvent(), onUpdated: new FakeEvent(), onDeleted: new FakeEvent() },
    mailingLists: { onCreated: new FakeEvent(), onUpdated: new FakeEvent(), onDeleted: new FakeEvent(), onMemberAdded: new FakeEvent(), onMemberRemoved: new FakeEvent() },
    addressBooks: {
      async list() {
        return [];
      },
    },
    windows: {
      async getAll() {
        return [];
      },
    },
    browserAction: {
      async setTitle() {},
      async setBadgeText() {},
      async setBadgeBackgroundColor() {},
    },
    accounts: {
      async list() {
        return [];
      },
    },
    identities: {
      async get() {
        throw new Error("no such identity");
      },
    },
    notifications: {
      created: [] as unknown[],
      async create(options: unknown) {
        messenger.notifications.created.push(options);
        return "n";
      },
    },
    // Optional host permissions (src/platform/upload-permission.ts): none granted; a request is refused (no user here).
    permissions: {
      onAdded: new FakeEvent<[unknown]>(),
      onRemoved: new FakeEvent<[unknown]>(),
      async contains() {
        return false;
      },
      async request() {
        return false;
      },
    },
    i18n: { getMessage: (key: string, subs?: string[]) => [key, ...(subs ?? [])].join(" ") },
    dns: {
      async resolve(host: string) {
        const { lookup } = await import("node:dns/promises");
        const r = await lookup(host, { all: true });
        return { addresses: r.map((a) => a.address) };
      },
    },
  };

  const consoleLines: string[] = [];
  return {
    messenger,
    local,
    consoleLines,
    setManaged(data) {
      // Like Gecko: managed storage is read when asked and never fires onChanged.
      managed = data;
    },
    async request(type, payload = {}, sender = { id: EXTENSION_ID, url: `${BASE_URL}options.html` }) {
      const replies = onMessage.fire({ type, payload }, sender, () => {});
      const reply = replies.find((r) => r !== undefined);
      return reply instanceof Promise ? await reply : reply;
    },
    connectStatusPort() {
      const port: FakePort = {
        name: "status",
        sender: { id: EXTENSION_ID, url: `${BASE_URL}options.html` },
        received: [],
        onMessage: new FakeEvent(),
        onDisconnect: new FakeEvent(),
        postMessage(message) {
          port.received.push(clone(message));
        },
        disconnect() {
          port.onDisconnect.fire();
        },
      };
      onConnect.fire(port);
      return port;
    },
    fireOnline() {
      for (const l of windowListeners.get("online") ?? []) l();
    },
    // Exposed for install(): the window-like event target of a background page.
    ...{ windowListeners },
  } as FakeHost & { windowListeners: Map<string, Set<() => void>> };
}

/** Installs the fake as the globals a background page sees (messenger, addEventListener). Returns an uninstaller. */
export function installFakeHost(host: FakeHost): () => void {
  const g = globalThis as Record<string, unknown>;
  const listeners = (host as FakeHost & { windowListeners: Map<string, Set<() => void>> }).windowListeners;
  const saved = { messenger: g.messenger, addEventListener: g.addEventListener };
  g.messenger = host.messenger;
  g.addEventListener = (type: string, l: () => void) => {
    if (!listeners.has(type)) listeners.set(type, new Set());
    listeners.get(type)!.add(l);
  };
  return () => {
    g.messenger = saved.messenger;
    g.addEventListener = saved.addEventListener;
  };
}
