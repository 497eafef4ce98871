// @ts-check
import tseslint from "typescript-eslint";

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
    files: ["src/xmpp/**/*.ts"],
    rules: {
      "no-restricted-globals": [
        "error",
        { name: "messenger", message: "src/xmpp runs in Node too: go through src/platform." },
        { name: "browser", message: "src/xmpp runs in Node too: go through src/platform." },
      ],
    },
  },
);
