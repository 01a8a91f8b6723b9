"""Plugin support: ``hookimpl`` for plugin authors, and the old ``dflow.plugins.*`` paths.

``import dflow.plugins.dispatcher`` (an import path of the original dflow)
loads the module that the installed plugin registered for ``dispatcher``
through the ``register_legacy_modules`` hook; when no plugin registered it,
the ``ImportError`` names the distribution to install.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from typing import Any, Optional

from .._plugin_manager import (
    KNOWN_DISTRIBUTIONS,
    CommandRegistration,
    ExecutorRegistration,
    get_backend,
    get_backend_factory,
    get_executor,
    get_plugin_manager,
    get_storage_factory,
    hookimpl,
    register_plugin,
    registry,
    unregister_plugin,
)
from ..errors import PluginNotFoundError

__all__ = [
    "hookimpl",
    "get_plugin_manager",
    "registry",
    "register_plugin",
    "unregister_plugin",
    "get_backend",
    "get_backend_factory",
    "get_storage_factory",
    "get_executor",
    "ExecutorRegistration",
    "CommandRegistration",
]


class _LegacyFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    prefix = __name__ + "."

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Optional[importlib.machinery.ModuleSpec]:
        if not fullname.startswith(self.prefix) or fullname.count(".") != 2:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Any:
        legacy = spec.name[len(self.prefix):]
        try:
            item = registry().get("legacy", legacy)
        except PluginNotFoundError:
            dist = KNOWN_DISTRIBUTIONS.get(("legacy", legacy))
            hint = f"; install it with `pip install {dist}`" if dist else ""
            raise ImportError(f"no installed plugin provides {spec.name}{hint}", name=spec.name) from None
        module = importlib.import_module(item.obj)
        sys.modules[spec.name] = module
        return module

    def exec_module(self, module: Any) -> None:
        pass


if not any(isinstance(f, _LegacyFinder) for f in sys.meta_path):
    sys.meta_path.append(_LegacyFinder())
