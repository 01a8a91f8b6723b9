"""``dflow.common``: the artifact classes as the original dflow's module of this name holds them.

Code built on dflow imports them from here (``from dflow.common import S3Artifact``) or
names them as ``dflow.common.S3Artifact`` in annotations. Names that need a plugin
(``HTTPArtifact``, ``LineageClient``) import without it and say what to install when used.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._exports import lazy_exports

_LAZY = {
    "S3Artifact": "artifact",
    "LocalArtifact": "artifact",
    "CustomArtifact": "artifact",
    "HTTPArtifact": "plugin:http",
    "LineageClient": "plugin:lineage",
    "jsonpickle": "=jsonpickle",
}

__all__ = sorted(_LAZY) + ["import_func"]

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, base="dflow")


def import_func(text: str) -> Any:
    """The object that ``"package.module.name"`` names (a module, or a name in one)."""
    try:
        return importlib.import_module(text)
    except ImportError:
        module, _, name = text.rpartition(".")
        if not module:
            raise
        return getattr(importlib.import_module(module), name)
