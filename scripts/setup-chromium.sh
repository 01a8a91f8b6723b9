#!/usr/bin/env bash
# Install Debian's Chromium, the browser the dflow-ui tests drive through Playwright
# (pointed at /usr/bin/chromium: Playwright's own browser downloads cannot work here).
#
# Idempotent: returns at once when chromium is present; runs `apt-get update` only
# when something has to be installed. Needs root (or sudo) on Debian/Ubuntu.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
    echo "setup-chromium: $(chromium --version 2>/dev/null || echo chromium) is already installed"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "setup-chromium: need root (or sudo) to install the Debian package chromium" >&2
        exit 1
    fi
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup-chromium: apt-get not found; install Chromium by hand so that /usr/bin/chromium exists" >&2
    exit 1
fi

echo "setup-chromium: installing chromium (Debian package)"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
chromium --version
