"""Registers the ``slurm`` (SlurmJobTemplate) and ``slurm_remote`` (SlurmRemoteExecutor) executors.

Listed in the ``dflow.executors`` entry-point group. ``from dflow import SlurmJobTemplate``
and ``import dflow.plugins.slurm`` (the original dflow's names) load :mod:`dflow_slurm_vk`.
"""

from __future__ import annotations

from typing import Any

from dflow.plugins import hookimpl

from .executors import SlurmJobTemplate, SlurmRemoteExecutor

__all__ = ["register_executors", "register_legacy_modules"]


def sbatch_launcher(options: Any) -> Any:
    """The local engine's launcher of Slurm steps, imported when a step runs through it (every ``dflow``
    process loads the installed plugins)."""
    from .sbatch import SbatchLauncher

    return SbatchLauncher(options)


def wlm_render(template: Any, options: Any) -> Any:
    """The wlm-operator pattern of a ``SlurmJobTemplate`` step on Argo (imported when a manifest is rendered)."""
    from .render import render_wlm

    return render_wlm(template, options)


def remote_render(template: Any, options: Any) -> Any:
    """The pod that submits a ``SlurmRemoteExecutor`` step over SSH on Argo."""
    from .render import render_remote

    return render_remote(template, options)


@hookimpl
def register_executors(register: Any) -> None:
    """``slurm``: sbatch here / a wlm-operator SlurmJob on Argo; ``slurm_remote``: sbatch over SSH on both."""
    register("slurm", SlurmJobTemplate, launcher=sbatch_launcher, render=wlm_render)
    register("slurm_remote", SlurmRemoteExecutor, launcher=sbatch_launcher, render=remote_render)


@hookimpl
def register_legacy_modules(register: Any) -> None:
    """``dflow.plugins.slurm`` and ``dflow.plugins.wlm`` are this package."""
    register("slurm", "dflow_slurm_vk")
    register("wlm", "dflow_slurm_vk")
