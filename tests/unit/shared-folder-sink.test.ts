// The sink that applies the shared-folder rule (src/platform/shared-folder.ts) over a fake of Thunderbird's folders and
// accounts APIs and a scripted sibling tracker: when it imports, when it counts a sibling's copy, what it tells them.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createLogger } from "../../src/core/log.js";
import { DEFAULT_SETTINGS } from "../../src/core/settings.js";
import { siblingMailKey, type SiblingWord } from "../../src/core/shared-folder.js";
import type { ReceiveSettings } from "../../src/platform/mail-folder.js";
import { createSharedFolderSink, type SiblingView } from "../../src/platform/shared-folder.js";
import type { FiledMail, KeyValueStore } from "../../src/xmpp/receiver.js";

const A = "thunderbird-0000000a";
const B = "thunderbird-0000000b";
const IMAP_FOLDER = "account3://INBOX";
const KEY = "imap|bob@example.test|bob@example.test|/INBOX";
const log = createLogger(() => {}, () => "debug");

const mail: FiledMail = {
  raw: new TextEncoder().encode("From: alice@example.test\r\nSubject: hi\r\n\r\nhello\r\n"),
  verified: true,
  known: true,
  fromJid: "alice@example.test",
  fromAddress: "alice@example.test",
  originId: "o-1",
  messageId: "m1@example.test",
  subject: "hi",
};

/** A tracker whose siblings answer as scripted; records what it was asked to announce. */
function tracker(self: string, siblings: string[], answers: Map<string, SiblingWord>, notice?: SiblingWord) {
  const announced: SiblingWord[] = [];
  const view: SiblingView = {
    get self() {
      return self;
    },
    siblings: () => siblings,
    settled: async () => {},
    ask: async () => new Map(answers),
    words: () => new Map(answers),
    waitFor: async (resource) => {
      const words = new Map(answers);
      if (notice) words.set(resource, notice);
      return words;
    },
    announce: (_sender, _origin, word) => void announced.push(word),
  };
  return { view, announced };
}

function memoryStore(): KeyValueStore & { data: Map<string, unknown> } {
  const data = new Map<string, unknown>();
  return { data, get: async (k) => data.get(k), set: async (k, v) => void data.set(k, v) };
}

describe("the shared-folder sink", () => {
  let settings: ReceiveSettings;
  let imported: FiledMail[];
  let failImport: boolean;
  const inner = {
    file: async (m: FiledMail) => {
      if (failImport) throw new Error("IMAP server down");
      imported.push(m);
    },
  };

  beforeEach(() => {
    settings = { unknownSenders: DEFAULT_SETTINGS.unknownSenders, receiveFolder: IMAP_FOLDER };
    imported = [];
    failImport = false;
    vi.stubGlobal("messenger", {
      folders: { get: async (id: string) => (id === IMAP_FOLDER ? { id, accountId: "account3", path: "/INBOX", name: "Inbox" } : { id, accountId: "account2", path: "/x", name: "x" }) },
      accounts: {
        get: async (id: string) =>
          id === "account3"
            ? { id, type: "imap", name: "bob@example.test", identities: [{ email: "bob@example.test" }] }
            : { id, type: "none", name: "Local Folders", identities: [] },
      },
    });
  });
  afterEach(() => vi.unstubAllGlobals());

  const sink = (view: SiblingView | null, store = memoryStore()) =>
    createSharedFolderSink({ inner, log, settings: () => settings, siblings: () => view, store, waitMs: 50, askMs: 50 });

  it("the filer imports into the IMAP folder and tells its siblings, with the folder key; its ledger answers later", async () => {
    const t = tracker(A, [B], new Map([[B, { state: "not-yet" }]]));
    const store = memoryStore();
    const s = sink(t.view, store);
    await s.file(mail);
    expect(imported).toHaveLength(1);
    expect(t.announced).toEqual([
      { state: "filing", folder: KEY },
      { state: "filed", folder: KEY },
    ]);
    expect(await s.filedInto(siblingMailKey(mail.fromJid, mail.originId))).toBe(KEY);
    expect(store.data.get("siblingLedger")).toEqual([[siblingMailKey(mail.fromJid, mail.originId), KEY]]);
  });

  it("not the filer: the filer's notice for the same folder means filed, nothing imported", async () => {
    const t = tracker(B, [A], new Map([[A, { state: "not-yet" }]]), { state: "filed", folder: KEY });
    const s = sink(t.view);
    await s.file(mail);
    expect(imported).toEqual([]);
    expect(t.announced).toEqual([]);
    expect(await s.filedInto(siblingMailKey(mail.fromJid, mail.originId))).toBe(KEY);
  });

  it("a sibling that answers 'filed here' to the question (catch-up after an absence): nothing imported", async () => {
    const t = tracker(A, [B], new Map([[B, { state: "filed", folder: KEY }]]));
    await sink(t.view).file(mail);
    expect(imported).toEqual([]);
  });

  it("not the filer, no notice in time: imports itself (a duplicate beats a loss)", async () => {
    const t = tracker(B, [A], new Map([[A, { state: "not-yet" }]]));
    await sink(t.view).file(mail);
    expect(imported).toHaveLength(1);
    expect(t.announced).toEqual([
      { state: "filing", folder: KEY },
      { state: "filed", folder: KEY },
    ]);
  });

  it("the filer said it is importing into the same folder: waits longer for it, then counts its copy", async () => {
    const waits: number[] = [];
    const t = tracker(B, [A], new Map([[A, { state: "not-yet", folder: KEY }]]));
    let calls = 0;
    const view: SiblingView = {
      ...t.view,
      self: B,
      waitFor: async (_r, _s, _o, ms) => {
        waits.push(ms);
        calls += 1;
        return new Map([[A, calls === 1 ? { state: "filing", folder: KEY } : { state: "filed", folder: KEY }]]);
      },
    };
    const s = createSharedFolderSink({ inner, log, settings: () => settings, siblings: () => view, store: memoryStore(), waitMs: 50, askMs: 50, filingMs: 999 });
    await s.file(mail);
    expect(waits).toEqual([50, 999]);
    expect(imported).toEqual([]);
  });

  it("the filer filed into a folder of its own: imports here at once", async () => {
    const t = tracker(B, [A], new Map([[A, { state: "filed", folder: `local|${A}` }]]));
    await sink(t.view).file(mail);
    expect(imported).toHaveLength(1);
  });

  it("an import that fails is announced as failed and still rejects (no receipt: the sender falls back)", async () => {
    failImport = true;
    const t = tracker(A, [B], new Map([[B, { state: "not-yet" }]]));
    await expect(sink(t.view).file(mail)).rejects.toThrow(/IMAP server down/);
    expect(t.announced).toEqual([{ state: "filing", folder: KEY }, { state: "failed" }]);
  });

  it("a local receive folder is filed without asking anyone, and announced as this Thunderbird's own", async () => {
    settings = { ...settings, receiveFolder: "" };
    const t = tracker(A, [B], new Map([[B, { state: "filed", folder: KEY }]]));
    await sink(t.view).file(mail);
    expect(imported).toHaveLength(1);
    expect(t.announced).toEqual([{ state: "filed", folder: `local|${A}` }]);
  });

  it("an unverified sender goes to the local folder for unverified senders: filed here whatever the siblings say", async () => {
    const t = tracker(B, [A], new Map([[A, { state: "filed", folder: KEY }]]));
    await sink(t.view).file({ ...mail, verified: false });
    expect(imported).toHaveLength(1);
  });

  it("a query right after start is answered from the saved ledger, not with 'not yet' before it is loaded", async () => {
    const key = siblingMailKey(mail.fromJid, mail.originId);
    const slow: KeyValueStore = {
      get: () => new Promise((resolve) => setTimeout(() => resolve([[key, KEY]]), 30)),
      set: async () => {},
    };
    const s = createSharedFolderSink({ inner, log, settings: () => settings, siblings: () => null, store: slow });
    expect(await s.filedInto(key)).toBe(KEY);
  });

  it("a receive folder Thunderbird cannot tell yet right after start is looked up again, not taken for a local one", async () => {
    const real = (globalThis as unknown as { messenger: { folders: { get: (id: string) => Promise<unknown> } } }).messenger.folders;
    const get = real.get;
    let failures = 2;
    real.get = async (id: string) => {
      if (failures-- > 0) throw new Error(`Folder not found: ${id}`);
      return get(id);
    };
    const t = tracker(B, [A], new Map([[A, { state: "not-yet", folder: KEY }]]), { state: "filed", folder: KEY });
    const s = sink(t.view);
    await s.file(mail);
    expect(imported).toEqual([]); // waited for the filer and counted its copy, as an IMAP folder
    failures = 99;
    await expect(s.ownFolderKey()).rejects.toThrow(/Folder not found/); // answered as unknown, never as local
  }, 10_000);

  it("no session (no tracker): filed as before", async () => {
    await sink(null).file(mail);
    expect(imported).toHaveLength(1);
  });
});
