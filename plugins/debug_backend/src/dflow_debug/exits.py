"""The exit handler of a local run (Argo's ``onExit``, dflow's ``Workflow(on_exit=...)``).

Once the entry point has ended, whatever its phase, the engine runs the exit handler's
template as node ``<workflow>.onExit``, as Argo's controller does. There
``{{workflow.status}}`` is the entry point's phase (``Skipped`` counts as ``Succeeded``),
``{{workflow.failures}}`` the nodes that failed, as Argo lists them, and
``{{workflow.duration}}`` the seconds since the run started. A handler that fails turns a
run that succeeded into a failed one; a run that failed stays as it ended. A terminated
run runs no handler; a stopped one (``Workflow.stop``) does.
"""

from __future__ import annotations

import time
from typing import Any, Dict, Optional, Tuple

from .nodes import node_type
from .refs import PV, Scope

__all__ = ["ExitHandling"]


class ExitHandling:
    """Mixed into the engine (which gives ``templates``, ``nodes``, ``run_template`` and the rest)."""

    status: str  # {{workflow.status}} (the engine sets it, and when the run started)
    started: float
    spec: Any
    templates: Dict[str, Any]
    nodes: Any
    workflow_id: str

    async def run_exit_handler(self, phase: str, message: Optional[str]) -> Tuple[str, Optional[str]]:
        """Argo's ``onExit``: once the entry point has ended, whatever its phase, the exit handler runs
        (node ``<workflow>.onExit``); if it fails, a run that succeeded ends as it did."""
        self.status = "Succeeded" if phase in ("Skipped", "Omitted") else phase
        tmpl = self.templates[self.spec.on_exit or ""]
        scope = Scope(self, {}, {})
        params: Dict[str, PV] = {p.name: (scope.text(p.value or ""), p.type) for p in tmpl.inputs_parameters}
        name = f"{self.workflow_id}.onExit"
        rec = self.nodes.node("onExit", name, name, node_type(tmpl), tmpl.name, None)
        out = await self.run_template(  # type: ignore[attr-defined]
            tmpl, params, {}, rec, "onExit")
        return (out.phase, out.message) if self.status == "Succeeded" and not out.ok else (phase, message)

    def global_value(self, name: str) -> Optional[str]:
        if name == "status":
            return self.status
        if name == "failures":  # as Argo: a JSON list of the nodes that failed, null if none did
            return self.nodes.failures_text(self.workflow_id)
        return f"{time.time() - self.started:f}" if name == "duration" else None
