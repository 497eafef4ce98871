// The SMTP-duplicate guard (src/platform/smtp-duplicates.ts) over a fake folder: a later SMTP copy of a mail filed over
// XMPP goes to the Trash; a copy that carries the add-on's trace header was filed over XMPP — by another Thunderbird of
// the account into an IMAP folder this one sees (docs/protocol.md §6) — and stays.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createLogger } from "../../src/core/log.js";
import { createSmtpDuplicateGuard } from "../../src/platform/smtp-duplicates.js";
import type { KeyValueStore } from "../../src/xmpp/receiver.js";

const log = createLogger(() => {}, () => "debug");

describe("the SMTP-duplicate guard", () => {
  let messages: Array<{ id: number; headerMessageId: string; author: string; headers: Record<string, string[]> }>;
  let deleted: number[];
  const folder = { id: "account3://INBOX", name: "Inbox", accountId: "account3", path: "/INBOX" } as messenger.folders.MailFolder;

  beforeEach(() => {
    messages = [];
    deleted = [];
    vi.stubGlobal("messenger", {
      messages: {
        query: async ({ headerMessageId }: { headerMessageId: string }) => ({ id: null, messages: messages.filter((m) => m.headerMessageId === headerMessageId) }),
        getFull: async (id: number) => ({ headers: messages.find((m) => m.id === id)!.headers }),
        delete: async (ids: number[]) => void deleted.push(...ids),
      },
    });
  });
  afterEach(() => vi.unstubAllGlobals());

  const store = (): KeyValueStore => {
    const data = new Map<string, unknown>();
    return { get: async (k) => data.get(k), set: async (k, v) => void data.set(k, v) };
  };

  it("trashes an SMTP copy, keeps a copy another Thunderbird filed over XMPP", async () => {
    const guard = createSmtpDuplicateGuard(log, store(), () => false);
    await guard.onFolderInfo(folder, { totalMessageCount: 0 });
    await guard.remember("m1@example.test", "alice@example.test");
    await guard.remember("m2@example.test", "alice@example.test");
    messages.push(
      { id: 1, headerMessageId: "m1@example.test", author: "Alice <alice@example.test>", headers: { from: ["Alice <alice@example.test>"] } },
      {
        id: 2,
        headerMessageId: "m2@example.test",
        author: "Alice <alice@example.test>",
        headers: { "x-mail-over-xmpp": ["from=alice@example.test; verified=yes; origin-id=o2"], from: ["Alice <alice@example.test>"] },
      },
    );
    await guard.onFolderInfo(folder, { totalMessageCount: 2 });
    expect(deleted).toEqual([1]);
  });
});
