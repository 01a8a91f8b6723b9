"""The functions of dflow's expression language (Argo's ``expr`` with sprig), and the text form of values.

Standard library only, Python 3.8+: part of the step runtime's side of the contract.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any, Callable, Dict, List

__all__ = ["FUNCTIONS", "to_text", "maybe_json"]


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



def maybe_json(obj: Any) -> Any:
    if isinstance(obj, str):
        s = obj.strip()
        if s[:1] in ("[", "{"):
            try:
                return json.loads(s)
            except ValueError:
                pass
    return obj


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
    obj = maybe_json(data) if isinstance(data, str) else data
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
    "flatten": lambda xs: [y for x in maybe_json(xs) for y in (x if isinstance(x, list) else [x])],
    "sum": lambda xs: sum(maybe_json(xs)),
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
    "sprig.first": lambda v: maybe_json(v)[0],
    "sprig.last": lambda v: maybe_json(v)[-1],
}
