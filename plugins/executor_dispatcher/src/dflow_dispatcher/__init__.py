"""dflow-dispatcher: dflow steps as HPC jobs through dpdispatcher (Slurm, PBS, LSF, Shell; SSH or local).

``from dflow.plugins.dispatcher import DispatcherExecutor`` (the original dflow's import
path) gives :class:`DispatcherExecutor` when this distribution is installed.
"""

from __future__ import annotations

from typing import Any

from .executor import DispatcherExecutor

__all__ = ["DispatcherExecutor", "DispatcherLauncher"]


def __getattr__(name: str) -> Any:  # the launcher is imported on first use
    if name == "DispatcherLauncher":
        from .launcher import DispatcherLauncher

        return DispatcherLauncher
    raise AttributeError(f"module 'dflow_dispatcher' has no attribute {name!r}")
