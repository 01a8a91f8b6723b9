"""Placeholder until the Argo render is written."""

from __future__ import annotations

from typing import Any, Dict


def render_for_argo(template: Any, options: Dict[str, Any]) -> Any:
    raise NotImplementedError
