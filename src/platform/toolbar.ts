// The toolbar button (browser_action) shows the session's state: tooltip in words, a badge for anything but online.
import type { SessionStatus } from "../core/status.js";
import { statusText } from "../ui/options/present.js";
import { t } from "./i18n.js";

const BADGE: { readonly [S in SessionStatus["state"]]: { text: string; color: string } } = {
  online: { text: "", color: "#017a40" },
  connecting: { text: "…", color: "#5b5b66" },
  disconnected: { text: "off", color: "#5b5b66" },
  "auth-failed": { text: "!", color: "#c50042" },
  error: { text: "!", color: "#c50042" },
};

export async function showStatusInToolbar(status: SessionStatus): Promise<void> {
  const text = statusText(status, (ms) => new Date(ms).toLocaleTimeString());
  const badge = BADGE[status.state];
  await Promise.all([
    messenger.browserAction.setTitle({ title: `${t("extensionName")}: ${t(text.key, text.subs)}` }),
    messenger.browserAction.setBadgeText({ text: badge.text }),
    messenger.browserAction.setBadgeBackgroundColor({ color: badge.color }),
  ]);
}
