// The session status as the user sees it: kept here, shown in the toolbar and pushed to every open page that
// connected the status port (options page, status popup).
import type { Logger } from "../core/log.js";
import { STATUS_PORT, type StatusPush } from "../core/messages.js";
import { describeStatus, type SessionStatus } from "../core/status.js";
import { t } from "../platform/i18n.js";
import { showStatusInToolbar } from "../platform/toolbar.js";
import { statusSummary } from "../ui/shared/status.js";

export interface StatusChannel {
  current(): SessionStatus;
  /** The new status: logged when its text changes, shown in the toolbar, pushed to the connected pages. */
  publish(next: SessionStatus): void;
  /** runtime.onConnect: one of our pages opens the status port; it gets the current status at once. */
  connect(port: messenger.runtime.Port): void;
}

export function createStatusChannel(log: Logger, ownId: string): StatusChannel {
  const ports = new Set<messenger.runtime.Port>();
  let status: SessionStatus = { state: "disconnected", reason: "not configured" };
  return {
    current: () => status,
    publish(next) {
      // What the user is shown (toolbar, options page), in the log too: limitations included.
      const summary = () => statusSummary(next, (ms) => new Date(ms).toLocaleTimeString(), (key, subs) => t(key, subs));
      if (describeStatus(next) !== describeStatus(status)) {
        // `shown`: the toolbar's text, in the user's language (left out where there is no i18n, as in unit tests).
        let shown: string | undefined;
        try {
          shown = summary();
        } catch {
          shown = undefined;
        }
        log.info("status-shown", { text: describeStatus(next), ...(shown === undefined ? {} : { shown }) });
      }
      status = next;
      (async () => showStatusInToolbar(next, summary()))().catch((error: unknown) => log.debug("toolbar-update-failed", { error }));
      const push: StatusPush = { type: "status", status: next };
      for (const port of ports) {
        try {
          port.postMessage(push);
        } catch {
          ports.delete(port);
        }
      }
    },
    connect(port) {
      if (port.name !== STATUS_PORT || port.sender?.id !== ownId) return;
      ports.add(port);
      port.onDisconnect.addListener(() => ports.delete(port));
      port.postMessage({ type: "status", status } satisfies StatusPush);
    },
  };
}
