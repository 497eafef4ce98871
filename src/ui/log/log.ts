// The delivery log page: the background's log, newest first, filtered as the user types; the diagnostic report.
import type { DeliveryRecord } from "../../core/send-flow.js";
import { applyDocumentLocale, localizePage, t } from "../../platform/i18n.js";
import { request } from "../rpc.js";
import { e2eLine, matches, routeLine } from "./present.js";

const rows = document.getElementById("rows") as HTMLTableSectionElement;
const search = document.getElementById("search") as HTMLInputElement;
const count = document.getElementById("count") as HTMLElement;
const copy = document.getElementById("copy") as HTMLButtonElement;
const copyResult = document.getElementById("copy-result") as HTMLElement;
const report = document.getElementById("report") as HTMLTextAreaElement;
let entries: readonly DeliveryRecord[] = [];

const cell = (text: string, className?: string) => {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
};

function render(): void {
  const shown = [...entries].reverse().filter((e) => matches(e, search.value));
  count.textContent = t("logCount", [String(shown.length), String(entries.length)]);
  rows.replaceChildren(
    ...shown.map((e) => {
      const tr = document.createElement("tr");
      const list = document.createElement("ul");
      list.className = "recipients";
      for (const r of e.recipients) {
        const li = document.createElement("li");
        const { line, kind } = routeLine(r);
        li.textContent = `${r.address} — ${t(line.key, line.subs)}`;
        li.className = `route-${kind}`;
        const e2e = e2eLine(r);
        if (e2e) {
          const note = document.createElement("span");
          note.className = e2e.encrypted ? "e2e-on" : "e2e-off";
          note.textContent = `${e2e.mark ? `${e2e.mark}\u00a0` : ""}${t(e2e.line.key, e2e.line.subs)}`;
          li.append(" · ", note);
        }
        list.append(li);
      }
      if (e.error) {
        const li = document.createElement("li");
        li.className = "error";
        li.textContent = t("logError", [e.error]);
        list.append(li);
      }
      const recipients = document.createElement("td");
      recipients.append(list);
      tr.append(cell(new Date(e.at).toLocaleString()), cell(e.subject ?? ""), recipients, cell(`${e.holdMs} ms`, "hold"));
      tr.firstElementChild!.className = "time";
      return tr;
    }),
  );
}

async function main(): Promise<void> {
  applyDocumentLocale(document);
  localizePage(document);
  search.addEventListener("input", render);
  copy.addEventListener("click", () => {
    void (async () => {
      const { text } = await request("getDiagnosticReport", {});
      report.value = text;
      try {
        await navigator.clipboard.writeText(text);
        copyResult.textContent = t("logCopied");
      } catch {
        copyResult.textContent = t("logCopyManually");
        (report.parentElement as HTMLDetailsElement).open = true;
        report.select();
      }
    })();
  });
  entries = (await request("getDeliveryLog", {})).entries;
  render();
}

void main();
