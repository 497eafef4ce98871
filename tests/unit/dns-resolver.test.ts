// The receiver's host-name lookup over Thunderbird's DNS (src/platform/dns-resolver.ts): the addresses of the record,
// from the resolver's cache (no bypass_cache: the fetch that follows uses the same entry), failures passed on.
import { afterEach, describe, expect, it, vi } from "vitest";
import { messengerResolver } from "../../src/platform/dns-resolver.js";

describe("messengerResolver", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("returns the record's addresses, asked without flags", async () => {
    const resolve = vi.fn(async () => ({ addresses: ["93.184.216.34", "2606:2800:220:1::1"], isTRR: "false" }));
    vi.stubGlobal("messenger", { dns: { resolve } });
    await expect(messengerResolver("upload.example.org")).resolves.toEqual(["93.184.216.34", "2606:2800:220:1::1"]);
    expect(resolve).toHaveBeenCalledWith("upload.example.org");
  });

  it("keeps only strings, and an odd record gives no address (which the policy refuses)", async () => {
    vi.stubGlobal("messenger", { dns: { resolve: async () => ({ addresses: ["10.0.0.1", 42, null], isTRR: "false" }) } });
    await expect(messengerResolver("x.example.org")).resolves.toEqual(["10.0.0.1"]);
    vi.stubGlobal("messenger", { dns: { resolve: async () => ({ isTRR: "false" }) } });
    await expect(messengerResolver("x.example.org")).resolves.toEqual([]);
  });

  it("passes a lookup failure on (the download is then refused)", async () => {
    vi.stubGlobal("messenger", { dns: { resolve: async () => Promise.reject(new Error("NS_ERROR_UNKNOWN_HOST")) } });
    await expect(messengerResolver("nowhere.example.org")).rejects.toThrow("NS_ERROR_UNKNOWN_HOST");
  });
});
