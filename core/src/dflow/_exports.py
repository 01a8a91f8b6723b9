"""Lazy exports of a package: ``dflow.X`` imports the module that defines ``X`` on first use.

Standard library only, Python 3.8+ (``dflow`` and ``dflow.python`` are imported inside
steps). A name may also come from a plugin's module (``"plugin:slurm"`` for
``dflow.plugins.slurm``): without the plugin it is a placeholder that can be imported and
names the distribution to install when it is used.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Dict, List, Optional, Tuple

__all__ = ["lazy_exports"]


def lazy_exports(package: str, table: Dict[str, str],
                 base: Optional[str] = None) -> Tuple[Callable[[str], Any], Callable[[], List[str]]]:
    """``(__getattr__, __dir__)`` for the module ``package`` exporting ``table``.

    ``table`` maps a name to the module (relative to ``base``, by default ``package``)
    that defines it, to ``plugin:<legacy>`` (``dflow.plugins.<legacy>``) or to
    ``=<module>`` (that module).
    """
    module = importlib.import_module(package)

    def getattr_(name: str) -> Any:
        where = table.get(name)
        if where is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        if where.startswith("="):  # a module itself (``dflow.jsonpickle``)
            value = importlib.import_module(where[1:])
            setattr(module, name, value)
            return value
        if where.startswith("plugin:"):
            source = importlib.import_module(f"dflow.plugins.{where[len('plugin:'):]}")
        else:
            source = importlib.import_module(f"{base or package}.{where}")
        value = getattr(source, name)
        setattr(module, name, value)
        return value

    def dir_() -> List[str]:
        return sorted(set(table) | set(vars(module)))

    return getattr_, dir_
