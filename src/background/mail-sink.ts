// Where received mail goes and what is remembered about it: filed (shared-folder aware), and for a verified sender
// the address ↔ JID pair (so a reply goes back over XMPP) and the Message-ID (so a later SMTP copy of the same mail
// goes to the Trash). A mail whose SMTP copy is here already is shown once.
import { bareJid } from "../core/jid.js";
import type { Logger } from "../core/log.js";
import type { Settings } from "../core/settings.js";
import { INBOX_FOLDER, UNVERIFIED_FOLDER } from "../platform/mail-folder.js";
import type { ResolutionStore } from "../platform/resolution-store.js";
import type { createSmtpDuplicateGuard } from "../platform/smtp-duplicates.js";
import type { MailSink } from "../xmpp/receiver.js";

type SmtpDuplicates = ReturnType<typeof createSmtpDuplicateGuard>;

/** The folders the add-on files received mail into: its two folders and the receive folder the settings name. */
export function ownFolderTest(settings: () => Settings): (folder: messenger.folders.MailFolder) => boolean {
  return (folder) => folder.name === INBOX_FOLDER || folder.name === UNVERIFIED_FOLDER || folder.id === settings().receiveFolder;
}

export interface MailSinkDeps {
  readonly log: Logger;
  readonly folders: MailSink;
  readonly smtpDuplicates: Pick<SmtpDuplicates, "arrivedBySmtp" | "remember">;
  readonly resolutionStore: Pick<ResolutionStore, "rememberVerifiedSender">;
}

export function createMailSink({ log, folders, smtpDuplicates, resolutionStore }: MailSinkDeps): MailSink {
  return {
    async file(mail) {
      // The sender fell back to SMTP and that copy is here already: show the mail once (the receipt still says filed).
      if (mail.verified && mail.fromAddress && mail.messageId && (await smtpDuplicates.arrivedBySmtp(mail.messageId, mail.fromAddress))) {
        log.info("xmpp-copy-already-by-smtp", { messageId: mail.messageId });
        return;
      }
      await folders.file(mail);
      if (mail.verified && mail.fromAddress) {
        const from = mail.fromAddress;
        await resolutionStore.rememberVerifiedSender(from, bareJid(mail.fromJid)).catch((error: unknown) => log.warn("verified-sender-save-failed", { error }));
        if (mail.messageId) {
          await smtpDuplicates.remember(mail.messageId, from).catch((error: unknown) => log.warn("filed-index-save-failed", { error }));
        }
      }
    },
  };
}
