#!/usr/bin/env bash
# One-time setup on Debian 12: the system packages the tests and the demo use (Prosody, ejabberd, Dovecot, Postfix, Thunderbird, Xvfb),
# then the npm packages from the lockfile (skipped with --system-only). Safe to run again: installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v prosody >/dev/null 2>&1 || need+=(prosody)
{ command -v erl >/dev/null 2>&1 && ls -d /usr/lib/x86_64-linux-gnu/ejabberd-23.01* >/dev/null 2>&1; } || need+=(ejabberd)
[ -x /usr/sbin/dovecot ] || need+=(dovecot-imapd)
[ -x /usr/lib/dovecot/lmtp ] || need+=(dovecot-lmtpd)
[ -x /usr/sbin/postfix ] || need+=(postfix)
command -v certutil >/dev/null 2>&1 || need+=(libnss3-tools)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v thunderbird >/dev/null 2>&1 || need+=(thunderbird)
command -v Xvfb >/dev/null 2>&1 || need+=(xvfb)
command -v xauth >/dev/null 2>&1 || need+=(xauth)
command -v xdotool >/dev/null 2>&1 || need+=(xdotool)
command -v xwd >/dev/null 2>&1 || need+=(x11-apps)
command -v gpg >/dev/null 2>&1 || need+=(gnupg)
command -v sqlite3 >/dev/null 2>&1 || need+=(sqlite3)
command -v git >/dev/null 2>&1 || need+=(git)
command -v unzip >/dev/null 2>&1 || need+=(unzip)
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
