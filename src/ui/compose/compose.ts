// The compose window's indicator (compose_action popup). Asks the background what a Send would do now, every
// 700 ms while open (recipients may change), and lets the user switch XMPP off for this message.
import type { RoutePreviewResult } from "../../core/send-flow.js";
import { applyDocumentLocale, localizePage, t } from "../../platform/i18n.js";
import { request } from "../rpc.js";
import { recipientLine, verdictLine } from "./present.js";
import type { Text } from "../shared/text.js";

const verdict = document.getElementById("verdict") as HTMLElement;
const list = document.getElementById("recipients") as HTMLUListElement;
const smtpOnly = document.getElementById("smtpOnly") as HTMLInputElement;
const text = (line: Text) => t(line.key, line.subs);

/** Buttons are rebuilt with every refresh: one that was just used shows it, and keyboard focus is kept by label. */
const done = new Set<string>();
let focusedLabel: string | null = null;
function actionButton(label: string, action: () => Promise<unknown>): HTMLButtonElement {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "action";
  button.textContent = label;
  button.disabled = done.has(label);
  button.addEventListener("focus", () => (focusedLabel = label));
  button.addEventListener("blur", () => (focusedLabel = null));
  button.addEventListener("click", () => {
    done.add(label);
    button.disabled = true;
    void action().then((reply) => {
      if (typeof reply === "object" && reply !== null && "error" in reply) done.delete(label);
    });
  });
  return button;
}

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
      // One click per suggestion: use a JID a mail announced for this address (never used without this click).
      for (const jid of r.candidates ?? []) item.append(actionButton(t("composeConfirmJid", [jid]), () => request("confirmMapping", { address: r.address, jid })));
      // Keep a JID found by learning or from a verified sender in the address book (Thunderbird's XMPP field).
      if (r.jid && (r.via === "learned" || r.via === "verified-sender")) {
        item.append(actionButton(t("composeSaveJid"), () => request("saveJidToAddressBook", { address: r.address, jid: r.jid! })));
      }
      return item;
    }),
  );
  if (focusedLabel !== null) [...list.querySelectorAll("button")].find((b) => b.textContent === focusedLabel)?.focus();
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
