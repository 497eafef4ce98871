// This installation's device keys (docs/protocol.md §10.3) in the extension's IndexedDB: one object store, one record
// holding the public keys (strings) and the two private keys as CryptoKey objects. IndexedDB keeps a CryptoKey by
// structured clone, so the private keys stay usable across restarts without ever being extractable; storage.local
// (JSON) could not hold them at all.
//
// load() tells "nothing stored yet" (null: the keyring makes keys) from "the store cannot be read" (a rejection: the
// keyring must not make new keys, which would look like a key change to every correspondent). Every wait on IndexedDB
// has a deadline: a database that never answers (blocked by another connection, a stuck profile) is an error too.
import { isDeviceId, type DeviceKeyPair } from "../core/e2e/keys.js";
import { withDeadline, type Scheduler } from "../core/scheduler.js";
import { realScheduler } from "../xmpp/runtime.js";
import type { DeviceKeyStore } from "../xmpp/e2e-keyring.js";

const DB_VERSION = 1;
const STORE = "device";
/** The one record's key. */
const RECORD = "this";
export const KEY_STORE_TIMEOUT_MS = 10_000;

export interface KeyStoreOptions {
  /** The IndexedDB factory: the background page's `indexedDB` by default. */
  readonly factory?: IDBFactory;
  readonly scheduler?: Scheduler;
  readonly timeoutMs?: number;
}

/** The error every failure of the key store becomes (what failed, never key material). */
export class KeyStoreError extends Error {
  override readonly name = "KeyStoreError";
}

function isPrivateKey(key: unknown, algorithm: "ECDH" | "ECDSA", usage: KeyUsage): key is CryptoKey {
  if (typeof CryptoKey === "undefined" || !(key instanceof CryptoKey)) return false;
  const alg = key.algorithm as { name?: unknown; namedCurve?: unknown };
  return key.type === "private" && !key.extractable && alg.name === algorithm && alg.namedCurve === "P-256" && key.usages.includes(usage);
}

/**
 * The stored record as a DeviceKeyPair, or a KeyStoreError saying what is wrong: the public keys must be strings
 * (the id a device id), the private keys non-extractable P-256 CryptoKeys for ECDH (deriveBits) and ECDSA (sign).
 */
export function checkStoredKeys(value: unknown): DeviceKeyPair {
  if (typeof value !== "object" || value === null) throw new KeyStoreError("the stored device keys are not a record");
  const record = value as { public?: unknown; agreePrivate?: unknown; signPrivate?: unknown };
  const pub = record.public as { id?: unknown; agree?: unknown; sign?: unknown } | null | undefined;
  if (typeof pub !== "object" || pub === null || !isDeviceId(pub.id) || typeof pub.agree !== "string" || typeof pub.sign !== "string") {
    throw new KeyStoreError("the stored device's public keys are malformed");
  }
  if (!isPrivateKey(record.agreePrivate, "ECDH", "deriveBits")) throw new KeyStoreError("the stored agreement key is not a private ECDH P-256 key");
  if (!isPrivateKey(record.signPrivate, "ECDSA", "sign")) throw new KeyStoreError("the stored signature key is not a private ECDSA P-256 key");
  return { public: { id: pub.id, agree: pub.agree, sign: pub.sign }, agreePrivate: record.agreePrivate, signPrivate: record.signPrivate };
}

const describeError = (error: DOMException | null | undefined): string => (error ? `${error.name}: ${error.message}` : "unknown error");

export function createIndexedDbKeyStore(name = "mox-e2e", options: KeyStoreOptions = {}): DeviceKeyStore {
  const scheduler = options.scheduler ?? realScheduler;
  const timeoutMs = options.timeoutMs ?? KEY_STORE_TIMEOUT_MS;

  /** Opens the database (creating its store on first use). A connection that arrives after the deadline is closed. */
  function open(): Promise<IDBDatabase> {
    let late = false;
    const opening = new Promise<IDBDatabase>((resolve, reject) => {
      const factory = options.factory ?? globalThis.indexedDB;
      if (!factory) throw new KeyStoreError("IndexedDB is not available");
      const request = factory.open(name, DB_VERSION);
      request.onupgradeneeded = () => {
        const db = request.result;
        if (!db.objectStoreNames.contains(STORE)) db.createObjectStore(STORE);
      };
      request.onsuccess = () => {
        const db = request.result;
        if (late) {
          db.close();
          return;
        }
        // Another context upgrading the database: let it (our next call opens again).
        db.onversionchange = () => db.close();
        resolve(db);
      };
      request.onerror = () => reject(new KeyStoreError(`the key store did not open: ${describeError(request.error)}`));
      request.onblocked = () => reject(new KeyStoreError("the key store is blocked by another open connection"));
    });
    return withDeadline(scheduler, opening, timeoutMs, `the key store did not open within ${timeoutMs} ms`).catch((error: unknown) => {
      late = true;
      throw error;
    });
  }

  /** Runs one transaction on the store and resolves with `read()` once it completed (not merely when a request did). */
  async function transact<T>(mode: IDBTransactionMode, work: (store: IDBObjectStore) => () => T, what: string): Promise<T> {
    const db = await open();
    try {
      const done = new Promise<T>((resolve, reject) => {
        const tx = db.transaction(STORE, mode);
        const read = work(tx.objectStore(STORE));
        tx.oncomplete = () => resolve(read());
        tx.onerror = () => reject(new KeyStoreError(`${what} failed: ${describeError(tx.error)}`));
        tx.onabort = () => reject(new KeyStoreError(`${what} was aborted: ${describeError(tx.error)}`));
      });
      return await withDeadline(scheduler, done, timeoutMs, `${what} did not finish within ${timeoutMs} ms`);
    } finally {
      db.close();
    }
  }

  return {
    async load() {
      const value = await transact(
        "readonly",
        (store) => {
          const request = store.get(RECORD);
          return () => request.result as unknown;
        },
        "reading the device keys",
      );
      return value === undefined ? null : checkStoredKeys(value);
    },
    async save(keys) {
      const record: DeviceKeyPair = { public: { id: keys.public.id, agree: keys.public.agree, sign: keys.public.sign }, agreePrivate: keys.agreePrivate, signPrivate: keys.signPrivate };
      await transact(
        "readwrite",
        (store) => {
          store.put(record, RECORD);
          return () => undefined;
        },
        "storing the device keys",
      );
    },
  };
}
