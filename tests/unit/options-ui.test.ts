// The options page's pure parts: what it shows for statuses and results, how it checks what the background
// sends, how it localizes the page, and the typed request helper.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ConnectFailureKind, RequestEnvelope } from "../../src/core/messages.js";
import { SETTING_KEYS } from "../../src/core/settings.js";
import { localizePage, t, type LocalizableElement } from "../../src/platform/i18n.js";
import { FAILURE_TEXT, folderChoices, parseDiscoverReply, parseSaveReply, parseTestResult, testResultText } from "../../src/ui/options/present.js";
import { parseSessionStatus, parseStatusPush, statusText } from "../../src/ui/shared/status.js";
import { clip } from "../../src/ui/shared/text.js";
import { NoReplyError, request } from "../../src/ui/rpc.js";

describe("status text", () => {
  const time = (ms: number) => `T${ms}`;
  it.each([
    [{ state: "disconnected" }, { key: "statusDisconnected" }],
    [{ state: "disconnected", reason: "switched off" }, { key: "statusDisconnectedReason", subs: ["switched off"] }],
    [{ state: "connecting", attempt: 1 }, { key: "statusConnecting" }],
    [{ state: "connecting", attempt: 4 }, { key: "statusConnectingAttempt", subs: ["4"] }],
    [{ state: "online", jid: "a@b.example/r", since: 1 }, { key: "statusOnline", subs: ["a@b.example/r"] }],
    [{ state: "auth-failed", reason: "not-authorized" }, { key: "statusAuthFailed", subs: ["not-authorized"] }],
    [{ state: "error", reason: "lost" }, { key: "statusError", subs: ["lost"] }],
    [{ state: "error", reason: "lost", retryAt: 5 }, { key: "statusErrorRetry", subs: ["lost", "T5"] }],
  ] as const)("%j", (status, expected) => {
    expect(statusText(status, time)).toEqual(expected);
  });

  it("bounds text from the background", () => {
    expect(clip("x".repeat(1000))).toHaveLength(300);
    expect(statusText({ state: "error", reason: "y".repeat(5000) }, time).subs?.[0]?.length).toBe(300);
  });
});

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
    [{ type: "status", status: { state: "online", jid: "a@b.example", since: 3 } }, { state: "online", jid: "a@b.example", since: 3 }],
    [{ type: "status", status: { state: "error", reason: "x", retryAt: 9 } }, { state: "error", reason: "x", retryAt: 9 }],
    [{ type: "status", status: { state: "connecting", attempt: "2" } }, null],
    [{ type: "status", status: { state: "online", jid: 5, since: 3 } }, null],
    [{ type: "status", status: { state: "sleeping" } }, null],
    [{ type: "other", status: { state: "disconnected" } }, null],
    [null, null],
    ["status", null],
  ])("push %j", (message, expected) => {
    expect(parseStatusPush(message)).toEqual(expected);
  });

  it("drops unknown fields from a status", () => {
    expect(parseSessionStatus({ state: "auth-failed", reason: "r", password: "leak" })).toEqual({ state: "auth-failed", reason: "r" });
  });

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

describe("localizePage", () => {
  class FakeElement implements LocalizableElement {
    textContent: string | null = "fallback";
    readonly attributes = new Map<string, string>();
    constructor(attrs: Record<string, string>) {
      for (const [k, v] of Object.entries(attrs)) this.attributes.set(k, v);
    }
    getAttribute(name: string): string | null {
      return this.attributes.get(name) ?? null;
    }
    setAttribute(name: string, value: string): void {
      this.attributes.set(name, value);
    }
  }
  const messages: Record<string, string> = { hello: "Hallo", hint: "<b>Hinweis</b>", label: "Beschriftung" };
  const getMessage = (key: string) => messages[key] ?? "";

  it("sets text content and attributes, never markup, and reports missing keys", () => {
    const text = new FakeElement({ "data-i18n": "hello" });
    const markup = new FakeElement({ "data-i18n": "hint" });
    const input = new FakeElement({ "data-i18n-placeholder": "hint", "data-i18n-aria-label": "label", "data-i18n-title": "hello" });
    const missing = new FakeElement({ "data-i18n": "nope" });
    const all = [text, markup, input, missing];
    const root = {
      querySelectorAll: (selector: string) => {
        const attr = /^\[(.+)\]$/.exec(selector)?.[1] ?? "";
        return all.filter((e) => e.attributes.has(attr));
      },
    };
    expect(localizePage(root, getMessage)).toEqual(["nope"]);
    expect(text.textContent).toBe("Hallo");
    expect(markup.textContent).toBe("<b>Hinweis</b>");
    expect(input.attributes.get("placeholder")).toBe("<b>Hinweis</b>");
    expect(input.attributes.get("aria-label")).toBe("Beschriftung");
    expect(input.attributes.get("title")).toBe("Hallo");
    expect(input.textContent).toBe("fallback");
    expect(missing.textContent).toBe("fallback");
  });

  it("t() passes substitutions and shows the key when a message is missing", () => {
    const seen: Array<string | string[] | undefined> = [];
    const fake = (key: string, subs?: string | string[]) => {
      seen.push(subs);
      return key === "statusOnline" ? "online" : "";
    };
    expect(t("statusOnline", ["a@b"], fake)).toBe("online");
    expect(t("saveOk", undefined, fake)).toBe("saveOk");
    expect(seen).toEqual([["a@b"], undefined]);
  });
});

describe("request", () => {
  it("sends {type, payload} and returns the reply", async () => {
    const sent: RequestEnvelope[] = [];
    const reply = await request("discoverWebsocket", { jid: "a@b.example" }, async (m) => {
      sent.push(m);
      return { url: "wss://b.example/ws" };
    });
    expect(sent).toEqual([{ type: "discoverWebsocket", payload: { jid: "a@b.example" } }]);
    expect(reply).toEqual({ url: "wss://b.example/ws" });
  });

  it("fails with NoReplyError, naming the request but not the payload", async () => {
    const noListener = async () => {
      throw new Error("Could not establish connection. Receiving end does not exist.");
    };
    const error = await request("testConnection", { jid: "a@b", password: "hunter2", websocketUrl: "" }, noListener).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoReplyError);
    expect(String(error)).toContain("testConnection");
    expect(String(error)).not.toContain("hunter2");
    await expect(request("getStatus", {}, async () => undefined)).rejects.toBeInstanceOf(NoReplyError);
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

  it("asks the browser to treat the password field as a current password", () => {
    expect(html).toMatch(/<input type="password" id="password"[^>]*autocomplete="current-password"/);
  });
});
