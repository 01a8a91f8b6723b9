"""Where the HPC examples submit: a cluster described by a JSON file.

``scripts/start-slurm.sh DIR`` starts a single-node Slurm with an SSH login on this
machine and writes ``DIR/slurm.json``; for a real cluster write such a file yourself::

    {"ssh_host": "login.hpc.example.org", "ssh_port": 22, "ssh_user": "me",
     "ssh_key": "/home/me/.ssh/id_ed25519", "partition": "cpu",
     "remote_home": "/home/me", "slurm_conf": null}

Give its path as the first argument of an example, or in ``HPC_CLUSTER``.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Dict


def cluster() -> Dict[str, Any]:
    path = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("HPC_CLUSTER")
    if not path:
        sys.exit(f"usage: python {sys.argv[0]} CLUSTER.json (or set HPC_CLUSTER); "
                 "scripts/start-slurm.sh DIR makes DIR/slurm.json for a Slurm on this machine")
    with open(path) as f:
        info = json.load(f)
    if info.get("slurm_conf"):  # Slurm's client commands on this machine find the cluster through it
        os.environ["SLURM_CONF"] = info["slurm_conf"]
    return info
