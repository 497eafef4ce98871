// "Block sender" on a displayed mail (messageDisplayAction): blocks the sender's JID on the current session's block
// list and says how; the button is enabled only while a mail from the add-on's own folders is shown.
import type { Logger } from "../core/log.js";
import { createBlockAction, updateBlockButton } from "../platform/block-action.js";
import { notifyBlockResult } from "./notifications.js";
import type { Live } from "./session-lifecycle.js";

export function listenForBlockSender(log: Logger, live: Pick<Live, "blocklist">): void {
  const blockAction = createBlockAction({
    log,
    block: async (jid) => {
      if (!live.blocklist) throw new Error("not connected to the XMPP account");
      return live.blocklist.block(jid);
    },
    notify: notifyBlockResult(log),
  });
  messenger.messageDisplayAction.onClicked.addListener((tab) => void blockAction.onClicked(tab));
  messenger.messageDisplay.onMessagesDisplayed.addListener((tab, shown) => {
    if (tab.id !== undefined) updateBlockButton(tab.id, shown).catch((error: unknown) => log.debug("block-button-update-failed", { error }));
  });
}
