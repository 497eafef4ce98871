// The compose window's indicator (compose_action popup). Asks the background what a Send would do now, every
// 700 ms while open (recipients may change), and lets the user switch XMPP off for this message.
import type { RoutePreviewResult } from "../../core/send-flow.js";
import { applyDocumentLocale, localizePage, t } from "../../platform/i18n.js";
import { request } from "../rpc.js";
import { recipientLine, verdictLine, type Line } from "./present.js";

const verdict = document.getElementById("verdict") as HTMLElement;
const list = document.getElementById("recipients") as HTMLUListElement;
const smtpOnly = document.getElementById("smtpOnly") as HTMLInputElement;
const text = (line: Line) => t(line.key, line.subs);

function render(preview: RoutePreviewResult): void {
  verdict.textContent = text(verdictLine(preview));
  if (document.activeElement !== smtpOnly) smtpOnly.checked = preview.switchedOff;
  list.replaceChildren(
    ...preview.recipients.map((r) => {
      const item = document.createElement("li");
      item.dataset.route = r.route;
      const address = document.createElement("span");
      address.className = "address";
      address.textContent = r.address;
      const route = document.createElement("span");
      route.className = "route";
      route.textContent = text(recipientLine(r));
      item.append(address, route);
      return item;
    }),
  );
}

async function main(): Promise<void> {
  applyDocumentLocale(document);
  localizePage(document);
  const [tab] = await messenger.tabs.query({ active: true, currentWindow: true });
  const found = tab?.id;
  if (found === undefined) {
    verdict.textContent = t("composeNoTab");
    return;
  }
  const tabId: number = found;
  smtpOnly.addEventListener("change", () => {
    void request("setXmppOff", { tabId, off: smtpOnly.checked }).then(refresh);
  });
  async function refresh(): Promise<void> {
    try {
      const preview = await request("previewRoute", { tabId });
      if ("error" in preview) verdict.textContent = t("composePreviewFailed");
      else render(preview);
    } catch {
      verdict.textContent = t("composePreviewFailed");
    }
  }
  await refresh();
  setInterval(() => void refresh(), 700);
}

void main();
