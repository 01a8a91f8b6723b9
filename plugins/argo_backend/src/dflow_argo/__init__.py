"""dflow-argo: compile a dflow WorkflowSpec into an Argo Workflow and run it through Argo Server.

The names below are imported on first use: every ``dflow`` process loads the installed
plugins (``dflow_argo.plugin``), and a run on another backend should not pay for these.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["ArgoBackend", "ArgoClient", "ArgoServerError", "ManifestCompiler", "render_manifest", "render_file"]

_WHERE = {
    "ArgoBackend": "backend",
    "ArgoClient": "client",
    "ArgoServerError": "client",
    "ManifestCompiler": "manifest",
    "render_manifest": "manifest",
    "render_file": "render",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'dflow_argo' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list:
    return sorted(list(globals()) + list(_WHERE))
