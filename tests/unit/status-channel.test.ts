// The status as the user sees it (src/background/status-channel.ts): kept, logged when its text changes, and pushed
// to the add-on's own pages on the status port only.
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../src/core/log.js";
import { STATUS_PORT } from "../../src/core/messages.js";
import type { SessionStatus } from "../../src/core/status.js";
import { createStatusChannel } from "../../src/background/status-channel.js";

function port(name: string, senderId: string, broken = false) {
  const received: unknown[] = [];
  let calls = 0;
  const onDisconnect: Array<() => void> = [];
  return {
    received,
    disconnect: () => onDisconnect.forEach((f) => f()),
    port: {
      name,
      sender: { id: senderId },
      postMessage: (m: unknown) => {
        // A broken port fails once (the first publish after connecting); a port still listed would get later ones.
        if (broken && ++calls === 2) throw new Error("port closed");
        received.push(m);
      },
      onDisconnect: { addListener: (f: () => void) => void onDisconnect.push(f) },
    } as unknown as messenger.runtime.Port,
  };
}

describe("createStatusChannel", () => {
  const online: SessionStatus = { state: "online", jid: "alice@example.org/tb", since: 1 };

  it("gives a page the current status when it connects, then every new one until it disconnects", () => {
    const logged: string[] = [];
    const channel = createStatusChannel({ ...silentLogger, info: (e: string) => void logged.push(e) }, "me@addon");
    expect(channel.current()).toEqual({ state: "disconnected", reason: "not configured" });
    const page = port(STATUS_PORT, "me@addon");
    channel.connect(page.port);
    expect(page.received).toEqual([{ type: "status", status: { state: "disconnected", reason: "not configured" } }]);
    channel.publish(online);
    channel.publish(online);
    expect(channel.current()).toBe(online);
    expect(page.received).toHaveLength(3);
    expect(logged).toEqual(["status-shown"]);
    page.disconnect();
    channel.publish({ state: "disconnected", reason: "switched off" });
    expect(page.received).toHaveLength(3);
  });

  it("ignores other ports and other add-ons, and drops a port that fails", () => {
    const channel = createStatusChannel(silentLogger, "me@addon");
    const other = port("something-else", "me@addon");
    const stranger = port(STATUS_PORT, "other@addon");
    const broken = port(STATUS_PORT, "me@addon", true);
    for (const p of [other, stranger, broken]) channel.connect(p.port);
    expect(other.received).toEqual([]);
    expect(stranger.received).toEqual([]);
    channel.publish(online);
    channel.publish(online);
    expect(broken.received).toHaveLength(1);
  });
});
