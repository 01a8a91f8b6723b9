"""Loops and the values that drive them: ``argo_range``, ``argo_len``, ``argo_sequence``, ``argo_enumerate``,
``argo_sum``, ``argo_concat`` (expressions evaluated when the workflow runs, on every backend)."""

from __future__ import annotations

from typing import Any, Optional

from .io import Expression, to_expr
from .step import ArgoSequence

__all__ = ["argo_range", "argo_len", "argo_sequence", "argo_enumerate", "argo_sum", "argo_concat"]


def _int_expr(value: Any) -> str:
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Expression) and value._numeric:
        return value.expr
    return f"asInt({to_expr(value)})"


def argo_range(*args: Any) -> Expression:
    """A JSON list like ``range(...)``, computed when the workflow runs (for ``with_param``)."""
    if not 1 <= len(args) <= 3:
        raise TypeError(f"argo_range takes 1 to 3 arguments (stop | start, stop[, step]), got {len(args)}")
    start, step = "0", "1"
    if len(args) == 1:
        stop = _int_expr(args[0])
    else:
        start, stop = _int_expr(args[0]), _int_expr(args[1])
        if len(args) == 3:
            step = _int_expr(args[2])
    return Expression(f"toJson(sprig.untilStep({start}, {stop}, {step}))")


def argo_len(param: Any) -> Expression:
    """The length of a list parameter (or of an artifact list), computed when the workflow runs; of
    an uploaded artifact, the number of paths uploaded (known now, as in dflow)."""
    catalog = getattr(param, "catalog", None)
    if isinstance(catalog, list) and not isinstance(param, Expression):
        return Expression(str(len(catalog)), numeric=True)
    return Expression(f"len(sprig.fromJson({to_expr(param)}))", numeric=True)


def argo_sequence(count: Any = None, start: Any = None, end: Any = None, format: Optional[str] = None) -> ArgoSequence:
    """A numeric sequence for ``with_sequence``: ``start`` and ``count`` or ``end``, optional printf ``format``."""
    return ArgoSequence(start=start, count=count, end=end, format=format)


def argo_enumerate(*args: Any, **kwargs: Any) -> Expression:
    """A JSON list of ``{"order": i, <name>: value}`` from parallel lists, for ``with_param``.

    As in dflow, ``argo_enumerate(a)`` gives items ``{"order": i, "value": a[i]}`` and
    ``argo_enumerate(a, b)`` items ``{"order": i, "value0": a[i], "value1": b[i]}``; with
    keyword arguments the names are the keywords. Use ``"{{item.order}}"`` and
    ``"{{item.value}}"`` (``"{{item.NAME}}"``). The result is an expression of Argo's
    expression language (``map`` over the indexes), so it means the same on every backend.
    """
    positional = [("value", args[0])] if len(args) == 1 else [(f"value{i}", v) for i, v in enumerate(args)]
    fields = positional + list(kwargs.items())
    if not fields:
        raise TypeError("argo_enumerate needs at least one list")
    lists = [f"sprig.fromJson({_json_text(v)})" for _name, v in fields]
    entries = ", ".join([f"{to_expr('order')}: #"] + [f"{to_expr(name)}: {lst}[#]" for (name, _v), lst in zip(fields, lists)])
    return Expression(f"toJson(map(sprig.untilStep(0, len({lists[0]}), 1), {{ {{{entries}}} }}))")


def _json_text(value: Any) -> str:
    """The expression text of a list given as a Python list or as a reference to a JSON list."""
    if isinstance(value, (list, tuple)):
        import json

        return to_expr(json.dumps(list(value)))
    return to_expr(value)


def argo_sum(param: Any) -> Expression:
    """The sum of a list parameter (of numbers), computed when the workflow runs."""
    return Expression(f"sum(sprig.fromJson({to_expr(param)}))", numeric=True)


def argo_concat(param: Any) -> Expression:
    """A list of lists (a list parameter) concatenated into one list, computed when the workflow runs."""
    return Expression(f"toJson(flatten(sprig.fromJson({to_expr(param)})))")
