"""OPs of the HPC tests, shipped to the cluster as a ``python_packages`` directory (the cluster cannot import the tests)."""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path
from typing import List

from dflow.python import OP, Artifact, TransientError


@OP.function
def duplicate(msg: str, num: int, foo: Artifact(Path), idir: Artifact(Path)) -> {
        "msg": List[str], "bar": Artifact(Path), "odir": Artifact(Path), "where": str}:
    """The original dflow's dispatcher example: repeat a message, a file and a directory's files."""
    Path("output.txt").write_text(Path(foo).read_text() * num)
    odir = Path("todir")
    odir.mkdir()
    for name in ("f1", "f2"):
        (odir / name).write_text((Path(idir) / name).read_text() * num)
    where = f"{os.environ.get('SLURM_JOB_ID', 'no-slurm')} {os.environ.get('USER') or os.getuid()} " \
            f"{sys.version_info[0]}.{sys.version_info[1]} {socket.gethostname()}"
    return {"msg": [msg * num], "bar": Path("output.txt"), "odir": odir, "where": where}


@OP.function
def square(x: int) -> {"y": int, "job": str}:
    return {"y": x * x, "job": os.environ.get("SLURM_JOB_ID", "")}


@OP.function
def fail_for(x: int, bad: int) -> {"y": int}:
    if x == bad:
        raise RuntimeError(f"slice with x={x} fails on purpose")
    return {"y": x + 100}


@OP.function
def flaky(marker: str) -> {"attempt": int}:
    """Raises a TransientError on its first attempt (a marker file remembers it)."""
    if not os.path.exists(marker):
        Path(marker).write_text("1")
        raise TransientError("the first attempt fails on purpose")
    return {"attempt": 2}


@OP.function
def sleep_long(marker: str) -> {"done": bool}:
    Path(marker).write_text(os.environ.get("SLURM_JOB_ID", str(os.getpid())))
    time.sleep(300)
    return {"done": True}
