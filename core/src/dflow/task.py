"""``dflow.task``: the import path of the original dflow for ``Task`` (defined in :mod:`dflow.step`)."""

from __future__ import annotations

from .step import Task

__all__ = ["Task"]
