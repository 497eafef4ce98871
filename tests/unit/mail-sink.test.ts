// The mail-sink policy of the background (src/background/mail-sink.ts): what is filed and what is remembered.
import { describe, expect, it, vi } from "vitest";
import { silentLogger } from "../../src/core/log.js";
import { DEFAULT_SETTINGS } from "../../src/core/settings.js";
import { createMailSink, ownFolderTest } from "../../src/background/mail-sink.js";
import { INBOX_FOLDER, UNVERIFIED_FOLDER } from "../../src/platform/mail-folder.js";
import type { FiledMail } from "../../src/xmpp/receiver.js";

function setup(arrivedBySmtp = false) {
  const filed: FiledMail[] = [];
  const deps = {
    log: silentLogger,
    folders: { file: vi.fn(async (mail: FiledMail) => void filed.push(mail)) },
    smtpDuplicates: { arrivedBySmtp: vi.fn(async () => arrivedBySmtp), remember: vi.fn(async () => {}) },
    resolutionStore: { rememberVerifiedSender: vi.fn(async () => {}) },
  };
  return { filed, deps, sink: createMailSink(deps) };
}

const mail = (over: Partial<FiledMail>): FiledMail =>
  ({ fromJid: "bob@example.org/phone", verified: true, fromAddress: "bob@example.org", messageId: "<m1@example.org>", ...over }) as FiledMail;

describe("createMailSink", () => {
  it("files a verified mail and remembers the bare JID of its sender and its Message-ID", async () => {
    const { filed, deps, sink } = setup();
    await sink.file(mail({}));
    expect(filed).toHaveLength(1);
    expect(deps.resolutionStore.rememberVerifiedSender).toHaveBeenCalledWith("bob@example.org", "bob@example.org");
    expect(deps.smtpDuplicates.remember).toHaveBeenCalledWith("<m1@example.org>", "bob@example.org");
  });

  it("files a mail whose SMTP copy is here already only once (not again)", async () => {
    const { filed, deps, sink } = setup(true);
    await sink.file(mail({}));
    expect(filed).toEqual([]);
    expect(deps.resolutionStore.rememberVerifiedSender).not.toHaveBeenCalled();
  });

  it("remembers nothing of an unverified sender", async () => {
    const { filed, deps, sink } = setup(true);
    await sink.file(mail({ verified: false }));
    expect(filed).toHaveLength(1);
    expect(deps.smtpDuplicates.arrivedBySmtp).not.toHaveBeenCalled();
    expect(deps.resolutionStore.rememberVerifiedSender).not.toHaveBeenCalled();
    expect(deps.smtpDuplicates.remember).not.toHaveBeenCalled();
  });

  it("still files when remembering fails", async () => {
    const { filed, deps, sink } = setup();
    deps.resolutionStore.rememberVerifiedSender.mockRejectedValueOnce(new Error("storage"));
    await sink.file(mail({}));
    expect(filed).toHaveLength(1);
    expect(deps.smtpDuplicates.remember).toHaveBeenCalled();
  });
});

describe("ownFolderTest", () => {
  it("is the add-on's two folders and the receive folder of the current settings", () => {
    let settings = { ...DEFAULT_SETTINGS, receiveFolder: "" };
    const own = ownFolderTest(() => settings);
    const folder = (name: string, id = `account1://${name}`) => ({ name, id }) as messenger.folders.MailFolder;
    expect(own(folder(INBOX_FOLDER))).toBe(true);
    expect(own(folder(UNVERIFIED_FOLDER))).toBe(true);
    expect(own(folder("Inbox", "account2://INBOX"))).toBe(false);
    settings = { ...settings, receiveFolder: "account2://INBOX" };
    expect(own(folder("Inbox", "account2://INBOX"))).toBe(true);
  });
});
