"""The source of an OP defined in the submitting script: only what the OP needs.

A Python OP defined in ``__main__`` (the script that submits the workflow) cannot be
imported where the step runs, so its source travels with the workflow. Shipping the
whole script would run its top-level code again in every step (uploads, submissions)
and would carry whatever else the script holds, credentials included
(``s3_config["secret_key"] = ...``). So the script is parsed and only the top-level
statements the OP needs are kept, in their order: the definition of the OP and,
transitively, the imports, functions, classes and assignments to plain names that it
refers to. An assignment to anything but a name (``config["token"] = ...``), a call, a
loop or an ``if __name__ == "__main__":`` block is never shipped.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import sys
from typing import Any, Dict, List, Optional, Set

__all__ = ["op_source"]

_BUILTINS = set(dir(builtins))


def _bound_names(node: ast.stmt) -> List[str]:
    """Names a top-level statement binds (only the kinds that may be shipped)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.Import):
        return [(a.asname or a.name).split(".")[0] for a in node.names]
    if isinstance(node, ast.ImportFrom):
        return [a.asname or a.name for a in node.names if a.name != "*"]
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)] if all(
            isinstance(t, ast.Name) for t in node.targets) else []
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
        return [node.target.id]
    return []


def _used_names(node: ast.AST) -> Set[str]:
    """Free names a statement reads (names it binds itself at top level do not count for defs)."""
    used: Set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
            used.add(sub.id)
        elif isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            # string annotations (``from __future__ import annotations``, forward references)
            try:
                expr = ast.parse(sub.value, mode="eval")
            except SyntaxError:
                continue
            used |= {n.id for n in ast.walk(expr) if isinstance(n, ast.Name)}
    return used - _BUILTINS


def _span(node: ast.stmt) -> range:
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return range(start, (node.end_lineno or node.lineno) + 1)


def _extract(source: str, top_name: str) -> Optional[str]:
    tree = ast.parse(source)
    body = tree.body
    binders: Dict[str, List[int]] = {}
    for i, node in enumerate(body):
        for name in _bound_names(node):
            binders.setdefault(name, []).append(i)
    if top_name not in binders:
        return None
    keep: Set[int] = set()
    todo = list(binders[top_name])
    while todo:
        i = todo.pop()
        if i in keep:
            continue
        keep.add(i)
        for name in _used_names(body[i]):
            todo.extend(j for j in binders.get(name, []) if j not in keep)
    for i, node in enumerate(body):
        if isinstance(node, ast.ImportFrom) and (node.module == "__future__" or any(a.name == "*" for a in node.names)):
            keep.add(i)
    # every kept line stays on its line number (the others are blank), so a traceback in a
    # step points at the right line of the script
    lines = source.splitlines()
    kept = {n for i in keep for n in _span(body[i])}
    last = max(kept)
    return "\n".join(lines[n - 1] if n in kept else "" for n in range(1, last + 1)) + "\n"


def op_source(op_class: Any, module_source: Optional[str] = None) -> Optional[str]:
    """The source that defines ``op_class`` with only what it needs; None when no source is found.

    ``module_source``: the text of the defining script (read from its file by default).
    """
    top_name = op_class.__qualname__.split(".")[0]
    if module_source is None:
        mod = sys.modules.get(op_class.__module__)
        path = getattr(mod, "__file__", None)
        if path:
            try:
                with open(path, encoding="utf-8") as f:
                    module_source = f.read()
            except OSError:
                module_source = None
    if module_source is not None:
        try:
            got = _extract(module_source, top_name)
        except SyntaxError:
            got = None
        if got is not None:
            return got
    # no file (a notebook): the definition alone, as far as inspect can find it
    target = getattr(op_class, "func", None) if getattr(op_class, "_dflow_function_op", False) else op_class
    try:
        text = inspect.getsource(target)
    except (OSError, TypeError):
        return None
    if getattr(op_class, "_dflow_function_op", False):
        text = "from dflow.python import OP\n" + text
    return text
