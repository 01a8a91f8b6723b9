"""OPs used by the conformance suites.

They live in an importable module (not in a test file) so that every backend,
including one that runs steps in containers, can import them. Standard library
and ``dflow.python`` only.
"""

from __future__ import annotations

import copy
import os
import time
from pathlib import Path
from typing import Any, List, Optional

from dflow.executor import Context, Executor
from dflow.python import OP, OPIO, Artifact, BigParameter, FatalError, NestedDict, OPIOSign, TransientError

__all__ = [
    "AddOne", "Square", "WriteFile", "Concat", "Sleep", "FlakyOP", "FailFatal", "FailIfOdd", "ProgressOP",
    "Record", "SameNameWriter", "Crash", "Sum", "Box", "DoubleBox", "BoxMessages", "HasFile",
]


@OP.function
def AddOne(n: int) -> {"n": int}:  # noqa: N802 - OP names are class-like
    """n + 1."""
    return {"n": n + 1}


@OP.function
def Square(x: int) -> {"y": int}:  # noqa: N802
    return {"y": x * x}


@OP.function
def Sum(values: List[int]) -> {"total": int}:  # noqa: N802
    return {"total": sum(values)}


class WriteFile(OP):
    """Writes ``text`` to ``name`` and returns it as an artifact."""

    @classmethod
    def get_input_sign(cls) -> OPIOSign:
        return OPIOSign({"text": str, "name": str})

    @classmethod
    def get_output_sign(cls) -> OPIOSign:
        return OPIOSign({"out": Artifact(Path)})

    @OP.exec_sign_check
    def execute(self, op_in: OPIO) -> OPIO:
        p = Path(op_in["name"])
        p.write_text(op_in["text"])
        return OPIO({"out": p})


class Concat(OP):
    """Appends ``suffix`` to the text of the input file; returns the new file and its text."""

    @classmethod
    def get_input_sign(cls) -> OPIOSign:
        return OPIOSign({"inp": Artifact(Path), "suffix": str})

    @classmethod
    def get_output_sign(cls) -> OPIOSign:
        return OPIOSign({"out": Artifact(Path), "text": str})

    @OP.exec_sign_check
    def execute(self, op_in: OPIO) -> OPIO:
        text = Path(op_in["inp"]).read_text() + op_in["suffix"]
        p = Path("out.txt")
        p.write_text(text)
        return OPIO({"out": p, "text": text})


@OP.function
def Sleep(seconds: float, marker: str) -> {"done": bool}:  # noqa: N802
    """Writes its pid and start/end times to ``marker`` (a path), sleeping in between."""
    start = time.time()
    with open(marker, "w") as f:
        f.write(f"{os.getpid()} {start}\n")
    time.sleep(seconds)
    with open(marker, "a") as f:
        f.write(f"{time.time()}\n")
    return {"done": True}


@OP.function
def FlakyOP(counter: str, fail_times: int) -> {"attempts": int}:  # noqa: N802
    """Raises TransientError until it has been called ``fail_times`` times (counted in the file ``counter``)."""
    n = int(Path(counter).read_text()) if os.path.exists(counter) else 0
    n += 1
    Path(counter).write_text(str(n))
    if n <= fail_times:
        raise TransientError(f"attempt {n} failed on purpose")
    return {"attempts": n}


@OP.function
def FailFatal(counter: str) -> {"ok": bool}:  # noqa: N802
    n = int(Path(counter).read_text()) if os.path.exists(counter) else 0
    Path(counter).write_text(str(n + 1))
    raise FatalError("this step fails for good")


@OP.function
def FailIfOdd(x: int) -> {"y": int}:  # noqa: N802
    if x % 2:
        raise FatalError(f"{x} is odd")
    return {"y": x}


class ProgressOP(OP):
    """Reports progress 1..total, waiting for ``gate`` (a path) to exist before finishing."""

    progress_total = 4

    @classmethod
    def get_input_sign(cls) -> OPIOSign:
        return OPIOSign({"gate": str})

    @classmethod
    def get_output_sign(cls) -> OPIOSign:
        return OPIOSign({"done": bool})

    @OP.exec_sign_check
    def execute(self, op_in: OPIO) -> OPIO:
        for i in range(3):
            self.progress_current = i + 1
            time.sleep(0.15)
        deadline = time.time() + 60
        while not os.path.exists(op_in["gate"]) and time.time() < deadline:
            time.sleep(0.05)
        self.progress_current = 4
        return OPIO({"done": True})


@OP.function
def Record(log: str, tag: str) -> {"tag": str}:  # noqa: N802
    """Appends ``tag`` to the file ``log`` (to count how often a step really ran)."""
    with open(log, "a") as f:
        f.write(tag + "\n")
    return {"tag": tag}


class SameNameWriter(OP):
    """Every slice writes a file called ``result.txt`` holding its own number."""

    @classmethod
    def get_input_sign(cls) -> OPIOSign:
        return OPIOSign({"x": int})

    @classmethod
    def get_output_sign(cls) -> OPIOSign:
        return OPIOSign({"out": Artifact(Path)})

    @OP.exec_sign_check
    def execute(self, op_in: OPIO) -> OPIO:
        p = Path("result.txt")
        p.write_text(str(op_in["x"]))
        return OPIO({"out": p})


class ReadAll(OP):
    """Reads every file of a list artifact, in order."""

    @classmethod
    def get_input_sign(cls) -> OPIOSign:
        return OPIOSign({"files": Artifact(List[Path])})

    @classmethod
    def get_output_sign(cls) -> OPIOSign:
        return OPIOSign({"texts": List[str]})

    @OP.exec_sign_check
    def execute(self, op_in: OPIO) -> OPIO:
        return OPIO({"texts": [Path(p).read_text() for p in op_in["files"]]})


@OP.function
def Crash(how: str) -> {"ok": bool}:  # noqa: N802
    """Ends its own process abruptly: ``exit`` (os._exit) or ``segfault``."""
    if how == "segfault":
        import ctypes

        ctypes.string_at(0)
    os._exit(7)
    return {"ok": True}  # pragma: no cover


@OP.function
def SpawnAndSleep(marker: str) -> {"done": bool}:  # noqa: N802
    """Starts a ``sleep`` child process, writes its pid to ``marker``, then sleeps itself."""
    import subprocess

    child = subprocess.Popen(["sleep", "300"])
    with open(marker, "w") as f:
        f.write(str(child.pid))
    time.sleep(300)
    return {"done": True}


class Box:
    """A value JSON has no form for: it travels pickled."""

    def __init__(self, msg: str) -> None:
        self.msg = msg


class DoubleBox(OP):
    """Takes a :class:`Box` and returns one with its message twice."""

    @classmethod
    def get_input_sign(cls) -> OPIOSign:
        return OPIOSign({"box": BigParameter(Box)})

    @classmethod
    def get_output_sign(cls) -> OPIOSign:
        return OPIOSign({"box": BigParameter(Box)})

    @OP.exec_sign_check
    def execute(self, op_in: OPIO) -> OPIO:
        return OPIO({"box": Box(op_in["box"].msg * 2)})


@OP.function
def BoxMessages(boxes: dict) -> {"msgs": List[str]}:  # noqa: N802
    """A dict holding objects (pickled as a whole): the messages of its boxes, by key."""
    return {"msgs": [boxes[k].msg for k in sorted(boxes)]}


class HasFile(OP):
    """Whether an optional artifact was given."""

    @classmethod
    def get_input_sign(cls) -> OPIOSign:
        return OPIOSign({"f": Artifact(Path, optional=True)})

    @classmethod
    def get_output_sign(cls) -> OPIOSign:
        return OPIOSign({"given": bool})

    @OP.exec_sign_check
    def execute(self, op_in: OPIO) -> OPIO:
        return OPIO({"given": op_in["f"] is not None})


@OP.function
def MakeDirs(names: List[str]) -> {"dirs": Artifact(List[Path])}:  # noqa: N802
    """A list of directories, one per name, each holding a file (dpgen2's ``grouped_traj_list``)."""
    out = []
    for n in names:
        Path(n).mkdir()
        (Path(n) / "f.txt").write_text(n)
        out.append(Path(n))
    return {"dirs": out}


@OP.function
def ItemNames(dirs: Artifact(List[Path])) -> {"names": List[str]}:  # noqa: N802
    """The names of the paths it is given, as a list (sliced: its slice's item, in a list)."""
    return {"names": [p.name for p in dirs]}


@OP.function
def Same(values: list) -> {"values": list}:  # noqa: N802
    """Hands its list on (to read a gathered parameter the same way on every backend)."""
    return {"values": values}


@OP.function
def OneRound(task: str, round: int, seed: Artifact(Path, optional=True)) -> {"traj_dir": Artifact(Path), "next": int}:  # noqa: N802,E501
    """One round of a recursive super-OP (dpgen2's CalyEvoStep): writes ``<task>/traj/<round>.txt``, holding
    the seed file's text when given; every round returns a directory of the same name."""
    out = Path(task) / "traj"
    out.mkdir(parents=True)
    (out / f"{round}.txt").write_text(f"{task} {round} {seed.read_text() if seed is not None else ''}".strip())
    return {"traj_dir": out, "next": round + 1}


@OP.function
def Seeds(names: List[str]) -> {"files": Artifact(List[Path])}:  # noqa: N802
    """One file per name, as a list artifact."""
    for n in names:
        Path(f"{n}.seed").write_text(f"seed-{n}")
    return {"files": [Path(f"{n}.seed") for n in names]}


@OP.function
def Echo(v: str) -> {"v": str}:  # noqa: N802
    """Hands its text on as it received it."""
    return {"v": v}


@OP.function
def PassOnInput(p: Artifact(Path)) -> {"out": Artifact(Path)}:  # noqa: N802
    """Returns the path of its input artifact as its output (a step that hands a file on unchanged)."""
    return {"out": p}


@OP.function
def NestedLists(names: List[str]) -> {"tree": Artifact(NestedDict[Path])}:  # noqa: N802
    """A nested dict of paths holding a list: ``{"files": [<name>.txt, ...], "one": {"x": x.txt}}``."""
    for n in names + ["x"]:
        Path(f"{n}.txt").write_text(n)
    return {"tree": {"files": [Path(f"{n}.txt") for n in names], "one": {"x": Path("x.txt")}}}


@OP.function
def TreeTexts(tree: Artifact(NestedDict[Path])) -> {"texts": dict}:  # noqa: N802
    """The text of each file of a nested dict of paths, in the same shape."""
    def texts(v):  # noqa: ANN001, ANN202
        if isinstance(v, dict):
            return {k: texts(x) for k, x in v.items()}
        if isinstance(v, list):
            return [texts(x) for x in v]
        return Path(v).read_text()
    return {"texts": texts(tree)}


@OP.function
def SomeFiles(names: List[str]) -> {"files": Artifact(List[Path]), "nothing": Artifact(Path, optional=True)}:  # noqa: N802
    """A file per non-empty name, ``None`` in the list for an empty one; ``nothing`` is returned as ``None``."""
    for n in names:
        if n:
            Path(f"{n}.txt").write_text(n)
    return {"files": [Path(f"{n}.txt") if n else None for n in names], "nothing": None}


@OP.function
def NamesOrNone(files: Artifact(List[Path])) -> {"names": list}:  # noqa: N802
    """The names of the paths of a list artifact, ``None`` where the list holds none."""
    return {"names": [None if f is None else f.name for f in files]}


@OP.function
def TypeOf(v: Any) -> {"type": str}:  # noqa: N802
    """The name of the type of what an ``Any`` sign received."""
    return {"type": type(v).__name__}


@OP.function
def FlakyPlain(counter: str, fail_times: int) -> {"attempts": int}:  # noqa: N802
    """Raises a plain RuntimeError until it has been called ``fail_times`` times (counted in ``counter``)."""
    n = int(Path(counter).read_text()) if os.path.exists(counter) else 0
    Path(counter).write_text(str(n + 1))
    if n + 1 <= fail_times:
        raise RuntimeError(f"attempt {n + 1} failed on purpose")
    return {"attempts": n + 1}


@OP.function
def Defaults(a: Optional[int] = None, b: int = 2) -> {"a_is_none": bool, "b": int}:  # noqa: N802
    """Takes an optional int whose default is None, and an int with a default."""
    return {"a_is_none": a is None, "b": b}


@OP.function
def EnvOf(name: str) -> {"value": str}:  # noqa: N802
    """The value of the environment variable ``name`` in the step (``"unset"`` when it has none)."""
    return {"value": os.environ.get(name, "unset")}


class WrapInBash(Executor):
    """Runs the template's script from a bash wrapper that exports ``DFLOW_TEST_WRAPPED=yes``: the command and
    the script both replaced, as dflow's own container and remote executors do."""

    def render(self, template: Any) -> Any:
        new = copy.deepcopy(template)
        new.command = ["bash"]
        new.script = ("cat > wrapped.script <<'DFLOW_EOF'\n" + template.script + "\nDFLOW_EOF\n"
                      "export DFLOW_TEST_WRAPPED=yes\n" + " ".join(template.command) + " wrapped.script\n")
        return new


class SetEnv(Context):
    """Sets ``DFLOW_TEST_SOURCE`` in the step's environment to ``source`` (as an executor or a context)."""

    def __init__(self, source: str) -> None:
        self.source = source

    def render(self, template: Any) -> Any:
        new = copy.deepcopy(template)
        new.envs = {**(getattr(new, "envs", None) or {}), "DFLOW_TEST_SOURCE": self.source}
        return new


class BigText(OP):
    """Takes a ``BigParameter(str)`` and hands it on, with its length."""

    @classmethod
    def get_input_sign(cls) -> OPIOSign:
        return OPIOSign({"text": BigParameter(str)})

    @classmethod
    def get_output_sign(cls) -> OPIOSign:
        return OPIOSign({"n": int, "text": BigParameter(str)})

    @OP.exec_sign_check
    def execute(self, op_in: OPIO) -> OPIO:
        return OPIO({"n": len(op_in["text"]), "text": op_in["text"]})


@OP.function
def LinkedTask(text: str) -> {"task": Artifact(Path)}:  # noqa: N802
    """APEX's ``RelaxMake``: a task directory whose file is a relative link out of it (``task/data.txt ->
    ../data.txt``)."""
    Path("data.txt").write_text(text)
    Path("task").mkdir()
    os.symlink(os.path.join("..", "data.txt"), os.path.join("task", "data.txt"))
    return {"task": Path("task")}


@OP.function
def ReadIn(d: Artifact(Path), name: str) -> {"text": str}:  # noqa: N802
    """The text of the file ``name`` in the directory ``d``."""
    return {"text": (Path(d) / name).read_text()}


@OP.function
def Entries(d: Artifact(Path, sub_path=False)) -> {"names": List[str]}:  # noqa: N802
    """What the directory it is given holds (``sub_path=False``: the artifact's own directory, even when
    it holds one item, as APEX's ``RelaxPost`` takes it)."""
    return {"names": sorted(p.name for p in Path(d).iterdir() if not p.name.startswith("."))}


@OP.function
def ArtRoots(dirs: Artifact(List[Path]), one: Artifact(Path)) -> {"rel": List[str], "one_rel": str}:  # noqa: N802
    """abacustest's OPs: where an input artifact was placed, ``op_in[name].art_root``, and each item below it."""
    rel = [str(Path(p).relative_to(dirs.art_root)) for p in dirs]  # type: ignore[attr-defined]
    return {"rel": rel, "one_rel": str(Path(one).relative_to(one.art_root))}  # type: ignore[attr-defined]


@OP.function
def EndsElsewhere(text: str) -> {"files": Artifact(List[Path])}:  # noqa: N802
    """abacustest's ``PostDFT``: changes into a directory of its own and returns paths relative to it."""
    os.makedirs("elsewhere")
    os.chdir("elsewhere")
    Path("post.log").write_text(text)
    return {"files": [Path("post.log")]}


@OP.function
def NameAndText(x: Artifact(Path)) -> {"name": str, "is_file": bool, "text": str}:  # noqa: N802
    """What a step finds at an input artifact's path: its name, whether it is a file, and the file's text."""
    p = Path(x)
    return {"name": p.name, "is_file": p.is_file(), "text": p.read_text() if p.is_file() else ""}


@OP.function
def NestedFolder(text: str) -> {"out": Artifact(Path, archive=None)}:  # noqa: N802
    """A folder ``out`` holding ``a.txt`` (``text``) and ``sub/b.txt`` (``text`` again), stored unarchived (so that
    Argo can take a part of it by its key: ``.sub_path()``)."""
    Path("out/sub").mkdir(parents=True)
    Path("out/a.txt").write_text(text)
    Path("out/sub/b.txt").write_text(text)
    return {"out": Path("out")}


@OP.function
def FolderFiles(x: Artifact(Path)) -> {"name": str, "files": List[str]}:  # noqa: N802
    """The name of the folder it is given and the files below it (relative paths; dflow's catalog left out)."""
    root = Path(x)
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and ".dflow" not in p.parts)
    return {"name": root.name, "files": files}


def submit_until_started(wf: Any, marker: str, timeout: float = 60) -> None:
    """Submit ``wf`` detached and return once the step that writes ``marker`` (a :func:`Sleep`) has started."""
    wf.submit(detach=True)
    deadline = time.time() + timeout
    while not os.path.exists(marker) and time.time() < deadline:
        time.sleep(0.05)
    assert os.path.exists(marker), f"the step writing {marker} did not start within {timeout:g} s"
