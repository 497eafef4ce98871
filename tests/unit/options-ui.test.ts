// The options page's pure parts (ui/options/present.ts): what it shows for test results, the folder choice, how it
// checks the replies it gets, and options.html. Status texts: ui-status.test.ts; localizePage: i18n.test.ts; the
// request helper: rpc.test.ts (split from here, assertions unchanged).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ConnectFailureKind } from "../../src/core/messages.js";
import { SETTING_KEYS } from "../../src/core/settings.js";
import { FAILURE_TEXT, folderChoices, parseDiscoverReply, parseSaveReply, parseTestResult, testResultText } from "../../src/ui/options/present.js";

describe("test result text", () => {
  it("explains every failure kind with its own message", () => {
    const kinds: ConnectFailureKind[] = ["invalid-input", "insecure", "dns", "refused", "tls", "not-websocket", "no-websocket", "auth", "timeout", "other"];
    const keys = kinds.map((kind) => testResultText({ ok: false, kind, detail: "" }).text.key);
    expect(new Set(keys).size).toBe(kinds.length);
    expect(Object.keys(FAILURE_TEXT).sort()).toEqual([...kinds].sort());
  });
  it("adds the detail only when there is one", () => {
    expect(testResultText({ ok: false, kind: "dns", detail: "" })).toEqual({ text: { key: "testFail_dns" } });
    expect(testResultText({ ok: false, kind: "dns", detail: "ENOTFOUND" }).detail).toEqual({ key: "resultDetail", subs: ["ENOTFOUND"] });
  });
  it("reports success with JID, mechanism and time", () => {
    expect(testResultText({ ok: true, jid: "a@b.example", mechanism: "SCRAM-SHA-1", millis: 12.6 }).text).toEqual({
      key: "testOk",
      subs: ["a@b.example", "SCRAM-SHA-1", "13"],
    });
  });
});

describe("folder choice for received mail", () => {
  const accounts = [
    { id: "account2", name: "Work (IMAP)", type: "imap" },
    { id: "account1", name: "Local Folders", type: "none" },
    { id: "account3", name: "Home (POP)", type: "pop3" },
    { id: "account4", name: "News", type: "nntp" },
    { id: "account5", name: "Exchange", type: "ews" },
  ];
  const folders = [
    { id: "account1://", accountId: "account1", path: "/", isRoot: true },
    { id: "account1://Mail over XMPP", accountId: "account1", path: "/Mail over XMPP" },
    { id: "account1://Trash", accountId: "account1", path: "/Trash" },
    { id: "account2://INBOX", accountId: "account2", path: "/INBOX" },
    { id: "account2://INBOX/Lists", accountId: "account2", path: "/INBOX/Lists" },
    { id: "account3://Inbox", accountId: "account3", path: "/Inbox" },
    { id: "account4://comp.mail", accountId: "account4", path: "/comp.mail" },
    { id: "account5://Inbox", accountId: "account5", path: "/Inbox" },
    { id: "account1://Saved search", accountId: "account1", path: "/Saved search", isVirtual: true },
    { id: "unified://Inbox", accountId: "account1", path: "/Inbox", isUnified: true },
    { id: "tag://$label1", accountId: "account1", path: "/$label1", isTag: true },
    { accountId: "account1", path: "/No id" },
    { id: "account9://Gone", accountId: "account9", path: "/Gone" },
    { id: "account1://bad\u0001name", accountId: "account1", path: "/bad\u0001name" },
  ];

  it("offers real folders of importable accounts, in account order, as account: path (Thunderbird 133+)", () => {
    expect(folderChoices(folders, accounts, 153)).toEqual([
      { id: "account2://INBOX", text: { key: "receiveFolderChoice", subs: ["Work (IMAP)", "INBOX"] } },
      { id: "account2://INBOX/Lists", text: { key: "receiveFolderChoice", subs: ["Work (IMAP)", "INBOX/Lists"] } },
      { id: "account1://Mail over XMPP", text: { key: "receiveFolderChoice", subs: ["Local Folders", "Mail over XMPP"] } },
      { id: "account1://Trash", text: { key: "receiveFolderChoice", subs: ["Local Folders", "Trash"] } },
      { id: "account3://Inbox", text: { key: "receiveFolderChoice", subs: ["Home (POP)", "Inbox"] } },
    ]);
  });

  it("leaves IMAP out before Thunderbird 133, whose messages.import() files only into local and POP folders", () => {
    expect(folderChoices(folders, accounts, 128).map((c) => c.id)).toEqual(["account1://Mail over XMPP", "account1://Trash", "account3://Inbox"]);
    expect(folderChoices(folders, accounts, 132).map((c) => c.id)).toEqual(folderChoices(folders, accounts, 128).map((c) => c.id));
    expect(folderChoices(folders, accounts, 133).map((c) => c.id)).toContain("account2://INBOX");
    expect(folderChoices(folders, accounts, Number.parseInt("", 10)).map((c) => c.id)).not.toContain("account2://INBOX"); // version unreadable
  });

  it("bounds long account names and paths", () => {
    const [choice] = folderChoices([{ id: "account1://x", accountId: "account1", path: `/${"p".repeat(500)}` }], [{ id: "account1", name: "n".repeat(500), type: "none" }], 153);
    expect(choice?.text.subs?.map((s) => s.length)).toEqual([80, 200]);
  });
});

describe("checks of what the background sends", () => {
  it.each([
    [{ ok: true, jid: "a@b", mechanism: "PLAIN", millis: 5 }, { ok: true, jid: "a@b", mechanism: "PLAIN", millis: 5 }],
    [{ ok: false, kind: "tls", detail: "cert" }, { ok: false, kind: "tls", detail: "cert" }],
    [{ ok: false, kind: "gremlins", detail: "?" }, null],
    [{ ok: false, kind: "tls" }, null],
    [{ ok: true, jid: "a@b", mechanism: "PLAIN", millis: Number.NaN }, null],
    [undefined, null],
  ])("test result %j", (reply, expected) => {
    expect(parseTestResult(reply)).toEqual(expected);
  });

  it("checks save and discovery replies", () => {
    expect(parseSaveReply({ ok: true })).toEqual({ ok: true });
    expect(parseSaveReply({ ok: false, error: "jid: locked" })).toEqual({ ok: false, error: "jid: locked" });
    expect(parseSaveReply({ ok: false })).toBeNull();
    expect(parseDiscoverReply({ url: "wss://x.example/ws" })).toEqual({ url: "wss://x.example/ws" });
    expect(parseDiscoverReply({ error: "no host-meta" })).toEqual({ error: "no host-meta" });
    expect(parseDiscoverReply({ url: 1 })).toBeNull();
  });
});

describe("options.html", () => {
  const html = readFileSync(join(import.meta.dirname, "../../src/ui/options/options.html"), "utf8");
  const ids = [...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1] ?? "");

  it("loads options.js and options.css from its own folder and has no inline script, style or handler", () => {
    expect(html).toMatch(/<script src="options\.js" defer><\/script>/);
    expect(html).toMatch(/<link rel="stylesheet" href="options\.css">/);
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
  });

  it("has unique ids and a label for every control", () => {
    expect(new Set(ids).size).toBe(ids.length);
    const controls = [...html.matchAll(/<(?:input|select|textarea)\b[^>]*\sid="([^"]+)"/g)].map((m) => m[1] ?? "");
    const labelled = new Set([...html.matchAll(/<label\b[^>]*\sfor="([^"]+)"/g)].map((m) => m[1] ?? ""));
    expect(controls.filter((id) => !labelled.has(id))).toEqual([]);
  });

  it("has a control with help, locked note and error slot for every setting the page shows", () => {
    for (const key of SETTING_KEYS) {
      for (const id of [key, `${key}-help`, `${key}-locked`, `${key}-error`]) expect(ids).toContain(id);
    }
  });

  it("offers the readable preview of end-to-end encrypted mail as an unchecked checkbox inside the settings form", () => {
    const form = html.slice(html.indexOf('<form id="settings"'), html.indexOf("</form>"));
    expect(form).toMatch(/<input type="checkbox" id="e2ePreview" name="e2ePreview" \/>/);
    expect(form).toMatch(/<label for="e2ePreview" data-i18n="fieldE2ePreview">/);
    expect(form).toMatch(/id="e2ePreview-help" data-i18n="fieldE2ePreviewHelp"/);
  });

  it("has the end-to-end encryption section options.ts fills (own fingerprint, changed correspondents hidden until any)", () => {
    for (const id of ["e2e", "e2e-heading", "e2e-own", "e2e-own-error", "e2e-changed", "e2e-changed-list"]) expect(ids).toContain(id);
    expect(html).toMatch(/<div id="e2e-changed" hidden>/);
    expect(html).toMatch(/data-i18n="e2eIntro"/);
  });

  it("asks the browser to treat the password field as a current password", () => {
    expect(html).toMatch(/<input type="password" id="password"[^>]*autocomplete="current-password"/);
  });
});
