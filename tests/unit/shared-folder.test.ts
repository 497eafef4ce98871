// The rule for a receive folder that several Thunderbirds of one account see (src/core/shared-folder.ts).
import { describe, expect, it } from "vitest";
import { decideShared, electFiler, FilingLedger, sharedFolderKey, siblingMailKey, type SiblingWord } from "../../src/core/shared-folder.js";

const A = "thunderbird-0000000a";
const B = "thunderbird-0000000b";
const C = "thunderbird-0000000c";
const KEY = "imap|bob@example.test|bob@example.test|/INBOX";
const OTHER = "imap|bob@work.test|bob@work.test|/INBOX";
const words = (entries: Array<[string, SiblingWord]>) => new Map(entries);

describe("electFiler", () => {
  it.each([
    [A, [], A],
    [A, [B, C], A],
    [C, [B, A], A],
    [B, [C], B],
  ])("%s with siblings %j → %s", (self, siblings, filer) => {
    expect(electFiler(self, siblings)).toBe(filer);
  });
});

describe("sharedFolderKey", () => {
  const imap = { accountType: "imap", accountName: "Bob@Example.test", identities: ["bob@example.test", "B@x.test ", "bob@example.test"], path: "/INBOX" };
  it("is null for folders in a local store", () => {
    for (const accountType of ["none", "pop3", "rss", "nntp"]) expect(sharedFolderKey({ ...imap, accountType })).toBeNull();
  });
  it("is equal for the same IMAP folder however the identities are ordered or cased", () => {
    expect(sharedFolderKey(imap)).toBe(sharedFolderKey({ ...imap, accountName: "bob@example.test", identities: ["b@x.test", "BOB@example.test"] }));
  });
  it("differs when account, identities or path differ", () => {
    const k = sharedFolderKey(imap);
    expect(sharedFolderKey({ ...imap, accountName: "Work" })).not.toBe(k);
    expect(sharedFolderKey({ ...imap, identities: ["bob@example.test"] })).not.toBe(k);
    expect(sharedFolderKey({ ...imap, path: "/INBOX/XMPP" })).not.toBe(k);
  });
});

describe("decideShared", () => {
  const base = { folderKey: KEY, self: B, siblings: [A], words: words([]), waited: false };
  const notYet = (r: string, folder?: string) => words([[r, folder === undefined ? { state: "not-yet" } : { state: "not-yet", folder }]]);
  it.each([
    ["a local folder: always file", { ...base, folderKey: null }, { action: "file", why: "local-folder" }],
    ["alone on the account: file", { ...base, siblings: [] }, { action: "file", why: "no-siblings" }],
    ["the filer (smallest resource) files at once", { ...base, self: A, siblings: [B, C], words: new Map([[B, { state: "not-yet", folder: KEY }], [C, { state: "not-yet", folder: KEY }]]) }, { action: "file", why: "filer" }],
    ["not the filer, the filer files into the same folder: wait for it", { ...base, words: notYet(A, KEY) }, { action: "wait", filer: A }],
    ["not the filer, the filer's folder unknown: wait for it", { ...base, words: notYet(A) }, { action: "wait", filer: A }],
    ["the smaller sibling files into another folder: this one is the filer here", { ...base, words: notYet(A, OTHER) }, { action: "file", why: "other-folder" }],
    ["the smaller sibling files into Local Folders: this one is the filer here", { ...base, words: notYet(A, `local|${A}`) }, { action: "file", why: "other-folder" }],
    [
      "three: the smallest files locally; of the two on the IMAP folder the smaller files, the larger waits for it",
      { ...base, self: C, siblings: [A, B], words: words([[A, { state: "not-yet", folder: `local|${A}` }], [B, { state: "not-yet", folder: KEY }]]) },
      { action: "wait", filer: B },
    ],
    [
      "…and that one files",
      { ...base, self: B, siblings: [A, C], words: words([[A, { state: "not-yet", folder: `local|${A}` }], [C, { state: "not-yet", folder: KEY }]]) },
      { action: "file", why: "other-folder" },
    ],
    ["the filer did not answer the question (crashed): file at once", base, { action: "file", why: "filer-silent" }],
    ["the filer already said it is importing into this folder: wait for it", { ...base, words: words([[A, { state: "filing", folder: KEY }]]) }, { action: "wait", filer: A }],
    ["a smaller sibling importing into another folder is no candidate", { ...base, words: words([[A, { state: "filing", folder: OTHER }]]) }, { action: "file", why: "other-folder" }],
    ["after the wait, the filer is still importing: file", { ...base, waited: true, waitedFor: A, words: words([[A, { state: "filing", folder: KEY }]]) }, { action: "file", why: "no-word-in-time" }],
    ["a sibling filed into the same folder: filed", { ...base, words: words([[A, { state: "filed", folder: KEY }]]) }, { action: "filed-by-sibling", by: A }],
    [
      "the filer itself learns a sibling filed it already (it came back and catches up): filed",
      { ...base, self: A, siblings: [B], words: words([[B, { state: "filed", folder: KEY }]]) },
      { action: "filed-by-sibling", by: B },
    ],
    [
      "a sibling that went offline meanwhile still counts when it filed here",
      { ...base, siblings: [], words: words([[A, { state: "filed", folder: KEY }]]) },
      { action: "filed-by-sibling", by: A },
    ],
    ["the smaller sibling filed into another folder: file here", { ...base, words: words([[A, { state: "filed", folder: OTHER }]]) }, { action: "file", why: "other-folder" }],
    ["the smaller sibling failed: file at once", { ...base, words: words([[A, { state: "failed" }]]) }, { action: "file", why: "filer-failed" }],
    ["after the wait, no notice: file (a duplicate beats a loss)", { ...base, waited: true, waitedFor: A, words: notYet(A, KEY) }, { action: "file", why: "no-word-in-time" }],
    ["after the wait, the filer went silent: file", { ...base, waited: true, waitedFor: A }, { action: "file", why: "no-word-in-time" }],
    ["after the wait, the filer failed: file", { ...base, waited: true, waitedFor: A, words: words([[A, { state: "failed" }]]) }, { action: "file", why: "filer-failed" }],
    ["after the wait, the filer filed elsewhere: file", { ...base, waited: true, waitedFor: A, words: words([[A, { state: "filed", folder: OTHER }]]) }, { action: "file", why: "other-folder" }],
    ["after the wait, the filer filed here: filed", { ...base, waited: true, waitedFor: A, words: words([[A, { state: "filed", folder: KEY }]]) }, { action: "filed-by-sibling", by: A }],
    [
      "a third resource's 'filed elsewhere' does not stop the wait for the filer",
      { ...base, self: C, siblings: [A, B], words: words([[A, { state: "not-yet", folder: KEY }], [B, { state: "filed", folder: OTHER }]]) },
      { action: "wait", filer: A },
    ],
  ] as Array<[string, Parameters<typeof decideShared>[0], ReturnType<typeof decideShared>]>)("%s", (_name, input, expected) => {
    expect(decideShared(input)).toEqual(expected);
  });
});

describe("FilingLedger", () => {
  it("remembers, drops the oldest past its size, and survives JSON", () => {
    const ledger = new FilingLedger(2);
    ledger.set(siblingMailKey("Alice@x.test", "o1"), KEY);
    ledger.set(siblingMailKey("alice@x.test", "o2"), KEY);
    ledger.set(siblingMailKey("alice@x.test", "o3"), OTHER);
    expect(ledger.get("alice@x.test/o1")).toBeUndefined();
    const again = new FilingLedger(2, JSON.parse(JSON.stringify(ledger)));
    expect(again.get("alice@x.test/o2")).toBe(KEY);
    expect(again.get("alice@x.test/o3")).toBe(OTHER);
  });
  it("ignores saved data of the wrong shape", () => {
    expect(new FilingLedger(5, [["a", 1], "x", null, ["b", "k"]]).toJSON()).toEqual([["b", "k"]]);
    expect(new FilingLedger(5, { a: 1 }).toJSON()).toEqual([]);
  });
});
