// Small DOM helpers the pages share. Text goes in as textContent only, never as markup.

/** Fills a list with one item per plain-text line; hidden when there are none. */
export function showList(list: HTMLUListElement, lines: readonly string[]): void {
  list.replaceChildren(
    ...lines.map((line) => {
      const item = document.createElement("li");
      item.textContent = line;
      return item;
    }),
  );
  list.hidden = lines.length === 0;
}

/** A list of fingerprints (docs/protocol.md §10.3), each its digits in monospace and what it is, e.g. "this computer". */
export function fingerprintList(lines: ReadonlyArray<{ readonly fingerprint: string; readonly label: string }>): HTMLUListElement {
  const list = document.createElement("ul");
  list.className = "fingerprints";
  list.append(
    ...lines.map((line) => {
      const item = document.createElement("li");
      const digits = document.createElement("code");
      digits.className = "fingerprint";
      digits.textContent = line.fingerprint;
      const what = document.createElement("span");
      what.className = "fingerprint-label";
      what.textContent = line.label;
      item.append(digits, " ", what);
      return item;
    }),
  );
  return list;
}
