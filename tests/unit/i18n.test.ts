// platform/i18n.ts: localizePage and t() (split from options-ui.test.ts, assertions unchanged).
import { describe, expect, it } from "vitest";
import { localizePage, t, type LocalizableElement } from "../../src/platform/i18n.js";

describe("localizePage", () => {
  class FakeElement implements LocalizableElement {
    textContent: string | null = "fallback";
    readonly attributes = new Map<string, string>();
    constructor(attrs: Record<string, string>) {
      for (const [k, v] of Object.entries(attrs)) this.attributes.set(k, v);
    }
    getAttribute(name: string): string | null {
      return this.attributes.get(name) ?? null;
    }
    setAttribute(name: string, value: string): void {
      this.attributes.set(name, value);
    }
  }
  const messages: Record<string, string> = { hello: "Hallo", hint: "<b>Hinweis</b>", label: "Beschriftung" };
  const getMessage = (key: string) => messages[key] ?? "";

  it("sets text content and attributes, never markup, and reports missing keys", () => {
    const text = new FakeElement({ "data-i18n": "hello" });
    const markup = new FakeElement({ "data-i18n": "hint" });
    const input = new FakeElement({ "data-i18n-placeholder": "hint", "data-i18n-aria-label": "label", "data-i18n-title": "hello" });
    const missing = new FakeElement({ "data-i18n": "nope" });
    const all = [text, markup, input, missing];
    const root = {
      querySelectorAll: (selector: string) => {
        const attr = /^\[(.+)\]$/.exec(selector)?.[1] ?? "";
        return all.filter((e) => e.attributes.has(attr));
      },
    };
    expect(localizePage(root, getMessage)).toEqual(["nope"]);
    expect(text.textContent).toBe("Hallo");
    expect(markup.textContent).toBe("<b>Hinweis</b>");
    expect(input.attributes.get("placeholder")).toBe("<b>Hinweis</b>");
    expect(input.attributes.get("aria-label")).toBe("Beschriftung");
    expect(input.attributes.get("title")).toBe("Hallo");
    expect(input.textContent).toBe("fallback");
    expect(missing.textContent).toBe("fallback");
  });

  it("t() passes substitutions and shows the key when a message is missing", () => {
    const seen: Array<string | string[] | undefined> = [];
    const fake = (key: string, subs?: string | string[]) => {
      seen.push(subs);
      return key === "statusOnline" ? "online" : "";
    };
    expect(t("statusOnline", ["a@b"], fake)).toBe("online");
    expect(t("saveOk", undefined, fake)).toBe("saveOk");
    expect(seen).toEqual([["a@b"], undefined]);
  });
});
