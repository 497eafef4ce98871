// The compose window's indicator (compose_action popup). Asks the background what a Send would do now, every
// 700 ms while open (recipients may change), and lets the user switch XMPP off for this message.
import type { E2ePeerView } from "../../core/messages.js";
import type { RoutePreviewResult } from "../../core/send-flow.js";
import { applyDocumentLocale, localizePage, t } from "../../platform/i18n.js";
import { request } from "../rpc.js";
import { e2eJids, recipientLine, showsE2e, verdictLine } from "./present.js";
import { fingerprintList } from "../shared/dom.js";
import { parseE2ePeerView, peerFingerprintLines, peerSummary } from "../shared/e2e.js";
import type { Text } from "../shared/text.js";

const verdict = document.getElementById("verdict") as HTMLElement;
const list = document.getElementById("recipients") as HTMLUListElement;
const smtpOnly = document.getElementById("smtpOnly") as HTMLInputElement;
const text = (line: Text) => t(line.key, line.subs);

/**
 * Buttons are rebuilt with every refresh: one that was just used shows it, and keyboard focus is kept, by the
 * button's key (its label unless two buttons share one, as "Accept new key" does for two recipients).
 */
const done = new Set<string>();
let focusedKey: string | null = null;
/** Marks an element whose keyboard focus survives the next rebuild. */
function keepFocus(element: HTMLElement, key: string): void {
  element.dataset.key = key;
  element.addEventListener("focus", () => (focusedKey = key));
  element.addEventListener("blur", () => (focusedKey = null));
}
function actionButton(label: string, action: () => Promise<unknown>, key = label): HTMLButtonElement {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "action";
  button.textContent = label;
  button.disabled = done.has(key);
  keepFocus(button, key);
  button.addEventListener("click", () => {
    done.add(key);
    button.disabled = true;
    void action().then(
      (reply) => {
        if (typeof reply === "object" && reply !== null && "error" in reply) done.delete(key);
      },
      () => done.delete(key),
    );
  });
  return button;
}

/** Disclosures the user opened stay open across refreshes (by JID). */
const openDisclosures = new Set<string>();
/** Set once the page knows its tab: refreshes the indicator now. */
let refreshNow: () => Promise<void> = () => Promise.resolve();

/** The recipient's encryption: a marker, or a warning with "Compare keys" and "Accept new key". */
function e2eBlock(view: E2ePeerView): HTMLElement {
  const summary = peerSummary(view);
  const block = document.createElement("div");
  block.className = "e2e";
  block.dataset.tone = summary.tone;
  block.dataset.state = view.state;
  const line = document.createElement("span");
  line.className = "e2e-text";
  line.textContent = text(summary.text);
  block.append(line);
  if (summary.disclosure) {
    const details = document.createElement("details");
    details.open = openDisclosures.has(view.jid);
    details.addEventListener("toggle", () => (details.open ? openDisclosures.add(view.jid) : openDisclosures.delete(view.jid)));
    const label = document.createElement("summary");
    label.textContent = text(summary.disclosure);
    keepFocus(label, `details ${view.jid}`);
    details.append(label, fingerprintList(peerFingerprintLines(view).map((f) => ({ fingerprint: f.fingerprint, label: text(f.label) }))));
    block.append(details);
  }
  if (summary.accept) {
    const key = `accept ${view.jid} ${view.devices.map((d) => d.id).join(",")}`;
    block.append(
      actionButton(
        text(summary.accept),
        async () => {
          const reply = await request("e2eAccept", { jid: view.jid });
          await refreshNow();
          return reply;
        },
        key,
      ),
    );
  }
  return block;
}

function render(preview: RoutePreviewResult, e2e: ReadonlyMap<string, E2ePeerView>): void {
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
      const view = r.jid ? e2e.get(r.jid) : undefined;
      if (view && showsE2e(r.route, view.state)) item.append(e2eBlock(view));
      return item;
    }),
  );
  if (focusedKey !== null) [...list.querySelectorAll<HTMLElement>("button, summary")].find((b) => b.dataset.key === focusedKey)?.focus();
}

/** The keys of every recipient going over XMPP; one that cannot be asked about shows no marker (never a wrong one). */
async function e2eViews(preview: RoutePreviewResult): Promise<Map<string, E2ePeerView>> {
  const views = await Promise.all(
    e2eJids(preview).map((jid) =>
      request("e2ePeer", { jid }).then(
        (reply) => parseE2ePeerView(reply),
        () => null,
      ),
    ),
  );
  return new Map(views.filter((v): v is E2ePeerView => v !== null).map((v) => [v.jid, v]));
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
      else render(preview, await e2eViews(preview));
    } catch {
      verdict.textContent = t("composePreviewFailed");
    }
  }
  refreshNow = refresh;
  await refresh();
  setInterval(() => void refresh(), 700);
}

void main();
