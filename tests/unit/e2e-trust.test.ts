import { beforeAll, describe, expect, it } from "vitest";
import { generateDeviceKeys, type DevicePublicKeys } from "../../src/core/e2e/keys.js";
import { E2eError } from "../../src/core/e2e/primitives.js";
import {
  acceptDevices,
  checkDevices,
  emptyTrust,
  forgetPeer,
  isPinned,
  MAX_DEVICES_PER_PEER,
  parseTrust,
  pinFirstUse,
  serializeTrust,
} from "../../src/core/e2e/trust.js";

const BOB = "bob@example.org";
let d1: DevicePublicKeys, d2: DevicePublicKeys, fake: DevicePublicKeys;
beforeAll(async () => {
  [d1, d2, fake] = (await Promise.all([generateDeviceKeys(), generateDeviceKeys(), generateDeviceKeys()])).map((d) => d.public) as [DevicePublicKeys, DevicePublicKeys, DevicePublicKeys];
});

function malformed(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof E2eError) return error.code;
    throw error;
  }
  return "ok";
}

describe("e2e trust on first use", () => {
  it("first use pins what is announced; the same devices later are unchanged", () => {
    const s0 = emptyTrust();
    expect(checkDevices(s0, BOB, [d1])).toEqual({ kind: "first-use", devices: [d1] });
    const s1 = pinFirstUse(s0, BOB, [d1], 1000);
    expect(s0.peers).toEqual({}); // pure: the old state is untouched
    expect(checkDevices(s1, BOB, [d1])).toEqual({ kind: "unchanged", gone: [] });
    expect(isPinned(s1, BOB, d1)).toBe(true);
    expect(isPinned(s1, BOB, d2)).toBe(false);
    expect(isPinned(s1, "carol@example.org", d1)).toBe(false);
    expect(s1.peers[BOB]![0]).toMatchObject({ id: d1.id, pinnedAt: 1000, how: "first-use" });
  });

  it("a new device next to the pinned one is changed, and stays changed until accepted", () => {
    const s1 = pinFirstUse(emptyTrust(), BOB, [d1], 1000);
    const check = checkDevices(s1, BOB, [d1, fake]);
    expect(check.kind).toBe("changed");
    if (check.kind !== "changed") return;
    expect(check.unpinned).toEqual([fake]);
    expect(check.pinned.map((p) => p.id)).toEqual([d1.id]);
    // pinFirstUse never overrides existing pins (no silent acceptance through the first-use path).
    expect(pinFirstUse(s1, BOB, [fake], 2000)).toBe(s1);
    expect(checkDevices(s1, BOB, [d1, fake]).kind).toBe("changed");
    const s2 = acceptDevices(s1, BOB, [fake], 3000);
    expect(checkDevices(s2, BOB, [d1, fake]).kind).toBe("unchanged");
    expect(s2.peers[BOB]!.find((p) => p.id === fake.id)).toMatchObject({ how: "accepted", pinnedAt: 3000 });
  });

  it("a replaced key (same device id, other keys) is changed, not unchanged", () => {
    const s1 = pinFirstUse(emptyTrust(), BOB, [d1], 1000);
    const swapped = { ...d1, sign: d2.sign };
    expect(checkDevices(s1, BOB, [swapped]).kind).toBe("changed");
    expect(isPinned(s1, BOB, swapped)).toBe(false);
  });

  it("a device that disappears is reported as gone but is not a change; accept can forget it", () => {
    const s1 = pinFirstUse(emptyTrust(), BOB, [d1, d2], 1000);
    const check = checkDevices(s1, BOB, [d2]);
    expect(check.kind).toBe("unchanged");
    if (check.kind === "unchanged") expect(check.gone.map((g) => g.id)).toEqual([d1.id]);
    const s2 = acceptDevices(s1, BOB, [fake], 2000, { forget: [d1.id] });
    expect(s2.peers[BOB]!.map((p) => p.id).sort()).toEqual([d2.id, fake.id].sort());
    expect(forgetPeer(s2, BOB).peers).toEqual({});
    expect(checkDevices(forgetPeer(s2, BOB), BOB, [d1]).kind).toBe("first-use");
  });

  it("a pinned peer that announces no device any more is withdrawn (a possible downgrade), not unchanged", () => {
    const s1 = pinFirstUse(emptyTrust(), BOB, [d1], 1000);
    const check = checkDevices(s1, BOB, []);
    expect(check.kind).toBe("withdrawn");
    if (check.kind === "withdrawn") expect(check.gone.map((g) => g.id)).toEqual([d1.id]);
    expect(checkDevices(emptyTrust(), BOB, []).kind).toBe("first-use");
  });

  it("serialises and parses back to the same state; a JID named __proto__ stays data", () => {
    let s = pinFirstUse(emptyTrust(), BOB, [d1, d2], 1000);
    s = pinFirstUse(s, "__proto__", [fake], 5);
    const back = parseTrust(serializeTrust(s));
    expect(back).toEqual(s);
    expect(Object.getPrototypeOf(back.peers)).toBe(Object.prototype);
    expect(isPinned(back, "__proto__", fake)).toBe(true);
    expect(checkDevices(back, "toString", [d1]).kind).toBe("first-use");
  });

  it("refuses a stored state that is not exactly the documented shape", () => {
    const good = JSON.parse(serializeTrust(pinFirstUse(emptyTrust(), BOB, [d1], 1)));
    const dev = good.peers[BOB][0];
    const bad = [
      "not json",
      "null",
      JSON.stringify({ version: 2, peers: {} }),
      JSON.stringify({ version: 1, peers: [] }),
      JSON.stringify({ version: 1, peers: { [BOB]: {} } }),
      JSON.stringify({ version: 1, peers: { [BOB]: [{ ...dev, id: "x" }] } }),
      JSON.stringify({ version: 1, peers: { [BOB]: [{ ...dev, agree: dev.agree.slice(1) }] } }),
      JSON.stringify({ version: 1, peers: { [BOB]: [{ ...dev, how: "maybe" }] } }),
      JSON.stringify({ version: 1, peers: { [BOB]: [{ ...dev, pinnedAt: "1" }] } }),
      JSON.stringify({ version: 1, peers: { [BOB]: [null] } }),
      JSON.stringify({ version: 1, peers: { [BOB]: Array.from({ length: MAX_DEVICES_PER_PEER + 1 }, () => dev) } }),
    ];
    for (const text of bad) expect(malformed(() => parseTrust(text)), text.slice(0, 60)).toBe("malformed");
    expect(malformed(() => acceptDevices(emptyTrust(), BOB, Array.from({ length: MAX_DEVICES_PER_PEER + 1 }, () => d1), 1))).toBe("malformed");
  });
});
