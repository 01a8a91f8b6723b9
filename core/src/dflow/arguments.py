"""Keyword arguments a constructor does not take: refused by name, before anything is built.

The original dflow's ``Step``, ``Workflow``, ``Steps``, ``DAG``, script and Python OP
templates, ``Slices`` and ``OutputArtifact`` take no ``**kwargs``: a misspelt argument
(``continue_on_fail=True``) is a ``TypeError`` there. Here they take ``**kwargs`` so that
every argument the original has is accepted, also the few that mean nothing here (each
caller lists those with the reason); anything else is refused, naming the closest
arguments, instead of being dropped without a word.
"""

from __future__ import annotations

import inspect
from typing import Any, Dict, Iterable, List, Mapping

from .errors import UnknownArgumentError

__all__ = ["refuse_unknown", "arguments_of"]

#: arguments of earlier dflow versions, and where their meaning went
RENAMED = {
    "cpu_requests": "requests={'cpu': ...}",
    "memory_requests": "requests={'memory': ...}",
    "cpu_limits": "limits={'cpu': ...}",
    "memory_limits": "limits={'memory': ...}",
    "create_dir": "slices=Slices(..., create_dir=True)",
}

_cache: Dict[type, List[str]] = {}


def arguments_of(cls: type) -> List[str]:
    """The named arguments of ``cls``'s constructors, along its bases."""
    names = _cache.get(cls)
    if names is None:
        names = []
        for klass in cls.__mro__:
            init = vars(klass).get("__init__")
            if init is None:
                continue
            for p in inspect.signature(init).parameters.values():
                if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and p.name not in names:
                    names.append(p.name)
        _cache[cls] = names
    return names


def refuse_unknown(what: str, kwargs: Mapping[str, Any], known: Iterable[str], inert: Mapping[str, str] = {}) -> None:
    """Raise :class:`UnknownArgumentError` for the first of ``kwargs`` that is neither in ``inert`` (the
    original's arguments that mean nothing here) nor a known one; ``what`` names the object."""
    unknown = [k for k in kwargs if k not in inert]
    if not unknown:
        return
    name = unknown[0]
    if name in RENAMED:
        hint = f" (an argument of earlier dflow versions): give {RENAMED[name]}"
    else:
        import difflib  # (only to refuse: not on every import of dflow)

        close = difflib.get_close_matches(name, sorted(set(known) | set(inert)), n=2, cutoff=0.6)
        hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
    raise UnknownArgumentError(f"{what}: unknown argument {name!r}{hint}")
