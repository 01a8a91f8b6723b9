"""The Starlette application: the page, its assets, the JSON and event-stream endpoints, the actions.

Every route reads through :class:`dflow.backend.Backend` (``list_workflows``,
``get_workflow``, ``get_spec``, ``list_steps``, ``logs``, ``terminate``) and the
public ``dflow`` API (``Workflow``, ``ArgoStep``, ``download_artifact``), so any
backend gets the page. :func:`create_app` wraps it in the token guard.
"""

from __future__ import annotations

import contextlib
import html
import os
from importlib import resources
from typing import Any, Dict, List, Optional, Union

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from dflow.backend import StepRecord
from dflow.errors import DflowError, WorkflowNotFoundError

from . import actions
from .artifacts import fetch_artifact, safe_filename
from .fold import page_children
from .logs import follow_log, whole_log
from .security import Redactor, TokenGuard
from .source import Source
from .sse import sse_response
from .views import step_detail
from .watch import Hub, Pace, runs_page

__all__ = ["create_app", "UIApp"]

STATIC = resources.files("dflow_ui") / "static"
PAGE_LIMIT = 200


class UIApp:
    """The routes, bound to one backend and one token."""

    def __init__(self, backend: Any, token: str, mode: Optional[str] = None, pace: Optional[Pace] = None) -> None:
        self.mode = mode or getattr(backend, "name", None)
        self.token = token
        self.redact = Redactor.from_environment(token)
        self.hub = Hub(Source(backend), self.redact, pace)
        self.source = self.hub.source

    # ---------------------------------------------------------------- helpers

    def _error(self, status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": self.redact.text(message)}, status_code=status)

    async def _step(self, request: Request) -> Union[StepRecord, Response]:
        """The step the path names, or the 404 answer saying what is missing."""
        run_id, step_id = request.path_params["run"], request.path_params["step"]
        try:
            rec = await self.source.step(run_id, step_id)
        except WorkflowNotFoundError as e:
            return self._error(404, str(e))
        if rec is None:
            return self._error(404, f"run {run_id} has no step {step_id!r}")
        return rec

    async def _unknown_run(self, run_id: str) -> Optional[Response]:
        """The 404 answer when the backend does not know ``run_id``, else ``None``."""
        try:
            await self.source.call(self.source.backend.get_workflow, run_id)
        except WorkflowNotFoundError as e:
            return self._error(404, str(e))
        return None

    @staticmethod
    def _int(request: Request, name: str, default: int, low: int = 0, high: int = 10**9) -> int:
        try:
            return max(low, min(high, int(request.query_params.get(name, default))))
        except ValueError:
            return default

    # ---------------------------------------------------------------- the page

    async def index(self, request: Request) -> Response:
        """The page (its asset URLs carry the token)."""
        text = (STATIC / "index.html").read_text(encoding="utf-8")
        # the token is ours (the guard compared it), and escaped anyway
        page = text.replace("{{token}}", html.escape(self.token, quote=True)).replace(
            "{{backend}}", html.escape(str(self.mode or ""), quote=True))
        return HTMLResponse(page)

    # ---------------------------------------------------------------- runs

    async def runs(self, request: Request) -> Response:
        """A page of runs as JSON (``phase``, ``q``, ``offset``, ``limit``)."""
        records = await self.source.call(self.source.backend.list_workflows)
        rows = self.hub.runs.rows(records)
        page, total = runs_page(rows, request.query_params.getlist("phase"), request.query_params.get("q", ""),
                                self._int(request, "limit", 50, 1, PAGE_LIMIT), self._int(request, "offset", 0))
        return JSONResponse({"rows": page, "total": total, "all": len(rows)})

    async def runs_events(self, request: Request) -> Response:
        """The runs list as an event stream (``phase``, ``q``, ``limit``)."""
        watcher = self.hub.runs_watcher()
        return sse_response(watcher.stream(request.query_params.getlist("phase"), request.query_params.get("q", ""),
                                           self._int(request, "limit", 50, 1, PAGE_LIMIT)))

    async def run_events(self, request: Request) -> Response:
        """A run's event stream: a snapshot, then patches."""
        run_id = request.path_params["run"]
        return await self._unknown_run(run_id) or sse_response(self.hub.run_watcher(run_id).stream())

    async def run_snapshot(self, request: Request) -> Response:
        """A run's current snapshot as JSON."""
        run_id = request.path_params["run"]
        missing = await self._unknown_run(run_id)
        if missing is not None:
            return missing
        watcher = self.hub.run_watcher(run_id)
        watcher.subscribers += 1  # keeps the poller for this read
        try:
            await watcher.next_change(None, 60.0)
        finally:
            watcher.subscribers -= 1
        if watcher.value is None:
            return self._error(504, f"run {run_id} could not be read within 60 s")
        return JSONResponse(watcher.value.full())

    async def children(self, request: Request) -> Response:
        """A page of the children of a node (a folded fan-out), optionally of one phase."""
        run_id, node = request.path_params["run"], request.path_params["node"]
        try:
            records = await self.source.steps(run_id)
        except WorkflowNotFoundError as e:
            return self._error(404, str(e))
        page = await self.source.heavy(page_children, records, node, self.redact, request.query_params.get("phase"),
                                       self._int(request, "offset", 0), self._int(request, "limit", 50, 1, PAGE_LIMIT))
        del records
        return JSONResponse(page)

    # ---------------------------------------------------------------- a step

    async def step(self, request: Request) -> Response:
        """Everything the step panel shows about one step."""
        rec = await self._step(request)
        if isinstance(rec, Response):
            return rec
        spec = await self.source.spec(request.path_params["run"])
        executor = None
        if spec is not None and rec.template:
            try:
                ex = getattr(spec.template(rec.template), "executor", None)
                executor = {"name": ex.name, "kind": ex.kind} if ex is not None else None
            except KeyError:
                executor = None
        return JSONResponse(step_detail(rec, self.redact, executor))

    async def log_events(self, request: Request) -> Response:
        """A step's log as an event stream, resumed from ``Last-Event-ID``."""
        rec = await self._step(request)
        if isinstance(rec, Response):
            return rec
        last = request.headers.get("last-event-id", "")
        return sse_response(follow_log(self.source, request.path_params["run"], rec, self.redact,
                                       resume_from=int(last) if last.isdigit() else None,
                                       keepalive=self.hub.pace.keepalive))

    async def log_file(self, request: Request) -> Response:
        """A step's whole log, secrets masked, as a download."""
        rec = await self._step(request)
        if isinstance(rec, Response):
            return rec
        headers = {"Content-Disposition": f'attachment; filename="{safe_filename(rec.display_name)}.log"'}
        if rec.log_path and os.path.isfile(rec.log_path):
            return StreamingResponse(whole_log(rec.log_path, self.redact), media_type="text/plain; charset=utf-8",
                                     headers=headers)
        try:
            text = await self.source.call(self.source.backend.logs, request.path_params["run"], rec.id)
        except (NotImplementedError, DflowError) as e:
            return self._error(404, str(e))
        return Response(self.redact.text(text), media_type="text/plain; charset=utf-8", headers=headers)

    async def artifact(self, request: Request) -> Response:
        """An input or output artifact of a step, as a file or a ``.tar.gz``."""
        direction, name = request.path_params["direction"], request.path_params["name"]
        if direction not in ("inputs", "outputs"):
            return self._error(404, f"artifacts are inputs or outputs, not {direction!r}")
        rec = await self._step(request)
        if isinstance(rec, Response):
            return rec
        try:
            fetched = await self.source.heavy(fetch_artifact, rec, direction, name)
        except Exception as e:  # noqa: BLE001 - a storage failure is the user's to see
            return self._error(502, f"could not fetch artifact {name!r} of step {rec.display_name!r}: {e}")
        if fetched is None:
            return self._error(404, f"step {rec.display_name!r} has no {direction[:-1]} artifact {name!r}")
        return FileResponse(fetched.path, filename=fetched.filename, media_type=fetched.media_type,
                            background=BackgroundTask(fetched.cleanup))

    # ---------------------------------------------------------------- actions

    async def action(self, request: Request) -> Response:
        """Terminate, resume, retry or resubmit a run (the token in the ``X-Dflow-Token`` header)."""
        run_id, action = request.path_params["run"], request.path_params["action"]
        if action not in actions.ACTIONS:
            return self._error(404, actions.refusal(action, run_id, "") or "")
        try:
            rec = await self.source.call(self.source.backend.get_workflow, run_id)
        except WorkflowNotFoundError as e:
            return self._error(404, str(e))
        why = actions.refusal(action, run_id, rec.phase)
        if why:
            return self._error(409, why)
        try:
            if action == "terminate":
                await self.source.call(self.source.backend.terminate, run_id)
                answer: Dict[str, Any] = {"id": run_id}
            else:
                answer = await self.source.call(actions.run_child, action, run_id, self.mode)
        except Exception as e:  # noqa: BLE001 - shown on the page
            answer = {"error": f"{action} of run {run_id} failed: {type(e).__name__}: {e}"}
        self.hub.poke(run_id)
        if "error" in answer:
            return self._error(500, answer["error"])
        return JSONResponse({"ok": True, "action": action, **answer})

    # ---------------------------------------------------------------- wiring

    def routes(self) -> List[Any]:
        """The routes of the application."""
        return [
            Route("/", self.index),
            Route("/api/runs", self.runs),
            Route("/api/runs/events", self.runs_events),
            Route("/api/runs/{run}", self.run_snapshot),
            Route("/api/runs/{run}/events", self.run_events),
            Route("/api/runs/{run}/nodes/{node}/children", self.children),
            Route("/api/runs/{run}/steps/{step}", self.step),
            Route("/api/runs/{run}/steps/{step}/log", self.log_events),
            Route("/api/runs/{run}/steps/{step}/log.txt", self.log_file),
            Route("/api/runs/{run}/steps/{step}/artifacts/{direction}/{name}", self.artifact),
            Route("/api/runs/{run}/actions/{action}", self.action, methods=["POST"]),
            Mount("/static", StaticFiles(directory=str(STATIC)), name="static"),
        ]


def create_app(backend: Any, token: str, mode: Optional[str] = None, port: Optional[int] = None,
               pace: Optional[Pace] = None) -> ASGIApp:
    """The ASGI application of the page for ``backend``, guarded by ``token``.

    ``mode`` is the backend's name as ``config["mode"]`` selects it (actions that
    start a run again select the same backend in their child process); ``port``
    restricts the accepted ``Host`` header to that port.
    """
    ui = UIApp(backend, token, mode, pace)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        """Start the start-up reading; stop every poller at shutdown."""
        ui.hub.start()
        yield
        await ui.hub.close()

    app = Starlette(routes=ui.routes(), lifespan=lifespan)
    app.state.ui = ui
    guard = TokenGuard(app, token, port)
    return guard

