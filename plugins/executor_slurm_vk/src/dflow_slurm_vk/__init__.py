"""dflow-slurm-vk: Slurm for dflow steps (wlm-operator virtual nodes on Argo; sbatch here or over SSH).

``from dflow import SlurmJobTemplate, SlurmRemoteExecutor`` and ``from dflow.plugins.slurm
import ...`` give these classes when this distribution is installed.
"""

from __future__ import annotations

from .executors import RemoteExecutor, SlurmJob, SlurmJobTemplate, SlurmRemoteExecutor
from .sbatch import SbatchLauncher

__all__ = ["SlurmJobTemplate", "SlurmRemoteExecutor", "RemoteExecutor", "SlurmJob", "SbatchLauncher"]
