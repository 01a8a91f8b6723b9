"""Run-time type checking of OP inputs and outputs.

Standard library only, Python 3.8+: this file runs inside users' images.

* :func:`check_type` ``(value, tp) -> bool``
* :func:`explain_mismatch` ``(value, tp) -> str | None``: why ``value`` is not a ``tp``
* :func:`type_name` ``(tp) -> str``: ``"int"``, ``"List[int]"``, ``"Dict[str, Path]"``,
  ``"NestedDict[Path]"``, ``"Optional[int]"`` ...

Rules: ``int`` is accepted for ``float``; ``bool`` is *not* accepted for ``int`` or
``float``; ``str`` and any ``os.PathLike`` are accepted for ``pathlib.Path``.
"""

from __future__ import annotations

import os
import pathlib
import typing
from typing import Any, Optional, Tuple

__all__ = [
    "NestedDict",
    "check_type",
    "explain_mismatch",
    "type_name",
    "unwrap_optional",
    "is_nested_dict_type",
    "artifact_item_type",
]

_NoneType = type(None)


class _NestedDictAlias(object):
    """The object ``NestedDict[X]`` evaluates to."""

    __slots__ = ("__args__",)

    def __init__(self, item: Any) -> None:
        self.__args__ = (item,)

    @property
    def __origin__(self) -> type:
        return NestedDict

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _NestedDictAlias) and other.__args__ == self.__args__

    def __hash__(self) -> int:
        return hash(("NestedDict", self.__args__))

    def __repr__(self) -> str:
        return "NestedDict[%s]" % type_name(self.__args__[0])

    def __call__(self, *args: Any, **kwargs: Any) -> "NestedDict":
        return NestedDict(*args, **kwargs)


class NestedDict(dict):
    """A dict whose values are ``X`` or nested dicts of the same kind: ``NestedDict[Path]``."""

    _aliases: typing.Dict[Any, _NestedDictAlias] = {}

    def __class_getitem__(cls, item: Any) -> _NestedDictAlias:  # type: ignore[override]
        alias = cls._aliases.get(item)
        if alias is None:
            alias = cls._aliases[item] = _NestedDictAlias(item)
        return alias


def is_nested_dict_type(tp: Any) -> bool:
    return tp is NestedDict or isinstance(tp, _NestedDictAlias)


def artifact_form(tp: Any) -> Tuple[Any, bool]:
    """The form an artifact of sign type ``tp`` arrives in, and whether it may be absent:
    ``Optional[X]`` and ``Union[X, HDF5Datasets]`` arrive as ``X`` (the first form made of paths)."""
    tp, optional = unwrap_optional(tp)
    if _is_union(tp):
        rest = [a for a in _args(tp) if getattr(a, "__name__", "") not in ("HDF5Datasets", "HDF5Dataset")
                and a is not _NoneType]
        tp = rest[0] if rest else pathlib.Path
    return tp, optional


def artifact_item_type(tp: Any) -> Any:
    """The type of one item of an artifact sign: ``Path`` or ``str`` (``List[str]`` -> ``str``).

    ``Union[X, HDF5Datasets]`` and ``Optional[X]`` count as ``X``.
    """
    tp, _ = artifact_form(tp)
    if isinstance(tp, _NestedDictAlias):
        return tp.__args__[0]
    args = _args(tp)
    origin = _origin(tp)
    if origin in (list, set, frozenset, tuple) and args:
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    return tp


def _origin(tp: Any) -> Any:
    return getattr(tp, "__origin__", None)


def _args(tp: Any) -> Tuple[Any, ...]:
    args = getattr(tp, "__args__", None) or ()
    # bare typing.List etc. carry TypeVars on some versions: treat them as Any
    return tuple(Any if isinstance(a, typing.TypeVar) else a for a in args)


def _is_union(tp: Any) -> bool:
    if _origin(tp) is typing.Union:
        return True
    return type(tp).__name__ == "UnionType"  # PEP 604 ``X | Y`` (3.10+)


def unwrap_optional(tp: Any) -> Tuple[Any, bool]:
    """``Optional[X]`` -> ``(X, True)``; anything else -> ``(tp, False)``."""
    if _is_union(tp):
        args = [a for a in _args(tp) if a is not _NoneType]
        if len(args) != len(_args(tp)):
            if len(args) == 1:
                return args[0], True
            return typing.Union[tuple(args)], True
    return tp, False


# --------------------------------------------------------------------------- names


_BUILTIN_NAMES = {
    list: "List",
    dict: "Dict",
    tuple: "Tuple",
    set: "Set",
    frozenset: "FrozenSet",
    type: "Type",
}


def type_name(tp: Any) -> str:
    """A short display name of a type; the same text ``SignField.type`` holds."""
    if tp is Any:
        return "Any"
    if tp is None or tp is _NoneType:
        return "None"
    if isinstance(tp, str):
        return tp
    if isinstance(tp, typing.ForwardRef):
        return tp.__forward_arg__
    if isinstance(tp, _NestedDictAlias):
        return "NestedDict[%s]" % type_name(tp.__args__[0])
    if tp is NestedDict:
        return "NestedDict"
    if isinstance(tp, type) and issubclass(tp, pathlib.PurePath):
        return "Path"
    if _is_union(tp):
        args = _args(tp)
        non_none = [a for a in args if a is not _NoneType]
        if len(non_none) == 1 and len(args) == 2:
            return "Optional[%s]" % type_name(non_none[0])
        return "Union[%s]" % ", ".join(type_name(a) for a in args)
    origin = _origin(tp)
    if origin is not None:
        args = _args(tp)
        if origin is getattr(typing, "Literal", object()):
            return "Literal[%s]" % ", ".join(repr(a) for a in args)
        base = _BUILTIN_NAMES.get(origin)
        if base is None:
            base = getattr(origin, "__name__", None) or str(origin).replace("typing.", "")
        if base == "Tuple" and len(args) == 2 and args[1] is Ellipsis:
            return "Tuple[%s, ...]" % type_name(args[0])
        if base == "Tuple" and args == ((),):
            return "Tuple[()]"
        if not args or getattr(tp, "_special", False):
            return base
        return "%s[%s]" % (base, ", ".join("..." if a is Ellipsis else type_name(a) for a in args))
    if tp is typing.List:
        return "List"
    if tp is typing.Dict:
        return "Dict"
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _value_type_name(value: Any) -> str:
    if value is None:
        return "None"
    if isinstance(value, pathlib.PurePath):
        return "Path"
    return type(value).__name__


def _short_repr(value: Any, limit: int = 60) -> str:
    try:
        text = repr(value)
    except Exception:  # pragma: no cover - broken __repr__
        text = "<%s>" % type(value).__name__
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


# --------------------------------------------------------------------------- checking


def check_type(value: Any, tp: Any) -> bool:
    """True when ``value`` is an instance of ``tp`` by the rules of this module."""
    return explain_mismatch(value, tp) is None


def explain_mismatch(value: Any, tp: Any) -> Optional[str]:
    """``None`` when ``value`` matches ``tp``, else a sentence saying where it does not.

    For example ``explain_mismatch([1, "a"], List[int])`` gives
    ``"expected List[int], found list [1, 'a'] (element 1: expected int, found str 'a')"``.
    """
    reason = _mismatch(value, tp)
    if reason is None:
        return None
    head = "expected %s, found %s %s" % (type_name(tp), _value_type_name(value), _short_repr(value))
    if reason:
        head += " (%s)" % reason
    return head


def _inner(what: str, value: Any, tp: Any) -> Optional[str]:
    reason = _mismatch(value, tp)
    if reason is None:
        return None
    text = "%s: expected %s, found %s %s" % (what, type_name(tp), _value_type_name(value), _short_repr(value, 40))
    if reason:
        text += " (%s)" % reason
    return text


def _mismatch(value: Any, tp: Any) -> Optional[str]:
    """``None`` if it matches; ``""`` for a plain mismatch; a detail for a nested one."""
    if tp is Any or tp is object:
        return None
    if tp is None or tp is _NoneType:
        return None if value is None else ""
    if isinstance(tp, (str, typing.ForwardRef)):
        return None  # unresolvable annotation: accept
    if isinstance(tp, typing.TypeVar):
        return None
    if tp is bool:
        return None if isinstance(value, bool) else ""
    if tp is int:
        return None if isinstance(value, int) and not isinstance(value, bool) else ""
    if tp is float:
        return None if isinstance(value, (int, float)) and not isinstance(value, bool) else ""
    if tp is str:
        return None if isinstance(value, str) else ""
    if isinstance(tp, type) and issubclass(tp, pathlib.PurePath):
        return None if isinstance(value, (str, os.PathLike)) else ""
    if isinstance(tp, _NestedDictAlias) or tp is NestedDict:
        if not isinstance(value, dict):
            return ""
        item = tp.__args__[0] if isinstance(tp, _NestedDictAlias) else Any
        return _nested_mismatch(value, item, "")
    if _is_union(tp):
        for a in _args(tp):
            if _mismatch(value, a) is None:
                return None
        return ""
    origin = _origin(tp)
    if origin is None:
        if tp is typing.List:
            return None if isinstance(value, list) else ""
        if tp is typing.Dict:
            return None if isinstance(value, dict) else ""
        if isinstance(tp, type):
            try:
                return None if isinstance(value, tp) else ""
            except TypeError:  # pragma: no cover - odd metaclass
                return None
        return None  # unknown construct: accept
    args = _args(tp)
    if hasattr(typing, "Literal") and origin is typing.Literal:
        for a in args:
            if value == a and type(value) is type(a):
                return None
        return ""
    if origin is list or origin is typing.List:
        if not isinstance(value, list):
            return ""
        item = args[0] if args else Any
        if item is Any:
            return None
        for i, v in enumerate(value):
            r = _inner("element %d" % i, v, item)
            if r is not None:
                return r
        return None
    if origin in (set, frozenset):
        if not isinstance(value, (set, frozenset)):
            return ""
        item = args[0] if args else Any
        for v in value:
            r = _inner("element %r" % (v,), v, item)
            if r is not None:
                return r
        return None
    if origin is dict:
        if not isinstance(value, dict):
            return ""
        kt = args[0] if args else Any
        vt = args[1] if len(args) > 1 else Any
        for k, v in value.items():
            r = _inner("key %r" % (k,), k, kt)
            if r is not None:
                return r
            r = _inner("value of key %r" % (k,), v, vt)
            if r is not None:
                return r
        return None
    if origin is tuple:
        if not isinstance(value, tuple):
            return ""
        if not args or args == ((),):
            return None if args != ((),) or len(value) == 0 else ""
        if len(args) == 2 and args[1] is Ellipsis:
            for i, v in enumerate(value):
                r = _inner("element %d" % i, v, args[0])
                if r is not None:
                    return r
            return None
        if len(value) != len(args):
            return "length %d, expected %d" % (len(value), len(args))
        for i, (v, a) in enumerate(zip(value, args)):
            r = _inner("element %d" % i, v, a)
            if r is not None:
                return r
        return None
    if isinstance(origin, type):
        try:
            return None if isinstance(value, origin) else ""
        except TypeError:  # pragma: no cover
            return None
    return None


def _nested_mismatch(value: dict, item: Any, prefix: str) -> Optional[str]:
    for k, v in value.items():
        where = prefix + str(k)
        if isinstance(v, dict) and not (isinstance(item, type) and isinstance(v, item)):
            r = _nested_mismatch(v, item, where + "/")
            if r is not None:
                return r
            continue
        r = _inner("value at %r" % where, v, item)
        if r is not None:
            return r
    return None
