// The folder sink over a fake of Thunderbird's accounts/folders/messages APIs: which folder and which tags a received
// mail gets, depending on the verdict and on the unknownSenders and receiveFolder settings.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Logger } from "../../src/core/log.js";
import { DEFAULT_SETTINGS } from "../../src/core/settings.js";
import { createFolderSink, INBOX_FOLDER, INDEX_CHECK_DOMAIN, UNVERIFIED_FOLDER, type FolderSinkOptions, type ReceiveSettings } from "../../src/platform/mail-folder.js";
import type { FiledMail } from "../../src/xmpp/receiver.js";
import { traceHeader } from "../../src/core/receive-rules.js";

interface FakeFolder {
  id: string;
  accountId: string;
  name: string;
  path: string;
}

interface FakeMessage {
  id: number;
  headerMessageId: string;
  subject: string;
  headers: Record<string, string[]>;
  author: string;
}

/** The header block of a raw mail as getFull reports it: lower-case names, every value in file order. */
function headersOf(raw: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const line of raw.split("\r\n\r\n")[0]!.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) (out[line.slice(0, colon).toLowerCase()] ??= []).push(line.slice(colon + 1).trim());
  }
  return out;
}

/**
 * Local Folders with whatever folders exist, plus an IMAP inbox; records imports and folders.get calls. Folders hold
 * messages; a folder in `stale` has an index Thunderbird cannot read (after a crash: the mail in the mbox, the summary
 * older), as measured on Thunderbird 153: getFolderInfo rejects, query sees nothing, import neither refuses a duplicate
 * nor settles, and the import makes Thunderbird rebuild the index (after which everything in the mbox is visible).
 */
function fakeThunderbird() {
  const root: FakeFolder = { id: "account1://", accountId: "account1", name: "Local Folders", path: "/" };
  const local = new Map<string, FakeFolder>();
  const other = new Map<string, FakeFolder>([["account2://INBOX", { id: "account2://INBOX", accountId: "account2", name: "Inbox", path: "/INBOX" }]]);
  const imports: Array<{ folder: string; tags: string[] }> = [];
  const gets: string[] = [];
  const tags: Array<{ key: string }> = [];
  const contents = new Map<string, FakeMessage[]>();
  const stale = new Set<string>();
  const neverHeals = new Set<string>();
  const deleted: number[] = [];
  /** Thunderbird's reading of the author, when it should differ from the From header (a parser disagreement). */
  const authorOverride = { value: null as string | null };
  let nextId = 1;
  const inFolder = (folder: string) => {
    let list = contents.get(folder);
    if (!list) contents.set(folder, (list = []));
    return list;
  };
  const byId = (id: number) => [...contents.values()].flat().find((m) => m.id === id);
  /** Puts a raw mail into a folder as Thunderbird would (md5: id when it has no Message-ID). */
  const put = (folder: string, raw: string) => {
    const headers = headersOf(raw);
    const messageId = headers["message-id"]?.[0]?.replace(/^<|>$/g, "") ?? `md5:${nextId}`;
    const m = { id: nextId++, headerMessageId: messageId, subject: headers.subject?.[0] ?? "", headers, author: authorOverride.value ?? headers.from?.[0] ?? "" };
    inFolder(folder).push(m);
    return m;
  };
  const api = {
    accounts: {
      list: async () => [{ id: "account1", type: "none", name: "Local Folders", rootFolder: root, identities: [] }],
      get: async (id: string) => (id === "account1" ? { id, type: "none" } : id === "account2" ? { id, type: "imap" } : null),
    },
    folders: {
      getSubFolders: async (parent: FakeFolder) => (parent.id === root.id ? [...local.values()] : []),
      create: async (_parent: FakeFolder, name: string) => {
        const folder = { id: `account1://${name}`, accountId: "account1", name, path: `/${name}` };
        local.set(folder.id, folder);
        return folder;
      },
      get: async (id: string) => {
        gets.push(id);
        const found = local.get(id) ?? other.get(id);
        if (!found) throw new Error(`Folder not found: ${id}`);
        return found;
      },
      getFolderInfo: async (id: string) => {
        if (stale.has(id)) throw new Error("An unexpected error occurred");
        return { totalMessageCount: inFolder(id).length };
      },
    },
    messages: {
      listTags: async () => tags,
      createTag: async (key: string) => void tags.push({ key }),
      import: async (file: File, destination: string, properties: { tags?: string[] }) => {
        const raw = await file.text();
        const headers = headersOf(raw);
        if (headers["x-mail-over-xmpp"]) imports.push({ folder: destination, tags: properties.tags ?? [] });
        const messageId = headers["message-id"]?.[0]?.replace(/^<|>$/g, "");
        if (stale.has(destination)) {
          put(destination, raw);
          if (!neverHeals.has(destination)) setTimeout(() => stale.delete(destination), 5); // the copy's end rebuilds the index
          return new Promise(() => {}); // never settles (the new key never shows up in that folder's notifications)
        }
        if (messageId && inFolder(destination).some((m) => m.headerMessageId === messageId)) {
          throw new Error(`Error importing message: Destination folder already contains a message with id <${messageId}>`);
        }
        return put(destination, raw);
      },
      query: async (q: { folderId: string; headerMessageId?: string; subject?: string }) => ({
        id: null,
        messages: stale.has(q.folderId)
          ? []
          : inFolder(q.folderId).filter((m) => (q.headerMessageId === undefined || m.headerMessageId === q.headerMessageId) && (q.subject === undefined || m.subject.includes(q.subject))),
      }),
      continueList: async () => ({ id: null, messages: [] }),
      getFull: async (id: number) => ({ headers: byId(id)?.headers ?? {} }),
      delete: async (ids: number[], skipTrash: boolean) => {
        expect(skipTrash).toBe(true);
        deleted.push(...ids);
        for (const list of contents.values()) for (const id of ids) list.splice(list.findIndex((m) => m.id === id) >>> 0, list.some((m) => m.id === id) ? 1 : 0);
      },
    },
  };
  return { api, imports, gets, other, contents: inFolder, stale, neverHeals, put, deleted, authorOverride };
}

function mail(verified: boolean, known: boolean, over: { messageId?: string | null; originId?: string; fromJid?: string; received?: string; fromAddress?: string } = {}): FiledMail {
  const originId = over.originId ?? `o-${Math.random()}`;
  const messageId = over.messageId ?? null;
  const fromJid = over.fromJid ?? "bob@example.org";
  // As the receiver hands it over: the trace header first (its time differs from copy to copy).
  const trace = traceHeader({ fromJid, verified, how: verified ? "same-address" : "mismatch", originId, receivedAt: new Date(over.received ?? Date.now()) });
  return {
    raw: new TextEncoder().encode(`${trace}From: bob@example.org\r\nSubject: hi\r\n${messageId ? `Message-ID: ${messageId}\r\n` : ""}\r\nhello\r\n`),
    verified,
    known,
    fromJid,
    fromAddress: over.fromAddress ?? null,
    originId,
    messageId,
    subject: "hi",
  };
}

function recordingLogger() {
  const warnings: Array<{ event: string; fields: Record<string, unknown> }> = [];
  const log: Logger = {
    error() {},
    info() {},
    debug() {},
    warn: (event, fields = {}) => void warnings.push({ event, fields: { ...fields } }),
  };
  const infos: string[] = [];
  log.info = (event) => void infos.push(event);
  return { log, warnings, infos };
}

const inbox = `account1://${INBOX_FOLDER}`;
const unverified = `account1://${UNVERIFIED_FOLDER}`;

describe("createFolderSink", () => {
  let tb: ReturnType<typeof fakeThunderbird>;
  beforeEach(() => {
    tb = fakeThunderbird();
    vi.stubGlobal("messenger", tb.api);
  });
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  const sinkWith = (settings: ReceiveSettings, options: FolderSinkOptions = {}) => {
    const { log, warnings, infos } = recordingLogger();
    return { sink: createFolderSink(log, () => settings, options), warnings, infos };
  };
  /** What an earlier run (killed before the receiver remembered it) left in a folder: the same mail, an older trace. */
  const filedBefore = (folder: string, m: FiledMail, over: Parameters<typeof mail>[2] = {}) =>
    tb.put(folder, new TextDecoder().decode(mail(m.verified, m.known, { messageId: m.messageId, originId: m.originId, received: "2026-01-01T00:00:00Z", ...over }).raw));
  const mailsIn = (folder: string) => tb.contents(folder).filter((m) => m.headers["x-mail-over-xmpp"]).length;

  it("moves a verified mail to the unverified senders when Thunderbird reads another author than the one checked", async () => {
    const { sink, warnings } = sinkWith(DEFAULT_SETTINGS);
    // Agreeing: stays where it was filed.
    await sink.file(mail(true, true, { fromAddress: "bob@example.org", messageId: "<a1@x>" }));
    expect(mailsIn(inbox)).toBe(1);
    // Thunderbird reads another author (a parser disagreement the receiver's checks did not catch).
    tb.authorOverride.value = '"bob@example.org" <ceo@bank.example>';
    await sink.file(mail(true, true, { fromAddress: "bob@example.org", messageId: "<a2@x>" }));
    expect(mailsIn(inbox)).toBe(1);
    expect(mailsIn(unverified)).toBe(1);
    expect(tb.imports.at(-1)).toEqual({ folder: unverified, tags: ["mox_unverified"] });
    expect(tb.deleted).toHaveLength(1);
    expect(warnings.some((w) => w.event === "author-differs-after-import")).toBe(true);
  });

  it("with the defaults: verified mail to the add-on's folder (new senders tagged), unverified mail apart", async () => {
    const { sink, warnings } = sinkWith(DEFAULT_SETTINGS);
    await sink.file(mail(true, true));
    await sink.file(mail(true, false));
    await sink.file(mail(false, false));
    expect(tb.imports).toEqual([
      { folder: inbox, tags: [] },
      { folder: inbox, tags: ["mox_newsender"] },
      { folder: unverified, tags: ["mox_unverified"] },
    ]);
    expect(tb.gets).toEqual([]);
    expect(warnings).toEqual([]);
  });

  it('with unknownSenders "unverified-folder": verified mail from new senders goes with the unverified, still tagged as new', async () => {
    const { sink } = sinkWith({ unknownSenders: "unverified-folder", receiveFolder: "" });
    await sink.file(mail(true, false));
    await sink.file(mail(true, true));
    await sink.file(mail(false, true));
    expect(tb.imports).toEqual([
      { folder: unverified, tags: ["mox_newsender"] },
      { folder: inbox, tags: [] },
      { folder: unverified, tags: ["mox_unverified"] },
    ]);
  });

  it("files verified mail into an existing chosen folder; unverified mail still goes apart", async () => {
    const { sink, warnings } = sinkWith({ unknownSenders: "deliver-tagged", receiveFolder: "account2://INBOX" });
    await sink.file(mail(true, true));
    await sink.file(mail(true, false));
    await sink.file(mail(false, false));
    expect(tb.imports).toEqual([
      { folder: "account2://INBOX", tags: [] },
      { folder: "account2://INBOX", tags: ["mox_newsender"] },
      { folder: unverified, tags: ["mox_unverified"] },
    ]);
    // (folders.get is also asked for the chosen folder when looking up whether a mail is filed already)
    expect(warnings).toEqual([]);
  });

  it("puts new senders with the unverified even when a folder is chosen, if so set", async () => {
    const { sink } = sinkWith({ unknownSenders: "unverified-folder", receiveFolder: "account2://INBOX" });
    await sink.file(mail(true, false));
    await sink.file(mail(true, true));
    expect(tb.imports).toEqual([
      { folder: unverified, tags: ["mox_newsender"] },
      { folder: "account2://INBOX", tags: [] },
    ]);
  });

  it("falls back to the add-on's folder and warns when the chosen folder no longer exists", async () => {
    const { sink, warnings } = sinkWith({ unknownSenders: "deliver-tagged", receiveFolder: "account2://INBOX" });
    tb.other.clear(); // the folder (or its account) was deleted
    await sink.file(mail(true, true));
    expect(tb.imports).toEqual([{ folder: inbox, tags: [] }]);
    expect(warnings).toEqual([{ event: "receive-folder-missing", fields: { folder: "account2://INBOX", error: expect.any(Error) } }]);
  });

  it("reads the settings for every mail, so a change applies to the next one", async () => {
    const { log } = recordingLogger();
    let settings: ReceiveSettings = DEFAULT_SETTINGS;
    const sink = createFolderSink(log, () => settings);
    await sink.file(mail(true, false));
    settings = { unknownSenders: "unverified-folder", receiveFolder: "account2://INBOX" };
    await sink.file(mail(true, false));
    await sink.file(mail(true, true));
    expect(tb.imports.map((i) => i.folder)).toEqual([inbox, unverified, "account2://INBOX"]);
  });
  describe("files a mail once, also when the receiver forgot it had filed it (a crash between import and bookkeeping)", () => {
    it("a mail without Message-ID already in the folder from the same stanza is not imported again", async () => {
      // Thunderbird refuses a second Message-ID in a folder, but a mail without one gets an md5 id from its header,
      // which the trace header's time makes different for each copy: only the lookup by origin-id catches it.
      const { sink, infos } = sinkWith(DEFAULT_SETTINGS);
      await sink.file(mail(true, true)); // creates the folder
      const m = mail(true, true);
      filedBefore(inbox, m);
      await sink.file(m);
      expect(tb.imports).toHaveLength(1);
      expect(mailsIn(inbox)).toBe(2); // the first mail and the earlier copy of m: no third
      expect(infos).toContain("mail-already-in-folder");
    });

    it("a mail filed before into the add-on's other folder (the verdict changed since) is not filed again", async () => {
      const { sink } = sinkWith(DEFAULT_SETTINGS);
      await sink.file(mail(false, false)); // creates the unverified folder
      await sink.file(mail(true, true)); // and the inbox
      const m = mail(true, true, { messageId: "<once@example.org>" });
      filedBefore(unverified, m);
      await sink.file(m);
      expect(tb.imports).toHaveLength(2);
      expect(mailsIn(inbox)).toBe(1);
    });

    it("another sender's mail with the same Message-ID (or the same origin-id) does not count as filed", async () => {
      const { sink } = sinkWith(DEFAULT_SETTINGS);
      await sink.file(mail(false, false));
      const m = mail(true, true, { messageId: "<shared@example.org>" });
      filedBefore(unverified, m, { fromJid: "mallory@example.net" });
      const n = mail(true, true);
      filedBefore(unverified, n, { fromJid: "mallory@example.net" });
      await sink.file(m);
      await sink.file(n);
      expect(tb.imports.map((i) => i.folder)).toEqual([unverified, inbox, inbox]);
    });

    it("a folder whose index the crash left out of date is rebuilt first, then the mail found there", async () => {
      const { sink, warnings } = sinkWith(DEFAULT_SETTINGS, { pollMs: 1, importTimeoutMs: 200 });
      await sink.file(mail(true, true));
      const m = mail(true, true, { messageId: "<crash@example.org>" });
      filedBefore(inbox, m);
      tb.stale.add(inbox); // in the mbox, not in the index: query and import's own check see nothing
      await sink.file(m);
      expect(tb.imports).toHaveLength(1);
      expect(mailsIn(inbox)).toBe(2);
      expect(warnings.map((w) => w.event)).toEqual(["folder-index-stale"]);
      // The marker that made Thunderbird rebuild the index is gone for good.
      expect(tb.deleted).toHaveLength(1);
      expect(tb.contents(inbox).some((x) => x.headerMessageId.endsWith(`@${INDEX_CHECK_DOMAIN}`))).toBe(false);
    });

    it("when the index stays unreadable it imports anyway (a duplicate beats a loss) and an import that never settles fails", async () => {
      const { sink, warnings } = sinkWith(DEFAULT_SETTINGS, { pollMs: 1, indexRebuildMs: 20, importTimeoutMs: 50 });
      await sink.file(mail(true, true));
      tb.stale.add(inbox);
      tb.neverHeals.add(inbox);
      const m = mail(true, true, { messageId: "<stuck@example.org>" });
      await expect(sink.file(m)).rejects.toThrow(/did not finish within 50 ms/);
      expect(tb.imports).toHaveLength(2); // tried: not filing at all could lose it
      expect(warnings.map((w) => w.event)).toEqual(["folder-index-stale", "folder-index-unreadable"]);
    });
  });
});
