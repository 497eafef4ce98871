// Localization the platform way: _locales/<lang>/messages.json read through messenger.i18n.
// Text is only ever set with textContent or plain attributes, never parsed as HTML.
import type enMessages from "../../_locales/en/messages.json";

/** Every key of the default locale; tsc rejects a key that does not exist. */
export type MessageKey = keyof typeof enMessages;

export type GetMessage = (key: string, substitutions?: string | string[]) => string;

const hostGetMessage: GetMessage = (key, substitutions) => messenger.i18n.getMessage(key, substitutions);

/** The localized message, with $1… substituted. Falls back to the key so a missing message is visible, not blank. */
export function t(key: MessageKey, substitutions?: string | readonly string[], getMessage: GetMessage = hostGetMessage): string {
  const subs = typeof substitutions === "string" || substitutions === undefined ? substitutions : [...substitutions];
  const text = getMessage(key, subs);
  return text === "" ? key : text;
}

/** Attribute → what it localizes. `data-i18n` sets the text content; the others set one attribute each. */
const I18N_ATTRIBUTES = {
  "data-i18n": null,
  "data-i18n-placeholder": "placeholder",
  "data-i18n-title": "title",
  "data-i18n-aria-label": "aria-label",
} as const;

/** The parts of a DOM element localizePage touches (a real Element satisfies it). */
export interface LocalizableElement {
  getAttribute(name: string): string | null;
  setAttribute(name: string, value: string): void;
  textContent: string | null;
}
export interface LocalizableRoot {
  querySelectorAll(selectors: string): Iterable<LocalizableElement>;
}

/**
 * Localizes every element under `root` carrying a data-i18n* attribute. A key without a message leaves the
 * element as it is (the HTML's own text then shows). Returns the keys that had no message.
 */
export function localizePage(root: LocalizableRoot, getMessage: GetMessage = hostGetMessage): string[] {
  const missing: string[] = [];
  for (const [dataAttribute, target] of Object.entries(I18N_ATTRIBUTES)) {
    for (const element of root.querySelectorAll(`[${dataAttribute}]`)) {
      const key = element.getAttribute(dataAttribute);
      if (key === null || key === "") continue;
      const text = getMessage(key);
      if (text === "") {
        missing.push(key);
        continue;
      }
      if (target === null) element.textContent = text;
      else element.setAttribute(target, text);
    }
  }
  return missing;
}

/** Sets `lang` and `dir` of the document from the UI locale. */
export function applyDocumentLocale(doc: Document): void {
  doc.documentElement.lang = messenger.i18n.getUILanguage();
  const dir = messenger.i18n.getMessage("@@bidi_dir");
  if (dir === "rtl" || dir === "ltr") doc.documentElement.dir = dir;
}
