// The toolbar button's popup: live session status (status port), links to the delivery log and the settings.
import { STATUS_PORT } from "../../core/messages.js";
import { applyDocumentLocale, localizePage, t } from "../../platform/i18n.js";
import { limitationLines, parseStatusPush, statusText } from "../shared/status.js";
import { showList } from "../shared/dom.js";

const statusEl = document.getElementById("status-text") as HTMLElement;
const limitationsEl = document.getElementById("status-limitations") as HTMLUListElement;

applyDocumentLocale(document);
localizePage(document);
document.getElementById("open-log")!.addEventListener("click", () => {
  void messenger.tabs.create({ url: messenger.runtime.getURL("log.html") }).then(() => window.close());
});
document.getElementById("open-options")!.addEventListener("click", () => {
  void messenger.runtime.openOptionsPage().then(() => window.close());
});
const port = messenger.runtime.connect({ name: STATUS_PORT });
port.onMessage.addListener((message: unknown) => {
  const status = parseStatusPush(message);
  if (!status) return;
  const formatTime = (ms: number) => new Date(ms).toLocaleTimeString();
  const text = statusText(status, formatTime);
  statusEl.textContent = t(text.key, text.subs);
  statusEl.dataset.state = status.state;
  const lines = limitationLines(status, formatTime, (key, subs) => t(key, subs));
  statusEl.dataset.limited = String(lines.length > 0);
  showList(limitationsEl, lines);
});
