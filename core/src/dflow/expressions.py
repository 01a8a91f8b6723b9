"""Argo-style template text: ``{{ref}}`` substitution, ``{{=EXPR}}`` expressions, ``when`` conditions.

Standard library only, Python 3.8+. No Python ``eval``: expressions are parsed by a
small recursive-descent parser and the parses are cached.

* :func:`substitute` ``(text, resolve) -> str``
* :func:`find_refs` ``(text, include_expressions=True) -> List[str]``
* :func:`eval_expr` ``(expr, variables=None) -> Any`` (Argo's ``expr`` language subset)
* :func:`eval_condition` ``(text) -> bool`` (govaluate-like ``when`` text, already substituted)
* :func:`to_text` ``(value) -> str``: the text an expression result becomes
"""

from __future__ import annotations

import re
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from dflow.exprfuncs import FUNCTIONS, maybe_json, to_text
from dflow.exprparse import NUMBER_RE, parse, parse_number

__all__ = [
    "substitute",
    "find_refs",
    "eval_expr",
    "eval_condition",
    "to_text",
    "parse",
    "FUNCTIONS",
    "INPUT_PARAMETER_REF",
    "STEP_OUTPUT_PARAMETER_REF",
]

_TEMPLATE_RE = re.compile(r"\{\{(.*?)\}\}", re.S)
# a parameter text that is one whole reference: ``{{inputs.parameters.<name>}}``, and
# ``{{steps.<step>.outputs.parameters.<name>}}`` (or ``tasks``; groups: kind, step, name)
INPUT_PARAMETER_REF = re.compile(r"^\{\{\s*inputs\.parameters\.([^.{}\s]+)\s*\}\}$")
STEP_OUTPUT_PARAMETER_REF = re.compile(r"^\{\{\s*(steps|tasks)\.([^.{}\s]+)\.outputs\.parameters\.([^.{}\s]+)\s*\}\}$")

Variables = Union[None, Callable[[str], Any], Dict[str, Any]]


# --------------------------------------------------------------------------- templates


def substitute(text: str, resolve: Callable[[str], Any]) -> str:
    """Replace each ``{{ref}}`` by ``resolve(ref)`` and each ``{{=EXPR}}`` by its value as text.

    ``resolve`` takes a dotted reference (``"inputs.parameters.x"``,
    ``"steps.a-b.outputs.parameters.y"``, ``"item"``, ``"item.field"``) and returns its
    text; it raises ``KeyError`` for an unknown reference. Expressions look their
    variables up through the same ``resolve``.
    """
    if "{{" not in text:
        return text

    def repl(m: "re.Match[str]") -> str:
        inner = m.group(1).strip()
        if inner.startswith("="):
            return to_text(eval_expr(inner[1:], resolve))
        value = resolve(inner)
        return value if isinstance(value, str) else to_text(value)

    return _TEMPLATE_RE.sub(repl, text)


def find_refs(text: str, include_expressions: bool = True) -> List[str]:
    """The references ``{{ref}}`` in ``text`` (and the variables of ``{{=EXPR}}``), in order."""
    out: List[str] = []
    for m in _TEMPLATE_RE.finditer(text):
        inner = m.group(1).strip()
        if inner.startswith("="):
            if include_expressions:
                for r in _expr_refs(parse(inner[1:])):
                    if r not in out:
                        out.append(r)
        elif inner not in out:
            out.append(inner)
    return out


def _expr_refs(node: Tuple[Any, ...]) -> List[str]:
    refs: List[str] = []

    def walk(n: Any) -> None:
        if not isinstance(n, tuple):
            return
        kind = n[0]
        if kind in ("name", "attr", "index"):
            root, steps = _chain(n)
            if root is not None:
                names = [root]
                for s in steps:
                    if s[0] == "s":
                        names.append(s[1])
                    elif s[1][0] == "lit" and isinstance(s[1][1], str):
                        names.append(s[1][1])
                    else:
                        break
                ref = ".".join(names)
                if ref not in refs:
                    refs.append(ref)
                for s in steps:
                    if s[0] == "e":
                        walk(s[1])
                return
        if kind == "call":
            for a in n[2]:
                walk(a)
            return
        for child in n[1:]:
            if isinstance(child, tuple):
                walk(child)
            elif isinstance(child, list):
                for c in child:
                    walk(c)

    walk(node)
    return refs


# --------------------------------------------------------------------------- evaluation


class _Missing(Exception):
    pass


def _chain(node: Tuple[Any, ...]) -> Tuple[Optional[str], List[Tuple[str, Any]]]:
    steps: List[Tuple[str, Any]] = []
    while node[0] in ("attr", "index"):
        steps.append(("s", node[2]) if node[0] == "attr" else ("e", node[2]))
        node = node[1]
    if node[0] != "name":
        return None, []
    steps.reverse()
    return node[1], steps


def _get(obj: Any, key: Any, where: str) -> Any:
    obj = maybe_json(obj)
    try:
        if isinstance(obj, dict):
            if key in obj:
                return obj[key]
            return obj.get(str(key))  # as in Argo's expressions: a missing key of a map is nil
        if isinstance(obj, (list, tuple, str)):
            return obj[int(key)]
    except (KeyError, IndexError, ValueError, TypeError):
        raise ValueError("cannot index %s with %r" % (where, key)) from None
    if isinstance(key, str) and hasattr(obj, key):
        return getattr(obj, key)
    raise ValueError("cannot index %s (a %s) with %r" % (where, type(obj).__name__, key))


def _lookup(name: str, variables: Variables) -> Any:
    if variables is None:
        raise _Missing(name)
    if callable(variables) and not isinstance(variables, dict):
        try:
            return variables(name)
        except LookupError:
            raise _Missing(name) from None
    obj: Any = variables
    for part in name.split("."):
        if isinstance(obj, dict) and part in obj:
            obj = obj[part]
        else:
            raise _Missing(name)
    return obj


def _eval_chain(node: Tuple[Any, ...], variables: Variables, expr: str) -> Any:
    root, steps = _chain(node)
    if root is None:
        # something like fromJson(x).a or [1,2][0]
        base_node = node
        rest: List[Tuple[str, Any]] = []
        while base_node[0] in ("attr", "index"):
            rest.append(("s", base_node[2]) if base_node[0] == "attr" else ("e", base_node[2]))
            base_node = base_node[1]
        rest.reverse()
        obj = _eval(base_node, variables, expr)
        for kind, v in rest:
            key = v if kind == "s" else _eval(v, variables, expr)
            obj = _get(obj, key, "the value")
        return obj
    keys: List[Any] = [s[1] if s[0] == "s" else _eval(s[1], variables, expr) for s in steps]
    n_str = 0
    for k in keys:
        if isinstance(k, str):
            n_str += 1
        else:
            break
    for n in range(n_str, -1, -1):
        name = ".".join([root] + keys[:n])
        try:
            obj = _lookup(name, variables)
        except _Missing:
            continue
        where = name
        for j in range(n, len(keys)):
            k = keys[j]
            if j < n_str and isinstance(maybe_json(obj), dict) and k not in maybe_json(obj):
                # a dotted name that is not there is an unknown variable; only a subscript reads nil
                full = ".".join([root] + [str(x) for x in keys[:n_str]])
                raise ValueError("invalid expression %r: unknown variable %r" % (expr, full))
            try:
                obj = _get(obj, k, where)
            except ValueError as exc:
                if j < n_str:
                    full = ".".join([root] + [str(x) for x in keys[:n_str]])
                    raise ValueError("invalid expression %r: unknown variable %r" % (expr, full)) from None
                raise ValueError("invalid expression %r: %s" % (expr, exc)) from None
            where = "%s[%r]" % (where, k)
        return obj
    raise ValueError("invalid expression %r: unknown variable %r" % (expr, ".".join([root] + [str(k) for k in keys[:n_str]])))


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _as_num(v: Any, op: str, expr: str) -> Union[int, float]:
    if _is_num(v):
        return v
    if isinstance(v, str) and NUMBER_RE.match(v.strip()):
        return parse_number(v.strip())
    raise ValueError("invalid expression %r: %r needs numbers, found %s %r" % (expr, op, type(v).__name__, v))


def _truth(v: Any, expr: str) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str):
        if v.strip().lower() == "true":
            return True
        if v.strip().lower() in ("false", ""):
            return False
    if v is None:
        return False
    if _is_num(v):
        return v != 0
    raise ValueError("invalid expression %r: expected a boolean, found %s %r" % (expr, type(v).__name__, v))


def _eq(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        if isinstance(a, bool) and isinstance(b, bool):
            return a == b
        other = b if isinstance(a, bool) else a
        mine = a if isinstance(a, bool) else b
        return isinstance(other, str) and other.strip().lower() == ("true" if mine else "false")
    if _is_num(a) and _is_num(b):
        return a == b
    if _is_num(a) and isinstance(b, str) and NUMBER_RE.match(b.strip()):
        return a == parse_number(b.strip())
    if _is_num(b) and isinstance(a, str) and NUMBER_RE.match(a.strip()):
        return b == parse_number(a.strip())
    return a == b


def _binary(op: str, a: Any, b: Any, expr: str) -> Any:
    if op == "==":
        return _eq(a, b)
    if op == "!=":
        return not _eq(a, b)
    if op in ("<", "<=", ">", ">="):
        if isinstance(a, str) and isinstance(b, str):
            x, y = a, b  # type: Any, Any
        else:
            x, y = _as_num(a, op, expr), _as_num(b, op, expr)
        if op == "<":
            return x < y
        if op == "<=":
            return x <= y
        if op == ">":
            return x > y
        return x >= y
    if op == "+":
        if isinstance(a, str) and isinstance(b, str):
            return a + b
        if isinstance(a, list) and isinstance(b, list):
            return a + b
        return _as_num(a, op, expr) + _as_num(b, op, expr)
    if op == "-":
        return _as_num(a, op, expr) - _as_num(b, op, expr)
    if op == "*":
        return _as_num(a, op, expr) * _as_num(b, op, expr)
    if op == "/":
        x, y = _as_num(a, op, expr), _as_num(b, op, expr)
        if y == 0:
            raise ValueError("invalid expression %r: division by zero" % expr)
        return x / y
    if op == "%":
        x, y = _as_num(a, op, expr), _as_num(b, op, expr)
        if y == 0:
            raise ValueError("invalid expression %r: modulo by zero" % expr)
        return int(x) % int(y)
    if op in ("in", "not in"):
        b = maybe_json(b)
        if isinstance(b, (list, tuple)):
            found = any(_eq(a, x) for x in b)
        elif isinstance(b, dict):
            found = a in b
        elif isinstance(b, str):
            found = str(a) in b
        else:
            raise ValueError("invalid expression %r: 'in' needs a list, map or string" % expr)
        return found if op == "in" else not found
    if op in ("=~", "!~", "matches"):
        found = re.search(str(b), str(a)) is not None
        return found if op != "!~" else not found
    if op == "contains":
        return str(b) in str(a)
    if op == "startsWith":
        return str(a).startswith(str(b))
    if op == "endsWith":
        return str(a).endswith(str(b))
    raise ValueError("invalid expression %r: unknown operator %r" % (expr, op))  # pragma: no cover


def _eval(node: Tuple[Any, ...], variables: Variables, expr: str) -> Any:
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind in ("name", "attr", "index"):
        return _eval_chain(node, variables, expr)
    if kind == "bin":
        return _binary(node[1], _eval(node[2], variables, expr), _eval(node[3], variables, expr), expr)
    if kind == "and":
        return _truth(_eval(node[1], variables, expr), expr) and _truth(_eval(node[2], variables, expr), expr)
    if kind == "or":
        return _truth(_eval(node[1], variables, expr), expr) or _truth(_eval(node[2], variables, expr), expr)
    if kind == "not":
        return not _truth(_eval(node[1], variables, expr), expr)
    if kind == "neg":
        return -_as_num(_eval(node[1], variables, expr), "-", expr)
    if kind == "pos":
        return _as_num(_eval(node[1], variables, expr), "+", expr)
    if kind == "cond":
        if _truth(_eval(node[1], variables, expr), expr):
            return _eval(node[2], variables, expr)
        return _eval(node[3], variables, expr)
    if kind == "coalesce":
        try:
            v = _eval(node[1], variables, expr)
        except ValueError:
            v = None
        return _eval(node[2], variables, expr) if v is None else v
    if kind == "list":
        return [_eval(x, variables, expr) for x in node[1]]
    if kind == "map":
        return {_eval(k, variables, expr): _eval(v, variables, expr) for k, v in node[1]}
    if kind == "elem":
        if not _ELEMENTS:
            raise ValueError("invalid expression %r: '#' is used outside map/filter/all/any" % expr)
        return _ELEMENTS[-1]
    if kind == "closure":
        return _eval(node[1], variables, expr)
    if kind == "call":
        root, steps = _chain(node[1])
        if root is None or any(s[0] != "s" for s in steps):
            raise ValueError("invalid expression %r: only named functions can be called" % expr)
        fname = ".".join([root] + [s[1] for s in steps])
        if fname in _HIGHER_ORDER:
            return _higher_order(fname, node[2], variables, expr)
        fn = FUNCTIONS.get(fname)
        if fn is None:
            raise ValueError("invalid expression %r: unknown function %r (known: %s)"
                             % (expr, fname, ", ".join(sorted(FUNCTIONS))))
        args = [_eval(a, variables, expr) for a in node[2]]
        try:
            return fn(*args)
        except ValueError as exc:
            raise ValueError("invalid expression %r: %s(...) failed: %s" % (expr, fname, exc)) from None
        except TypeError as exc:
            raise ValueError("invalid expression %r: bad arguments to %s: %s" % (expr, fname, exc)) from None
    raise ValueError("invalid expression %r: unknown node %r" % (expr, kind))  # pragma: no cover


_ELEMENTS: List[Any] = []  # the element '#' stands for, innermost last
_HIGHER_ORDER = ("map", "filter", "all", "any")


def _higher_order(fname: str, args: List[Tuple[Any, ...]], variables: Variables, expr: str) -> Any:
    """``map(xs, {pred})`` and friends: the predicate is evaluated once per element, as ``#``."""
    if len(args) != 2:
        raise ValueError("invalid expression %r: %s takes a list and a predicate" % (expr, fname))
    items = _eval(args[0], variables, expr)
    if not isinstance(items, (list, tuple)):
        raise ValueError("invalid expression %r: %s needs a list, got %r" % (expr, fname, items))
    pred = args[1][1] if args[1][0] == "closure" else args[1]
    results = []
    for item in items:
        _ELEMENTS.append(item)
        try:
            results.append(_eval(pred, variables, expr))
        finally:
            _ELEMENTS.pop()
    if fname == "map":
        return results
    if fname == "filter":
        return [item for item, keep in zip(items, results) if _truth(keep, expr)]
    truths = [_truth(r, expr) for r in results]
    return all(truths) if fname == "all" else any(truths)


def eval_expr(expr: str, variables: Variables = None) -> Any:
    """Evaluate an expression of Argo's ``expr`` language (the text of ``{{=...}}``).

    ``variables`` is a callable taking a dotted name (``"inputs.parameters.x"``,
    ``"steps.a-b.outputs.parameters.y"``) and raising ``KeyError`` when it is unknown,
    or nested dicts. Raises ``ValueError`` naming the expression on any error.
    """
    return _eval(parse(expr), variables, expr)


def eval_condition(text: str) -> bool:
    """Evaluate a substituted ``when`` text (govaluate-like): bare words are strings."""
    text = text.strip()
    node = parse(text, condition=True)
    value = _eval(node, None, text)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError("invalid condition %r: it gives %s %r, not a boolean" % (text, type(value).__name__, value))
