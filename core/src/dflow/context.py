"""``dflow.context``: the import path of the original dflow for ``Context`` (defined in :mod:`dflow.executor`)."""

from __future__ import annotations

from .executor import Context

__all__ = ["Context"]
