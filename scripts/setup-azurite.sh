#!/usr/bin/env bash
# Install Azurite, the Azure Storage emulator, from npm for the dflow-azure tests.
#
# usage: scripts/setup-azurite.sh [DIR]     (default: .venv/azurite)
#
# Azurite 3.35 is the last release that runs on Node.js 20 (later ones need 22).
# Idempotent: returns at once when that version is already in DIR. Installs Node.js
# and npm from Debian's packages first when npm is missing (needs root or sudo).
# The tests find the emulator at DIR/node_modules/.bin/azurite-blob (DIR defaults to
# the virtual environment's azurite/ folder) or through DFLOW_AZURITE.
set -euo pipefail

VERSION=3.35.0
DIR="${1:-.venv/azurite}"

if [ -x "$DIR/node_modules/.bin/azurite-blob" ] && [ "$(cat "$DIR/.dflow-version" 2>/dev/null)" = "$VERSION" ]; then
    echo "setup-azurite: azurite $VERSION is already installed in $DIR"
    exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || { echo "setup-azurite: npm is missing; install nodejs and npm" >&2; exit 1; }
        SUDO="sudo"
    fi
    echo "setup-azurite: installing nodejs and npm"
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm
fi

mkdir -p "$DIR"
echo "setup-azurite: installing azurite $VERSION into $DIR"
npm install --prefix "$DIR" --no-audit --no-fund --no-save --loglevel=error "azurite@$VERSION"
test -x "$DIR/node_modules/.bin/azurite-blob" || { echo "setup-azurite: azurite-blob missing after install" >&2; exit 1; }
echo "$VERSION" >"$DIR/.dflow-version"
echo "setup-azurite: done"
