"""Small classes and helpers of the original ``dflow.utils`` that code built on it may import.

Loaded on first use of one of its names through :mod:`dflow.utils` (standard library only).
"""

from __future__ import annotations

import base64
import concurrent.futures
import pickle
from typing import Any, Set, Tuple

from .stepio import (
    ArtifactDict,
    ArtifactList,
    ArtifactPosixPath,
    ArtifactSet,
    ArtifactStr,
    ArtifactWindowsPath,
    artifact_classes,
)

__all__ = ["ArtifactStr", "ArtifactPosixPath", "ArtifactWindowsPath", "ArtifactList", "ArtifactSet",
           "ArtifactDict", "artifact_classes", "Variable", "evalable_repr", "ProcessPoolExecutor"]


class Variable:
    """Source text that :func:`evalable_repr` writes as it is (a name defined where the text is evaluated)."""

    def __init__(self, expr: str) -> None:
        self.expr = expr

    def evalable_repr(self, imports: Set[Tuple[Any, str]]) -> str:
        return self.expr


def evalable_repr(obj: Any, imports: Set[Tuple[Any, str]]) -> str:
    """Python source that evaluates to ``obj``; ``imports`` collects ``(from, name)`` pairs the
    source needs. Plain data is written literally, objects with an ``evalable_repr`` method by
    it, anything else as a pickle (which only trusted code should evaluate)."""
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return repr(obj)
    if isinstance(obj, list):
        return "[%s]" % ", ".join(evalable_repr(i, imports) for i in obj)
    if isinstance(obj, set):
        return "{%s}" % ", ".join(evalable_repr(i, imports) for i in obj) if obj else "set()"
    if isinstance(obj, dict):
        return "{%s}" % ", ".join("%s: %s" % (evalable_repr(k, imports), evalable_repr(v, imports))
                                  for k, v in obj.items())
    if hasattr(obj, "evalable_repr"):
        return obj.evalable_repr(imports)
    imports.add((None, "base64"))
    imports.add((None, "pickle"))
    return "pickle.loads(base64.b64decode(%r))" % base64.b64encode(pickle.dumps(obj)).decode()


class ProcessPoolExecutor(concurrent.futures.ProcessPoolExecutor):
    """A process pool whose ``with`` block does not wait for running work when it ends."""

    def __exit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> bool:
        self.shutdown(wait=False)
        return False
