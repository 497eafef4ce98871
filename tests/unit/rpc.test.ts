// ui/rpc.ts: the typed request helper (split from options-ui.test.ts, assertions unchanged).
import { describe, expect, it } from "vitest";
import type { RequestEnvelope } from "../../src/core/messages.js";
import { NoReplyError, request } from "../../src/ui/rpc.js";

describe("request", () => {
  it("sends {type, payload} and returns the reply", async () => {
    const sent: RequestEnvelope[] = [];
    const reply = await request("discoverWebsocket", { jid: "a@b.example" }, async (m) => {
      sent.push(m);
      return { url: "wss://b.example/ws" };
    });
    expect(sent).toEqual([{ type: "discoverWebsocket", payload: { jid: "a@b.example" } }]);
    expect(reply).toEqual({ url: "wss://b.example/ws" });
  });

  it("fails with NoReplyError, naming the request but not the payload", async () => {
    const noListener = async () => {
      throw new Error("Could not establish connection. Receiving end does not exist.");
    };
    const error = await request("testConnection", { jid: "a@b", password: "hunter2", websocketUrl: "" }, noListener).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoReplyError);
    expect(String(error)).toContain("testConnection");
    expect(String(error)).not.toContain("hunter2");
    await expect(request("getStatus", {}, async () => undefined)).rejects.toBeInstanceOf(NoReplyError);
  });
});
