"""dflow-dispatcher: dflow steps as HPC jobs through dpdispatcher (Slurm, PBS, LSF, Shell; SSH or local).

``from dflow.plugins.dispatcher import DispatcherExecutor`` (the original dflow's import
path) gives :class:`DispatcherExecutor` when this distribution is installed.
"""

from __future__ import annotations

from .executor import DispatcherExecutor
from .launcher import DispatcherLauncher

__all__ = ["DispatcherExecutor", "DispatcherLauncher"]
