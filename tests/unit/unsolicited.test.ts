// The StrangerGate as the background wires it (src/background/unsolicited.ts): the current session's block list and
// roster, and the limits of the current settings.
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../src/core/log.js";
import { DEFAULT_SETTINGS } from "../../src/core/settings.js";
import { createLive, type Live } from "../../src/background/session-lifecycle.js";
import { createStrangerGate } from "../../src/background/unsolicited.js";

function setup() {
  const data = new Map<string, unknown>();
  const live = createLive();
  const gate = createStrangerGate(silentLogger, live, { get: async (k) => data.get(k), set: async (k, v) => void data.set(k, v) }, { isKnown: async () => false });
  return { live, gate };
}

const before = (fromJid: string, size: number) => ({ fromJid, size, via: "live" as const, sender: null });

describe("createStrangerGate", () => {
  it("refuses a sender on the current block list once it is loaded", async () => {
    const { live, gate } = setup();
    let settled = false;
    live.blocklist = {
      settled: async () => void (settled = true),
      isBlocked: (jid: string) => settled && jid === "spam@example.org",
    } as unknown as Live["blocklist"];
    expect(await gate.admit(before("spam@example.org", 10))).toEqual({ admit: false, detail: "sender is blocked" });
    live.blocklist = null;
    expect(await gate.admit(before("spam@example.org", 10))).toEqual({ admit: true });
  });

  it("takes the size limit from the current settings, and lets the roster through", async () => {
    const { live, gate } = setup();
    live.settings = { ...DEFAULT_SETTINGS, strangerMaxKiB: 1 };
    expect(await gate.admit(before("eve@example.org", 2048))).toMatchObject({ admit: false });
    live.settings = { ...DEFAULT_SETTINGS, strangerMaxKiB: 4 };
    expect(await gate.admit(before("eve@example.org", 2048))).toEqual({ admit: true });
    live.settings = { ...DEFAULT_SETTINGS, strangerMaxKiB: 1 };
    live.roster = { has: (jid: string) => jid === "eve@example.org" } as unknown as Live["roster"];
    expect(await gate.admit(before("eve@example.org", 2048))).toEqual({ admit: true });
  });
});
