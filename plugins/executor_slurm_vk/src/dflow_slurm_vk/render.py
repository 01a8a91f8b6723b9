"""Argo renders of the Slurm executors (written next)."""

from __future__ import annotations

from typing import Any, Dict

from dflow.errors import ValidationError

__all__ = ["render_wlm", "render_remote"]


def render_wlm(template: Any, options: Dict[str, Any]) -> Any:
    raise ValidationError("SlurmJobTemplate cannot be rendered for Argo yet")


def render_remote(template: Any, options: Dict[str, Any]) -> Any:
    raise ValidationError("SlurmRemoteExecutor cannot be rendered for Argo yet")
