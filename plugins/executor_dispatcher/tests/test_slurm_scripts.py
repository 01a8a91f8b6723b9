"""scripts/start-slurm.sh refuses a folder the cluster's user could not read, before it makes anything."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

from slurm_cluster import SCRIPTS, cluster_unavailable_reason

from dflow.testing.services import skip_or_fail


def test_a_cluster_folder_below_a_closed_folder_is_refused_naming_it(monkeypatch):
    """A DIR under root's home (or any folder others may not enter) would start daemons whose
    jobs and SSH sessions cannot read slurm.conf; the script says which folder and how to fix it."""
    monkeypatch.delenv("DFLOW_TEST_SLURM", raising=False)  # the script itself runs here, whatever cluster is given
    reason = cluster_unavailable_reason()
    if reason:
        skip_or_fail(reason)
    closed = tempfile.mkdtemp(prefix="dflow-closed-")  # mode 0700, owned by root
    try:
        target = os.path.join(closed, "cluster")
        proc = subprocess.run([str(SCRIPTS / "start-slurm.sh"), target], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert f"cannot enter {closed}," in proc.stderr
        assert f"chmod o+x {closed}" in proc.stderr
        assert not os.path.exists(target), "nothing may be made when the folder is refused"
    finally:
        if os.path.exists(os.path.join(closed, "cluster", "pids")):  # started after all: stop its daemons
            subprocess.run([str(SCRIPTS / "stop-slurm.sh"), os.path.join(closed, "cluster")], timeout=120, check=False)
        shutil.rmtree(closed, ignore_errors=True)
