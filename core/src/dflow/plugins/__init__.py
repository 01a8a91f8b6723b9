"""Plugin support: ``hookimpl`` for plugin authors, and the old ``dflow.plugins.*`` paths.

``import dflow.plugins.dispatcher`` (an import path of the original dflow)
loads the module that the installed plugin registered for ``dispatcher``
through the ``register_legacy_modules`` hook; when no plugin registered it,
the ``ImportError`` names the distribution to install.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import types
from typing import Any, Callable, Dict, Optional

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
    "lazy",
]


def lazy(target: str, **attributes: Any) -> Callable[..., Any]:
    """A callable standing for ``"module:name"`` that imports it on its first call and calls it.

    Every ``dflow`` process loads every installed plugin, so a plugin registers its heavy
    parts (a backend class, a launcher, a render) this way and they are imported only when
    used. ``attributes`` are set on the callable (e.g. a backend factory's ``default_storage``).
    """
    module, _, name = target.partition(":")
    found: list = []

    def call(*args: Any, **kwargs: Any) -> Any:
        if not found:
            found.append(getattr(importlib.import_module(module), name))
        return found[0](*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"{target}, imported on first use"
    for k, v in attributes.items():
        setattr(call, k, v)
    return call


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
            # importing works (code that merely imports must import); using a name says what to install
            module = _MissingPluginModule(spec.name, KNOWN_DISTRIBUTIONS.get(("legacy", legacy)))
            sys.modules[spec.name] = module
            return module
        module = importlib.import_module(item.obj)
        sys.modules[spec.name] = module
        return module

    def exec_module(self, module: Any) -> None:
        pass


def _missing(qualified: str, dist: Optional[str]) -> str:
    hint = f"install it with `pip install {dist}`" if dist else "no distribution of this project provides it"
    return f"{qualified} comes with a plugin that is not installed; {hint}"


class _MissingPluginModule(types.ModuleType):
    """Stands for ``dflow.plugins.<name>`` when no plugin provides it: every name is a placeholder."""

    def __init__(self, name: str, dist: Optional[str]) -> None:
        super().__init__(name, _missing(name, dist))
        self.__dist = dist
        # the plugin's settings (``bohrium.config["username"] = ...``): code sets them whether or not it
        # then uses the plugin, so they are a plain dict
        self.config: Dict[str, Any] = {}

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _placeholder(f"{self.__name__}.{attr}", self.__dist)


def _placeholder(qualified: str, dist: Optional[str]) -> type:
    """A class that can be imported, named and tested with ``isinstance``, but not used."""
    message = _missing(qualified, dist)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise PluginNotFoundError(message)

    class Meta(type):
        def __getattr__(cls, attr: str) -> Any:
            if attr.startswith("__"):
                raise AttributeError(attr)
            raise PluginNotFoundError(message)

        __getitem__ = __setitem__ = __call__ = refuse  # type: ignore[assignment]

    name = qualified.rsplit(".", 1)[-1]
    return Meta(name, (), {"__new__": refuse, "__init_subclass__": classmethod(refuse), "__doc__": message,
                           "__module__": qualified.rsplit(".", 1)[0]})


if not any(isinstance(f, _LegacyFinder) for f in sys.meta_path):
    sys.meta_path.append(_LegacyFinder())
