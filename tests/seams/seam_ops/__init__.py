"""OPs of the seam tests (in a module of their own: a step launched "elsewhere" imports them by name)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from dflow.python import OP, Artifact

MARK = "DFLOW_SEAM_EXECUTOR"


@OP.function
def where_am_i(x: int, data: Artifact(Path)) -> {"mark": str, "y": int, "out": Artifact(Path)}:
    """Says who launched it (the executor's launcher or its render), and passes its data on."""
    text = Path(data).read_text()
    Path("out.txt").write_text(text.upper())
    return {"mark": os.environ.get(MARK, "nobody"), "y": x + len(text), "out": Path("out.txt")}


@OP.function
def read_back(data: Artifact(Path)) -> {"text": str}:
    return {"text": Path(data).read_text()}


@OP.function
def sleep_long(marker: str) -> {"done": bool}:
    Path(marker).write_text(str(os.getpid()))
    time.sleep(300)
    return {"done": True}
