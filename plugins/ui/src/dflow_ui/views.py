"""Backend records as the small JSON objects the page draws.

Everything user-made (names, parameter values, messages, logs) is sent as JSON
strings and put on the page as text by the browser code, never as markup. Values
whose type name starts with ``pickle`` are never decoded: the page gets a
placeholder with their size.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from dflow.backend import StepRecord, WorkflowRecord

from .security import MASK, SECRET_NAME, Redactor

__all__ = ["run_row", "node_row", "step_detail", "parameter_view", "is_pickled", "FINAL_PHASES", "MAX_VALUE_CHARS", "MAX_MESSAGE_CHARS"]

FINAL_PHASES = ("Succeeded", "Failed", "Error", "Skipped", "Omitted")
#: a parameter value longer than this is cut on the server (the page folds anything over a few lines)
MAX_VALUE_CHARS = 64 * 1024
#: messages are shown in one line of the tree; the step panel shows them whole
MAX_MESSAGE_CHARS = 300
#: how docs/runtime-contract.md spells a value JSON cannot hold
_PICKLE_MARK = '{"__dflow_pickle__"'


def _cut(text: Optional[str], limit: int) -> Optional[str]:
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def run_row(rec: WorkflowRecord, redact: Redactor, progress: Optional[str] = None) -> Dict[str, Any]:
    """One line of the runs table."""
    return {
        "id": rec.id,
        "name": redact.text(rec.name),
        "phase": rec.phase,
        "message": redact.text(_cut(rec.message, MAX_MESSAGE_CHARS) or ""),
        "created": rec.created_at,
        "started": rec.started_at,
        "finished": rec.finished_at,
        "progress": rec.progress or progress,
        "backend": rec.backend,
    }


def node_row(rec: StepRecord, redact: Redactor) -> Dict[str, Any]:
    """One node of the step tree (no inputs or outputs: the step panel fetches those)."""
    return {
        "id": rec.id,
        "name": redact.text(rec.name),
        "display": redact.text(rec.display_name),
        "type": rec.type,
        "phase": rec.phase,
        "key": redact.text(rec.key) if rec.key else None,
        "template": rec.template,
        "parent": rec.parent,
        "started": rec.started_at,
        "finished": rec.finished_at,
        "attempts": rec.attempts,
        "progress": redact.text(rec.progress) if rec.progress else None,
        "message": redact.text(_cut(rec.message, MAX_MESSAGE_CHARS) or "") or None,
    }


def parameter_view(name: str, value: Any, redact: Redactor) -> Dict[str, Any]:
    """A parameter for the page: its type name and its text, or a placeholder.

    ``value`` is the record's parameter value (``.text``, ``.type``).
    """
    text = getattr(value, "text", None)
    type_name = getattr(value, "type", None)
    view: Dict[str, Any] = {"name": name, "type": type_name, "text": None, "size": None, "opaque": False,
                            "hidden": False, "cut": False}
    if text is None:
        return view
    view["size"] = len(text)
    if is_pickled(text, type_name):
        # never unpickled: loading a pickle can run code
        what = type_name[6:].strip(":") if type_name and type_name.lower().startswith("pickle") else type_name
        view.update(opaque=True, text=f"(a pickled {what or 'value'} of {len(text)} characters, not shown)")
        return view
    if SECRET_NAME.search(name):
        view.update(hidden=True, text=MASK)
        return view
    view["cut"] = len(text) > MAX_VALUE_CHARS
    view["text"] = redact.text(text[:MAX_VALUE_CHARS])
    return view


def is_pickled(text: str, type_name: Optional[str]) -> bool:
    """Whether a parameter's text is a pickle: by its type name (``pickle...``), or by the
    runtime contract's form for values JSON cannot hold (``{"__dflow_pickle__": base64}``)."""
    if type_name and type_name.lower().startswith("pickle"):
        return True
    return text.lstrip().startswith(_PICKLE_MARK)


def _artifacts(stored: Dict[str, Any], direction: str) -> List[Dict[str, Any]]:
    out = []
    for name, art in stored.items():
        parts = getattr(art, "parts", None)
        out.append({
            "name": name,
            "direction": direction,
            "key": getattr(art, "key", None),
            "storage": getattr(art, "storage", None),
            "parts": len(parts) if parts else 0,
        })
    return out


def step_detail(rec: StepRecord, redact: Redactor, executor: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Everything the step panel shows about one step.

    ``executor`` describes the executor the spec gives the step's template
    (``{"name": ..., "kind": ...}``), used when the record has no ``launch``.
    """
    row = node_row(rec, redact)
    row["message"] = redact.text(rec.message) if rec.message else None
    launch = redact.fields(rec.launch) if rec.launch else None
    where = (launch or {}).get("where") or (redact.text(rec.workdir) if rec.workdir else None)
    row.update(
        inputs={"parameters": [parameter_view(k, v, redact) for k, v in rec.inputs_parameters.items()],
                "artifacts": _artifacts(rec.inputs_artifacts, "inputs")},
        outputs={"parameters": [parameter_view(k, v, redact) for k, v in rec.outputs_parameters.items()],
                 "artifacts": _artifacts(rec.outputs_artifacts, "outputs")},
        children=len(rec.children),
        has_log=bool(rec.log_path) or rec.type == "Pod",
        launch=launch,
        executor=(launch or {}).get("executor") or _executor_name(executor),
        where=where,
    )
    return row


def _executor_name(executor: Optional[Dict[str, Any]]) -> Optional[str]:
    if not executor:
        return None
    return executor.get("name") or executor.get("kind") or None
