"""Registers the ``slurm`` (SlurmJobTemplate) and ``slurm_remote`` (SlurmRemoteExecutor) executors.

Listed in the ``dflow.executors`` entry-point group. ``from dflow import SlurmJobTemplate``
and ``import dflow.plugins.slurm`` (the original dflow's names) load :mod:`dflow_slurm_vk`.
"""

from __future__ import annotations

from typing import Any

from dflow.plugins import hookimpl

from .executors import SlurmJobTemplate, SlurmRemoteExecutor
from .render import render_remote, render_wlm
from .sbatch import SbatchLauncher

__all__ = ["register_executors", "register_legacy_modules"]


@hookimpl
def register_executors(register: Any) -> None:
    """``slurm``: sbatch here / a wlm-operator SlurmJob on Argo; ``slurm_remote``: sbatch over SSH on both."""
    register("slurm", SlurmJobTemplate, launcher=SbatchLauncher, render=render_wlm)
    register("slurm_remote", SlurmRemoteExecutor, launcher=SbatchLauncher, render=render_remote)


@hookimpl
def register_legacy_modules(register: Any) -> None:
    """``dflow.plugins.slurm`` and ``dflow.plugins.wlm`` are this package."""
    register("slurm", "dflow_slurm_vk")
    register("wlm", "dflow_slurm_vk")
