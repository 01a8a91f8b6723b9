"""``dflow.slurm``: the import path of the original dflow for its Slurm names, which come with
the ``dflow-slurm-vk`` plugin here (without it they import, and say what to install when used)."""

from __future__ import annotations

from ._exports import lazy_exports

_LAZY = {n: "plugin:slurm" for n in ("SlurmJob", "SlurmJobTemplate", "SlurmRemoteExecutor")}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, base="dflow")
