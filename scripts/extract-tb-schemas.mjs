#!/usr/bin/env node
// Lists the functions (with parameters and required permissions) and object types of Thunderbird's
// MailExtension schemas, one line each, so a maintainer can diff two Thunderbird versions or compare
// them with src/types/thunderbird-augment.d.ts and @types/thunderbird-webext-browser.
//
// Usage: node scripts/extract-tb-schemas.mjs [--omni /usr/lib/thunderbird/omni.ja] [--mv 2|3] [namespace ...]
//   default namespaces: compose messages folders storage
// Needs the `unzip` command (omni.ja is a zip archive).
import { execFileSync } from "node:child_process";

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const [value] = args.splice(i, 2).slice(1);
  return value;
};
const omni = option("--omni", "/usr/lib/thunderbird/omni.ja");
const mv = Number(option("--mv", "2"));
const wanted = new Set(args.length > 0 ? args : ["compose", "messages", "folders", "storage"]);

const entries = execFileSync("unzip", ["-Z1", omni], { encoding: "utf8", maxBuffer: 64 << 20 })
  .split("\n")
  .filter((p) => /^chrome\/(messenger\/content\/messenger|toolkit\/content\/extensions)\/schemas\/[^/]+\.json$/.test(p));

/** Mozilla schemas may start with a license comment. */
const parse = (text) => JSON.parse(text.replace(/^\s*\/\/.*$/gm, ""));
/** An entry exists for this manifest version unless its min/max bounds exclude it. */
const inMv = (e) => !(e.max_manifest_version < mv || e.min_manifest_version > mv);

function typeOf(s) {
  if (!s) return "?";
  if (s.$ref) return s.$ref;
  if (s.choices) return s.choices.filter(inMv).map(typeOf).join(" | ");
  if (s.enum) return s.enum.map((v) => JSON.stringify(typeof v === "object" ? v.name : v)).join(" | ");
  if (s.isInstanceOf) return s.isInstanceOf;
  if (s.type === "array") {
    const item = typeOf(s.items);
    return item.includes(" | ") ? `(${item})[]` : `${item}[]`;
  }
  if (s.type === "object" && s.properties) return `{ ${props(s.properties)} }`;
  if (s.pattern) return `${s.type} /${s.pattern}/`;
  return s.type ?? "?";
}
const opt = (s) => (s.optional ? "?" : "");
const props = (p) =>
  Object.entries(p)
    .filter(([, s]) => inMv(s))
    .map(([name, s]) => `${name}${opt(s)}: ${typeOf(s)}`)
    .join("; ");

const out = [];
for (const path of entries) {
  const schema = parse(execFileSync("unzip", ["-p", omni, path], { encoding: "utf8", maxBuffer: 64 << 20 }));
  for (const ns of schema) {
    if (!wanted.has(ns.namespace) || !inMv(ns)) continue;
    const nsPerm = ns.permissions ? ` [ns perms: ${ns.permissions.join(", ")}]` : "";
    out.push(`# ${ns.namespace} (${path})${nsPerm}`);
    for (const t of (ns.types ?? []).filter(inMv)) {
      if (t.functions) {
        for (const f of t.functions.filter(inMv)) {
          const params = (f.parameters ?? []).filter((p) => inMv(p) && !(p.type === "function" && p.name === f.async));
          out.push(`type ${ns.namespace}.${t.id}.${f.name}(${params.map((p) => `${p.name}${opt(p)}: ${typeOf(p)}`).join(", ")})`);
        }
      } else {
        out.push(`type ${ns.namespace}.${t.id} = ${typeOf(t)}`);
      }
    }
    for (const f of (ns.functions ?? []).filter(inMv)) {
      const params = (f.parameters ?? []).filter((p) => inMv(p) && !(p.type === "function" && p.name === f.async));
      const perms = f.permissions ? ` [perms: ${f.permissions.join(", ")}]` : "";
      out.push(`fn ${ns.namespace}.${f.name}(${params.map((p) => `${p.name}${opt(p)}: ${typeOf(p)}`).join(", ")})${perms}`);
    }
    for (const e of (ns.events ?? []).filter(inMv)) {
      const perms = e.permissions ? ` [perms: ${e.permissions.join(", ")}]` : "";
      out.push(`event ${ns.namespace}.${e.name}(${(e.parameters ?? []).map((p) => `${p.name}: ${typeOf(p)}`).join(", ")})${perms}`);
    }
  }
}
console.log(out.join("\n"));
