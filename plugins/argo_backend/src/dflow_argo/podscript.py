"""The script of a Python OP's pod: its payload and three lines handing over to core.

The bootstrap is the same text for every template; only its payload differs (the OP's
location, its slices, the names and types of its inputs, an executor's rewritten
script: compressed JSON in base64, so Argo's template substitution never touches an
OP's source and no quoting is needed). Everything the pod then does is core's
:func:`dflow.container.run_in_container`, the same code for every container backend.
"""

from __future__ import annotations

from typing import Any, Dict

from dflow.container import PACKAGES_DIR, PKG_DIR, encode_payload
from dflow.container import decode_payload as _decode

__all__ = ["BOOTSTRAP", "pod_script", "decode_payload", "PKG_DIR", "PACKAGES_DIR"]

# Python 3.8+, standard library only: this runs inside the user's image.
BOOTSTRAP = (
    "import os, sys\n"
    "sys.path.insert(0, os.environ.get('DFLOW_SANDBOX_ROOT', '') + %r)\n"
    "from dflow.container import run_in_container\n"
    "run_in_container(P)\n"
) % PKG_DIR


def pod_script(payload: Dict[str, Any]) -> str:
    """The full script of a Python OP template: the payload line and the bootstrap."""
    return f"P = {encode_payload(payload)!r}\n{BOOTSTRAP}"


def decode_payload(script: str) -> Dict[str, Any]:
    """The payload of a script made by :func:`pod_script` (for tests and ``get_spec`` fallbacks)."""
    first = script.split("\n", 1)[0]
    if not first.startswith("P = "):
        raise ValueError("not a dflow pod script")
    return _decode(first[4:].strip().strip("'\""))
