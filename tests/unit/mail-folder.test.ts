// The folder sink over a fake of Thunderbird's accounts/folders/messages APIs: which folder and which tags a received
// mail gets, depending on the verdict and on the unknownSenders and receiveFolder settings.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Logger } from "../../src/core/log.js";
import { DEFAULT_SETTINGS } from "../../src/core/settings.js";
import { createFolderSink, INBOX_FOLDER, UNVERIFIED_FOLDER, type ReceiveSettings } from "../../src/platform/mail-folder.js";
import type { FiledMail } from "../../src/xmpp/receiver.js";

interface FakeFolder {
  id: string;
  accountId: string;
  name: string;
  path: string;
}

/** Local Folders with whatever folders exist, plus an IMAP inbox; records imports and folders.get calls. */
function fakeThunderbird() {
  const root: FakeFolder = { id: "account1://", accountId: "account1", name: "Local Folders", path: "/" };
  const local = new Map<string, FakeFolder>();
  const other = new Map<string, FakeFolder>([["account2://INBOX", { id: "account2://INBOX", accountId: "account2", name: "Inbox", path: "/INBOX" }]]);
  const imports: Array<{ folder: string; tags: string[] }> = [];
  const gets: string[] = [];
  const tags: Array<{ key: string }> = [];
  const api = {
    accounts: {
      list: async () => [{ id: "account1", type: "none", name: "Local Folders", rootFolder: root, identities: [] }],
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
    },
    messages: {
      listTags: async () => tags,
      createTag: async (key: string) => void tags.push({ key }),
      import: async (_file: File, destination: string, properties: { tags: string[] }) => {
        imports.push({ folder: destination, tags: properties.tags });
        return { headerMessageId: `m${imports.length}@example.org` };
      },
    },
  };
  return { api, imports, gets, other };
}

function mail(verified: boolean, known: boolean): FiledMail {
  return {
    raw: new TextEncoder().encode("From: bob@example.org\r\nSubject: hi\r\n\r\nhello\r\n"),
    verified,
    known,
    fromJid: "bob@example.org",
    fromAddress: null,
    originId: `o-${Math.random()}`,
    messageId: null,
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
  return { log, warnings };
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

  const sinkWith = (settings: ReceiveSettings) => {
    const { log, warnings } = recordingLogger();
    return { sink: createFolderSink(log, () => settings), warnings };
  };

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
    expect(tb.gets).toEqual(["account2://INBOX", "account2://INBOX"]); // never asked for unverified mail
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
});
