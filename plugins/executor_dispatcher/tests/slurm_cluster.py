"""A real Slurm cluster and SSH server for the HPC tests (also imported by ``dflow-slurm-vk``'s tests).

- ``DFLOW_TEST_SLURM=/path/slurm.json``: use the cluster that file describes (the keys
  ``scripts/start-slurm.sh`` writes: ``slurm_conf``, ``partition``, ``ssh_host``,
  ``ssh_port``, ``ssh_user``, ``ssh_key``, ``remote_home``; ``ssh_password`` optional),
  start nothing.
- otherwise ``scripts/start-slurm.sh`` starts munged, slurmctld, slurmd and sshd on
  127.0.0.1 (free ports, a generated key for the unprivileged user ``dflowhpc``) for the
  session, and ``scripts/stop-slurm.sh`` stops them and deletes everything at the end.
- Slurm, MUNGE or sshd missing: the tests are skipped, or fail when ``CI`` is set, with a
  message saying to run ``scripts/setup-slurm.sh``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

SCRIPTS = Path(__file__).resolve().parents[3] / "scripts"
BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sshd", "ssh-keygen")


def cluster_unavailable_reason() -> Optional[str]:
    """Why the test cluster cannot be started here, or ``None`` when it can."""
    if os.environ.get("DFLOW_TEST_SLURM"):
        return None
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    missing = [b for b in BINARIES if shutil.which(b, path=path) is None]
    if missing:
        return (f"Slurm/MUNGE/OpenSSH binaries not found ({', '.join(missing)}); run `sudo scripts/setup-slurm.sh` "
                f"to install them, or set DFLOW_TEST_SLURM to the slurm.json of a running cluster")
    if os.geteuid() != 0:
        return "starting the test cluster needs root (slurmd runs jobs as another user); or set DFLOW_TEST_SLURM"
    return None


@contextlib.contextmanager
def running_cluster() -> Iterator[Dict[str, Any]]:
    """The cluster's description (see the module docstring); ``SLURM_CONF`` is set while it runs."""
    given = os.environ.get("DFLOW_TEST_SLURM")
    saved = os.environ.get("SLURM_CONF")
    workdir = None
    try:
        if given:
            with open(given) as f:
                info = json.load(f)
        else:
            workdir = tempfile.mkdtemp(prefix="dflow-slurm-test-")
            proc = subprocess.run([str(SCRIPTS / "start-slurm.sh"), workdir], capture_output=True, text=True,
                                  timeout=180, env={**os.environ, "SLURM_NODE_CPUS": os.environ.get("SLURM_NODE_CPUS", "4")})
            if proc.returncode != 0:
                pytest.fail(f"start-slurm.sh failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}", pytrace=False)
            with open(os.path.join(workdir, "slurm.json")) as f:
                info = json.load(f)
        os.environ["SLURM_CONF"] = info["slurm_conf"]
        yield info
    finally:
        if saved is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = saved
        if workdir is not None:
            subprocess.run([str(SCRIPTS / "stop-slurm.sh"), workdir], timeout=120, check=False)


def ssh(info: Dict[str, Any], command: str, check: bool = True) -> str:
    """Run ``command`` on the cluster as the test user (with the OpenSSH client) and return its output."""
    args = ["ssh", "-i", info["ssh_key"], "-p", str(info["ssh_port"]), "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
            f"{info['ssh_user']}@{info['ssh_host']}", command]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(f"ssh {command!r} failed ({proc.returncode}): {proc.stderr}")
    return proc.stdout


def queue(info: Dict[str, Any]) -> List[Dict[str, str]]:
    """The scheduler's own view of the test user's jobs that are still pending or running."""
    out = ssh(info, "squeue -h -u $(id -un) -t PENDING,RUNNING,COMPLETING,CONFIGURING -o '%i %T %j'")
    rows = []
    for line in out.splitlines():
        parts = line.split(None, 2)
        if len(parts) >= 2:
            rows.append({"id": parts[0], "state": parts[1], "name": parts[2] if len(parts) > 2 else ""})
    return rows


def job_state(info: Dict[str, Any], job_id: str) -> str:
    """Slurm's state of one job (while the controller still remembers it), e.g. ``CANCELLED``."""
    return ssh(info, f"scontrol show job {job_id} 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2",
               check=False).strip()


@contextlib.contextmanager
def remote_dir(info: Dict[str, Any]) -> Iterator[str]:
    """A fresh directory below the test user's home, removed afterwards."""
    path = f"{info['remote_home']}/dflow-tests/{uuid.uuid4().hex[:10]}"
    try:
        yield path
    finally:
        ssh(info, f"rm -rf {path}", check=False)


EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "hpc"


def run_example(info: Dict[str, Any], name: str, workdir: Path) -> str:
    """Run ``examples/hpc/<name>`` as a user would (a fresh directory, a subprocess) on this cluster."""
    import sys

    desc = workdir / "cluster.json"
    desc.write_text(json.dumps(info))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DFLOW_")}
    proc = subprocess.run([sys.executable, str(EXAMPLES / name), str(desc)], cwd=str(workdir), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    assert proc.returncode == 0, f"{name} exited with {proc.returncode}:\n{proc.stdout[-6000:]}"
    return proc.stdout
