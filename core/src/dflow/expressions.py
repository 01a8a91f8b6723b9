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

import functools
import json
import re
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

__all__ = [
    "substitute",
    "find_refs",
    "eval_expr",
    "eval_condition",
    "to_text",
    "parse",
    "FUNCTIONS",
]

_TEMPLATE_RE = re.compile(r"\{\{(.*?)\}\}", re.S)

Variables = Union[None, Callable[[str], Any], Dict[str, Any]]


# --------------------------------------------------------------------------- text form


def _normalize(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, dict):
        return {str(k): _normalize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normalize(v) for v in value]
    return value


def to_text(value: Any) -> str:
    """A value as Argo writes an expression result: strings as is, the rest as JSON."""
    if isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    value = _normalize(value)
    if isinstance(value, (int, float)):
        return json.dumps(value)
    try:
        return json.dumps(value, separators=(",", ":"))
    except (TypeError, ValueError):
        return str(value)


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


# --------------------------------------------------------------------------- tokenizer

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|\d+(?:[eE][+-]?\d+)?)
  | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<name>[A-Za-z_$][A-Za-z0-9_$]*)
  | (?P<op>==|!=|<=|>=|&&|\|\||=~|!~|\?\?|[-+*/%<>!?:.,()\[\]{}#])
    """,
    re.X,
)
_WORD_RE = re.compile(r"[A-Za-z0-9_$][A-Za-z0-9_$\-./:@]*")
_NUMBER_RE = re.compile(r"[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)\Z")
_KEYWORDS = {"true", "false", "nil", "null", "and", "or", "not", "in"}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "0": "\0"}


def _unquote(s: str) -> str:
    body = s[1:-1]
    if "\\" not in body:
        return body
    out = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            out.append(_ESCAPES.get(body[i + 1], body[i + 1]))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _tokenize(text: str, condition: bool) -> List[Tuple[str, Any, int]]:
    toks: List[Tuple[str, Any, int]] = []
    pos = 0
    n = len(text)
    while pos < n:
        if condition:
            c = text[pos]
            if c.isalnum() or c in "_$":
                m = _WORD_RE.match(text, pos)
                assert m is not None
                word = m.group(0)
                if _NUMBER_RE.match(word):
                    toks.append(("num", _number(word), pos))
                elif word in _KEYWORDS:
                    toks.append(("name", word, pos))
                else:
                    if toks and toks[-1][0] == "word":
                        prev = toks.pop()
                        word = prev[1] + " " + word
                        toks.append(("word", word, prev[2]))
                    else:
                        toks.append(("word", word, pos))
                pos = m.end()
                continue
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            raise ValueError("invalid expression %r: unexpected character %r at position %d" % (text, text[pos], pos))
        kind = m.lastgroup
        val = m.group(0)
        if kind == "num":
            toks.append(("num", _number(val), pos))
        elif kind == "str":
            toks.append(("str", _unquote(val), pos))
        elif kind == "name":
            toks.append(("name", val, pos))
        elif kind == "op":
            toks.append(("op", val, pos))
        pos = m.end()
    toks.append(("eof", None, n))
    return toks


def _number(text: str) -> Union[int, float]:
    try:
        return int(text)
    except ValueError:
        return float(text)


# --------------------------------------------------------------------------- parser


class _Parser(object):
    def __init__(self, text: str, condition: bool) -> None:
        self.text = text
        self.toks = _tokenize(text, condition)
        self.i = 0

    def error(self, msg: str, tok: Optional[Tuple[str, Any, int]] = None) -> ValueError:
        tok = tok or self.toks[self.i]
        return ValueError("invalid expression %r at position %d: %s" % (self.text, tok[2], msg))

    def peek(self) -> Tuple[str, Any, int]:
        return self.toks[self.i]

    def next(self) -> Tuple[str, Any, int]:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def at_op(self, *ops: str) -> bool:
        t = self.toks[self.i]
        return (t[0] == "op" and t[1] in ops) or (t[0] == "name" and t[1] in ops)

    def expect(self, op: str) -> None:
        t = self.next()
        if not (t[0] == "op" and t[1] == op):
            found = "end of text" if t[0] == "eof" else repr(t[1])
            raise self.error("expected %r, found %s" % (op, found), t)

    def _map_literal_ahead(self) -> bool:
        """After a '{': does a map literal follow (``}`` or ``key :``) rather than a closure?"""
        t = self.toks[self.i]
        if t[0] == "op" and t[1] == "}":
            return True
        nxt = self.toks[self.i + 1] if self.i + 1 < len(self.toks) else ("eof", None, 0)
        return t[0] in ("str", "name", "num", "word") and nxt[0] == "op" and nxt[1] == ":"

    def parse(self) -> Tuple[Any, ...]:
        if self.peek()[0] == "eof":
            raise self.error("empty expression")
        node = self.ternary()
        t = self.peek()
        if t[0] != "eof":
            raise self.error("unexpected %r" % (t[1],))
        return node

    def ternary(self) -> Tuple[Any, ...]:
        cond = self.or_()
        if self.at_op("?"):
            self.next()
            a = self.ternary()
            self.expect(":")
            b = self.ternary()
            return ("cond", cond, a, b)
        if self.at_op("??"):
            self.next()
            return ("coalesce", cond, self.ternary())
        return cond

    def or_(self) -> Tuple[Any, ...]:
        node = self.and_()
        while self.at_op("||", "or"):
            self.next()
            node = ("or", node, self.and_())
        return node

    def and_(self) -> Tuple[Any, ...]:
        node = self.cmp()
        while self.at_op("&&", "and"):
            self.next()
            node = ("and", node, self.cmp())
        return node

    def cmp(self) -> Tuple[Any, ...]:
        node = self.add()
        while True:
            if self.at_op("==", "!=", "<", "<=", ">", ">=", "in", "=~", "!~", "contains", "startsWith", "endsWith",
                          "matches"):
                op = self.next()[1]
                node = ("bin", op, node, self.add())
            elif self.at_op("not") and self.toks[self.i + 1][:2] == ("name", "in"):
                self.i += 2
                node = ("bin", "not in", node, self.add())
            else:
                return node

    def add(self) -> Tuple[Any, ...]:
        node = self.mul()
        while self.at_op("+", "-"):
            op = self.next()[1]
            node = ("bin", op, node, self.mul())
        return node

    def mul(self) -> Tuple[Any, ...]:
        node = self.unary()
        while self.at_op("*", "/", "%"):
            op = self.next()[1]
            node = ("bin", op, node, self.unary())
        return node

    def unary(self) -> Tuple[Any, ...]:
        if self.at_op("!", "not"):
            self.next()
            return ("not", self.unary())
        if self.at_op("-", "+"):
            op = self.next()[1]
            return ("neg", self.unary()) if op == "-" else ("pos", self.unary())
        return self.postfix()

    def postfix(self) -> Tuple[Any, ...]:
        node = self.primary()
        while True:
            if self.at_op("."):
                self.next()
                t = self.next()
                if t[0] not in ("name", "word") and not (t[0] == "num" and isinstance(t[1], int)):
                    raise self.error("expected a name after '.'", t)
                node = ("attr", node, str(t[1]))
            elif self.at_op("["):
                self.next()
                idx = self.ternary()
                self.expect("]")
                node = ("index", node, idx)
            elif self.at_op("("):
                self.next()
                args = []
                if not self.at_op(")"):
                    args.append(self.ternary())
                    while self.at_op(","):
                        self.next()
                        args.append(self.ternary())
                self.expect(")")
                node = ("call", node, args)
            else:
                return node

    def primary(self) -> Tuple[Any, ...]:
        t = self.next()
        kind, val = t[0], t[1]
        if kind == "num":
            return ("lit", val)
        if kind == "str":
            return ("lit", val)
        if kind == "word":
            return ("lit", val)
        if kind == "name":
            if val == "true":
                return ("lit", True)
            if val == "false":
                return ("lit", False)
            if val in ("nil", "null"):
                return ("lit", None)
            if val in ("and", "or", "not", "in"):
                raise self.error("unexpected %r" % val, t)
            return ("name", val)
        if kind == "op":
            if val == "(":
                node = self.ternary()
                if self.at_op(","):  # govaluate-style list (1, 2, 3)
                    items = [node]
                    while self.at_op(","):
                        self.next()
                        items.append(self.ternary())
                    self.expect(")")
                    return ("list", items)
                self.expect(")")
                return node
            if val == "[":
                items = []
                if not self.at_op("]"):
                    items.append(self.ternary())
                    while self.at_op(","):
                        self.next()
                        if self.at_op("]"):
                            break
                        items.append(self.ternary())
                self.expect("]")
                return ("list", items)
            if val == "#":  # the current element inside map(...)/filter(...)
                return ("elem",)
            if val == "{" and not self._map_literal_ahead():
                # a closure: the predicate of map/filter/all/any, e.g. map(xs, {# * 2})
                body = self.ternary()
                self.expect("}")
                return ("closure", body)
            if val == "{":
                pairs = []
                if not self.at_op("}"):
                    while True:
                        kt = self.next()
                        if kt[0] not in ("str", "name", "num", "word"):
                            raise self.error("expected a map key", kt)
                        self.expect(":")
                        pairs.append((("lit", kt[1]), self.ternary()))
                        if not self.at_op(","):
                            break
                        self.next()
                self.expect("}")
                return ("map", pairs)
        found = "end of text" if kind == "eof" else repr(val)
        raise self.error("unexpected %s" % found, t)


@functools.lru_cache(maxsize=4096)
def _parse_cached(text: str, condition: bool) -> Tuple[Any, ...]:
    return _Parser(text, condition).parse()


def parse(expr: str, condition: bool = False) -> Tuple[Any, ...]:
    """The (cached) syntax tree of ``expr``; ``ValueError`` on a syntax error."""
    return _parse_cached(expr, condition)


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


def _maybe_json(obj: Any) -> Any:
    if isinstance(obj, str):
        s = obj.strip()
        if s[:1] in ("[", "{"):
            try:
                return json.loads(s)
            except ValueError:
                pass
    return obj


def _get(obj: Any, key: Any, where: str) -> Any:
    obj = _maybe_json(obj)
    try:
        if isinstance(obj, dict):
            if key in obj:
                return obj[key]
            return obj[str(key)]
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
    if isinstance(v, str) and _NUMBER_RE.match(v.strip()):
        return _number(v.strip())
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
    if _is_num(a) and isinstance(b, str) and _NUMBER_RE.match(b.strip()):
        return a == _number(b.strip())
    if _is_num(b) and isinstance(a, str) and _NUMBER_RE.match(a.strip()):
        return b == _number(a.strip())
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
        b = _maybe_json(b)
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


# --------------------------------------------------------------------------- functions


def _as_int(v: Any) -> int:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, str):
        s = v.strip()
        try:
            return int(s)
        except ValueError:
            return int(float(s))
    return int(v)


def _as_float(v: Any) -> float:
    return float(v.strip()) if isinstance(v, str) else float(v)


def _to_json(v: Any) -> str:
    return json.dumps(_normalize(v), separators=(",", ":"))


def _from_json(v: Any) -> Any:
    if not isinstance(v, str):
        return v
    return json.loads(v)


def _lenient(conv: Callable[[Any], Any], default: Any) -> Callable[[Any], Any]:
    def f(v: Any) -> Any:
        try:
            return conv(v)
        except (TypeError, ValueError):
            return default

    return f


def _until_step(start: Any, stop: Any, step: Any) -> List[int]:
    step = _as_int(step)
    if step == 0:
        return []
    return list(range(_as_int(start), _as_int(stop), step))


def _length(v: Any) -> int:
    return len(v)


_PATH_RE = re.compile(r"\.([A-Za-z_$][\w$\-]*)|\[(\d+)\]|\[['\"]([^'\"]*)['\"]\]|\.\*|\[\*\]")


def _jsonpath(data: Any, path: str) -> Any:
    obj = _maybe_json(data) if isinstance(data, str) else data
    if isinstance(obj, str):
        obj = json.loads(obj)
    path = path.strip()
    if not path.startswith("$"):
        raise ValueError("a JSON path must start with '$': %r" % path)
    pos = 1
    while pos < len(path):
        m = _PATH_RE.match(path, pos)
        if m is None:
            raise ValueError("unsupported JSON path %r at position %d" % (path, pos))
        if m.group(1) is not None:
            obj = obj[m.group(1)]
        elif m.group(2) is not None:
            obj = obj[int(m.group(2))]
        elif m.group(3) is not None:
            obj = obj[m.group(3)]
        else:
            obj = list(obj.values()) if isinstance(obj, dict) else list(obj)
        pos = m.end()
    return obj


def _string(v: Any) -> str:
    return to_text(v)


FUNCTIONS: Dict[str, Callable[..., Any]] = {
    "asInt": _as_int,
    "asFloat": _as_float,
    "int": _as_int,
    "float": _as_float,
    "string": _string,
    "len": _length,
    "toJson": _to_json,
    "fromJson": _from_json,
    "fromJSON": _from_json,
    "toJSON": _to_json,
    "flatten": lambda xs: [y for x in _maybe_json(xs) for y in (x if isinstance(x, list) else [x])],
    "jsonpath": _jsonpath,
    "sprig.fromJson": _from_json,
    "sprig.toJson": _to_json,
    "sprig.mustFromJson": _from_json,
    "sprig.mustToJson": _to_json,
    "sprig.untilStep": _until_step,
    "sprig.until": lambda n: list(range(_as_int(n))),
    "sprig.atoi": _lenient(_as_int, 0),
    "sprig.int": _lenient(_as_int, 0),
    "sprig.int64": _lenient(_as_int, 0),
    "sprig.float64": _lenient(_as_float, 0.0),
    "sprig.toString": _string,
    "sprig.trim": lambda s: str(s).strip(),
    "sprig.lower": lambda s: str(s).lower(),
    "sprig.upper": lambda s: str(s).upper(),
    "sprig.add": lambda *a: sum(_as_int(x) for x in a),
    "sprig.sub": lambda a, b: _as_int(a) - _as_int(b),
    "sprig.mul": lambda *a: functools.reduce(lambda x, y: x * y, [_as_int(x) for x in a], 1),
    "sprig.div": lambda a, b: int(_as_int(a) / _as_int(b)),
    "sprig.max": lambda *a: max(_as_int(x) for x in a),
    "sprig.min": lambda *a: min(_as_int(x) for x in a),
    "sprig.len": _length,
    "sprig.list": lambda *a: list(a),
    "sprig.first": lambda v: _maybe_json(v)[0],
    "sprig.last": lambda v: _maybe_json(v)[-1],
}
