import { describe, expect, it } from "vitest";
import {
  checkUpdate,
  DEFAULT_SETTINGS,
  migrate,
  parseXmppDomains,
  resolveSettings,
  SETTINGS_VERSION,
  SETTINGS_VERSION_KEY,
  validateSetting,
  validateWebsocketUrl,
  type SettingError,
  type SettingKey,
} from "../../src/core/settings.js";
import { createSettingsStore, type StorageChangeListener, type StorageLike } from "../../src/platform/settings-store.js";

const long = (n: number): string => "a".repeat(n);

describe("validateSetting", () => {
  const cases: Array<[SettingKey, unknown, SettingError | "ok"]> = [
    ["enabled", true, "ok"],
    ["enabled", false, "ok"],
    ["enabled", "true", "wrong-type"],
    ["enabled", 1, "wrong-type"],
    ["enabled", null, "wrong-type"],

    ["jid", "", "ok"],
    ["jid", "alice@example.org", "ok"],
    ["jid", "alice@example.org/thunderbird", "ok"],
    ["jid", "alice@example.org/with/slashes and@at", "jid-whitespace"],
    ["jid", "alice@example.org/with/slashes@at", "ok"],
    ["jid", "alice@localhost", "ok"],
    ["jid", "alice@127.0.0.1", "ok"],
    ["jid", "alice@[::1]", "ok"],
    ["jid", "ålice@münchen.de", "ok"],
    ["jid", "alice@xn--mnchen-3ya.de", "ok"],
    ["jid", `${long(1023)}@example.org`, "ok"],
    ["jid", `${long(1024)}@example.org`, "jid-bad-local"],
    ["jid", `a@${"b".repeat(60)}.${"c".repeat(60)}.org/${long(2990)}`, "jid-too-long"],
    ["jid", `a@example.org/${long(1024)}`, "jid-bad-resource"],
    ["jid", "example.org", "jid-missing-local"],
    ["jid", "@example.org", "jid-missing-local"],
    ["jid", "alice example@example.org", "jid-whitespace"],
    ["jid", " alice@example.org", "jid-whitespace"],
    ["jid", "alice@example.org\n", "jid-whitespace"],
    ["jid", "alice\u0000@example.org", "jid-whitespace"],
    ["jid", "al<ice@example.org", "jid-bad-local"],
    ["jid", "al:ice@example.org", "jid-bad-local"],
    ["jid", "alice@", "jid-bad-domain"],
    ["jid", "alice@bob@example.org", "jid-bad-domain"],
    ["jid", "alice@exa_mple.org", "jid-bad-domain"],
    ["jid", "alice@-example.org", "jid-bad-domain"],
    ["jid", "alice@example..org", "jid-bad-domain"],
    ["jid", "alice@example.org.", "jid-bad-domain"],
    ["jid", "alice@example.org:5222", "jid-bad-domain"],
    ["jid", "alice@127.1", "jid-bad-domain"],
    ["jid", "alice@[::1", "jid-bad-domain"],
    ["jid", "alice@example.org/", "jid-bad-resource"],
    ["jid", 42, "wrong-type"],

    ["websocketUrl", "", "ok"],
    ["websocketUrl", "wss://example.org/xmpp-websocket", "ok"],
    ["websocketUrl", "wss://example.org:5443/ws?x=1", "ok"],
    ["websocketUrl", "WSS://Example.org/ws", "ok"],
    ["websocketUrl", "ws://localhost:5280/xmpp-websocket", "ok"],
    ["websocketUrl", "ws://127.0.0.1:5280/xmpp-websocket", "ok"],
    ["websocketUrl", "ws://127.8.9.10/ws", "ok"],
    ["websocketUrl", "ws://[::1]:5280/ws", "ok"],
    ["websocketUrl", "ws://example.org/ws", "url-insecure"],
    ["websocketUrl", "ws://10.0.0.1/ws", "url-insecure"],
    ["websocketUrl", "ws://128.0.0.1/ws", "url-insecure"],
    ["websocketUrl", "ws://localhost.example.org/ws", "url-insecure"],
    ["websocketUrl", "ws://127.0.0.1.example.org/ws", "url-insecure"],
    ["websocketUrl", "ws://[::2]/ws", "url-insecure"],
    ["websocketUrl", "https://example.org/ws", "url-scheme"],
    ["websocketUrl", "javascript:alert(1)", "url-scheme"],
    ["websocketUrl", "example.org/ws", "url-invalid"],
    ["websocketUrl", "wss:example.org", "url-invalid"],
    ["websocketUrl", "wss://", "url-invalid"],
    ["websocketUrl", "wss://exa mple.org/", "url-whitespace"],
    ["websocketUrl", "wss://user:secret@example.org/ws", "url-credentials"],
    ["websocketUrl", "wss://example.org/ws#frag", "url-fragment"],
    ["websocketUrl", `wss://example.org/${long(2100)}`, "url-too-long"],
    ["websocketUrl", 7, "wrong-type"],

    ["password", "correct horse battery staple", "ok"],
    ["password", "", "password-empty"],
    ["password", long(1025), "password-too-long"],
    ["password", "pass\u0007word", "password-control-chars"],
    ["password", ["x"], "wrong-type"],

    ["logLevel", "debug", "ok"],
    ["logLevel", "error", "ok"],
    ["logLevel", "verbose", "log-level-unknown"],
    ["logLevel", "INFO", "log-level-unknown"],
    ["logLevel", 3, "wrong-type"],

    ["unknownSenders", "deliver-tagged", "ok"],
    ["unknownSenders", "unverified-folder", "ok"],
    ["unknownSenders", "Deliver-Tagged", "unknown-senders-invalid"],
    ["unknownSenders", "reject", "unknown-senders-invalid"],
    ["unknownSenders", "", "unknown-senders-invalid"],
    ["unknownSenders", true, "wrong-type"],
    ["routePolicy", "whole-message", "ok"],
    ["routePolicy", "split", "ok"],
    ["routePolicy", "Split", "route-policy-invalid"],
    ["routePolicy", 1, "wrong-type"],
    ["sendHoldSeconds", 1, "ok"],
    ["sendHoldSeconds", 8, "ok"],
    ["sendHoldSeconds", 20, "ok"],
    ["sendHoldSeconds", 0, "send-hold-invalid"],
    ["sendHoldSeconds", 21, "send-hold-invalid"],
    ["sendHoldSeconds", 2.5, "send-hold-invalid"],
    ["sendHoldSeconds", Number.NaN, "send-hold-invalid"],
    ["sendHoldSeconds", "8", "wrong-type"],
    ["xmppDomains", "", "ok"],
    ["xmppDomains", "example.org", "ok"],
    ["xmppDomains", "example.org, Chat.Example.NET  xn--bcher-kva.example", "ok"],
    ["xmppDomains", "localhost", "xmpp-domains-invalid"],
    ["xmppDomains", "exa mple.org", "xmpp-domains-invalid"],
    ["xmppDomains", "user@example.org", "xmpp-domains-invalid"],
    ["xmppDomains", "-bad.example", "xmpp-domains-invalid"],
    ["xmppDomains", "a.".repeat(1100) + "org", "xmpp-domains-invalid"],
    ["xmppDomains", ["example.org"], "wrong-type"],
    ["announceJid", false, "ok"],
    ["announceJid", "true", "wrong-type"],
    ["learnJids", true, "ok"],
    ["learnJids", 1, "wrong-type"],
    ["e2ePreview", true, "ok"],
    ["e2ePreview", false, "ok"],
    ["e2ePreview", "true", "wrong-type"],
    ["e2ePreview", 1, "wrong-type"],
    ["e2ePreview", null, "wrong-type"],
    ["strangerMailsPerHour", 0, "ok"],
    ["strangerMailsPerHour", 100, "ok"],
    ["strangerMailsPerHour", 101, "stranger-limit-invalid"],
    ["strangerMailsPerHour", 2.5, "stranger-limit-invalid"],
    ["strangerMailsPerHour", -1, "stranger-limit-invalid"],
    ["strangerMailsPerHour", "3", "wrong-type"],
    ["strangerMailsPerDay", 1000, "ok"],
    ["strangerMailsPerDay", 1001, "stranger-limit-invalid"],
    ["strangerMailsPerDay", Number.NaN, "stranger-limit-invalid"],
    ["strangerMaxKiB", 1, "ok"],
    ["strangerMaxKiB", 25600, "ok"],
    ["strangerMaxKiB", 0, "stranger-limit-invalid"],
    ["strangerMaxKiB", 25601, "stranger-limit-invalid"],
    ["strangerMaxKiB", Infinity, "stranger-limit-invalid"],

    ["receiveFolder", "", "ok"],
    ["receiveFolder", "account1://INBOX", "ok"],
    ["receiveFolder", "account3://Inbox/Mail über XMPP", "ok"],
    ["receiveFolder", `account1://${long(1013)}`, "ok"], // exactly 1024
    ["receiveFolder", `account1://${long(1014)}`, "receive-folder-too-long"],
    ["receiveFolder", "account1://INBOX\n", "receive-folder-control-chars"],
    ["receiveFolder", "account1://IN\u0000BOX", "receive-folder-control-chars"],
    ["receiveFolder", "account1://IN\u007fBOX", "receive-folder-control-chars"],
    ["receiveFolder", { id: "account1://INBOX" }, "wrong-type"],
    ["receiveFolder", null, "wrong-type"],
  ];
  it.each(cases)("%s = %j → %s", (key, value, expected) => {
    const result = validateSetting(key, value);
    if (expected === "ok") expect(result).toEqual({ ok: true, value });
    else expect(result).toEqual({ ok: false, error: expected });
  });

  it("never repeats the value in an error", () => {
    const secret = "hunter2\u0001";
    expect(JSON.stringify(validateSetting("password", secret))).not.toContain("hunter2");
    expect(JSON.stringify(validateSetting("websocketUrl", "wss://bob:hunter2@example.org/"))).not.toContain("hunter2");
  });
});

describe("validateWebsocketUrl", () => {
  it("returns the normalized URL", () => {
    expect(validateWebsocketUrl("WSS://Example.ORG:443/ws")).toEqual({ ok: true, href: "wss://example.org/ws" });
  });
});

describe("migrate", () => {
  it("takes unversioned data as version 0 and brings it to the current version", () => {
    const result = migrate({ jid: "alice@example.org", logLevel: "debug" });
    expect(result).toEqual({
      settings: { jid: "alice@example.org", logLevel: "debug" },
      version: SETTINGS_VERSION,
      from: 0,
      invalid: [],
    });
  });

  it("has nothing to migrate in empty storage", () => {
    expect(migrate({})).toMatchObject({ settings: {}, version: SETTINGS_VERSION, from: SETTINGS_VERSION });
    expect(migrate(undefined)).toMatchObject({ settings: {}, from: SETTINGS_VERSION });
  });

  it("drops invalid and unknown stored values and reports the invalid ones", () => {
    const result = migrate({ [SETTINGS_VERSION_KEY]: 1, jid: "not a jid", enabled: false, somethingElse: 1 });
    expect(result.settings).toEqual({ enabled: false });
    expect(result.invalid).toEqual([{ key: "jid", error: "jid-whitespace" }]);
    expect(result.from).toBe(1);
  });

  it("keeps a newer stored version (downgrade) and reads what it understands", () => {
    const result = migrate({ [SETTINGS_VERSION_KEY]: SETTINGS_VERSION + 5, jid: "alice@example.org", futureKey: true });
    expect(result.version).toBe(SETTINGS_VERSION + 5);
    expect(result.from).toBe(SETTINGS_VERSION + 5);
    expect(result.settings).toEqual({ jid: "alice@example.org" });
  });

  it("reads version 1 data stored before unknownSenders and receiveFolder existed: they take their defaults", () => {
    const stored = { [SETTINGS_VERSION_KEY]: 1, jid: "alice@example.org", logLevel: "warn" };
    const result = migrate(stored);
    expect(result).toEqual({ settings: { jid: "alice@example.org", logLevel: "warn" }, version: 1, from: 1, invalid: [] });
    const { settings } = resolveSettings(stored, undefined);
    expect(settings.unknownSenders).toBe("deliver-tagged");
    expect(settings.receiveFolder).toBe("");
  });

  it("keeps stored receiving settings and drops invalid ones", () => {
    const result = migrate({ [SETTINGS_VERSION_KEY]: 1, unknownSenders: "unverified-folder", receiveFolder: "account1://INBOX\u0007" });
    expect(result.settings).toEqual({ unknownSenders: "unverified-folder" });
    expect(result.invalid).toEqual([{ key: "receiveFolder", error: "receive-folder-control-chars" }]);
  });

  it("treats a malformed version as unversioned", () => {
    expect(migrate({ [SETTINGS_VERSION_KEY]: "1", enabled: true }).from).toBe(0);
    expect(migrate({ [SETTINGS_VERSION_KEY]: -1, enabled: true }).from).toBe(0);
  });
});

describe("resolveSettings", () => {
  const local = { [SETTINGS_VERSION_KEY]: 1, jid: "alice@example.org", websocketUrl: "wss://a.example/ws", logLevel: "debug" };

  it("uses defaults without anything stored", () => {
    const r = resolveSettings(undefined, undefined);
    expect(r.settings).toEqual(DEFAULT_SETTINGS);
    expect([...r.locked]).toEqual([]);
    expect(r.policyErrors).toEqual([]);
  });

  it("applies user values over defaults", () => {
    const r = resolveSettings(local, undefined);
    expect(r.settings).toEqual({ ...DEFAULT_SETTINGS, jid: "alice@example.org", websocketUrl: "wss://a.example/ws", logLevel: "debug" });
  });

  it("lets valid policy values override and lock", () => {
    const r = resolveSettings(local, { websocketUrl: "wss://corp.example/xmpp", enabled: false, password: "s3cret" });
    expect(r.settings.websocketUrl).toBe("wss://corp.example/xmpp");
    expect(r.settings.enabled).toBe(false);
    expect(r.settings.password).toBe("s3cret");
    expect(r.settings.jid).toBe("alice@example.org");
    expect([...r.locked].sort()).toEqual(["enabled", "password", "websocketUrl"]);
    expect(r.policyErrors).toEqual([]);
  });

  it.each<[string, Record<string, unknown>, Array<{ key: string; error: SettingError }>]>([
    ["insecure URL", { websocketUrl: "ws://corp.example/xmpp" }, [{ key: "websocketUrl", error: "url-insecure" }]],
    ["string boolean", { enabled: "false" }, [{ key: "enabled", error: "wrong-type" }]],
    ["bad JID", { jid: "alice" }, [{ key: "jid", error: "jid-missing-local" }]],
    ["unknown level", { logLevel: "trace" }, [{ key: "logLevel", error: "log-level-unknown" }]],
    ["unknown sender mode", { unknownSenders: "drop" }, [{ key: "unknownSenders", error: "unknown-senders-invalid" }]],
    ["folder as an object", { receiveFolder: { accountId: "account1", path: "/INBOX" } }, [{ key: "receiveFolder", error: "wrong-type" }]],
    ["folder id too long", { receiveFolder: long(1025) }, [{ key: "receiveFolder", error: "receive-folder-too-long" }]],
    ["unknown key", { websocketURL: "wss://corp.example/" }, [{ key: "websocketURL", error: "unknown-key" }]],
    ["version key is not a policy", { [SETTINGS_VERSION_KEY]: 1 }, [{ key: SETTINGS_VERSION_KEY, error: "unknown-key" }]],
  ])("does not apply or lock an invalid policy value (%s) and reports it", (_name, managed, errors) => {
    const r = resolveSettings(local, managed);
    expect(r.policyErrors).toEqual(errors);
    expect([...r.locked]).toEqual([]);
    expect(r.settings).toEqual(resolveSettings(local, undefined).settings);
  });

  it("keeps the readable preview of end-to-end encrypted mail off unless the user or a policy turns it on", () => {
    expect(DEFAULT_SETTINGS.e2ePreview).toBe(false);
    expect(resolveSettings(local, undefined).settings.e2ePreview).toBe(false);
    expect(resolveSettings({ ...local, e2ePreview: true }, undefined).settings.e2ePreview).toBe(true);
    expect(resolveSettings({ ...local, e2ePreview: "yes" }, undefined).settings.e2ePreview).toBe(false);
    const locked = resolveSettings({ ...local, e2ePreview: true }, { e2ePreview: false });
    expect(locked.settings.e2ePreview).toBe(false);
    expect([...locked.locked]).toEqual(["e2ePreview"]);
  });

  it("lets a policy lock the receiving settings", () => {
    const r = resolveSettings({ ...local, receiveFolder: "account2://Archive" }, { unknownSenders: "unverified-folder", receiveFolder: "account1://INBOX" });
    expect(r.settings.unknownSenders).toBe("unverified-folder");
    expect(r.settings.receiveFolder).toBe("account1://INBOX");
    expect([...r.locked].sort()).toEqual(["receiveFolder", "unknownSenders"]);
    expect(resolveSettings(local, { receiveFolder: "" }).locked.has("receiveFolder")).toBe(true);
  });

  it("applies the valid part of a partly invalid policy", () => {
    const r = resolveSettings(local, { jid: "bob@corp.example", websocketUrl: "http://corp.example/" });
    expect(r.settings.jid).toBe("bob@corp.example");
    expect(r.settings.websocketUrl).toBe("wss://a.example/ws");
    expect([...r.locked]).toEqual(["jid"]);
    expect(r.policyErrors).toEqual([{ key: "websocketUrl", error: "url-scheme" }]);
  });

  it("reports a policy that is not an object", () => {
    expect(resolveSettings(local, ["jid"]).policyErrors).toEqual([{ key: "*", error: "policy-not-object" }]);
    expect(resolveSettings(local, null).policyErrors).toEqual([]);
  });

  it("never puts a policy value into an error", () => {
    const r = resolveSettings({}, { password: "\u0000topsecret", websocketUrl: "ws://u:topsecret@corp.example/" });
    expect(JSON.stringify(r.policyErrors)).not.toContain("topsecret");
    expect(r.policyErrors).toHaveLength(2);
  });
});

describe("checkUpdate", () => {
  const current = resolveSettings({}, { enabled: false, jid: "alice@corp.example" });

  it("refuses locked changes, unknown and invalid keys together", () => {
    const r = checkUpdate({ websocketUrl: "x", enabled: true, colour: "red", logLevel: "debug" }, current);
    expect(r).toEqual({
      ok: false,
      errors: [
        { key: "websocketUrl", error: "url-invalid" },
        { key: "enabled", error: "locked" },
        { key: "colour", error: "unknown-key" },
      ],
    });
  });

  it("accepts a locked key given its policy value, and does not write it", () => {
    expect(checkUpdate({ jid: "alice@corp.example", enabled: false, logLevel: "warn" }, current)).toEqual({
      ok: true,
      values: { logLevel: "warn" },
    });
  });

  it("accepts valid unlocked values", () => {
    expect(checkUpdate({ logLevel: "warn", websocketUrl: "" }, current)).toEqual({ ok: true, values: { logLevel: "warn", websocketUrl: "" } });
    expect(checkUpdate({ unknownSenders: "unverified-folder", receiveFolder: "account1://INBOX" }, current)).toEqual({
      ok: true,
      values: { unknownSenders: "unverified-folder", receiveFolder: "account1://INBOX" },
    });
  });

  it("refuses invalid receiving settings and a change of a locked folder", () => {
    const locked = resolveSettings({}, { receiveFolder: "account1://INBOX" });
    expect(checkUpdate({ unknownSenders: "bounce", receiveFolder: "" }, locked)).toEqual({
      ok: false,
      errors: [
        { key: "unknownSenders", error: "unknown-senders-invalid" },
        { key: "receiveFolder", error: "locked" },
      ],
    });
  });
});

// ---- the store over a fake of Thunderbird's storage ---------------------------------------------------

/** Behaves like Thunderbird's storage: structured copies, onChanged after writes, managed.get rejects without a policy. */
function fakeStorage(initial: { local?: Record<string, unknown>; managed?: Record<string, unknown> } = {}) {
  const local = new Map<string, unknown>(Object.entries(structuredClone(initial.local ?? {})));
  let managed = initial.managed === undefined ? undefined : structuredClone(initial.managed);
  const listeners = new Set<StorageChangeListener>();
  const writes: Array<Record<string, unknown>> = [];
  const fire = (changes: Record<string, { oldValue?: unknown; newValue?: unknown }>, area: string): void => {
    for (const l of [...listeners]) l(structuredClone(changes), area);
  };
  const storage: StorageLike = {
    local: {
      async get(keys) {
        const out: Record<string, unknown> = {};
        for (const k of keys) if (local.has(k)) out[k] = structuredClone(local.get(k));
        return out;
      },
      async set(items) {
        writes.push(structuredClone(items));
        const changes: Record<string, { oldValue?: unknown; newValue?: unknown }> = {};
        for (const [k, v] of Object.entries(items)) {
          changes[k] = { oldValue: local.get(k), newValue: structuredClone(v) };
          local.set(k, structuredClone(v));
        }
        queueMicrotask(() => fire(changes, "local"));
      },
      async remove(keys) {
        const changes: Record<string, { oldValue?: unknown }> = {};
        for (const k of keys) {
          if (local.has(k)) changes[k] = { oldValue: local.get(k) };
          local.delete(k);
        }
        queueMicrotask(() => fire(changes, "local"));
      },
    },
    managed: {
      async get() {
        if (managed === undefined) throw new Error("Managed storage manifest not found");
        return structuredClone(managed);
      },
    },
    onChanged: {
      addListener: (l) => void listeners.add(l),
      removeListener: (l) => void listeners.delete(l),
    },
  };
  return {
    storage,
    local,
    writes,
    listenerCount: () => listeners.size,
    setPolicy(next: Record<string, unknown> | undefined) {
      managed = next;
      fire({}, "managed");
    },
    /** Another page (or the background) writes. */
    externalWrite(items: Record<string, unknown>) {
      return storage.local.set(items);
    },
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("createSettingsStore", () => {
  it("loads defaults when nothing is stored and there is no policy (managed.get rejects)", async () => {
    const fake = fakeStorage();
    const r = await createSettingsStore(fake.storage).load();
    expect(r.settings).toEqual(DEFAULT_SETTINGS);
    expect(r.locked.size).toBe(0);
    expect(fake.writes).toEqual([]);
  });

  it("merges a policy over stored values and locks its keys", async () => {
    const fake = fakeStorage({ local: { [SETTINGS_VERSION_KEY]: 1, jid: "alice@example.org" }, managed: { jid: "alice@corp.example", bogus: 1 } });
    const r = await createSettingsStore(fake.storage).load();
    expect(r.settings.jid).toBe("alice@corp.example");
    expect(r.locked.has("jid")).toBe(true);
    expect(r.policyErrors).toEqual([{ key: "bogus", error: "unknown-key" }]);
  });

  it("does not read keys that are not settings (credentials stored elsewhere in storage.local stay out)", async () => {
    const fake = fakeStorage({ local: { credentials: { salted: "x" }, jid: "alice@example.org", [SETTINGS_VERSION_KEY]: 1 } });
    const r = await createSettingsStore(fake.storage).load();
    expect(Object.keys(r.settings).sort()).toEqual(Object.keys(DEFAULT_SETTINGS).sort());
  });

  it("writes migrated unversioned data back once, dropping invalid values", async () => {
    const fake = fakeStorage({ local: { jid: "alice@example.org", logLevel: "chatty" } });
    const store = createSettingsStore(fake.storage);
    await store.load();
    expect(fake.local.get(SETTINGS_VERSION_KEY)).toBe(SETTINGS_VERSION);
    expect(fake.local.has("logLevel")).toBe(false);
    expect(fake.local.get("jid")).toBe("alice@example.org");
    const writesAfterFirst = fake.writes.length;
    await store.load();
    expect(fake.writes.length).toBe(writesAfterFirst);
  });

  it("saves and reloads the receiving settings", async () => {
    const fake = fakeStorage({ local: { [SETTINGS_VERSION_KEY]: 1, jid: "alice@example.org" } });
    const store = createSettingsStore(fake.storage);
    expect((await store.load()).settings).toMatchObject({ unknownSenders: "deliver-tagged", receiveFolder: "" });
    expect(fake.writes).toEqual([]); // old data gets the new defaults without being rewritten
    expect((await store.save({ unknownSenders: "unverified-folder", receiveFolder: "account1://INBOX/XMPP" })).ok).toBe(true);
    expect(fake.local.get(SETTINGS_VERSION_KEY)).toBe(SETTINGS_VERSION);
    expect((await store.load()).settings).toMatchObject({ unknownSenders: "unverified-folder", receiveFolder: "account1://INBOX/XMPP" });
  });

  it("saves valid values with the layout version", async () => {
    const fake = fakeStorage();
    const store = createSettingsStore(fake.storage);
    const result = await store.save({ logLevel: "debug", enabled: false });
    expect(result.ok).toBe(true);
    expect(Object.fromEntries(fake.local)).toEqual({ logLevel: "debug", enabled: false, [SETTINGS_VERSION_KEY]: SETTINGS_VERSION });
    expect((await store.load()).settings.logLevel).toBe("debug");
  });

  it("refuses locked keys and invalid values and then writes nothing", async () => {
    const fake = fakeStorage({ managed: { websocketUrl: "wss://corp.example/ws" } });
    const store = createSettingsStore(fake.storage);
    expect(await store.save({ websocketUrl: "wss://mine.example/ws", logLevel: "debug" })).toEqual({
      ok: false,
      errors: [{ key: "websocketUrl", error: "locked" }],
    });
    expect(await store.save({ websocketUrl: "ws://insecure.example/" })).toMatchObject({ ok: false });
    expect(fake.writes).toEqual([]);
  });

  it("lets a page save the account with the locked policy value unchanged (the background's saveAccount does)", async () => {
    const fake = fakeStorage({ local: { [SETTINGS_VERSION_KEY]: 1 }, managed: { jid: "alice@corp.example" } });
    const store = createSettingsStore(fake.storage);
    const result = await store.save({ jid: "alice@corp.example", websocketUrl: "wss://corp.example/ws" });
    expect(result.ok).toBe(true);
    expect(fake.local.has("jid")).toBe(false);
    expect(fake.local.get("websocketUrl")).toBe("wss://corp.example/ws");
  });

  it("refuses unknown keys from an untyped caller", async () => {
    const fake = fakeStorage();
    const untyped: Record<string, unknown> = { admin: true };
    expect(await createSettingsStore(fake.storage).save(untyped)).toEqual({ ok: false, errors: [{ key: "admin", error: "unknown-key" }] });
  });

  it("does not stamp an older layout version over newer data", async () => {
    const fake = fakeStorage({ local: { [SETTINGS_VERSION_KEY]: SETTINGS_VERSION + 1, jid: "alice@example.org" } });
    await createSettingsStore(fake.storage).save({ logLevel: "warn" });
    expect(fake.local.get(SETTINGS_VERSION_KEY)).toBe(SETTINGS_VERSION + 1);
  });

  it("reports changes of setting keys and of the policy, not of other keys, and unsubscribes", async () => {
    const fake = fakeStorage({ local: { [SETTINGS_VERSION_KEY]: 1 } });
    const store = createSettingsStore(fake.storage);
    const seen: string[] = [];
    const off = store.onChange((r) => seen.push(`${r.settings.logLevel}/${[...r.locked].join(",")}`));
    expect(fake.listenerCount()).toBe(1);

    await fake.externalWrite({ logLevel: "debug" });
    await settle();
    await fake.externalWrite({ credentials: "x" });
    await settle();
    fake.setPolicy({ logLevel: "error" });
    await settle();
    expect(seen).toEqual(["debug/", "error/logLevel"]);

    off();
    expect(fake.listenerCount()).toBe(0);
    await fake.externalWrite({ logLevel: "warn" });
    await settle();
    expect(seen).toHaveLength(2);
  });

  it("delivers only the newest state when changes come quickly", async () => {
    const fake = fakeStorage({ local: { [SETTINGS_VERSION_KEY]: 1 } });
    const store = createSettingsStore(fake.storage);
    const seen: string[] = [];
    store.onChange((r) => seen.push(r.settings.logLevel));
    await fake.externalWrite({ logLevel: "debug" });
    await fake.externalWrite({ logLevel: "warn" });
    await settle();
    expect(seen).toEqual(["warn"]);
  });
});

describe("parseXmppDomains", () => {
  it("splits on commas and spaces, lower-cases, drops a trailing dot and duplicates", () => {
    expect(parseXmppDomains(" Example.ORG, chat.example.net example.org. ")).toEqual(["example.org", "chat.example.net"]);
    expect(parseXmppDomains("")).toEqual([]);
  });
  it("rejects anything that is not a dotted host name", () => {
    for (const bad of ["user@example.org", "http://example.org", "example", "exa_mple.org", "[::1]"]) expect(parseXmppDomains(bad)).toBeNull();
  });
});
