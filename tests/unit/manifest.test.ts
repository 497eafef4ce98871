// The manifest asks for exactly the permissions the code uses, and has the shape the add-on relies on.
// Usages are found with the TypeScript parser: every `messenger.<namespace>.<member>[.<member>]` (or `browser.…`)
// in src/**/*.ts. Write API calls in that form (not through a renamed alias) so this test sees them.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { needed } from "../../src/platform/upload-permission.js";
import { uploadOriginPattern } from "../../src/xmpp/upload.js";

const root = join(import.meta.dirname, "..", "..");
const manifest: unknown = JSON.parse(readFileSync(join(root, "manifest.json"), "utf8"));

/**
 * Permissions a whole namespace needs (Thunderbird 153 schemas, `permissions` of the namespace).
 * A namespace missing here makes the test fail: add it with its permissions.
 */
const NAMESPACE_PERMISSIONS: Readonly<Record<string, readonly string[]>> = {
  runtime: [],
  i18n: [],
  extension: [],
  tabs: [],
  windows: [],
  permissions: [],
  compose: [],
  browserAction: [],
  composeAction: [],
  messageDisplayAction: [],
  mailTabs: [],
  messengerUtilities: [],
  "messages.tags": [],
  storage: ["storage"],
  notifications: ["notifications"],
  dns: ["dns"],
  alarms: ["alarms"],
  idle: ["idle"],
  menus: ["menus"],
  networkStatus: ["networkStatus"],
  accounts: ["accountsRead"],
  identities: ["accountsRead"],
  folders: ["accountsRead"],
  messages: ["messagesRead"],
  messageDisplay: ["messagesRead"],
  addressBooks: ["addressBooks"],
  contacts: ["addressBooks"],
  mailingLists: ["addressBooks"],
};

/**
 * Extra permissions of single functions and events (schema `permissions` of the function/event), taken as
 * "all of": the schema loader accepts any one of them, but e.g. messages.import checks for both itself.
 */
const MEMBER_PERMISSIONS: Readonly<Record<string, readonly string[]>> = {
  "compose.getComposeDetails": ["compose"],
  "compose.setComposeDetails": ["compose"],
  "compose.getActiveDictionaries": ["compose"],
  "compose.setActiveDictionaries": ["compose"],
  "compose.listAttachments": ["compose"],
  "compose.addAttachment": ["compose"],
  "compose.updateAttachment": ["compose"],
  "compose.removeAttachment": ["compose"],
  "compose.sendMessage": ["compose.send"],
  "compose.saveMessage": ["compose.save"],
  "compose.onBeforeSend": ["compose"],
  "compose.onAfterSend": ["compose"],
  "compose.onAfterSave": ["compose"],
  "compose.onAttachmentAdded": ["compose"],
  "compose.onAttachmentRemoved": ["compose"],
  "compose.onIdentityChanged": ["accountsRead"],
  "folders.create": ["accountsFolders"],
  "folders.rename": ["accountsFolders"],
  "folders.move": ["accountsFolders"],
  "folders.copy": ["accountsFolders"],
  "folders.delete": ["accountsFolders", "messagesDelete"],
  "folders.update": ["accountsFolders"],
  "folders.markAsRead": ["accountsFolders"],
  "identities.create": ["accountsIdentities"],
  "identities.delete": ["accountsIdentities"],
  "identities.update": ["accountsIdentities"],
  "mailTabs.getListedMessages": ["messagesRead"],
  "mailTabs.getSelectedFolders": ["accountsRead"],
  "mailTabs.getSelectedMessages": ["messagesRead"],
  "mailTabs.setSelectedMessages": ["messagesRead", "accountsRead"],
  "mailTabs.onDisplayedFolderChanged": ["accountsRead"],
  "mailTabs.onSelectedMessagesChanged": ["messagesRead"],
  "menus.overrideContext": ["menus.overrideContext"],
  "messages.list": ["accountsRead"],
  "messages.deleteAttachments": ["messagesModifyPermanent"],
  "messages.update": ["messagesUpdate"],
  "messages.move": ["accountsRead", "messagesMove"],
  "messages.copy": ["accountsRead", "messagesMove"],
  "messages.delete": ["messagesDelete"],
  "messages.import": ["accountsRead", "messagesImport"],
  "messages.sendMessage": ["messages.send"],
  "messages.saveMessage": ["messages.save"],
  "messages.archive": ["messagesMove"],
  "messages.createTag": ["messagesTags"],
  "messages.updateTag": ["messagesTags"],
  "messages.deleteTag": ["messagesTags"],
  "messages.onMoved": ["accountsRead"],
  "messages.onCopied": ["accountsRead"],
  "messages.onDeleted": ["accountsRead"],
  "messages.onNewMailReceived": ["accountsRead"],
  "messages.tags.list": ["messagesTagsList"],
  "messages.tags.get": ["messagesTagsList"],
  "messages.tags.create": ["messagesTags"],
  "messages.tags.update": ["messagesTags"],
  "messages.tags.delete": ["messagesTags"],
  "messages.tags.onCreated": ["messagesTagsList"],
  "messages.tags.onUpdated": ["messagesTagsList"],
  "messages.tags.onDeleted": ["messagesTagsList"],
  "runtime.connectNative": ["nativeMessaging"],
  "runtime.sendNativeMessage": ["nativeMessaging"],
  "runtime.onUserScriptConnect": ["userScripts"],
  "runtime.onUserScriptMessage": ["userScripts"],
};

/** Permissions that no API usage implies but the add-on needs anyway, each with its reason. None so far. */
const JUSTIFIED_WITHOUT_API_USE: Readonly<Record<string, string>> = {};

interface Usage {
  readonly chain: readonly string[]; // e.g. ["storage", "local", "get"]
  readonly where: string;
}

/** Every `messenger.a.b.c` / `browser.a.b.c` property chain in `source` (up to three names after the root). */
function findApiUsages(fileName: string, source: string): Usage[] {
  const sf = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const usages: Usage[] = [];
  const visit = (node: ts.Node): void => {
    if (
      ts.isPropertyAccessExpression(node) &&
      ts.isIdentifier(node.expression) &&
      (node.expression.text === "messenger" || node.expression.text === "browser")
    ) {
      const chain = [node.name.text];
      let outer: ts.Node = node;
      while (chain.length < 3 && ts.isPropertyAccessExpression(outer.parent) && outer.parent.expression === outer) {
        outer = outer.parent;
        chain.push((outer as ts.PropertyAccessExpression).name.text);
      }
      const { line } = sf.getLineAndCharacterOfPosition(node.getStart(sf));
      usages.push({ chain, where: `${fileName}:${line + 1}` });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return usages;
}

/** The permissions one usage needs, or an error naming what the tables lack. */
function permissionsFor(chain: readonly string[]): { readonly ok: true; readonly permissions: string[] } | { readonly ok: false; readonly error: string } {
  const [ns, member, sub] = chain;
  if (ns === undefined) return { ok: false, error: "empty chain" };
  const nsPerms = NAMESPACE_PERMISSIONS[ns];
  if (nsPerms === undefined) return { ok: false, error: `namespace "${ns}" is not in NAMESPACE_PERMISSIONS` };
  const needed = new Set(nsPerms);
  const subNamespace = member === undefined ? undefined : NAMESPACE_PERMISSIONS[`${ns}.${member}`];
  for (const p of subNamespace ?? []) needed.add(p);
  const memberKey = subNamespace !== undefined && sub !== undefined ? `${ns}.${member}.${sub}` : `${ns}.${member}`;
  for (const p of MEMBER_PERMISSIONS[memberKey] ?? []) needed.add(p);
  return { ok: true, permissions: [...needed].sort() };
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts") && !e.name.endsWith(".d.ts"))
    .map((e) => join(e.parentPath, e.name));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function field(value: unknown, ...path: string[]): unknown {
  let v = value;
  for (const p of path) v = isRecord(v) ? v[p] : undefined;
  return v;
}

describe("manifest.json shape", () => {
  it("is Manifest V2 with a persistent background", () => {
    expect(field(manifest, "manifest_version")).toBe(2);
    expect(field(manifest, "background", "persistent")).toBe(true);
    expect(field(manifest, "background", "scripts")).toEqual(["background.js"]);
  });

  it("has a gecko id and strict_min_version 128.0", () => {
    const id = field(manifest, "browser_specific_settings", "gecko", "id");
    expect(typeof id === "string" && /^[a-z0-9._-]+@[a-z0-9.-]+\.[a-z]+$/.test(id)).toBe(true);
    expect(field(manifest, "browser_specific_settings", "gecko", "strict_min_version")).toBe("128.0");
  });

  it("has a default_locale whose messages exist", () => {
    const locale = field(manifest, "default_locale");
    expect(typeof locale).toBe("string");
    expect(existsSync(join(root, "_locales", String(locale), "messages.json"))).toBe(true);
  });

  it("has an options page that the build produces", () => {
    expect(field(manifest, "options_ui", "page")).toBe("options.html");
    expect(existsSync(join(root, "src/ui/options/options.html"))).toBe(true);
  });
});

describe("the API usage scanner", () => {
  it("finds property chains on messenger and browser, not in types or comments", () => {
    const src = [
      "// messenger.dns.resolve in a comment",
      "const s: messenger.storage.StorageArea = messenger.storage.local;",
      "await messenger.messages.import(file, id);",
      "browser.messages.tags.list();",
      "const x = 'messenger.notifications.create';",
      "type T = typeof messenger.alarms;",
    ].join("\n");
    expect(findApiUsages("x.ts", src).map((u) => u.chain.join("."))).toEqual(["storage.local", "messages.import", "messages.tags.list"]);
  });

  it("maps usages to permissions", () => {
    expect(permissionsFor(["messages", "import"])).toEqual({ ok: true, permissions: ["accountsRead", "messagesImport", "messagesRead"] });
    expect(permissionsFor(["messages", "tags", "list"])).toEqual({ ok: true, permissions: ["messagesRead", "messagesTagsList"] });
    expect(permissionsFor(["compose", "onBeforeSend", "addListener"])).toEqual({ ok: true, permissions: ["compose"] });
    expect(permissionsFor(["compose", "beginNew"])).toEqual({ ok: true, permissions: [] });
    expect(permissionsFor(["runtime", "sendMessage"])).toEqual({ ok: true, permissions: [] });
    expect(permissionsFor(["storage", "managed", "get"])).toEqual({ ok: true, permissions: ["storage"] });
    expect(permissionsFor(["frobnicate", "x"]).ok).toBe(false);
  });
});

describe("manifest permissions match the code", () => {
  const usages = sourceFiles(join(root, "src")).flatMap((file) => findApiUsages(relative(root, file), readFileSync(file, "utf8")));
  const declared = field(manifest, "permissions");

  it("lists permissions as an array of unique strings", () => {
    expect(Array.isArray(declared) && declared.every((p) => typeof p === "string")).toBe(true);
    const list = declared as string[];
    expect(new Set(list).size).toBe(list.length);
  });

  it("maps every API usage in src/ (the table knows each namespace)", () => {
    const unknown = usages.flatMap((u) => {
      const r = permissionsFor(u.chain);
      return r.ok ? [] : [`${u.where}: ${r.error}`];
    });
    expect(unknown).toEqual([]);
  });

  const needed = new Map<string, string[]>(); // permission → where
  for (const u of usages) {
    const r = permissionsFor(u.chain);
    if (r.ok) for (const p of r.permissions) needed.set(p, [...(needed.get(p) ?? []), u.where]);
  }

  it("declares every permission the code needs", () => {
    const list = Array.isArray(declared) ? declared : [];
    const missing = [...needed].filter(([p]) => !list.includes(p)).map(([p, where]) => `${p} (used at ${where.slice(0, 3).join(", ")})`);
    expect(missing).toEqual([]);
  });

  it("declares no permission the code does not use", () => {
    const list: unknown[] = Array.isArray(declared) ? declared : [];
    const unused = list.filter((p) => typeof p === "string" && !needed.has(p) && !(p in JUSTIFIED_WITHOUT_API_USE));
    expect(unused).toEqual([]);
  });
});

// ---- optional host permissions: only what the add-on asks for, from where it asks -----------------------

/** Does the manifest match pattern `declared` cover the pattern `asked` (scheme and host; paths are all "/*")? */
function covers(declared: string, asked: string): boolean {
  const d = /^(https?):\/\/([^/]+)\/\*$/.exec(declared);
  const a = /^(https?):\/\/([^/]+)\/\*$/.exec(asked);
  if (!d || !a || d[1] !== a[1]) return false;
  return d[2] === "*" ? !a[2]!.includes("*") : d[2] === a[2];
}

describe("optional host permissions match what the code requests", () => {
  const optional = field(manifest, "optional_permissions");
  const list = Array.isArray(optional) ? (optional as unknown[]) : [];

  it("are origin patterns only: https hosts (XEP-0156 host-meta, the own upload host) and loopback http (test servers)", () => {
    expect(list).toEqual(["https://*/*", "http://127.0.0.1/*"]);
  });

  it("cover every origin the upload permission asks for, and nothing asked for is wider than one host", () => {
    const asked = [
      uploadOriginPattern("https://upload.example.net/slot/abc/mail.bin"),
      uploadOriginPattern("https://share.example.org:5281/file_share/x"),
      uploadOriginPattern("http://127.0.0.1:5443/upload/x/y"),
      ...needed(["upload.example.com", "https://a.example/x"]),
    ];
    expect(asked).toEqual(["https://upload.example.net/*", "https://share.example.org/*", "http://127.0.0.1/*", "https://upload.example.com/*", "https://a.example/*"]);
    for (const pattern of asked) expect(list.some((d) => typeof d === "string" && covers(d, pattern!))).toBe(true);
    // Nothing the upload permission could be asked for beyond one https host or loopback http.
    for (const url of ["http://upload.example.net/x", "http://localhost:5280/x", "ftp://x.example/", "https://*.example/x", "not a url"]) {
      expect(uploadOriginPattern(url)).toBeNull();
    }
  });

  it("are requested only by the options page (discovery) and the upload permission module", () => {
    const requesting = sourceFiles(join(root, "src"))
      .filter((file) => /\bpermissions\.request\(/.test(readFileSync(file, "utf8")))
      .map((file) => relative(root, file))
      .sort();
    expect(requesting).toEqual(["src/platform/upload-permission.ts", "src/ui/options/options.ts"]);
  });

  it("the loopback pattern is needed: the code asks for it for a test server's upload host", () => {
    expect(uploadOriginPattern("http://127.0.0.1:40000/upload/a/b")).toBe("http://127.0.0.1/*");
  });
});

// ---- the tables above against the installed Thunderbird's schemas -------------------------------------

const omni = join(process.env.THUNDERBIRD_DIR ?? "/usr/lib/thunderbird", "omni.ja");
const haveUnzip = (() => {
  try {
    execFileSync("unzip", ["-v"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

interface SchemaPermissions {
  readonly namespaces: Map<string, string[]>;
  readonly members: Map<string, string[]>;
}

function readSchemaPermissions(): SchemaPermissions {
  const dir = mkdtempSync(join(tmpdir(), "tb-schemas-"));
  try {
    execFileSync("unzip", ["-q", "-o", omni, "chrome/messenger/content/messenger/schemas/*.json", "chrome/toolkit/content/extensions/schemas/*.json", "-d", dir]);
    const namespaces = new Map<string, string[]>();
    const members = new Map<string, string[]>();
    const inMv2 = (e: unknown): boolean => {
      const max = field(e, "max_manifest_version");
      const min = field(e, "min_manifest_version");
      return !(typeof max === "number" && max < 2) && !(typeof min === "number" && min > 2);
    };
    const perms = (e: unknown): string[] => {
      const p = field(e, "permissions");
      return Array.isArray(p) ? p.filter((x): x is string => typeof x === "string" && !x.startsWith("manifest:")) : [];
    };
    for (const sub of ["chrome/messenger/content/messenger/schemas", "chrome/toolkit/content/extensions/schemas"]) {
      for (const name of readdirSync(join(dir, sub))) {
        const parsed: unknown = JSON.parse(readFileSync(join(dir, sub, name), "utf8").replace(/^\s*\/\/.*$/gm, ""));
        if (!Array.isArray(parsed)) continue;
        for (const ns of parsed) {
          const nsName = field(ns, "namespace");
          if (typeof nsName !== "string" || nsName === "manifest" || !inMv2(ns)) continue;
          namespaces.set(nsName, [...new Set([...(namespaces.get(nsName) ?? []), ...perms(ns)])]);
          for (const kind of ["functions", "events"]) {
            const list = field(ns, kind);
            if (!Array.isArray(list)) continue;
            for (const fn of list) {
              const fnName = field(fn, "name");
              if (typeof fnName !== "string" || !inMv2(fn) || perms(fn).length === 0) continue;
              const key = `${nsName}.${fnName}`;
              members.set(key, [...new Set([...(members.get(key) ?? []), ...perms(fn)])]);
            }
          }
        }
      }
    }
    return { namespaces, members };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe.skipIf(!existsSync(omni) || !haveUnzip)("the permission tables agree with Thunderbird's schemas (omni.ja)", () => {
  const schema = existsSync(omni) && haveUnzip ? readSchemaPermissions() : { namespaces: new Map<string, string[]>(), members: new Map<string, string[]>() };

  it("has the schema's permissions for every namespace in the table", () => {
    const wrong = Object.entries(NAMESPACE_PERMISSIONS).filter(([ns, p]) => {
      const actual = schema.namespaces.get(ns);
      return actual === undefined || [...actual].sort().join() !== [...p].sort().join();
    });
    expect(wrong.map(([ns]) => `${ns}: table ${JSON.stringify(NAMESPACE_PERMISSIONS[ns])}, schema ${JSON.stringify(schema.namespaces.get(ns))}`)).toEqual([]);
  });

  it("lists every permission-guarded function and event of those namespaces, with the schema's permissions", () => {
    const tableNamespaces = new Set(Object.keys(NAMESPACE_PERMISSIONS));
    const expected = [...schema.members].filter(([key]) => tableNamespaces.has(key.slice(0, key.lastIndexOf("."))));
    const fromSchema = Object.fromEntries(expected.map(([k, p]) => [k, [...p].sort()]));
    const fromTable = Object.fromEntries(Object.entries(MEMBER_PERMISSIONS).map(([k, p]) => [k, [...p].sort()]));
    expect(fromTable).toEqual(fromSchema);
  });
});
