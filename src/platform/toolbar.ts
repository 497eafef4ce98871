// The toolbar button (browser_action) shows the session's state: tooltip in words (with each limitation of the
// server and what it costs), a badge for anything but a plain online.
import { limitationSeverity } from "../core/limitations.js";
import { limitationsOf, type SessionStatus } from "../core/status.js";
import { t } from "./i18n.js";

const BADGE: { readonly [S in SessionStatus["state"]]: { text: string; color: string } } = {
  online: { text: "", color: "#017a40" },
  connecting: { text: "…", color: "#5b5b66" },
  disconnected: { text: "off", color: "#5b5b66" },
  "auth-failed": { text: "!", color: "#c50042" },
  error: { text: "!", color: "#c50042" },
};

/** Online, but limited: "!" when nobody can reach the user over XMPP, "i" when only some mail goes by SMTP. */
const LIMITED_BADGE = { severe: { text: "!", color: "#b35900" }, partial: { text: "i", color: "#5b5b66" } } as const;

export function toolbarBadge(status: SessionStatus): { text: string; color: string } {
  const severity = limitationSeverity(limitationsOf(status));
  return severity === "none" ? BADGE[status.state] : LIMITED_BADGE[severity];
}

/** Tooltip `summary` (the status in words: ui/shared/status.ts statusSummary, passed in by the composition root). */
export async function showStatusInToolbar(status: SessionStatus, summary: string): Promise<void> {
  const badge = toolbarBadge(status);
  await Promise.all([
    messenger.browserAction.setTitle({ title: `${t("extensionName")}: ${summary}` }),
    messenger.browserAction.setBadgeText({ text: badge.text }),
    messenger.browserAction.setBadgeBackgroundColor({ color: badge.color }),
  ]);
}
