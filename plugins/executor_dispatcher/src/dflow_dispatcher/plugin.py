"""Registers the ``dispatcher`` executor with the dflow kernel.

Listed in the ``dflow.executors`` entry-point group. The local engine launches its
steps through :class:`~dflow_dispatcher.launcher.DispatcherLauncher`; the Argo backend
runs the pod :func:`~dflow_dispatcher.render.render_for_argo` makes. ``import
dflow.plugins.dispatcher`` (the original dflow's path) loads :mod:`dflow_dispatcher`.
"""

from __future__ import annotations

from typing import Any

from dflow.plugins import hookimpl

from .executor import DispatcherExecutor

__all__ = ["register_executors", "register_legacy_modules"]


def dispatcher_launcher(options: Any) -> Any:
    """The local engine's launcher of dispatcher steps, imported when a step runs through it (every
    ``dflow`` process loads the installed plugins)."""
    from .launcher import DispatcherLauncher

    return DispatcherLauncher(options)


def dispatcher_render(template: Any, options: Any) -> Any:
    """The Argo pod of a dispatcher step (imported when a manifest is rendered)."""
    from .render import render_for_argo

    return render_for_argo(template, options)


@hookimpl
def register_executors(register: Any) -> None:
    """``dispatcher``: dpdispatcher jobs on the local backend and from an Argo pod."""
    register("dispatcher", DispatcherExecutor, launcher=dispatcher_launcher, render=dispatcher_render)


@hookimpl
def register_legacy_modules(register: Any) -> None:
    """``dflow.plugins.dispatcher`` is this package."""
    register("dispatcher", "dflow_dispatcher")
