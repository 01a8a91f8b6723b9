"""Render (and validate) the Argo manifest of every workflow just before it is submitted.

Used by ``scripts/check-dflow-compat.sh --manifests``: this folder is put first on
``PYTHONPATH`` of the suites' processes, so Python imports this module at start-up.
When ``DFLOW_COMPAT_MANIFEST_LOG`` names a file, ``Workflow.submit`` first calls
``wf.to_dict()`` (the offline Argo render), checks the manifest against Argo's v4.1.2
Workflow schema made strict and against the names Argo's controller accepts
(``dflow.testing.argo_schema.schema_errors``), and appends one JSON line per workflow to
that file: ``{"workflow", "ok", "templates"}`` or ``{"workflow", "ok": false, "error"}``.
The run itself goes on unchanged whatever the render did.
"""

import json
import os

_LOG = os.environ.get("DFLOW_COMPAT_MANIFEST_LOG")


def _install(log: str) -> None:
    try:
        from dflow import workflow
        from dflow.testing.argo_schema import schema_errors
    except Exception:  # noqa: BLE001 - a process without dflow: nothing to hook
        return
    submit = workflow.Workflow.submit

    def render_then_submit(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        entry = {"workflow": getattr(self, "name", "?")}
        try:
            manifest = self.to_dict()
            errors = schema_errors(manifest)
            if errors:
                entry.update(ok=False, error="invalid manifest: " + "; ".join(errors[:3])[:400])
            else:
                entry.update(ok=True, templates=len(manifest.get("spec", {}).get("templates", [])))
        except Exception as exc:  # noqa: BLE001 - recorded; the run goes on
            entry.update(ok=False, error=f"{type(exc).__name__}: {exc}"[:400])
        with open(log, "a") as f:
            f.write(json.dumps(entry) + "\n")
        return submit(self, *args, **kwargs)

    workflow.Workflow.submit = render_then_submit


if _LOG:
    _install(_LOG)
