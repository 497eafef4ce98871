// The add-on's desktop notifications, localized: a mail delivered over XMPP, and the outcome of "Block sender".
import type { Logger } from "../core/log.js";
import type { BlockResult } from "../platform/block-action.js";

function show(log: Logger, title: string, message: string): void {
  messenger.notifications.create({ type: "basic", title, message }).catch((error: unknown) => log.warn("notification-failed", { error }));
}

/** "Delivered over XMPP to …". */
export function notifyDelivered(log: Logger): (delivered: readonly string[]) => void {
  return (delivered) => show(log, messenger.i18n.getMessage("notifyDeliveredTitle"), messenger.i18n.getMessage("notifyDelivered", [delivered.join(", ")]));
}

/** Blocked on the server or locally, not a mail over XMPP, or why blocking failed. */
export function notifyBlockResult(log: Logger): (result: BlockResult) => void {
  return (result) => {
    const message =
      result.status === "blocked"
        ? messenger.i18n.getMessage(result.mode === "server" ? "notifyBlockedServer" : "notifyBlockedLocal", [result.jid])
        : result.status === "not-xmpp"
          ? messenger.i18n.getMessage("notifyBlockNotXmpp")
          : messenger.i18n.getMessage("notifyBlockFailed", [result.reason]);
    show(log, messenger.i18n.getMessage(result.status === "blocked" ? "notifyBlockedTitle" : "extensionName"), message);
  };
}
