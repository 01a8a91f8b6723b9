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
import functools
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


def _annotation_names(text: str) -> Set[str]:
    try:
        expr = ast.parse(text, mode="eval")
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(expr) if isinstance(n, ast.Name)}


def _loads(node: ast.AST) -> Set[str]:
    """Names an expression reads (string annotations included)."""
    out: Set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
            out.add(sub.id)
        elif isinstance(sub, ast.Constant) and isinstance(sub.value, str) and len(sub.value) < 200:
            out |= _annotation_names(sub.value)
    return out


def _bound_in(body: List[ast.stmt], args: Optional[ast.arguments]) -> Set[str]:
    """Names a function binds locally: its arguments, and what its body assigns, imports or defines."""
    bound: Set[str] = set()
    if args is not None:
        for a in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]:
            if a is not None:
                bound.add(a.arg)
    declared_global: Set[str] = set()
    stack: List[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
            continue  # its own scope
        if isinstance(node, ast.Lambda):
            continue
        if isinstance(node, ast.Global):
            declared_global.update(node.names)
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        stack.extend(ast.iter_child_nodes(node))
    return bound - declared_global


def _free_in_function(fn: Any, enclosing: Set[str]) -> Set[str]:
    """Names a function (or lambda) body reads that it does not bind (closures of ``enclosing`` excluded)."""
    body = fn.body if isinstance(fn.body, list) else [fn.body]
    local = _bound_in(body, fn.args) | enclosing
    free: Set[str] = set()
    stack: List[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            free |= _outer_parts(node) - local
            free |= _free_in_function(node, local)
            continue
        if isinstance(node, ast.ClassDef):
            free |= _class_free(node, local)
            continue
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            targets = {n.id for g in node.generators for n in ast.walk(g.target) if isinstance(n, ast.Name)}
            free |= _loads(node) - targets - local
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in local:
            free.add(node.id)
        stack.extend(ast.iter_child_nodes(node))
    return free


def _outer_parts(fn: Any) -> Set[str]:
    """What a def evaluates where it is defined: decorators, defaults, annotations."""
    names: Set[str] = set()
    for d in getattr(fn, "decorator_list", []):
        names |= _loads(d)
    args = fn.args
    for default in list(args.defaults) + [d for d in args.kw_defaults if d is not None]:
        names |= _loads(default)
    for a in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]:
        if a is not None and a.annotation is not None:
            names |= _loads(a.annotation)
    if getattr(fn, "returns", None) is not None:
        names |= _loads(fn.returns)
    return names


def _class_free(cls: ast.ClassDef, enclosing: Set[str]) -> Set[str]:
    names: Set[str] = set()
    for part in list(cls.decorator_list) + list(cls.bases) + [k.value for k in cls.keywords]:
        names |= _loads(part)
    class_bound: Set[str] = set()
    for stmt in cls.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names |= _outer_parts(stmt) - class_bound - enclosing
            names |= _free_in_function(stmt, enclosing)  # methods do not see the class body's names
            class_bound.add(stmt.name)
        elif isinstance(stmt, ast.ClassDef):
            names |= _class_free(stmt, enclosing)
            class_bound.add(stmt.name)
        else:
            names |= _loads(stmt) - class_bound - enclosing
            class_bound |= {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return names


def _used_names(node: ast.stmt) -> Set[str]:
    """Module-level names a top-level statement needs (its free names; builtins excluded)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        used = _outer_parts(node) | _free_in_function(node, set())
    elif isinstance(node, ast.ClassDef):
        used = _class_free(node, set())
    else:
        used = _loads(node)
    return used - _BUILTINS


def _span(node: ast.stmt) -> range:
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return range(start, (node.end_lineno or node.lineno) + 1)


@functools.lru_cache(maxsize=128)
def _extract(source: str, top_name: str) -> Optional[str]:
    # (cached: a script that calls a function OP 10,000 times makes as many templates of one OP)
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
