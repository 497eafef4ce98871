// This device's keys in IndexedDB (src/platform/device-key-store.ts), against a small fake of the IndexedDB API (the
// parts the store uses; values go through structuredClone as in a real database, so CryptoKeys survive as such):
// nothing stored → null, keys stored → the same usable keys, and every failure (open error, blocked, a database that
// never answers, a failed transaction, a record of the wrong shape) → a rejection, never null.
import { beforeAll, describe, expect, it, vi } from "vitest";
import { generateDeviceKeys, type DeviceKeyPair } from "../../src/core/e2e/keys.js";
import type { Scheduler } from "../../src/core/scheduler.js";
import { checkStoredKeys, createIndexedDbKeyStore, KeyStoreError } from "../../src/platform/device-key-store.js";

type Fault = "open-error" | "blocked" | "hang-open" | "tx-error" | "tx-hang" | null;

/** Just enough IndexedDB: databases by name with object stores of cloned values; events fire on a later task. */
function fakeIndexedDb() {
  const databases = new Map<string, Map<string, Map<string, unknown>>>();
  const state = { fault: null as Fault, opened: 0, closed: 0 };
  const later = (fn: () => void) => void setTimeout(fn, 0);

  function database(stores: Map<string, Map<string, unknown>>) {
    return {
      objectStoreNames: { contains: (n: string) => stores.has(n) },
      createObjectStore: (n: string) => void stores.set(n, new Map()),
      onversionchange: null as unknown,
      close: () => void state.closed++,
      transaction(storeName: string, mode: string) {
        const store = stores.get(storeName);
        if (!store) throw new DOMException("no such store", "NotFoundError");
        const tx = {
          oncomplete: null as null | (() => void),
          onerror: null as null | (() => void),
          onabort: null as null | (() => void),
          error: null as DOMException | null,
          objectStore: () => ({
            get(key: string) {
              const request = { result: undefined as unknown };
              later(() => (request.result = structuredClone(store.get(key))));
              return request;
            },
            put(value: unknown, key: string) {
              if (mode !== "readwrite") throw new DOMException("read only", "ReadOnlyError");
              const copy = structuredClone(value);
              later(() => {
                if (state.fault !== "tx-error") store.set(key, copy);
              });
              return {};
            },
          }),
        };
        later(() =>
          later(() => {
            if (state.fault === "tx-hang") return;
            if (state.fault === "tx-error") {
              tx.error = new DOMException("disk full", "QuotaExceededError");
              tx.onerror?.();
              tx.onabort?.();
            } else tx.oncomplete?.();
          }),
        );
        return tx;
      },
    };
  }

  const factory = {
    open(name: string) {
      const request = {
        result: undefined as unknown,
        error: null as DOMException | null,
        onupgradeneeded: null as null | (() => void),
        onsuccess: null as null | (() => void),
        onerror: null as null | (() => void),
        onblocked: null as null | (() => void),
      };
      later(() => {
        if (state.fault === "hang-open") return;
        if (state.fault === "open-error") {
          request.error = new DOMException("profile locked", "UnknownError");
          return request.onerror?.();
        }
        if (state.fault === "blocked") return request.onblocked?.();
        let stores = databases.get(name);
        const fresh = !stores;
        if (!stores) databases.set(name, (stores = new Map()));
        request.result = database(stores);
        if (fresh) request.onupgradeneeded?.();
        state.opened++;
        request.onsuccess?.();
      });
      return request;
    },
  };
  return { factory: factory as unknown as IDBFactory, databases, state };
}

/** Timers that fire only when the test says so (the deadline), while the fake's own events use real timers. */
function manualScheduler() {
  const timers = new Map<number, () => void>();
  let next = 0;
  const scheduler: Scheduler = {
    now: () => 0,
    setTimeout: (fn) => (timers.set(++next, fn), next),
    clearTimeout: (handle) => void timers.delete(handle as number),
  };
  return { scheduler, fireAll: () => [...timers.values()].forEach((fn) => fn()), pending: () => timers.size };
}

let keys: DeviceKeyPair;
beforeAll(async () => {
  keys = await generateDeviceKeys();
});

describe("createIndexedDbKeyStore", () => {
  it("answers null when nothing is stored, and the same usable keys once saved", async () => {
    const idb = fakeIndexedDb();
    const store = createIndexedDbKeyStore("mox-e2e", { factory: idb.factory });
    expect(await store.load()).toBeNull();
    await store.save(keys);
    const loaded = await store.load();
    expect(loaded?.public).toEqual(keys.public);
    expect(loaded?.agreePrivate).not.toBe(keys.agreePrivate); // a clone from the database, not the object saved
    // The stored private key still signs, and the public key verifies it.
    const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, loaded!.signPrivate, new Uint8Array([1, 2, 3]));
    const raw = Uint8Array.from(atob(keys.public.sign), (c) => c.charCodeAt(0));
    const verify = await crypto.subtle.importKey("raw", raw, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
    expect(await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, verify, signature, new Uint8Array([1, 2, 3]))).toBe(true);
    // Each call closes its connection.
    expect(idb.state.closed).toBe(idb.state.opened);
    // Another name is another database.
    expect(await createIndexedDbKeyStore("other", { factory: idb.factory }).load()).toBeNull();
  });

  it.each<[Fault, RegExp]>([
    ["open-error", /did not open: UnknownError/],
    ["blocked", /blocked/],
    ["tx-error", /failed: QuotaExceededError/],
  ])("rejects when IndexedDB fails (%s)", async (fault, message) => {
    const idb = fakeIndexedDb();
    const store = createIndexedDbKeyStore(undefined, { factory: idb.factory });
    idb.state.fault = fault;
    await expect(store.load()).rejects.toThrow(message);
    await expect(store.save(keys)).rejects.toThrow(message);
    idb.state.fault = null;
    expect(await store.load()).toBeNull(); // nothing was half-written
  });

  it.each<[Fault, RegExp]>([
    ["hang-open", /did not open within 10000 ms/],
    ["tx-hang", /did not finish within 10000 ms/],
  ])("rejects at the deadline when IndexedDB never answers (%s)", async (fault, message) => {
    const idb = fakeIndexedDb();
    const clock = manualScheduler();
    const store = createIndexedDbKeyStore(undefined, { factory: idb.factory, scheduler: clock.scheduler });
    idb.state.fault = fault;
    const loading = store.load();
    loading.catch(() => undefined);
    await vi.waitFor(() => expect(clock.pending()).toBeGreaterThan(0));
    if (fault === "tx-hang") await new Promise((r) => setTimeout(r, 10)); // the open succeeded; the transaction hangs
    clock.fireAll();
    await expect(loading).rejects.toThrow(message);
  });

  it("rejects when IndexedDB is not there at all", async () => {
    await expect(createIndexedDbKeyStore("x", { factory: null as unknown as IDBFactory }).load()).rejects.toThrow();
  });

  it("rejects a stored record of the wrong shape instead of answering null (which would make new keys)", async () => {
    const idb = fakeIndexedDb();
    const store = createIndexedDbKeyStore("mox-e2e", { factory: idb.factory });
    await store.save(keys);
    idb.databases.get("mox-e2e")!.get("device")!.set("this", { public: keys.public, agreePrivate: "not a key", signPrivate: keys.signPrivate });
    await expect(store.load()).rejects.toBeInstanceOf(KeyStoreError);
  });
});

describe("checkStoredKeys", () => {
  it("accepts a device's key pair as made, and returns a plain copy", () => {
    const checked = checkStoredKeys({ ...keys, extra: 1 });
    expect(checked).toEqual({ public: keys.public, agreePrivate: keys.agreePrivate, signPrivate: keys.signPrivate });
  });

  it("refuses every wrong shape", async () => {
    const extractable = await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"]);
    const otherCurve = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-384" }, false, ["sign", "verify"]);
    const bad: unknown[] = [
      null,
      "keys",
      {},
      { ...keys, public: null },
      { ...keys, public: { ...keys.public, id: "not-an-id" } },
      { ...keys, public: { ...keys.public, agree: 5 } },
      { ...keys, public: { id: keys.public.id, agree: keys.public.agree } },
      { ...keys, agreePrivate: keys.signPrivate }, // ECDSA where ECDH belongs
      { ...keys, signPrivate: keys.agreePrivate },
      { ...keys, agreePrivate: extractable.privateKey }, // exportable: never stored by us
      { ...keys, agreePrivate: extractable.publicKey },
      { ...keys, signPrivate: otherCurve.privateKey },
      { ...keys, signPrivate: { type: "private", algorithm: { name: "ECDSA", namedCurve: "P-256" }, usages: ["sign"], extractable: false } },
    ];
    for (const value of bad) expect(() => checkStoredKeys(value), JSON.stringify(value)).toThrow(KeyStoreError);
  });
});
