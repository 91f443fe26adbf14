#!/usr/bin/env sh
# Installs what pip cannot: a Chromium for Playwright to drive, and (for the headed tests)
# a virtual display. Idempotent; does nothing that is already there.
#   scripts/system-deps.sh browser      a browser only (make demo)
#   scripts/system-deps.sh test         a browser, xvfb and dovecot (make test)
set -eu
want=${1:-browser}

have() { command -v "$1" >/dev/null 2>&1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif have sudo; then sudo "$@"; else "$@"; fi; }

apt_packages=""
if ! have chromium && ! have chromium-browser && ! have google-chrome && ! have google-chrome-stable \
   && ! .venv/bin/python -c 'from assistant.browser import playwright_chromium_installed as f; raise SystemExit(0 if f() else 1)' 2>/dev/null; then
  apt_packages="chromium"
fi
# Headless runs (the tests, `make demo`) take Debian's headless shell when it is there: the
# same engine without the browser's UI, several times cheaper per browser context.
if have apt-get && ! have chromium-headless-shell \
   && { [ -n "$apt_packages" ] || have chromium; } \
   && apt-cache show chromium-headless-shell >/dev/null 2>&1; then
  apt_packages="$apt_packages chromium-headless-shell"
fi
if [ "$want" = test ] && [ "$(uname -s)" = Linux ] && ! have xvfb-run; then
  apt_packages="$apt_packages xvfb"
fi
# The e-mail tests read codes from a real IMAP server, which they start on 127.0.0.1 from a
# config of their own (tests/imap.py); the package's own service is not needed for them.
if [ "$want" = test ] && [ "$(uname -s)" = Linux ] && ! have dovecot && [ ! -x /usr/sbin/dovecot ]; then
  apt_packages="$apt_packages dovecot-imapd"
fi
[ -n "$apt_packages" ] || exit 0

if have apt-get; then
  echo "Installing Debian packages:$apt_packages"
  as_root apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends $apt_packages
  case " $apt_packages " in
    *" dovecot-imapd "*)  # Debian starts the mail service it installs: the tests need it not
      if have systemctl; then as_root systemctl disable --now dovecot >/dev/null 2>&1 || true; fi ;;
  esac
else
  case " $apt_packages " in
    *" chromium "*)
      echo "No Chromium or Chrome found and no apt-get here: installing Playwright's Chromium."
      .venv/bin/python -m playwright install chromium ;;
  esac
fi
