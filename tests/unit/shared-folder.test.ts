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
  const notYet = (r: string) => words([[r, { state: "not-yet" }]]);
  it.each([
    ["a local folder: always file", { ...base, folderKey: null }, { action: "file", why: "local-folder" }],
    ["alone on the account: file", { ...base, siblings: [] }, { action: "file", why: "no-siblings" }],
    ["the filer (smallest resource) files at once", { ...base, self: A, siblings: [B, C] }, { action: "file", why: "filer" }],
    ["not the filer, the filer did not answer the question (crashed): file at once", base, { action: "file", why: "filer-silent" }],
    ["not the filer, filer said not yet: wait", { ...base, words: words([[A, { state: "not-yet" }]]) }, { action: "wait", filer: A }],
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
    ["the filer filed into another folder: file here", { ...base, words: words([[A, { state: "filed", folder: OTHER }]]) }, { action: "file", why: "other-folder" }],
    ["the filer failed: file at once", { ...base, words: words([[A, { state: "failed" }]]) }, { action: "file", why: "filer-failed" }],
    ["no notice from the filer in time: file (a duplicate beats a loss)", { ...base, waited: true, words: notYet(A) }, { action: "file", why: "no-word-in-time" }],
    ["the filer went silent during the wait: file", { ...base, waited: true }, { action: "file", why: "no-word-in-time" }],
    [
      "a third resource's 'filed elsewhere' does not stop the wait for the filer",
      { ...base, self: C, siblings: [A, B], words: words([[A, { state: "not-yet" }], [B, { state: "filed", folder: OTHER }]]) },
      { action: "wait", filer: A },
    ],
  ])("%s", (_name, input, expected) => {
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
