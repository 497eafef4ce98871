// Where the Sent copy of a mail delivered over XMPP goes when the profile has no Sent folder yet
// (src/platform/sent-copy.ts sentFolderFor): where Thunderbird itself would create it — the identity's own POP
// account, Local Folders for IMAP or a POP account deferred to Local Folders — and never a second "Sent" beside one
// that exists. Thunderbird's host (tests/support/fake-messenger.ts) with a small folder tree added.
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/core/log.js";
import { sentFolderFor } from "../../src/platform/sent-copy.js";
import { createFakeHost, installFakeHost } from "../support/fake-messenger.js";

interface FakeFolder {
  id: string;
  accountId: string;
  name: string;
  path: string;
  isRoot?: boolean;
  specialUse?: string[];
}

function root(accountId: string): FakeFolder {
  return { id: `${accountId}://`, accountId, name: "Root", path: "/", isRoot: true };
}

/** A host whose accounts and folders are given; folders.create adds a top-level folder (no flags, as in Thunderbird). */
function host(accounts: Array<{ id: string; type: string }>, folders: FakeFolder[], opts: { createReturns?: (f: FakeFolder) => FakeFolder } = {}) {
  const h = createFakeHost();
  const m = h.messenger as Record<string, Record<string, unknown>>;
  const created: FakeFolder[] = [];
  m.accounts!.list = async () => accounts.map((a) => ({ ...a, name: a.id, rootFolder: root(a.id), identities: [] }));
  m.identities!.get = async (id: string) => ({ id, accountId: "account1", email: "alice@example.test" });
  m.folders = {
    ...m.folders,
    async query(info: { accountId?: string; specialUse?: string[] }) {
      return folders.filter((f) => (!info.accountId || f.accountId === info.accountId) && (info.specialUse ?? []).every((u) => f.specialUse?.includes(u)));
    },
    async getSubFolders(parent: FakeFolder) {
      return folders.filter((f) => f.accountId === parent.accountId && f.path === `/${f.name}`);
    },
    async create(parent: FakeFolder, name: string) {
      if (folders.some((f) => f.accountId === parent.accountId && f.name === name)) throw new Error("exists");
      const f: FakeFolder = { id: `${parent.accountId}://${name}`, accountId: parent.accountId, name, path: `/${name}` };
      folders.push(f);
      created.push(f);
      return opts.createReturns ? opts.createReturns(f) : f;
    },
  };
  return { host: h, created };
}

let uninstall: (() => void) | null = null;
afterEach(() => {
  uninstall?.();
  uninstall = null;
});

const pop = { id: "account1", type: "pop3" };
const imap = { id: "account1", type: "imap" };
const localFolders = { id: "account2", type: "none" };
const inboxOf = (accountId: string): FakeFolder => ({ id: `${accountId}://Inbox`, accountId, name: "Inbox", path: "/Inbox", specialUse: ["inbox"] });

describe("the Sent folder for a copy filed by the add-on", () => {
  it("creates Sent in the identity's own POP account when no Sent exists, as Thunderbird does (not in Local Folders)", async () => {
    const { host: h, created } = host([pop, localFolders], [inboxOf("account1"), { id: "account2://Trash", accountId: "account2", name: "Trash", path: "/Trash", specialUse: ["trash"] }]);
    uninstall = installFakeHost(h);
    const folder = await sentFolderFor("id1", silentLogger);
    expect(folder).toMatchObject({ accountId: "account1", name: "Sent", path: "/Sent" });
    expect(created.map((f) => `${f.accountId}${f.path}`)).toEqual(["account1/Sent"]);
  });

  it("creates it in Local Folders for an IMAP identity, and for a POP account without an Inbox of its own (deferred)", async () => {
    for (const [account, folders] of [
      [imap, [inboxOf("account1")]],
      [pop, []],
    ] as const) {
      const { host: h, created } = host([account, localFolders], [...folders]);
      uninstall = installFakeHost(h);
      expect(await sentFolderFor("id1", silentLogger)).toMatchObject({ accountId: "account2", name: "Sent" });
      expect(created.map((f) => `${f.accountId}${f.path}`)).toEqual(["account2/Sent"]);
      uninstall();
      uninstall = null;
    }
  });

  it("uses a folder with the Sent flag (own account first, then Local Folders) and creates nothing", async () => {
    const flaggedLocal: FakeFolder = { id: "account2://Sent", accountId: "account2", name: "Sent", path: "/Sent", specialUse: ["sent"] };
    const flaggedOwn: FakeFolder = { id: "account1://Gesendet", accountId: "account1", name: "Gesendet", path: "/Gesendet", specialUse: ["sent"] };
    let t = host([pop, localFolders], [inboxOf("account1"), flaggedLocal]);
    uninstall = installFakeHost(t.host);
    expect(await sentFolderFor("id1", silentLogger)).toBe(flaggedLocal);
    expect(t.created).toEqual([]);
    uninstall();
    t = host([pop, localFolders], [inboxOf("account1"), flaggedLocal, flaggedOwn]);
    uninstall = installFakeHost(t.host);
    expect(await sentFolderFor("id1", silentLogger)).toBe(flaggedOwn);
    expect(t.created).toEqual([]);
  });

  it("reuses a top-level Sent without the flag (made earlier, by hand or by the add-on) instead of making a second one", async () => {
    const unflagged: FakeFolder = { id: "account1://Sent", accountId: "account1", name: "Sent", path: "/Sent" };
    const { host: h, created } = host([pop, localFolders], [inboxOf("account1"), unflagged]);
    uninstall = installFakeHost(h);
    expect(await sentFolderFor("id1", silentLogger)).toBe(unflagged);
    expect(created).toEqual([]);
  });

  it("checks what folders.create returned (a fresh profile once answered with another folder) and finds Sent by name", async () => {
    const trash: FakeFolder = { id: "account1://Trash", accountId: "account1", name: "Trash", path: "/Trash", specialUse: ["trash"] };
    const { host: h } = host([pop, localFolders], [inboxOf("account1"), trash], { createReturns: () => trash });
    uninstall = installFakeHost(h);
    expect(await sentFolderFor("id1", silentLogger)).toMatchObject({ accountId: "account1", name: "Sent", path: "/Sent" });
  });
});
