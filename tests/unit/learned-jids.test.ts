// Issue 12 finding 4 "One forged SMTP mail diverts future mail": the platform path from an SMTP mail's X-Jabber-ID
// header (jabber-id-learner → resolution-store, over the fake Thunderbird storage) to the Send decision (SendFlow).
// A learned JID is used without the user only when it is the address itself; any other is a suggestion the user
// confirms in the compose indicator, and until then the mail goes by SMTP — never to the unconfirmed JID.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLogger } from "../../src/core/log.js";
import { resolveRecipient } from "../../src/core/resolve.js";
import { SendFlow, type SendRequest } from "../../src/core/send-flow.js";
import { createJabberIdLearner } from "../../src/platform/jabber-id-learner.js";
import { createResolutionStore, type ResolutionStore } from "../../src/platform/resolution-store.js";
import { realScheduler } from "../../src/xmpp/runtime.js";
import { createFakeHost, installFakeHost, type FakeHost } from "../support/fake-messenger.js";

const quiet = createLogger(() => {}, () => "error");
const SETTINGS = { jid: "alice@own.test", xmppDomains: "" };

/** Incoming SMTP/IMAP mail in one folder, as messages.query / messages.getFull give it. */
interface Mail {
  readonly author: string;
  readonly headers: Record<string, string[]>;
}

let host: FakeHost;
let uninstall: () => void;
let inbox: Array<Mail & { id: number }>;

function install(local = new Map<string, unknown>()): void {
  host = createFakeHost(local);
  inbox = [];
  Object.assign(host.messenger as object, {
    messages: {
      query: async () => ({ messages: inbox.map((m) => ({ id: m.id, author: m.author })) }),
      getFull: async (id: number) => ({ headers: inbox.find((m) => m.id === id)!.headers }),
    },
  });
  uninstall = installFakeHost(host);
}

beforeEach(() => install());
afterEach(() => uninstall());

/** A mail arrives in the Inbox and the learner runs over it (folders.onFolderInfoChanged). */
async function arrives(learner: ReturnType<typeof createJabberIdLearner>, from: string, jabberId: string): Promise<void> {
  inbox.push({ id: inbox.length + 1, author: from, headers: { "x-jabber-id": [jabberId] } });
  await learner.onFolderInfo({ id: "inbox", name: "Inbox", path: "/INBOX" } as messenger.folders.MailFolder);
}

function world(store: ResolutionStore) {
  const delivered: string[] = [];
  const flow = new SendFlow({
    scheduler: realScheduler,
    log: quiet,
    online: () => true,
    config: () => ({ policy: "whole-message", holdMs: 2_000, announceJid: null }),
    resolutionData: () => store.data(new Map(), SETTINGS),
    // Both carol's own address and mallory's account run the add-on: only the resolution decides.
    capability: { cached: () => true, lookup: async () => true },
    deliver: async (copy) => {
      delivered.push(copy.jid);
      return { status: "filed", millis: 3, route: "inline" };
    },
    record: () => {},
  });
  return { flow, delivered };
}

function send(to: string): SendRequest {
  return {
    to: [to],
    cc: [],
    bcc: [],
    hasNewsgroups: false,
    encryption: null,
    xmppSwitchedOff: false,
    customHeaders: [],
    mode: async () => "sendNow",
    readMail: async () => ({ from: "Alice <alice@own.test>", to: [to], cc: [], bcc: [], replyTo: [], subject: "Hi", text: "Hi", isPlainText: true, attachments: [] }),
  };
}

describe("a forged X-Jabber-ID (issue 12 finding 4)", () => {
  it("one forged SMTP mail: the next mail to carol goes by SMTP, nothing to mallory; after the user confirms, over XMPP", async () => {
    const store = createResolutionStore();
    const learner = createJabberIdLearner(quiet, store, () => true, () => false, { onSmtpCopy: async () => {} });
    await arrives(learner, "Carol <carol@provider.example>", "mallory@provider.example");
    expect((host.local.get("learnedMappings") as Record<string, unknown>)["carol@provider.example"]).toEqual({ jid: "mallory@provider.example", confirmed: false });

    const { flow, delivered } = world(store);
    expect(await flow.handle(send("Carol <carol@provider.example>"))).toEqual({ kind: "smtp" });
    expect(delivered).toEqual([]);
    // The compose indicator offers it, with the one-click confirmation.
    expect(flow.preview(send("Carol <carol@provider.example>")).recipients).toEqual([
      { address: "Carol <carol@provider.example>", route: "smtp", reason: "no-jid", via: "learned-unconfirmed", candidates: ["mallory@provider.example"] },
    ]);

    // The indicator's button (background: confirmMapping) → the user's word.
    expect(await store.rememberLearned("carol@provider.example", "mallory@provider.example", true)).toBe("learned");
    const result = await flow.handle(send("Carol <carol@provider.example>"));
    expect(result.kind).toBe("cancel");
    expect(delivered).toEqual(["mallory@provider.example"]);
  });

  it("the forged first mail does not block the genuine one: a later X-Jabber-ID that is the address itself is used", async () => {
    const store = createResolutionStore();
    const learner = createJabberIdLearner(quiet, store, () => true, () => false, { onSmtpCopy: async () => {} });
    await arrives(learner, "Carol <carol@provider.example>", "mallory@provider.example");
    await arrives(learner, "Carol <carol@provider.example>", "Carol@Provider.Example");
    const { flow, delivered } = world(store);
    expect((await flow.handle(send("carol@provider.example"))).kind).toBe("cancel");
    expect(delivered).toEqual(["Carol@provider.example"]);
  });

  it("the address itself announced is used at once (the mail address IS the JID)", async () => {
    const store = createResolutionStore();
    const learner = createJabberIdLearner(quiet, store, () => true, () => false, { onSmtpCopy: async () => {} });
    await arrives(learner, "Bob <bob@provider.example>", "bob@provider.example");
    const { flow, delivered } = world(store);
    expect((await flow.handle(send("bob@provider.example"))).kind).toBe("cancel");
    expect(delivered).toEqual(["bob@provider.example"]);
  });

  it("a mapping stored by 0.1 (then used at once on the same domain) is only a suggestion now; the address itself still works", async () => {
    uninstall();
    install(
      new Map<string, unknown>([
        [
          "learnedMappings",
          {
            "carol@provider.example": { jid: "mallory@provider.example", confirmed: false },
            "bob@provider.example": { jid: "bob@provider.example", confirmed: false },
            "dora@elsewhere.test": { jid: "dora@provider.example", confirmed: true },
          },
        ],
      ]),
    );
    const store = createResolutionStore();
    await store.ready();
    const data = store.data(new Map(), SETTINGS);
    expect(resolveRecipient("carol@provider.example", data)).toEqual({ jid: null, why: "learned-unconfirmed", candidates: ["mallory@provider.example"] });
    expect(resolveRecipient("bob@provider.example", data)).toEqual({ jid: "bob@provider.example", via: "learned" });
    expect(resolveRecipient("dora@elsewhere.test", data)).toEqual({ jid: "dora@provider.example", via: "learned" });
    const { flow, delivered } = world(store);
    expect(await flow.handle(send("carol@provider.example"))).toEqual({ kind: "smtp" });
    expect(delivered).toEqual([]);
  });
});

describe("resolution store: learned JIDs are bounded suggestions", () => {
  it("keeps up to three different JIDs per address, first seen first; the address itself displaces the newest other", async () => {
    const store = createResolutionStore();
    const a = "carol@provider.example";
    expect(await store.rememberLearned(a, "m1@provider.example")).toBe("learned");
    expect(await store.rememberLearned(a, "M1@provider.example")).toBe("known");
    expect(await store.rememberLearned(a, "m2@evil.test")).toBe("candidate");
    expect(await store.rememberLearned(a, "m3@evil.test")).toBe("candidate");
    expect(await store.rememberLearned(a, "m4@evil.test")).toBe("conflict");
    expect(resolveRecipient(a, store.data(new Map(), SETTINGS))).toEqual({ jid: null, why: "learned-unconfirmed", candidates: ["m1@provider.example", "m2@evil.test", "m3@evil.test"] });
    expect(await store.rememberLearned(a, "carol@provider.example")).toBe("candidate");
    expect((host.local.get("learnedMappings") as Record<string, unknown>)[a]).toEqual({ jid: "m1@provider.example", confirmed: false, also: ["m2@evil.test", "carol@provider.example"] });
    expect(resolveRecipient(a, store.data(new Map(), SETTINGS))).toEqual({ jid: "carol@provider.example", via: "learned" });
  });

  it("once the user confirmed one, an announced JID changes nothing", async () => {
    const store = createResolutionStore();
    const a = "dora@elsewhere.test";
    await store.rememberLearned(a, "x@evil.test");
    expect(await store.rememberLearned(a, "dora@jabber.test", true)).toBe("learned");
    expect(await store.rememberLearned(a, "dora@jabber.test")).toBe("known");
    expect(await store.rememberLearned(a, "mallory@evil.test")).toBe("conflict");
    expect(await store.rememberLearned(a, "dora@elsewhere.test")).toBe("conflict");
    expect((host.local.get("learnedMappings") as Record<string, unknown>)[a]).toEqual({ jid: "dora@jabber.test", confirmed: true });
  });

  it("reads stored suggestions defensively: bad, repeated and surplus JIDs are dropped", async () => {
    uninstall();
    const also = ["not a jid", "A@x.test", "b@x.test", "c@x.test", 7];
    install(new Map<string, unknown>([["learnedMappings", { "e@mail.test": { jid: "a@x.test", confirmed: "yes", also }, "f@mail.test": { jid: "f@x.test/r" } }]]));
    const store = createResolutionStore();
    await store.ready();
    const data = store.data(new Map(), SETTINGS);
    expect(data.learned.get("e@mail.test")).toEqual({ jid: "a@x.test", confirmed: false, also: ["b@x.test"] });
    expect(data.learned.has("f@mail.test")).toBe(false);
  });

  it("a flood of mails announcing JIDs for new addresses does not push out the mappings the user confirmed", async () => {
    const stored: Record<string, unknown> = { "dora@elsewhere.test": { jid: "dora@jabber.test", confirmed: true } };
    for (let i = 0; i < 1999; i++) stored[`old${i}@mail.test`] = { jid: `old${i}@x.test`, confirmed: false };
    uninstall();
    install(new Map<string, unknown>([["learnedMappings", stored]]));
    const store = createResolutionStore();
    for (let i = 0; i < 5; i++) await store.rememberLearned(`flood${i}@spam.test`, `m${i}@evil.test`);
    const kept = host.local.get("learnedMappings") as Record<string, unknown>;
    expect(Object.keys(kept)).toHaveLength(2000);
    expect(kept["dora@elsewhere.test"]).toEqual({ jid: "dora@jabber.test", confirmed: true });
    expect(kept["flood4@spam.test"]).toBeDefined();
    expect(kept["old0@mail.test"]).toBeUndefined();
  });
});
