// What every UI page shows text with: a message key and its substitutions (turned into words by i18n.t()), and
// the bound on text that came from elsewhere.
import type { MessageKey } from "../../platform/i18n.js";

/** A message key with its substitutions, turned into text by i18n.t(). */
export interface Text {
  readonly key: MessageKey;
  readonly subs?: readonly string[];
}

/** Text from the background or a policy is shown as-is (textContent), but bounded. */
export function clip(text: string, max = 300): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
