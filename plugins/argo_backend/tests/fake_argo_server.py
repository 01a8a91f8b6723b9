"""A stand-in Argo Server on 127.0.0.1 for the client tests (no real Argo Server can run here).

It speaks the part of Argo Server's REST API that dflow uses, checks the bearer token,
validates every manifest it receives against the strict v4.1.2 schema, runs accepted
workflows through :mod:`argo_sandbox` in a background thread, and answers with Workflow
objects whose ``status`` describes that run - each answer validated against the schema
too (violations are collected in ``server.errors``; the tests assert there are none).
"""

from __future__ import annotations

import json
import random
import re
import string
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple

from _schema import schema_errors
from argo_sandbox import Sandbox, argo_status, pod_log


class _Run:
    def __init__(self, manifest: Dict[str, Any], name: str, repo: str, workdir: str,
                 repositories: Optional[Dict[str, str]] = None, previous: Any = None) -> None:
        self.manifest = manifest
        self.sandbox = Sandbox(manifest, repo, workdir, name=name, repositories=repositories, previous=previous)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.created = time.time()

    def _run(self) -> None:
        try:
            self.sandbox.run()
        except Exception as e:  # noqa: BLE001 - reported as the workflow's error
            if self.sandbox.root is not None:
                self.sandbox.root.phase, self.sandbox.root.message = "Error", f"{type(e).__name__}: {e}"
        finally:
            self.done.set()


class FakeArgoServer:
    def __init__(self, repo: str, workdir: str, token: str = "s3cr3t-token", namespace: str = "argo",
                 repositories: Optional[Dict[str, str]] = None) -> None:
        self.repo, self.workdir, self.token, self.namespace = repo, workdir, token, namespace
        self.repositories = dict(repositories or {})  # location kind -> local root, besides the default s3 one
        self.runs: Dict[str, _Run] = {}
        self.requests: List[Tuple[str, str, Any]] = []
        self.errors: List[str] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, body: Any) -> None:
                # a str is a stream of JSON lines (the log endpoint), sent as it is
                data = (body if isinstance(body, str) else json.dumps(body)).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                path = self.path.split("?", 1)[0]
                server.requests.append((method, self.path, body))
                if self.headers.get("Authorization") != f"Bearer {server.token}":
                    return self._send(401, {"code": 16, "message": "token not valid"})
                try:
                    code, answer = server.dispatch(method, path, body, self.path)
                except KeyError as e:
                    return self._send(404, {"code": 5, "message": f"workflows.argoproj.io {e} not found"})
                self._send(code, answer)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PUT(self) -> None:
                self._handle("PUT")

            def do_DELETE(self) -> None:
                self._handle("DELETE")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> "FakeArgoServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        for run in self.runs.values():
            run.sandbox.terminate()
            run.done.wait(30)
        self.httpd.shutdown()
        self.httpd.server_close()

    # ---------------------------------------------------------------- the API

    def _object(self, name: str) -> Dict[str, Any]:
        run = self.runs[name]
        wf = json.loads(json.dumps(run.manifest))
        wf["metadata"].pop("generateName", None)
        wf["metadata"].update(
            name=name,
            namespace=self.namespace,
            uid=f"uid-{name}",
            creationTimestamp=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(run.created)),
        )
        wf["status"] = argo_status(run.sandbox, finished=run.done.is_set())
        errors = schema_errors(wf)
        if errors:
            self.errors.extend(errors)
        return wf

    def dispatch(self, method: str, path: str, body: Any, raw_path: str) -> Tuple[int, Any]:
        parts = path.strip("/").split("/")
        if parts[:3] != ["api", "v1", "workflows"] or len(parts) < 4 or parts[3] != self.namespace:
            return 404, {"code": 5, "message": f"no route {path}"}
        if method == "POST" and len(parts) == 4:
            manifest = body["workflow"]
            errors = schema_errors(manifest)
            if errors:
                self.errors.extend(errors)
                return 400, {"code": 3, "message": "; ".join(errors[:3])}
            meta = manifest["metadata"]
            name = meta.get("name") or meta["generateName"] + "".join(random.choices(string.ascii_lowercase, k=5))
            with self.lock:
                run = _Run(manifest, name, self.repo, f"{self.workdir}/{name}", self.repositories)
                self.runs[name] = run
            run.thread.start()
            return 200, self._object(name)
        if method == "GET" and len(parts) == 4:
            # listOptions.labelSelector: Kubernetes' equality selectors, "k=v,k2=v2"
            query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(raw_path).query))
            wanted = [term.split("=", 1) for term in query.get("listOptions.labelSelector", "").split(",") if term]
            for term in wanted:  # (as Kubernetes refuses a selector it cannot parse)
                if len(term) != 2 or not re.match(r"^[A-Za-z0-9./_-]+$", term[0]) or not re.match(r"^[A-Za-z0-9._-]*$", term[1]):
                    return 400, {"code": 3, "message": f"unable to parse requirement: {'='.join(term)!r}"}
            items = [self._object(n) for n in self.runs]
            items = [w for w in items if all((w["metadata"].get("labels") or {}).get(k) == v for k, v in wanted)]
            return 200, {"metadata": {"resourceVersion": "1"}, "items": items}
        name = parts[4]
        if name not in self.runs:
            raise KeyError(name)
        action = parts[5] if len(parts) > 5 else None
        if method == "GET" and action is None:
            return 200, self._object(name)
        if method == "GET" and action == "log":
            # the log the pod really wrote, as Argo Server streams it: one JSON object a line
            query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(raw_path).query))
            pod = query.get("podName", "")
            text = pod_log(self.runs[name].sandbox, pod)
            if text is None:
                return 404, {"code": 5, "message": f"no pod {pod!r} in workflow {name!r}"}
            lines = [json.dumps({"result": {"content": line, "podName": pod}}) for line in text.splitlines()]
            return 200, "\n".join(lines)
        if method == "PUT" and action in ("suspend", "resume"):
            # Argo: a suspended workflow starts no new pod (spec.suspend); resume clears it
            run = self.runs[name]
            run.manifest.setdefault("spec", {})["suspend"] = action == "suspend"
            (run.sandbox.suspended.set if action == "suspend" else run.sandbox.suspended.clear)()
            return 200, self._object(name)
        if method == "PUT" and action in ("terminate", "stop"):
            # Argo's terminate: no new step starts and the running pods are killed; a run that has
            # ended is refused (Argo's util.patchShutdownStrategy, answered as codes.Internal)
            if self.runs[name].done.is_set():
                return 500, {"code": 13, "message": f'cannot shutdown a completed workflow: workflow: "{name}", '
                                                    'namespace: "argo"'}
            self.runs[name].sandbox.terminate(stop=action == "stop")
            if action == "stop" and self.runs[name].manifest.get("spec", {}).get("onExit"):
                return 200, self._object(name)  # the exit handler runs on; the run ends when it has
            self.runs[name].done.wait(30)
            root = self.runs[name].sandbox.root
            if root is not None and root.phase not in ("Succeeded",):
                root.phase, root.message = "Failed", f"Stopped with strategy '{action.capitalize()}'"
            return 200, self._object(name)
        if method == "PUT" and action in ("retry", "resubmit"):
            old = self.runs[name]
            old.done.wait(30)
            new_name = name if action == "retry" else name + "-r"
            with self.lock:
                run = _Run(old.manifest, new_name, self.repo, f"{self.workdir}/{new_name}-{time.time()}",
                           self.repositories, previous=old.sandbox if action == "retry" else None)
                self.runs[new_name] = run
            run.thread.start()
            return 200, self._object(new_name)
        if method == "DELETE" and action is None:
            self.runs.pop(name).sandbox.terminate()
            return 200, {}
        return 404, {"code": 5, "message": f"no route {method} {path}"}

    def wait(self, name: str, timeout: float = 60) -> None:
        self.runs[name].done.wait(timeout)
