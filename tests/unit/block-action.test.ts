// The "Block sender" button (src/platform/block-action.ts) over a fake of Thunderbird's messageDisplay, messages,
// accounts and folders APIs: the JID comes from the receiver's trace header only on mail in the add-on's own Local
// Folders folders, it is handed to the block list, and the mail moves to the account's Junk (import, then delete).
// (A Thunderbird e2e test of the button was not written; this covers the adapter's decisions.)
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createBlockAction, traceSender, updateBlockButton, type BlockResult } from "../../src/platform/block-action.js";
import { INBOX_FOLDER, UNVERIFIED_FOLDER } from "../../src/platform/mail-folder.js";
import type { BlockMode } from "../../src/xmpp/blocklist.js";

const quiet = { error() {}, warn() {}, info() {}, debug() {} };
const TRACE = "from=mallory@evil.example; verified=no; how=mismatch; origin-id=o1; received=2026-12-03T00:00:00.000Z";

function fakeThunderbird(opts: { folderName?: string; folderPath?: string; accountType?: string; trace?: string[]; junk?: boolean } = {}) {
  const name = opts.folderName ?? INBOX_FOLDER;
  const folder = { id: `account1:/${opts.folderPath ?? `/${name}`}`, accountId: "account1", name, path: opts.folderPath ?? `/${name}` };
  const junk = { id: "account1://Junk", accountId: "account1", name: "Junk", path: "/Junk" };
  const root = { id: "account1://", accountId: "account1", name: "Local Folders", path: "/" };
  const imports: Array<{ folder: string; size: number }> = [];
  const deleted: number[] = [];
  const created: string[] = [];
  const api = {
    messageDisplay: { getDisplayedMessage: async () => ({ id: 7, folder }) },
    accounts: { get: async () => ({ id: "account1", type: opts.accountType ?? "none", rootFolder: root }) },
    folders: {
      query: async () => (opts.junk === false ? [] : [junk]),
      getSubFolders: async () => [],
      create: async (_parent: unknown, n: string) => {
        created.push(n);
        return { ...junk, name: n };
      },
    },
    messages: {
      getFull: async () => ({ headers: opts.trace === undefined ? { "x-mail-over-xmpp": [TRACE] } : { "x-mail-over-xmpp": opts.trace } }),
      getRaw: async () => new File(["X-Mail-Over-XMPP: " + TRACE + "\r\nFrom: x@y\r\n\r\nhi"], "m.eml"),
      import: async (file: File, target: string) => void imports.push({ folder: target, size: file.size }),
      delete: async (ids: number[]) => void deleted.push(...ids),
    },
  };
  return { api, imports, deleted, created };
}

describe("Block sender", () => {
  let blocked: string[];
  let notified: BlockResult[];
  const action = (mode: BlockMode = "server") =>
    createBlockAction({ log: quiet, block: async (jid) => (blocked.push(jid), mode), notify: (r) => void notified.push(r) });

  beforeEach(() => {
    blocked = [];
    notified = [];
  });
  afterEach(() => vi.unstubAllGlobals());

  it.each([INBOX_FOLDER, UNVERIFIED_FOLDER])("blocks the trace header's JID of a mail in %s and moves the mail to Junk", async (folderName) => {
    const tb = fakeThunderbird({ folderName });
    vi.stubGlobal("messenger", tb.api);
    const result = await action().onClicked({ id: 1 });
    expect(result).toEqual({ status: "blocked", jid: "mallory@evil.example", mode: "server", movedToJunk: true });
    expect(blocked).toEqual(["mallory@evil.example"]);
    expect(tb.imports).toEqual([{ folder: "account1://Junk", size: expect.any(Number) }]);
    expect(tb.deleted).toEqual([7]);
    expect(notified).toEqual([result]);
  });

  it("creates Junk when the account has none, and reports a local block as such", async () => {
    const tb = fakeThunderbird({ junk: false });
    vi.stubGlobal("messenger", tb.api);
    expect(await action("local").onClicked({ id: 1 })).toMatchObject({ status: "blocked", mode: "local", movedToJunk: true });
    expect(tb.created).toEqual(["Junk"]);
  });

  it.each([
    ["a mail in another folder (SMTP mail can carry a forged trace header)", { folderName: "Inbox" }],
    ["a folder of that name elsewhere in the tree", { folderPath: `/Archive/${INBOX_FOLDER}` }],
    ["a folder of that name in an IMAP account", { accountType: "imap" }],
    ["a mail without a trace header", { trace: [] }],
    ["a mail with two trace headers", { trace: [TRACE, TRACE] }],
    ["a trace header without a JID", { trace: ["verified=yes"] }],
  ])("declines %s: nothing blocked, nothing moved", async (_label, opts) => {
    const tb = fakeThunderbird(opts);
    vi.stubGlobal("messenger", tb.api);
    expect(await action().onClicked({ id: 1 })).toEqual({ status: "not-xmpp" });
    expect(blocked).toEqual([]);
    expect(tb.imports).toEqual([]);
    expect(tb.deleted).toEqual([]);
  });

  it("reports a failed block (offline) and leaves the mail where it is", async () => {
    const tb = fakeThunderbird();
    vi.stubGlobal("messenger", tb.api);
    const failing = createBlockAction({ log: quiet, block: async () => Promise.reject(new Error("not connected")), notify: (r) => void notified.push(r) });
    expect(await failing.onClicked({ id: 1 })).toEqual({ status: "failed", reason: "not connected" });
    expect(tb.deleted).toEqual([]);
  });

  it("reads the JID from the trace header strictly", () => {
    expect(traceSender([TRACE])).toBe("mallory@evil.example");
    expect(traceSender(["from=Mallory@Evil.Example/res; verified=yes"])).toBe("mallory@evil.example");
    expect(traceSender(["x=1; from=a@b"])).toBe("a@b");
    expect(traceSender(["notfrom=a@b; verified=no"])).toBeNull();
    expect(traceSender(undefined)).toBeNull();
  });

  it("enables the button only for a single mail in the add-on's own folders", async () => {
    const tb = fakeThunderbird();
    const calls: string[] = [];
    vi.stubGlobal("messenger", { ...tb.api, messageDisplayAction: { enable: async (id: number) => void calls.push(`enable ${id}`), disable: async (id: number) => void calls.push(`disable ${id}`) } });
    const own = { id: "account1://Mail over XMPP", accountId: "account1", name: INBOX_FOLDER, path: `/${INBOX_FOLDER}` };
    await updateBlockButton(3, [{ folder: own }]);
    await updateBlockButton(3, [{ folder: { ...own, name: "Inbox", path: "/Inbox" } }]);
    await updateBlockButton(3, [{ folder: own }, { folder: own }]);
    await updateBlockButton(3, []);
    expect(calls).toEqual(["enable 3", "disable 3", "disable 3", "disable 3"]);
  });
});
