#!/usr/bin/env bash
# One-time setup on Debian 12: the system packages the tests and the demo use (Prosody, ejabberd, Dovecot, Postfix, Thunderbird, Xvfb),
# then the npm packages from the lockfile (skipped with --system-only). Safe to run again: installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# The list and how each is detected live in scripts/preflight.mjs, which `npm test` and `npm run demo` run first.
command -v node >/dev/null 2>&1 || { echo "Node.js >= 20.19 is needed first: https://nodejs.org/ (Debian 12's own nodejs is older)" >&2; exit 1; }
missing="$(node scripts/preflight.mjs --missing-packages)"
read -r -d '' -a need <<<"$missing" || true
if ((${#need[@]})); then
  echo "--- apt-get install ${need[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq -o DPkg::Lock::Timeout=300
  # Postfix (bench/headline.ts runs a private one, tests/support/postfix.ts): no system configuration.
  echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 "${need[@]}"
  # The Debian packages may start a system-wide Prosody / ejabberd / Dovecot / Postfix; the tests and the demo run their own.
  if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now prosody ejabberd dovecot postfix >/dev/null 2>&1 || true; fi
fi

[ "${1:-}" = "--system-only" ] && exit 0
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "--- npm ci"
  npm ci --no-audit --no-fund
fi
