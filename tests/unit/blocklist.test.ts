// The block list (src/xmpp/blocklist.ts) over a scripted session: a server without XEP-0191 gets a local list (kept in
// the store, bounded, handed to the server once it supports blocking); a server list is read, cut at its bound,
// follows pushes (block, unblock, unblock-all) and blocks whole domains; the roster (src/xmpp/roster.ts) keeps pushes
// that arrive while it is being read.
import xml, { type Element } from "@xmpp/xml";
import { describe, expect, it } from "vitest";
import { BLOCKLIST_MAX, BlockList, NS_BLOCKING } from "../../src/xmpp/blocklist.js";
import { Roster } from "../../src/xmpp/roster.js";
import type { XmppSession } from "../../src/xmpp/session.js";

const quiet = { error() {}, warn() {}, info() {}, debug() {} };

function fakeSession(opts: { blocking: boolean; list?: string[]; roster?: string[] }) {
  const sent: Element[] = [];
  const pushListeners: Array<(iq: Element) => void> = [];
  let rosterReply: ((el: Element) => void) | null = null;
  const session = {
    jid: "alice@example.org/tb",
    status: { state: "online" },
    onPush: (l: (iq: Element) => void) => (pushListeners.push(l), () => {}),
    onStatus: () => () => {},
    async request(iq: Element): Promise<Element> {
      sent.push(iq);
      const child = iq.getChildElements()[0]!;
      if (child.is("query", "http://jabber.org/protocol/disco#info")) {
        return xml("iq", { type: "result" }, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" }, opts.blocking ? xml("feature", { var: NS_BLOCKING }) : null));
      }
      if (child.is("blocklist", NS_BLOCKING)) return xml("iq", { type: "result" }, xml("blocklist", { xmlns: NS_BLOCKING }, ...(opts.list ?? []).map((jid) => xml("item", { jid }))));
      if (child.is("block", NS_BLOCKING)) return xml("iq", { type: "result" });
      if (child.is("query", "jabber:iq:roster")) {
        return new Promise((resolve) => {
          rosterReply = resolve;
        });
      }
      throw new Error(`unexpected ${iq.toString()}`);
    },
  };
  const push = (payload: Element) => {
    for (const l of pushListeners) l(xml("iq", { type: "set", id: "p" }, payload));
  };
  const answerRoster = () => rosterReply!(xml("iq", { type: "result" }, xml("query", { xmlns: "jabber:iq:roster" }, ...(opts.roster ?? []).map((jid) => xml("item", { jid, subscription: "both" })))));
  return { session: session as unknown as XmppSession, sent, push, answerRoster };
}

function memoryStore() {
  const data = new Map<string, unknown>();
  return { data, get: async (k: string) => structuredClone(data.get(k)), set: async (k: string, v: unknown) => void data.set(k, structuredClone(v)) };
}

describe("BlockList", () => {
  it("without server support keeps a local list in the store, which survives a restart", async () => {
    const { session, sent } = fakeSession({ blocking: false });
    const store = memoryStore();
    const list = new BlockList({ session, store, log: quiet });
    expect(await list.sync()).toBe("local");
    expect(await list.block("Mallory@Evil.Example/phone")).toBe("local");
    expect(list.isBlocked("mallory@evil.example")).toBe(true);
    expect(sent.some((iq) => iq.getChild("block", NS_BLOCKING))).toBe(false);
    const again = new BlockList({ session, store, log: quiet });
    await again.sync();
    expect(again.isBlocked("MALLORY@evil.example")).toBe(true);
    expect(again.isBlocked("friend@evil.example")).toBe(false);
  });

  it("bounds the local list (oldest dropped) and ignores junk in the store", async () => {
    const { session } = fakeSession({ blocking: false });
    const store = memoryStore();
    store.data.set("localBlocklist", ["ok@x.example", 42, "", "@@", { a: 1 }]);
    const list = new BlockList({ session, store, log: quiet });
    await list.sync();
    expect(list.size).toBe(1);
    for (let i = 0; i < BLOCKLIST_MAX + 5; i++) await list.block(`j${i}@x.example`);
    expect((store.data.get("localBlocklist") as string[]).length).toBe(BLOCKLIST_MAX);
    expect(list.isBlocked("j0@x.example")).toBe(false);
    expect(list.isBlocked(`j${BLOCKLIST_MAX + 4}@x.example`)).toBe(true);
  }, 60_000);

  it("with server support reads the list, blocks on the server, hands a local list over, and follows pushes", async () => {
    const { session, sent, push } = fakeSession({ blocking: true, list: ["spam@bad.example", "evil.example", "not a jid@"] });
    const store = memoryStore();
    store.data.set("localBlocklist", ["old@local.example"]);
    const list = new BlockList({ session, store, log: quiet });
    list.start();
    expect(await list.sync()).toBe("server");
    expect(list.isBlocked("spam@bad.example")).toBe(true);
    expect(list.isBlocked("anyone@evil.example")).toBe(true); // a blocked domain blocks its accounts
    // The local entry went to the server and left the store.
    expect(sent.filter((iq) => iq.getChild("block", NS_BLOCKING)).map((iq) => iq.getChild("block", NS_BLOCKING)!.getChild("item")!.attrs.jid)).toEqual(["old@local.example"]);
    expect(store.data.get("localBlocklist")).toEqual([]);
    expect(await list.block("new@bad.example")).toBe("server");
    expect(list.isBlocked("new@bad.example")).toBe(true);

    push(xml("block", { xmlns: NS_BLOCKING }, xml("item", { jid: "pushed@bad.example" })));
    expect(list.isBlocked("pushed@bad.example")).toBe(true);
    push(xml("unblock", { xmlns: NS_BLOCKING }, xml("item", { jid: "spam@bad.example" })));
    expect(list.isBlocked("spam@bad.example")).toBe(false);
    push(xml("unblock", { xmlns: NS_BLOCKING }));
    expect(list.isBlocked("pushed@bad.example")).toBe(false);
    expect(list.isBlocked("anyone@evil.example")).toBe(false);
  });

  it("cuts a server list longer than its bound", async () => {
    const { session } = fakeSession({ blocking: true, list: Array.from({ length: BLOCKLIST_MAX + 100 }, (_, i) => `b${i}@x.example`) });
    const list = new BlockList({ session, store: memoryStore(), log: quiet });
    await list.sync();
    expect(list.size).toBe(BLOCKLIST_MAX);
  });
});

describe("Roster", () => {
  it("keeps a push that arrives while the roster is being read", async () => {
    const { session, push, answerRoster } = fakeSession({ blocking: false, roster: ["old@x.example"] });
    const roster = new Roster({ session, log: quiet });
    roster.start();
    const loading = roster.load();
    await Promise.resolve();
    push(xml("query", { xmlns: "jabber:iq:roster" }, xml("item", { jid: "new@x.example", subscription: "none" })));
    answerRoster(); // an answer that predates the push
    await loading;
    expect(roster.has("old@x.example")).toBe(true);
    expect(roster.has("New@X.example")).toBe(true);
    push(xml("query", { xmlns: "jabber:iq:roster" }, xml("item", { jid: "old@x.example", subscription: "remove" })));
    expect(roster.has("old@x.example")).toBe(false);
  });
});
