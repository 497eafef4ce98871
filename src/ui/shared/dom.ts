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
