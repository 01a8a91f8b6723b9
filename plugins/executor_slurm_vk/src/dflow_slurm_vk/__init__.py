"""dflow-slurm-vk: Slurm for dflow steps (wlm-operator virtual nodes on Argo; sbatch here or over SSH).

``from dflow import SlurmJobTemplate, SlurmRemoteExecutor`` and ``from dflow.plugins.slurm
import ...`` give these classes when this distribution is installed.
"""

from __future__ import annotations

from typing import Any

from .executors import RemoteExecutor, SlurmJob, SlurmJobTemplate, SlurmRemoteExecutor

__all__ = ["SlurmJobTemplate", "SlurmRemoteExecutor", "RemoteExecutor", "SlurmJob", "SbatchLauncher"]


def __getattr__(name: str) -> Any:  # the launcher is imported on first use
    if name == "SbatchLauncher":
        from .sbatch import SbatchLauncher

        return SbatchLauncher
    raise AttributeError(f"module 'dflow_slurm_vk' has no attribute {name!r}")
