"""The tokenizer and parser of dflow's expression language (Argo's ``expr``) and of ``when`` conditions.

Standard library only, Python 3.8+. No Python ``eval``: a small recursive-descent parser
whose parses are cached.
"""

from __future__ import annotations

import functools
import re
from typing import Any, List, Optional, Tuple, Union

__all__ = ["parse", "parse_number", "NUMBER_RE"]


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
NUMBER_RE = re.compile(r"[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)\Z")
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
                if NUMBER_RE.match(word):
                    toks.append(("num", parse_number(word), pos))
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
            toks.append(("num", parse_number(val), pos))
        elif kind == "str":
            toks.append(("str", _unquote(val), pos))
        elif kind == "name":
            toks.append(("name", val, pos))
        elif kind == "op":
            toks.append(("op", val, pos))
        pos = m.end()
    toks.append(("eof", None, n))
    return toks


def parse_number(text: str) -> Union[int, float]:
    try:
        return int(text)
    except ValueError:
        return float(text)


# --------------------------------------------------------------------------- parser


class _Parser:
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
