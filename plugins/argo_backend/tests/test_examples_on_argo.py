"""Every script of examples/ on the Argo backend, with the answers it asserts on the local backend.

No Argo Server (nor Kubernetes) can run on these machines: each example runs as a user
runs it (``python example.py``, in a fresh directory), with ``examples_on_argo/`` on its
``PYTHONPATH``, whose ``sitecustomize`` points ``Workflow.submit`` at the stand-in Argo
Server of ``fake_argo_server.py``. That server checks what it receives against Argo's
schema and runs every pod's own script in the sandbox. So each example's own assertions
check that a cluster gives the answers the local backend gives.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
EXAMPLES_DIR = HERE.parents[2] / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("*.py"))

# what an example checks that only the local backend has (each says why)
LOCAL_ONLY = {
    "test_debug_mode.py": "it reads the local backend's workflow directory",
    "test_storage_client.py": "it configures a storage client of its own, which the stand-in cluster's pods cannot reach",
    "test_dag.py": "it compares start and end times closer than Argo's one-second timestamps",
}


@pytest.mark.skipif(not EXAMPLES, reason="no examples/ in this checkout")
@pytest.mark.parametrize("script", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_on_argo(script: Path, tmp_path: Path) -> None:
    if script.name in LOCAL_ONLY:
        pytest.skip(f"{script.name} is a local-backend example: {LOCAL_ONLY[script.name]}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DFLOW_")}
    env["PYTHONPATH"] = os.pathsep.join([str(HERE / "examples_on_argo"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["DFLOW_EXAMPLE_CLUSTER"] = str(tmp_path / "cluster")
    work = tmp_path / "work"
    work.mkdir()
    proc = subprocess.run([sys.executable, str(script)], cwd=str(work), env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=300)
    assert proc.returncode == 0, f"{script.name} on Argo exited with {proc.returncode}:\n{proc.stdout[-6000:]}"
