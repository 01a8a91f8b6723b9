"""``dflow.resource``: the import path of the original dflow for ``Resource`` (defined in :mod:`dflow.executor`)."""

from __future__ import annotations

from .executor import Resource

__all__ = ["Resource"]
