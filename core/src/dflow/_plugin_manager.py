"""Loading plugins from entry points and keeping the registries they fill."""

from __future__ import annotations

import importlib
import importlib.metadata as md
import os
import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

import pluggy

from . import hookspecs
from .errors import PluginNotFoundError, ValidationError

hookimpl = pluggy.HookimplMarker(hookspecs.PROJECT_NAME)

ROLE_GROUPS = {
    "backend": "dflow.backends",
    "storage": "dflow.storage",
    "executor": "dflow.executors",
    "context": "dflow.contexts",
}

# what to ``pip install`` for the names of the design card, so a missing
# plugin's error can name its distribution
KNOWN_DISTRIBUTIONS = {
    ("backend", "debug"): "dflow-debug",
    ("backend", "argo"): "dflow-argo",
    ("backend", "default"): "dflow-argo",
    ("storage", "s3"): "dflow-minio",
    ("storage", "minio"): "dflow-minio",
    ("storage", "oss"): "dflow-oss",
    ("storage", "azure"): "dflow-azure",
    ("storage", "gcs"): "dflow-gcs",
    ("executor", "dispatcher"): "dflow-dispatcher",
    ("executor", "slurm"): "dflow-slurm-vk",
    ("legacy", "dispatcher"): "dflow-dispatcher",
    ("legacy", "oss"): "dflow-oss",
    ("legacy", "azure"): "dflow-azure",
    ("legacy", "gcs"): "dflow-gcs",
    ("legacy", "minio"): "dflow-minio",
    ("legacy", "slurm"): "dflow-slurm-vk",
}


@dataclass
class Registered:
    """One thing a plugin registered, with the distribution it came from."""

    role: str
    name: str
    obj: Any
    plugin: str
    distribution: Optional[str] = None
    version: Optional[str] = None
    aliases: Tuple[str, ...] = ()


@dataclass
class PluginRegistry:
    """What every loaded plugin registered, by role and name."""

    items: Dict[str, Dict[str, Registered]] = field(default_factory=dict)
    aliases: Dict[str, Dict[str, str]] = field(default_factory=dict)

    def add(self, item: Registered) -> None:
        table = self.items.setdefault(item.role, {})
        if item.name in table and table[item.name].obj is not item.obj:
            other = table[item.name]
            raise ValidationError(
                f"two plugins register the {item.role} {item.name!r}: {other.plugin} "
                f"({other.distribution}) and {item.plugin} ({item.distribution}); "
                f"uninstall one of them or limit loading with DFLOW_PLUGINS"
            )
        table[item.name] = item
        for alias in item.aliases:
            self.aliases.setdefault(item.role, {})[alias] = item.name

    def get(self, role: str, name: str) -> Registered:
        name = self.aliases.get(role, {}).get(name, name)
        try:
            return self.items[role][name]
        except KeyError:
            installed = sorted(self.items.get(role, {}))
            dist = KNOWN_DISTRIBUTIONS.get((role, name))
            hint = f"install it with `pip install {dist}`" if dist else "install the plugin that provides it"
            raise PluginNotFoundError(
                f"no {role} called {name!r} is installed; installed {role}s: "
                f"{', '.join(installed) or 'none'}; {hint}"
            ) from None

    def names(self, role: str) -> List[str]:
        return sorted(self.items.get(role, {}))


class _Tracer:
    def before(self, hook_name: str, impls: Any, kwargs: Dict[str, Any]) -> None:
        print(f"[dflow hook] {hook_name} -> {[i.plugin_name for i in impls]}", file=sys.stderr)

    def after(self, outcome: Any, hook_name: str, impls: Any, kwargs: Dict[str, Any]) -> None:
        pass


_lock = threading.Lock()
_manager: Optional[pluggy.PluginManager] = None
_registry: Optional[PluginRegistry] = None


def _allowed(name: str) -> bool:
    allow = os.environ.get("DFLOW_PLUGINS")
    if not allow:
        return True
    return name in {a.strip() for a in allow.split(",") if a.strip()}


def _entry_points(group: str) -> List[md.EntryPoint]:
    eps = md.entry_points()
    if hasattr(eps, "select"):
        return list(eps.select(group=group))
    return list(eps.get(group, []))  # pragma: no cover - Python 3.9


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, loading entry points on first use."""
    global _manager, _registry
    with _lock:
        if _manager is not None:
            return _manager
        pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        pm.add_hookspecs(hookspecs)
        origins: Dict[str, Tuple[Optional[str], Optional[str]]] = {}
        for group in ROLE_GROUPS.values():
            for ep in _entry_points(group):
                if not _allowed(ep.name):
                    continue
                plugin_name = f"{group}:{ep.name}"
                if pm.has_plugin(plugin_name):
                    continue
                plugin = ep.load()
                if pm.is_registered(plugin):
                    continue
                pm.register(plugin, name=plugin_name)
                dist = getattr(ep, "dist", None)
                origins[plugin_name] = (
                    dist.metadata["Name"] if dist is not None else None,
                    dist.version if dist is not None else None,
                )
        if os.environ.get("DFLOW_TRACE_HOOKS"):
            tracer = _Tracer()
            pm.add_hookcall_monitoring(tracer.before, tracer.after)
        registry = PluginRegistry()
        _fill(pm, registry, origins)
        _registry = registry
        _manager = pm
        return pm


_REGISTRATION_HOOKS = (
    ("register_backends", "backend"),
    ("register_storage_clients", "storage"),
    ("register_executors", "executor"),
    ("register_contexts", "context"),
    ("register_legacy_modules", "legacy"),
)


def _collect(registry: PluginRegistry, plugin_name: str, plugin: Any,
             origin: Tuple[Optional[str], Optional[str]] = (None, None)) -> None:
    """Call the registration hooks one plugin implements, filling ``registry``."""
    dist, version = origin
    for hook_name, role in _REGISTRATION_HOOKS:
        fn = getattr(plugin, hook_name, None)
        if fn is None:
            continue

        def register(name: str, obj: Any, aliases: Tuple[str, ...] = (), *, _role: str = role) -> None:
            registry.add(Registered(_role, name, obj, plugin_name, dist, version, tuple(aliases)))

        fn(register=register)


def _fill(pm: pluggy.PluginManager, registry: PluginRegistry, origins: Dict[str, Tuple[Optional[str], Optional[str]]]) -> None:
    for plugin_name, plugin in pm.list_name_plugin():
        _collect(registry, plugin_name, plugin, origins.get(plugin_name, (None, None)))


def registry() -> PluginRegistry:
    """What the installed plugins registered."""
    get_plugin_manager()
    assert _registry is not None
    return _registry


def register_plugin(plugin: Any, name: Optional[str] = None) -> None:
    """Register a plugin object at run time (tests, notebooks): as if it came from an entry point."""
    pm = get_plugin_manager()
    pm.register(plugin, name=name)
    assert _registry is not None
    _collect(_registry, pm.get_name(plugin) or "runtime", plugin)


def get_backend(name: str) -> Any:
    """A new instance of the backend selected by ``name`` (``config["mode"]``)."""
    return registry().get("backend", name).obj()


def get_storage_factory(name: str) -> Callable[..., Any]:
    """The factory of the storage client called ``name``."""
    return registry().get("storage", name).obj


def load_legacy_module(legacy: str) -> Any:
    """Import the module behind ``dflow.plugins.<legacy>``, or say what to install."""
    item = registry().get("legacy", legacy)
    return importlib.import_module(item.obj)
