// The trust state kept in storage (src/platform/trust-store.ts): nothing stored is an empty state, stored text is
// parsed strictly, and anything unreadable is an error — never an empty state, which would re-pin every peer.
import { beforeAll, describe, expect, it, vi } from "vitest";
import { generateDeviceKeys, type DevicePublicKeys } from "../../src/core/e2e/keys.js";
import { E2eError } from "../../src/core/e2e/primitives.js";
import { emptyTrust, pinFirstUse, serializeTrust } from "../../src/core/e2e/trust.js";
import { createTrustStore } from "../../src/platform/trust-store.js";

function memoryKv(initial: Record<string, unknown> = {}) {
  const data = new Map(Object.entries(initial));
  return {
    data,
    get: vi.fn(async (key: string) => data.get(key)),
    set: vi.fn(async (key: string, value: unknown) => void data.set(key, value)),
  };
}

let device: DevicePublicKeys;
beforeAll(async () => {
  device = (await generateDeviceKeys()).public;
});

describe("createTrustStore", () => {
  it("answers an empty state when nothing is stored", async () => {
    const kv = memoryKv();
    expect(await createTrustStore(kv).load()).toEqual(emptyTrust());
    expect(kv.get).toHaveBeenCalledWith("e2eTrust");
  });

  it("stores the serialized state under its key and reads it back", async () => {
    const kv = memoryKv();
    const store = createTrustStore(kv, "trustX");
    const state = pinFirstUse(emptyTrust(), "bob@example.org", [device], 1234);
    await store.save(state);
    expect(kv.data.get("trustX")).toBe(serializeTrust(state));
    expect(await store.load()).toEqual(state);
    expect(await createTrustStore(kv).load()).toEqual(emptyTrust()); // another key: nothing there
  });

  it.each<[string, unknown]>([
    ["text that is not JSON", "{not json"],
    ["JSON of another version", JSON.stringify({ version: 2, peers: {} })],
    ["a device with a bad key", JSON.stringify({ version: 1, peers: { "bob@example.org": [{ id: "0".repeat(32), agree: "x", sign: "y", pinnedAt: 1, how: "first-use" }] } })],
    ["a value that is not text", { version: 1, peers: {} }],
    ["null", null],
  ])("rejects %s instead of answering an empty state", async (_, stored) => {
    const kv = memoryKv({ e2eTrust: stored });
    await expect(createTrustStore(kv).load()).rejects.toBeInstanceOf(E2eError);
  });

  it("passes the storage's own failures on", async () => {
    const kv = { get: async () => Promise.reject(new Error("storage gone")), set: async () => Promise.reject(new Error("quota")) };
    const store = createTrustStore(kv);
    await expect(store.load()).rejects.toThrow("storage gone");
    await expect(store.save(emptyTrust())).rejects.toThrow("quota");
  });
});
