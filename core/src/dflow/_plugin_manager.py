"""Loading plugins from entry points and keeping the registries they fill.

Every plugin is registered with one pluggy ``PluginManager``; pluggy checks each
``@hookimpl`` against its hook specification when the plugin is registered, and
:meth:`pluggy.PluginManager.check_pending` refuses implementations of hooks that do
not exist. Registration hooks are then called through the manager, one plugin at a
time (``subset_hook_caller``), so that each registered name is recorded with the
plugin and the distribution that gave it.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import os
import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

import pluggy

from . import hookspecs
from .errors import PluginError, PluginNotFoundError, ValidationError

hookimpl = pluggy.HookimplMarker(hookspecs.PROJECT_NAME)

ROLE_GROUPS = {
    "backend": "dflow.backends",
    "storage": "dflow.storage",
    "executor": "dflow.executors",
    "context": "dflow.contexts",
    "command": "dflow.commands",
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
    ("executor", "slurm_remote"): "dflow-slurm-vk",
    ("command", "render"): "dflow-argo",
    ("command", "ui"): "dflow-ui",
    ("legacy", "dispatcher"): "dflow-dispatcher",
    ("legacy", "oss"): "dflow-oss",
    ("legacy", "azure"): "dflow-azure",
    ("legacy", "gcs"): "dflow-gcs",
    ("legacy", "minio"): "dflow-minio",
    ("legacy", "slurm"): "dflow-slurm-vk",
    ("legacy", "wlm"): "dflow-slurm-vk",
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


@dataclass(frozen=True)
class ExecutorRegistration:
    """What an executor plugin registered: the user-facing class and its two optional seams."""

    executor_class: type
    launcher: Optional[Callable[[dict], Any]] = None
    render: Optional[Callable[[Any, dict], Any]] = None


@dataclass(frozen=True)
class CommandRegistration:
    """A ``dflow`` subcommand: ``configure(parser)`` then ``run(args)``."""

    configure: Callable[[Any], None]
    run: Callable[[Any], Optional[int]]
    help: str = ""


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

    def find(self, role: str, name: str) -> Optional[Registered]:
        """The item registered as ``name`` (or an alias of it), or None."""
        name = self.aliases.get(role, {}).get(name, name)
        return self.items.get(role, {}).get(name)

    def get(self, role: str, name: str) -> Registered:
        found = self.find(role, name)
        if found is not None:
            return found
        installed = sorted(self.items.get(role, {}))
        dist = KNOWN_DISTRIBUTIONS.get((role, name))
        hint = f"install it with `pip install {dist}`" if dist else "install the plugin that provides it"
        raise PluginNotFoundError(
            f"no {role} called {name!r} is installed; installed {role}s: "
            f"{', '.join(installed) or 'none'}; {hint}"
        )

    def names(self, role: str) -> List[str]:
        return sorted(self.items.get(role, {}))


class _Tracer:
    def before(self, hook_name: str, impls: Any, kwargs: Dict[str, Any]) -> None:
        print(f"[dflow hook] {hook_name} -> {[i.plugin_name for i in impls]}", file=sys.stderr)

    def after(self, outcome: Any, hook_name: str, impls: Any, kwargs: Dict[str, Any]) -> None:
        pass


_lock = threading.RLock()
_manager: Optional[pluggy.PluginManager] = None
_registry: Optional[PluginRegistry] = None
# plugin name -> (distribution, version); plugin name -> the roles its entry-point groups promise
_origins: Dict[str, Tuple[Optional[str], Optional[str]]] = {}
_promised: Dict[str, Set[str]] = {}


def _allowed(name: str) -> bool:
    allow = os.environ.get("DFLOW_PLUGINS")
    if not allow:
        return True
    return name in {a.strip() for a in allow.split(",") if a.strip()}


def _entry_points(groups: List[str]) -> Dict[str, List[md.EntryPoint]]:
    """The entry points of each of ``groups``, from one scan of the installed distributions."""
    eps = md.entry_points()
    if hasattr(eps, "select"):
        return {g: list(eps.select(group=g)) for g in groups}
    return {g: list(eps.get(g, [])) for g in groups}  # pragma: no cover - Python 3.9


def _dist_of(ep: md.EntryPoint) -> Tuple[Optional[str], Optional[str]]:
    dist = getattr(ep, "dist", None)
    return (dist.metadata["Name"], dist.version) if dist is not None else (None, None)


def _register(pm: pluggy.PluginManager, plugin: Any, plugin_name: str) -> None:
    """``pm.register`` with pluggy's checks turned into an error that names the plugin and the fix."""
    try:
        pm.register(plugin, name=plugin_name)
    except pluggy.PluginValidationError as e:
        dist = _origins.get(plugin_name, (None, None))[0]
        raise PluginError(
            f"plugin {plugin_name}{f' ({dist})' if dist else ''} is not valid: {e}; "
            f"fix the plugin, or leave it out with DFLOW_PLUGINS"
        ) from None


def _check_pending(pm: pluggy.PluginManager) -> None:
    """Refuse ``@hookimpl`` functions whose name is not a dflow hook (a misspelt hook)."""
    callers = {n: c for n, c in vars(pm.hook).items() if isinstance(c, pluggy.HookCaller)}
    known = sorted(n for n, c in callers.items() if c.spec is not None)
    for name, caller in callers.items():
        if caller.spec is not None:
            continue
        for impl in caller.get_hookimpls():
            if impl.optionalhook:
                continue
            dist = _origins.get(impl.plugin_name, (None, None))[0]
            raise PluginError(
                f"plugin {impl.plugin_name}{f' ({dist})' if dist else ''} implements {name!r}, which is not a dflow "
                f"hook (a misspelling?); the hooks are {', '.join(known)}. Fix the plugin, or leave it out with "
                "DFLOW_PLUGINS"
            )


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, loading entry points on first use."""
    global _manager, _registry
    with _lock:
        if _manager is not None:
            return _manager
        pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        pm.add_hookspecs(hookspecs)
        found = _entry_points(list(ROLE_GROUPS.values()))
        for role, group in ROLE_GROUPS.items():
            for ep in found[group]:
                if not _allowed(ep.name):
                    continue
                plugin_name = f"{group}:{ep.name}"
                plugin = ep.load()
                existing = pm.get_name(plugin) if pm.is_registered(plugin) else None
                if existing is not None:  # one module listed in several groups
                    _promised.setdefault(existing, set()).add(role)
                    continue
                _origins[plugin_name] = _dist_of(ep)
                _promised.setdefault(plugin_name, set()).add(role)
                _register(pm, plugin, plugin_name)
        _check_pending(pm)
        if os.environ.get("DFLOW_TRACE_HOOKS"):
            tracer = _Tracer()
            pm.add_hookcall_monitoring(tracer.before, tracer.after)
        registry = PluginRegistry()
        for plugin_name, plugin in pm.list_name_plugin():
            _collect(pm, registry, plugin_name, plugin)
        _registry = registry
        _manager = pm
        return pm


def _make_register(registry: PluginRegistry, role: str, plugin_name: str, filled: Set[str]) -> Callable[..., None]:
    dist, version = _origins.get(plugin_name, (None, None))

    def add(name: str, obj: Any, aliases: Any = ()) -> None:
        if not isinstance(name, str) or not name:
            raise PluginError(f"plugin {plugin_name} registers a {role} with the name {name!r}; names are non-empty strings")
        registry.add(Registered(role, name, obj, plugin_name, dist, version, tuple(aliases)))
        filled.add(role)

    if role == "executor":
        def register_executor(name: str, executor_class: type, launcher: Any = None, render: Any = None,
                              aliases: Any = ()) -> None:
            declared = getattr(executor_class, "name", None)
            if declared != name:
                raise PluginError(
                    f"plugin {plugin_name} registers the executor {name!r} with the class "
                    f"{getattr(executor_class, '__qualname__', executor_class)!r}, whose name attribute is "
                    f"{declared!r}; set `name = {name!r}` on the class"
                )
            add(name, ExecutorRegistration(executor_class, launcher, render), aliases)

        return register_executor
    if role == "command":
        def register_command(name: str, configure: Any, run: Any, help: str = "") -> None:
            if name in _CORE_COMMANDS:
                raise PluginError(f"plugin {plugin_name} registers the command {name!r}, which is one of core's own")
            add(name, CommandRegistration(configure, run, help))

        return register_command
    if role == "legacy":
        def register_legacy(legacy_name: str, module_path: str) -> None:
            add(legacy_name, module_path)

        return register_legacy
    return add


# commands of core's own CLI (a plugin may not take these names)
_CORE_COMMANDS = {"plugins", "ops", "list", "get", "logs", "terminate", "resume"}


def _collect(pm: pluggy.PluginManager, registry: PluginRegistry, plugin_name: str, plugin: Any) -> None:
    """Call the registration hooks of one plugin through pluggy, filling ``registry``."""
    others = [p for name, p in pm.list_name_plugin() if name != plugin_name]
    filled: Set[str] = set()
    for hook_name, role in hookspecs.REGISTRATION_HOOKS.items():
        caller = pm.subset_hook_caller(hook_name, remove_plugins=others)
        if not caller.get_hookimpls():
            continue
        caller(register=_make_register(registry, role, plugin_name, filled))
    missing = _promised.get(plugin_name, set()) - filled
    if missing:
        dist = _origins.get(plugin_name, (None, None))[0]
        groups = ", ".join(ROLE_GROUPS[r] for r in sorted(missing))
        raise PluginError(
            f"plugin {plugin_name}{f' ({dist})' if dist else ''} is listed in the entry-point group(s) {groups} "
            f"but registers no {' or '.join(sorted(missing))}; implement the registration hook "
            f"({', '.join(h for h, r in hookspecs.REGISTRATION_HOOKS.items() if r in missing)}) or drop the entry point"
        )


def registry() -> PluginRegistry:
    """What the installed plugins registered."""
    get_plugin_manager()
    assert _registry is not None
    return _registry


def register_plugin(plugin: Any, name: Optional[str] = None) -> str:
    """Register a plugin object at run time (tests, notebooks), as if it came from an entry point.

    Returns the name it is registered under; :func:`unregister_plugin` takes it out again.
    """
    with _lock:
        pm = get_plugin_manager()
        plugin_name = name or f"runtime:{getattr(plugin, '__name__', type(plugin).__name__)}-{id(plugin):x}"
        _register(pm, plugin, plugin_name)
        try:
            _check_pending(pm)
            assert _registry is not None
            _collect(pm, _registry, plugin_name, plugin)
        except BaseException:
            unregister_plugin(plugin_name)
            raise
        return plugin_name


def unregister_plugin(plugin_name: str) -> None:
    """Take out a plugin registered by :func:`register_plugin`, with everything it registered."""
    with _lock:
        pm = get_plugin_manager()
        if pm.has_plugin(plugin_name):
            pm.unregister(name=plugin_name)
        assert _registry is not None
        for role, table in _registry.items.items():
            for n in [n for n, item in table.items() if item.plugin == plugin_name]:
                item = table.pop(n)
                for alias in item.aliases:
                    _registry.aliases.get(role, {}).pop(alias, None)


def get_backend_factory(name: str) -> Callable[[], Any]:
    """The factory (usually the class) of the backend selected by ``name``."""
    return registry().get("backend", name).obj


def backend_factory_for_mode(mode: Optional[str] = None) -> Callable[[], Any]:
    """The factory of the backend that ``mode`` (else ``config["mode"]``) selects, by its registered name or alias."""
    from .settings import config

    return get_backend_factory(mode or config.get("mode") or "default")


def get_backend(name: str) -> Any:
    """A new instance of the backend selected by ``name`` (``config["mode"]``)."""
    return get_backend_factory(name)()


def get_storage_factory(name: str) -> Callable[..., Any]:
    """The factory of the storage client called ``name``."""
    return registry().get("storage", name).obj


def get_executor(name: str) -> ExecutorRegistration:
    """What the executor plugin called ``name`` registered."""
    return registry().get("executor", name).obj


def load_legacy_module(legacy: str) -> Any:
    """Import the module behind ``dflow.plugins.<legacy>``, or say what to install."""
    item = registry().get("legacy", legacy)
    return importlib.import_module(item.obj)
