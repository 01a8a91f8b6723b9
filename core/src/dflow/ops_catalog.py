"""Installed OP packages: distributions that list their OPs in the ``dflow.ops`` entry-point group.

An OP package adds to its ``pyproject.toml``::

    [project.entry-points."dflow.ops"]
    my_ops = "my_ops.ops"          # a module, an OP class, or a list of OP classes

``dflow ops`` lists every such package with its OPs and their signs. Nothing is
imported until a package is listed.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata as md
import inspect
from typing import Any, List, Optional

from .errors import PluginError

__all__ = ["OPPackage", "op_packages", "format_ops", "OPS_GROUP"]

OPS_GROUP = "dflow.ops"


@dataclasses.dataclass
class OPPackage:
    """One ``dflow.ops`` entry point: a name, where it points and the distribution that ships it."""

    name: str
    target: str
    distribution: Optional[str] = None
    version: Optional[str] = None
    _entry_point: Any = None

    def load(self) -> List[type]:
        """The OP classes the entry point names (a module's OPs, one class, or a list)."""
        from .python.op import OP

        try:
            obj = self._entry_point.load()
        except Exception as e:  # noqa: BLE001 - report which package is broken
            raise PluginError(f"OP package {self.name!r} ({self.distribution}): importing {self.target} failed: {e}") from e
        if inspect.ismodule(obj):
            names = getattr(obj, "__all__", None) or [n for n in dir(obj) if not n.startswith("_")]
            found = [getattr(obj, n, None) for n in names]
            return [c for c in found if inspect.isclass(c) and issubclass(c, OP) and c is not OP
                    and (c.__module__ == obj.__name__ or c.__module__.startswith(obj.__name__ + ".")
                         or names is getattr(obj, "__all__", None))]
        if inspect.isclass(obj) and issubclass(obj, OP):
            return [obj]
        if callable(obj):
            obj = obj()
        if isinstance(obj, (list, tuple)) and all(inspect.isclass(c) and issubclass(c, OP) for c in obj):
            return list(obj)
        raise PluginError(
            f"OP package {self.name!r} ({self.distribution}): {self.target} is not a module, an OP class or a list "
            "of OP classes"
        )


def op_packages(name: Optional[str] = None) -> List[OPPackage]:
    """The installed OP packages (only ``name`` when given), sorted by name."""
    eps = md.entry_points()
    found = list(eps.select(group=OPS_GROUP)) if hasattr(eps, "select") else list(eps.get(OPS_GROUP, []))
    out = []
    for ep in found:
        if name is not None and ep.name != name:
            continue
        dist = getattr(ep, "dist", None)
        out.append(OPPackage(ep.name, ep.value, dist.metadata["Name"] if dist else None,
                             dist.version if dist else None, ep))
    return sorted(out, key=lambda p: p.name)


def format_ops(packages: List[OPPackage], signs: bool = True) -> str:
    """Text listing of the OPs of ``packages``, with their input and output signs."""
    lines: List[str] = []
    for pkg in packages:
        where = f"{pkg.distribution} {pkg.version}" if pkg.distribution else pkg.target
        lines.append(f"{pkg.name} ({where})")
        for op in pkg.load():
            lines.append(f"  {op.__name__}  [{op.__module__}.{op.__qualname__}]")
            doc = (inspect.getdoc(op) or "").split("\n", 1)[0]
            if doc and signs:
                lines.append(f"      {doc}")
            if not signs:
                continue
            for title, sign in (("in ", op.get_input_sign()), ("out", op.get_output_sign())):
                info = op.get_opio_info(sign)
                for field, kind in info.items():
                    lines.append(f"      {title} {field:<16} {kind}")
                title = "   "
    return "\n".join(lines)
