"""The Argo backend against the backend conformance suite of ``dflow.testing``.

No Argo Server (nor Kubernetes) can run on these machines, so the suite runs against
``fake_argo_server.FakeArgoServer``: a local HTTP server on 127.0.0.1 that speaks the
part of Argo Server's REST API dflow uses, validates what it receives against Argo's
schema and runs each pod's own script in the sandbox (Argo's file contract, on this
machine). ``test_argo_real_server.py`` runs the same suite against a real Argo Server
when ``DFLOW_ARGO_SERVER`` is set.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fake_argo_server import FakeArgoServer

from dflow.settings import config, s3_config
from dflow.testing.backend import BackendConformance

TOKEN = "conformance-token"


class TestArgoConformanceOnFakeServer(BackendConformance):
    __test__ = True
    mode = "argo"
    shares_filesystem = True  # the sandbox runs the pods on this machine

    @pytest.fixture(autouse=True)
    def backend_env(self, tmp_path: Path, isolated_config: None):  # type: ignore[override]
        self.tmp = tmp_path
        self.scratch = tmp_path / "scratch"
        self.scratch.mkdir()
        repo = s3_config["storage_client"].root
        with FakeArgoServer(str(repo), str(tmp_path / "cluster"), token=TOKEN) as srv:
            config.update(mode="argo", host=srv.url, token=TOKEN, namespace="argo", verify_ssl=True, detach=False)
            self.server = srv
            yield
            assert srv.errors == [], srv.errors[:5]

    def subprocess_setup(self) -> str:
        return (
            "from dflow import config, s3_config\n"
            f"import sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})\n"
            "from sandbox_repo import SandboxRepository\n"
            f"config.update(mode='argo', host={config['host']!r}, token={TOKEN!r}, namespace='argo')\n"
            f"s3_config['storage_client'] = SandboxRepository(root={str(s3_config['storage_client'].root)!r})\n"
        )
