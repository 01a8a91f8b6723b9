"""Steering a run from the page: terminate, resume, retry, resubmit reusing succeeded steps.

Terminate is a backend call made from a worker thread. Resume, retry and resubmit
start a new driver: the local backend forks it, and forking a server process full
of threads could leave the child holding a lock some other thread had. So those
three run in a short-lived child process (``python -m dflow_ui.actions``) with this
server's environment and its backend selection, which starts the run detached and
exits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any, Dict, List, Optional

__all__ = ["ACTIONS", "refusal", "child_command", "child_environment", "parse_child_answer", "main"]

#: action -> the phases of a run it applies to (``None``: any phase)
ACTIONS: Dict[str, Optional[tuple]] = {
    "terminate": ("Pending", "Running"),
    "resume": ("Failed", "Error"),
    "retry": ("Failed", "Error"),
    "resubmit": None,
}
#: how long a child may take to start a run
CHILD_TIMEOUT = 300.0


def refusal(action: str, run_id: str, phase: str) -> Optional[str]:
    """Why ``action`` cannot apply to a run in ``phase`` (``None`` when it can)."""
    if action not in ACTIONS:
        return f"unknown action {action!r}; the actions are {', '.join(ACTIONS)}"
    phases = ACTIONS[action]
    if phases is None or phase in phases:
        return None
    if action == "terminate":
        return f"run {run_id} has already ended ({phase}); there is nothing to terminate"
    return f"run {run_id} is {phase}; {action} applies to a run that failed or was stopped ({' or '.join(phases)})"


def child_command(action: str, run_id: str) -> List[str]:
    """The child process that carries out ``action`` on ``run_id``."""
    return [sys.executable, "-m", "dflow_ui.actions", action, run_id]


def child_environment(mode: Optional[str]) -> Dict[str, str]:
    """This process's environment, with the backend selection the server uses spelt out."""
    from dflow import config

    env = dict(os.environ)
    env["DFLOW_MODE"] = mode or str(config.get("mode") or "default")
    if config.get("debug_workdir"):
        env["DFLOW_DEBUG_WORKDIR"] = os.path.abspath(config["debug_workdir"])
    env["DFLOW_DETACH"] = "1"
    return env


def run_child(action: str, run_id: str, mode: Optional[str]) -> Dict[str, Any]:
    """Carry out ``action`` in a child process; its answer, or ``{"error": ...}``."""
    try:
        done = subprocess.run(child_command(action, run_id), env=child_environment(mode), capture_output=True,
                              text=True, timeout=CHILD_TIMEOUT, stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"{action} of run {run_id} did not answer within {CHILD_TIMEOUT:.0f} s"}
    return parse_child_answer(action, run_id, done.returncode, done.stdout, done.stderr)


def parse_child_answer(action: str, run_id: str, code: int, stdout: str, stderr: str) -> Dict[str, Any]:
    """The child's JSON answer, or ``{"error": ...}`` with the last line it wrote to stderr."""
    lines = [ln for ln in stdout.splitlines() if ln.startswith("{")]
    if code == 0 and lines:
        return json.loads(lines[-1])
    why = next((ln for ln in reversed(stderr.splitlines()) if ln.strip()), f"exit code {code}")
    return {"error": f"{action} of run {run_id} failed: {why}"}


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m dflow_ui.actions ACTION RUN_ID``: start the run again, detached; print JSON."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or args[0] not in ("resume", "retry", "resubmit"):
        print("usage: python -m dflow_ui.actions resume|retry|resubmit RUN_ID", file=sys.stderr)
        return 2
    action, run_id = args
    from dflow import Workflow

    try:
        wf = Workflow(id=run_id)
        if action == "resume":
            wf.resume(detach=True)
            answer: Dict[str, Any] = {"id": run_id}
        elif action == "retry":
            wf.retry(detach=True)
            answer = {"id": run_id}
        else:
            reuse = [s for s in wf.query_step(phase="Succeeded") if s.key]
            new = wf.resubmit(reuse_step=reuse, detach=True)
            answer = {"id": new.id, "reused": len(reuse)}
    except Exception as e:  # noqa: BLE001 - the server shows the message on the page
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover - run by the server as a child process
    sys.exit(main())
