"""Registers the ``slurm`` (SlurmJobTemplate) and ``slurm_remote`` (SlurmRemoteExecutor) executors.

Listed in the ``dflow.executors`` entry-point group. ``from dflow import SlurmJobTemplate``
and ``import dflow.plugins.slurm`` (the original dflow's names) load :mod:`dflow_slurm_vk`.
"""

from __future__ import annotations

from typing import Any

from dflow.plugins import hookimpl, lazy

from .executors import SlurmJobTemplate, SlurmRemoteExecutor

__all__ = ["register_executors", "register_legacy_modules"]

# imported when a step runs through them (every ``dflow`` process loads the installed plugins)
sbatch_launcher = lazy("dflow_slurm_vk.sbatch:SbatchLauncher")
wlm_render = lazy("dflow_slurm_vk.render:render_wlm")
remote_render = lazy("dflow_slurm_vk.render:render_remote")


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
