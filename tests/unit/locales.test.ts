// Every message the add-on asks for exists in every locale, the locales agree on keys and placeholders,
// and no message sits unused.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");
const localesDir = join(root, "_locales");

interface Placeholder {
  readonly content: string;
  readonly example?: string;
}
interface Message {
  readonly message: string;
  readonly description?: string;
  readonly placeholders?: Readonly<Record<string, Placeholder>>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function parseMessages(file: string): Map<string, Message> {
  const raw: unknown = JSON.parse(readFileSync(file, "utf8"));
  if (!isRecord(raw)) throw new Error(`${file}: not an object`);
  const out = new Map<string, Message>();
  for (const [key, value] of Object.entries(raw)) {
    if (!isRecord(value) || typeof value.message !== "string") throw new Error(`${file}: ${key} has no string "message"`);
    const placeholders: Record<string, Placeholder> = {};
    if (value.placeholders !== undefined) {
      if (!isRecord(value.placeholders)) throw new Error(`${file}: ${key}.placeholders is not an object`);
      for (const [name, p] of Object.entries(value.placeholders)) {
        if (!isRecord(p) || typeof p.content !== "string") throw new Error(`${file}: ${key}.placeholders.${name} has no content`);
        placeholders[name] = { content: p.content };
      }
    }
    out.set(key, { message: value.message, placeholders });
  }
  return out;
}

const locales = new Map(
  readdirSync(localesDir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => [e.name, parseMessages(join(localesDir, e.name, "messages.json"))] as const),
);
const en = locales.get("en");

function filesUnder(dir: string, suffix: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(suffix) && !e.name.endsWith(".d.ts"))
    .map((e) => join(e.parentPath, e.name));
}

/** Keys the code asks for explicitly, with where. `@@…` keys are predefined by the platform. */
function requestedKeys(): Array<{ key: string; where: string }> {
  const found: Array<{ key: string; where: string }> = [];
  const add = (key: string, file: string) => {
    if (!key.startsWith("@@")) found.push({ key, where: relative(root, file) });
  };
  const manifestFile = join(root, "manifest.json");
  for (const m of readFileSync(manifestFile, "utf8").matchAll(/__MSG_([A-Za-z0-9_@]+)__/g)) add(m[1] ?? "", manifestFile);
  for (const file of filesUnder(join(root, "src"), ".html")) {
    for (const m of readFileSync(file, "utf8").matchAll(/\bdata-i18n(?:-placeholder|-title|-aria-label)?\s*=\s*["']([^"']*)["']/g)) add(m[1] ?? "", file);
  }
  for (const file of filesUnder(join(root, "src"), ".ts")) {
    for (const m of readFileSync(file, "utf8").matchAll(/\b(?:getMessage|t)\(\s*["'`]([^"'`$]+)["'`]/g)) add(m[1] ?? "", file);
  }
  return found;
}

/** Placeholder names used in a message text ($NAME$), lower-cased as the platform matches them. */
const usedPlaceholders = (text: string): string[] => [...text.matchAll(/\$([A-Za-z0-9_@]+)\$/g)].map((m) => (m[1] ?? "").toLowerCase());

describe("locales", () => {
  it("has the default locale (en) and at least German", () => {
    expect(en).toBeDefined();
    expect(locales.has("de")).toBe(true);
  });

  it("finds requested keys (the scan itself works)", () => {
    const keys = requestedKeys().map((r) => r.key);
    expect(keys).toContain("extensionName"); // manifest
    expect(keys).toContain("buttonSave"); // HTML data-i18n
    expect(keys).toContain("fieldUrlPlaceholder"); // HTML data-i18n-placeholder
    expect(keys).toContain("passwordLockedPlaceholder"); // t("…") in TypeScript
  });

  for (const [lang, messages] of locales) {
    describe(lang, () => {
      it("has every key the manifest, the HTML and the code ask for", () => {
        const missing = requestedKeys().filter((r) => !messages.has(r.key)).map((r) => `${r.key} (${r.where})`);
        expect(missing).toEqual([]);
      });

      it("has exactly the keys of en", () => {
        const keys = [...messages.keys()].sort();
        expect(keys).toEqual([...(en?.keys() ?? [])].sort());
      });

      it("uses only valid key names and non-empty messages", () => {
        const bad = [...messages].filter(([key, m]) => !/^[A-Za-z0-9_]+$/.test(key) || m.message.trim() === "").map(([key]) => key);
        expect(bad).toEqual([]);
      });

      it("defines each placeholder it uses and uses each it defines", () => {
        const bad = [...messages].flatMap(([key, m]) => {
          const used = new Set(usedPlaceholders(m.message));
          const defined = new Set(Object.keys(m.placeholders ?? {}).map((n) => n.toLowerCase()));
          const undefinedOnes = [...used].filter((n) => !defined.has(n)).map((n) => `${key}: $${n}$ not defined`);
          const unusedOnes = [...defined].filter((n) => !used.has(n)).map((n) => `${key}: ${n} defined but unused`);
          return [...undefinedOnes, ...unusedOnes];
        });
        expect(bad).toEqual([]);
      });

      it("has the same placeholders (names and $n contents) as en", () => {
        const signature = (m: Message | undefined): string =>
          JSON.stringify(
            Object.entries(m?.placeholders ?? {})
              .map(([n, p]) => [n.toLowerCase(), p.content])
              .sort(),
          );
        const bad = [...messages].filter(([key, m]) => signature(m) !== signature(en?.get(key))).map(([key]) => key);
        expect(bad).toEqual([]);
      });

      it("has no stray $ (a literal dollar must be written $$)", () => {
        const bad = [...messages]
          .filter(([, m]) => /\$/.test(m.message.replace(/\$\$|\$[A-Za-z0-9_@]+\$|\$[1-9]/g, "")))
          .map(([key]) => key);
        expect(bad).toEqual([]);
      });
    });
  }

  it("has no unused message in en (each key appears in the manifest, the HTML or as a string in the code)", () => {
    const sources = [
      readFileSync(join(root, "manifest.json"), "utf8"),
      ...filesUnder(join(root, "src"), ".html").map((f) => readFileSync(f, "utf8")),
      ...filesUnder(join(root, "src"), ".ts").map((f) => readFileSync(f, "utf8")),
    ].join("\n");
    const unused = [...(en?.keys() ?? [])].filter((key) => !new RegExp(`["'\`]${key}["'\`]|__MSG_${key}__`).test(sources));
    expect(unused).toEqual([]);
  });
});
