"""Registers the ``dispatcher`` executor with the dflow kernel.

Listed in the ``dflow.executors`` entry-point group. The local engine launches its
steps through :class:`~dflow_dispatcher.launcher.DispatcherLauncher`; the Argo backend
runs the pod :func:`~dflow_dispatcher.render.render_for_argo` makes. ``import
dflow.plugins.dispatcher`` (the original dflow's path) loads :mod:`dflow_dispatcher`.
"""

from __future__ import annotations

from typing import Any

from dflow.plugins import hookimpl, lazy

from .executor import DispatcherExecutor

__all__ = ["register_executors", "register_legacy_modules"]

# imported when a step runs through them (every ``dflow`` process loads the installed plugins)
dispatcher_launcher = lazy("dflow_dispatcher.launcher:DispatcherLauncher")
dispatcher_render = lazy("dflow_dispatcher.render:render_for_argo")


@hookimpl
def register_executors(register: Any) -> None:
    """``dispatcher``: dpdispatcher jobs on the local backend and from an Argo pod."""
    register("dispatcher", DispatcherExecutor, launcher=dispatcher_launcher, render=dispatcher_render)


@hookimpl
def register_legacy_modules(register: Any) -> None:
    """``dflow.plugins.dispatcher`` is this package."""
    register("dispatcher", "dflow_dispatcher")
