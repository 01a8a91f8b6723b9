"""A small client of Argo Server's REST API (``/api/v1/workflows/...``), on ``urllib``.

Standard library only: the handful of calls dflow makes (create, get, list, terminate,
retry, resubmit, delete, logs) do not justify the generated ``argo-workflows`` client
and its pinned dependencies, and ``urllib`` lets TLS verification be switched per client.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, List, Optional

from dflow.errors import BackendError, WorkflowNotFoundError

__all__ = ["ArgoClient", "ArgoServerError"]


class ArgoServerError(BackendError):
    """Argo Server answered with an error status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ArgoClient:
    """Talks to one Argo Server.

    ``token`` is sent as ``Authorization: Bearer <token>`` (a token already starting
    with ``Bearer `` is sent as it is). TLS certificates are verified unless
    ``verify_ssl`` is false.
    """

    def __init__(
        self,
        host: str,
        token: Optional[str] = None,
        namespace: str = "argo",
        verify_ssl: bool = True,
        timeout: float = 30.0,
        headers: Optional[Dict[str, str]] = None,
    ) -> None:
        if not host:
            raise BackendError("no Argo Server: set config['host'] (e.g. 'https://argo.example.org:2746')")
        if "://" not in host:
            host = "https://" + host
        self.host = host.rstrip("/")
        self.token = token
        self.namespace = namespace or "argo"
        self.verify_ssl = verify_ssl
        self.timeout = timeout
        self.headers = dict(headers or {})
        self._ssl: Optional[ssl.SSLContext] = None
        if self.host.startswith("https://"):
            self._ssl = ssl.create_default_context()
            if not verify_ssl:
                self._ssl.check_hostname = False
                self._ssl.verify_mode = ssl.CERT_NONE

    def __repr__(self) -> str:  # never shows the token
        return f"ArgoClient(host={self.host!r}, namespace={self.namespace!r}, verify_ssl={self.verify_ssl})"

    # ---------------------------------------------------------------- transport

    def _url(self, path: str, query: Optional[Dict[str, Any]] = None) -> str:
        url = self.host + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        return url

    def request(
        self, method: str, path: str, body: Any = None, query: Optional[Dict[str, Any]] = None, raw: bool = False
    ) -> Any:
        """One call; the decoded JSON answer (or the text with ``raw``)."""
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"Accept": "application/json", **self.headers}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = (
                self.token if self.token.startswith(("Bearer ", "Basic ")) else f"Bearer {self.token}"
            )
        req = urllib.request.Request(self._url(path, query), data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout, context=self._ssl) as resp:
                text = resp.read().decode("utf-8")
        except urllib.error.HTTPError as e:
            detail = e.read().decode("utf-8", "replace")
            try:
                detail = json.loads(detail).get("message", detail)
            except ValueError:
                pass
            if e.code == 404:
                raise WorkflowNotFoundError(f"Argo Server {self.host}: {method} {path}: not found ({detail})") from None
            hint = " (check config['token'])" if e.code in (401, 403) else ""
            raise ArgoServerError(
                e.code, f"Argo Server {self.host}: {method} {path} failed with HTTP {e.code}: {detail}{hint}"
            ) from None
        except urllib.error.URLError as e:
            hint = ""
            if isinstance(e.reason, ssl.SSLError):
                hint = "; for a self-signed certificate set config['verify_ssl'] = False"
            raise BackendError(f"cannot reach Argo Server at {self.host} (config['host']): {e.reason}{hint}") from None
        if raw:
            return text
        return json.loads(text) if text.strip() else {}

    def _wf(self, name: str, action: str = "") -> str:
        ns = urllib.parse.quote(self.namespace, safe="")
        return f"/api/v1/workflows/{ns}/{urllib.parse.quote(name, safe='')}{action}"

    # ---------------------------------------------------------------- workflows

    def create(self, manifest: Dict[str, Any]) -> Dict[str, Any]:
        """Create a workflow; the Workflow object the server made (with ``metadata.name``)."""
        ns = urllib.parse.quote(self.namespace, safe="")
        return self.request("POST", f"/api/v1/workflows/{ns}", {"namespace": self.namespace, "workflow": manifest})

    def get(self, name: str) -> Dict[str, Any]:
        return self.request("GET", self._wf(name))

    def list(self, label_selector: Optional[str] = None) -> List[Dict[str, Any]]:
        ns = urllib.parse.quote(self.namespace, safe="")
        answer = self.request("GET", f"/api/v1/workflows/{ns}", query={"listOptions.labelSelector": label_selector})
        return list(answer.get("items") or [])

    def terminate(self, name: str) -> Dict[str, Any]:
        return self.request("PUT", self._wf(name, "/terminate"), {"name": name, "namespace": self.namespace})

    def stop(self, name: str) -> Dict[str, Any]:
        """Argo's stop: end the run, running its exit handlers."""
        return self.request("PUT", self._wf(name, "/stop"), {"name": name, "namespace": self.namespace})

    def suspend(self, name: str) -> Dict[str, Any]:
        return self.request("PUT", self._wf(name, "/suspend"), {"name": name, "namespace": self.namespace})

    def resume(self, name: str) -> Dict[str, Any]:
        """Argo's resume of a suspended workflow."""
        return self.request("PUT", self._wf(name, "/resume"), {"name": name, "namespace": self.namespace})

    def retry(self, name: str, restart_successful: bool = False, node_field_selector: str = "") -> Dict[str, Any]:
        return self.request(
            "PUT",
            self._wf(name, "/retry"),
            {
                "name": name,
                "namespace": self.namespace,
                "restartSuccessful": restart_successful,
                "nodeFieldSelector": node_field_selector,
            },
        )

    def resubmit(self, name: str, memoized: bool = False) -> Dict[str, Any]:
        return self.request(
            "PUT", self._wf(name, "/resubmit"), {"name": name, "namespace": self.namespace, "memoized": memoized}
        )

    def delete(self, name: str) -> None:
        self.request("DELETE", self._wf(name))

    def logs(self, name: str, pod_name: str, container: str = "main") -> str:
        """The log of one pod: Argo streams JSON lines ``{"result": {"content": ...}}``."""
        text = self.request(
            "GET", self._wf(name, "/log"), query={"podName": pod_name, "logOptions.container": container}, raw=True
        )
        lines = []
        for line in text.splitlines():
            line = line.strip()
            if not line:
                continue
            try:
                lines.append(json.loads(line).get("result", {}).get("content", ""))
            except ValueError:
                lines.append(line)
        return "\n".join(lines)
