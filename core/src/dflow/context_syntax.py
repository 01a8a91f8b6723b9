"""``with Workflow(...) as wf:`` (and ``with Steps(...)``, ``with DAG(...)``): steps built in the block join it.

Leaving a ``Workflow`` block submits the workflow, unless the block raised. Blocks nest:
a step joins the innermost one. Each thread has its own blocks.
"""

from __future__ import annotations

import threading
from typing import Any, List, Optional

__all__ = ["enter", "leave", "current"]

_local = threading.local()


def _stack() -> List[Any]:
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


def enter(container: Any) -> None:
    """Steps built from now on join ``container`` (a Workflow, Steps or DAG), until :func:`leave`."""
    _stack().append(container)


def leave(container: Any) -> None:
    stack = _stack()
    if stack and stack[-1] is container:
        stack.pop()
    elif container in stack:  # a block left out of order (an exception): drop it and what it held
        del stack[stack.index(container):]


def current() -> Optional[Any]:
    """The innermost open block, or None."""
    stack = _stack()
    return stack[-1] if stack else None
