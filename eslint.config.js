// @ts-check
import tseslint from "typescript-eslint";

/** The UI page folders under src/ui (each one HTML page); src/ui/shared and src/ui/rpc.ts serve them all. */
const UI_PAGES = ["compose", "log", "options", "status"];

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "web-ext-artifacts/**", "artifacts/**", ".tmp/**", "tests/e2e/fixtures/**/*.js"] },
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    // The pure core never touches the host: no messenger/browser/chrome globals, no platform or xmpp imports.
    files: ["src/core/**/*.ts"],
    rules: {
      "no-restricted-globals": [
        "error",
        { name: "messenger", message: "src/core is pure: go through src/platform." },
        { name: "browser", message: "src/core is pure: go through src/platform." },
        { name: "chrome", message: "src/core is pure: go through src/platform." },
      ],
      "no-restricted-imports": [
        "error",
        { patterns: [{ group: ["**/platform/**", "**/xmpp/**", "**/background/**", "**/ui/**", "@xmpp/*"], message: "src/core depends on nothing but itself." }] },
      ],
      "@typescript-eslint/no-explicit-any": "error",
    },
  },
  {
    // The session runs in Node (tests) and Thunderbird alike: no host globals, nothing above it.
    files: ["src/xmpp/**/*.ts"],
    rules: {
      "no-restricted-globals": [
        "error",
        { name: "messenger", message: "src/xmpp runs in Node too: go through src/platform." },
        { name: "browser", message: "src/xmpp runs in Node too: go through src/platform." },
        { name: "chrome", message: "src/xmpp runs in Node too: go through src/platform." },
      ],
      "no-restricted-imports": [
        "error",
        { patterns: [{ group: ["**/platform/**", "**/background/**", "**/ui/**"], message: "src/xmpp depends on src/core only." }] },
      ],
    },
  },
  {
    // Thunderbird adapters: never the UI pages or the composition root (the root passes UI texts in).
    files: ["src/platform/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        { patterns: [{ group: ["**/ui/**", "**/background/**"], message: "src/platform does not import src/ui or src/background: take what it needs as a parameter." }] },
      ],
      "no-restricted-globals": ["error", { name: "browser", message: "use messenger.*" }, { name: "chrome", message: "use messenger.*" }],
    },
  },
  ...UI_PAGES.map((page) => ({
    // A page's own folder, src/ui/shared and src/ui/rpc.ts; never another page's folder.
    files: [`src/ui/${page}/**/*.ts`],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: UI_PAGES.filter((other) => other !== page).flatMap((other) => [`../${other}/**`, `**/ui/${other}/**`]),
              message: "One UI page never imports another page's folder: move what both use to src/ui/shared.",
            },
            { group: ["**/background/**", "**/xmpp/**"], message: "UI code talks to the background through src/ui/rpc.ts." },
          ],
        },
      ],
    },
  })),
  {
    files: ["src/ui/**/*.ts"],
    rules: {
      "no-restricted-globals": ["error", { name: "browser", message: "use messenger.*" }, { name: "chrome", message: "use messenger.*" }],
    },
  },
  {
    // What the pages share: never a page's folder, the background or the session.
    files: ["src/ui/shared/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: UI_PAGES.flatMap((page) => [`../${page}/**`, `**/ui/${page}/**`]), message: "src/ui/shared serves the pages and imports none of them." },
            { group: ["**/background/**", "**/xmpp/**"], message: "UI code talks to the background through src/ui/rpc.ts." },
          ],
        },
      ],
    },
  },
  {
    // Pages may call messenger.* for their own page (ports, permissions, tabs); their presentation logic and
    // src/ui/shared stay pure so that the unit tests run them in Node.
    files: ["src/ui/shared/**/*.ts", "src/ui/*/present.ts", "src/ui/options/identities.ts"],
    rules: {
      "no-restricted-globals": [
        "error",
        { name: "messenger", message: "presentation logic is pure: the page script calls messenger.*" },
        { name: "browser", message: "presentation logic is pure: the page script calls messenger.*" },
        { name: "chrome", message: "presentation logic is pure: the page script calls messenger.*" },
      ],
    },
  },
);
