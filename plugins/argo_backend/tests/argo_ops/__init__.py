"""OPs of the Argo backend tests.
They live in a package of their own so the tests can ship it into the sandboxed "pods"
as a ``python_packages`` entry, the way a user ships their OP package to a cluster.
"""

# dflow's OP.function signs are dict literals in return annotations ({"y": int}),
# which ruff reads as forward references
# ruff: noqa: F821

import time
from pathlib import Path
from typing import List

from dflow.python import OP, OPIO, Artifact, OPIOSign, Parameter, TransientError


class Hello(OP):
    """Doubles a message, counts up, and appends '!' to a file."""

    @classmethod
    def get_input_sign(cls):
        return OPIOSign({"msg": str, "n": int, "foo": Artifact(Path)})

    @classmethod
    def get_output_sign(cls):
        return OPIOSign({"msg": str, "n": int, "bar": Artifact(Path)})

    @OP.exec_sign_check
    def execute(self, op_in):
        Path("bar.txt").write_text(Path(op_in["foo"]).read_text() + "!")
        return OPIO({"msg": op_in["msg"] * 2, "n": op_in["n"] + 1, "bar": Path("bar.txt")})


@OP.function
def square(x: int) -> {"y": int}:
    return {"y": x * x}


@OP.function
def add(a: int, b: int) -> {"sum": int}:
    return {"sum": a + b}


@OP.function
def make_list(n: int) -> {"items": List[int]}:
    return {"items": list(range(n))}


@OP.function
def texts(n: int) -> {"items": List[str]}:
    return {"items": [f"n{n}-{i}" for i in range(n)]}


@OP.function
def write_file(name: str, text: str) -> {"out": Artifact(Path)}:
    Path(name).write_text(text)
    return {"out": Path(name)}


@OP.function
def read_files(files: Artifact(List[Path])) -> {"text": str}:
    return {"text": "|".join(Path(f).read_text() for f in files)}


class Flaky(OP):
    """Raises TransientError until the marker file says it has been tried ``fail_times`` times."""

    @classmethod
    def get_input_sign(cls):
        return OPIOSign({"marker": str, "fail_times": int})

    @classmethod
    def get_output_sign(cls):
        return OPIOSign({"tries": int})

    @OP.exec_sign_check
    def execute(self, op_in):
        p = Path(op_in["marker"])
        tries = int(p.read_text()) + 1 if p.exists() else 1
        p.write_text(str(tries))
        if tries <= op_in["fail_times"]:
            raise TransientError(f"try {tries} failed")
        return OPIO({"tries": tries})


@OP.function
def fail_if(x: int, bad: int) -> {"y": int}:
    if x == bad:
        raise RuntimeError(f"x is {x}")
    return {"y": x}


class Sleep(OP):
    @classmethod
    def get_input_sign(cls):
        return OPIOSign({"seconds": float})

    @classmethod
    def get_output_sign(cls):
        return OPIOSign({})

    @OP.exec_sign_check
    def execute(self, op_in):
        time.sleep(op_in["seconds"])
        return OPIO({})


class Progress(OP):
    progress_total = 4

    @classmethod
    def get_input_sign(cls):
        return OPIOSign({"n": int})

    @classmethod
    def get_output_sign(cls):
        return OPIOSign({"n": int})

    @OP.exec_sign_check
    def execute(self, op_in):
        for i in range(4):
            self.progress_current = i + 1
        return OPIO({"n": op_in["n"]})


class Optional_(OP):
    """An optional input artifact and an optional output artifact; a parameter with a default."""

    @classmethod
    def get_input_sign(cls):
        return OPIOSign({"maybe": Artifact(Path, optional=True), "k": Parameter(int, default=7)})

    @classmethod
    def get_output_sign(cls):
        return OPIOSign({"had": bool, "k": int, "opt": Artifact(Path, optional=True)})

    @OP.exec_sign_check
    def execute(self, op_in):
        return OPIO({"had": op_in["maybe"] is not None, "k": op_in["k"], "opt": None})


@OP.function
def maybe_output(flag: bool) -> {"v": int}:
    if flag:
        return {"v": 1}
    raise RuntimeError("no output")


@OP.function
def read_one(file: Artifact(Path)) -> {"text": str}:
    return {"text": Path(file).read_text()}


class Consume(OP):
    """One slice of a sub-path fan-out: a message and one file."""

    @classmethod
    def get_input_sign(cls):
        return OPIOSign({"msg": str, "data": Artifact(Path)})

    @classmethod
    def get_output_sign(cls):
        return OPIOSign({"out": str, "seen": int, "log": Artifact(Path)})

    @OP.exec_sign_check
    def execute(self, op_in):
        data = Path(op_in["data"])
        seen = len([p for p in data.parent.rglob("*.txt")])
        Path("log.txt").write_text(op_in["msg"] + data.read_text())
        return OPIO({"out": op_in["msg"] + data.read_text(), "seen": seen, "log": Path("log.txt")})


class Produce(OP):
    @classmethod
    def get_input_sign(cls):
        return OPIOSign({"n": int})

    @classmethod
    def get_output_sign(cls):
        return OPIOSign({"files": Artifact(List[Path], archive=None)})

    @OP.exec_sign_check
    def execute(self, op_in):
        files = []
        for i in range(op_in["n"]):
            p = Path(f"gen-{i}.txt")
            p.write_text(f"G{i}")
            files.append(p)
        return OPIO({"files": files})


@OP.function
def say(text: str) -> {"said": str}:
    """Prints ``text`` (what its pod's log must show)."""
    print("the pod says:", text, flush=True)
    return {"said": text}


@OP.function
def count_and_fail_if_file(counter: str, flag: str) -> {"runs": int}:
    """Counts its runs in ``counter``; fails while the file ``flag`` exists."""
    import os

    with open(counter, "a") as f:
        f.write("x")
    if os.path.exists(flag):
        raise RuntimeError("the flag file is there")
    with open(counter) as f:
        return {"runs": len(f.read())}
