"""The step runtime in an interpreter that has nothing but the standard library.

It runs inside users' images (``python:3.8`` in the spec's examples), so it is run
here by every Python 3.8+ interpreter found on the machine, with ``-S`` (no
site-packages: no pydantic, no pluggy) and only ``core/src`` on the path.
"""

import glob
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CORE_SRC = Path(__file__).resolve().parents[2] / "core" / "src"


def _interpreters():
    found = {}
    for minor in range(8, 14):
        exe = shutil.which(f"python3.{minor}")
        for cand in [exe] + glob.glob(os.path.expanduser(f"~/.pyenv/versions/3.{minor}.*/bin/python3.{minor}")):
            if cand and os.path.exists(cand):
                try:
                    out = subprocess.run([cand, "-S", "-c", "import sys; print(sys.version_info[:2])"],
                                         capture_output=True, text=True, timeout=20)
                except (OSError, subprocess.TimeoutExpired):
                    continue
                if out.returncode == 0:
                    found.setdefault(f"3.{minor}", cand)
                    break
    return found


INTERPRETERS = _interpreters()

OP_SOURCE = '''
from pathlib import Path
from typing import List
from dflow.python import OP, OPIO, OPIOSign, Artifact

class Stats(OP):
    @classmethod
    def get_input_sign(cls):
        return OPIOSign({"values": List[float], "data": Artifact(List[Path])})

    @classmethod
    def get_output_sign(cls):
        return OPIOSign({"mean": float, "report": Artifact(Path)})

    @OP.exec_sign_check
    def execute(self, op_in):
        texts = [Path(p).read_text() for p in op_in["data"]]
        mean = sum(op_in["values"]) / len(op_in["values"])
        Path("report.txt").write_text(",".join(texts) + ";" + str(mean))
        return OPIO({"mean": mean, "report": Path("report.txt")})

if __name__ == "__main__":
    raise SystemExit("the submitting script's main block must not run in the step")
'''


FUNCTION_SOURCE = '''
from pathlib import Path
from typing import NamedTuple, Tuple
from dflow.python import OP, Artifact

class Pair(NamedTuple):
    low: int
    high: int

@OP.function
def digits(n: int) -> Tuple[int, int]:
    return n // 10, n % 10

@OP.function
def halves(n: int) -> Pair:
    return Pair(n // 2, n - n // 2)

@OP.superfunction
def both(n: int) -> {"tens": int, "low": int}:
    t, u = digits(n=n)
    return {"tens": t, "low": halves(n=u)[0]}
'''


def _run_task(exe, tmp_path, source, qualname, inputs):
    """Run ``qualname`` of ``source`` (a submitting script's OP) as a step, in ``exe -S`` with pydantic,
    pluggy and yaml blocked; the outputs folder."""
    task = {
        "op": {"module": "__main__", "qualname": qualname, "source": source, "source_file": None, "op_kwargs": {}},
        "slices": None,
        "slice_index": None,
        "inputs": inputs,
        "outputs_dir": str(tmp_path / "outputs"),
        "workdir": str(tmp_path / "work"),
        "progress_file": str(tmp_path / "progress"),
        "python_paths": [],
        "step": {"name": "s", "key": None, "workflow": "w"},
    }
    (tmp_path / "work").mkdir()
    task_file = tmp_path / "task.json"
    task_file.write_text(json.dumps(task))
    guard = ("import sys\n"
             "class Block:\n"
             "    def find_spec(self, name, path=None, target=None):\n"
             "        if name.split('.')[0] in ('pydantic', 'pluggy', 'yaml'):\n"
             "            raise ImportError('blocked in this test: ' + name)\n"
             "sys.meta_path.insert(0, Block())\n"
             "from dflow.runtime import main\n"
             f"sys.exit(main([{str(task_file)!r}]))\n")
    env = {"PYTHONPATH": str(CORE_SRC), "PATH": os.environ.get("PATH", "")}
    out = subprocess.run([exe, "-S", "-c", guard], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, f"{exe}: {out.stdout}\n{out.stderr}"
    return tmp_path / "outputs"


@pytest.mark.parametrize("version", sorted(INTERPRETERS) or ["none"])
def test_runtime_runs_with_only_the_standard_library(version, tmp_path):
    if version == "none":
        pytest.skip("no python3.8+ interpreter besides the test's own was found on this machine")
    arts = tmp_path / "inputs" / "data"
    arts.mkdir(parents=True)
    (arts / "a.txt").write_text("A")
    (arts / "b.txt").write_text("B")
    (arts / ".dflow").mkdir()
    (arts / ".dflow" / "catalog-1.json").write_text(json.dumps(
        [{"index": 1, "key": None, "path": "b.txt"}, {"index": 0, "key": None, "path": "a.txt"}]))
    outputs = _run_task(INTERPRETERS[version], tmp_path, OP_SOURCE, "Stats", {
        "parameters": {"values": {"text": "[1, 2, 4.5]", "type": "list"}},
        "artifacts": {"data": {"path": str(arts)}}})
    assert json.loads((outputs / "parameters" / "mean").read_text()) == pytest.approx(2.5)
    report = list((outputs / "artifacts" / "report").rglob("report.txt"))
    assert report and report[0].read_text() == "A,B;2.5"
    assert sys.version_info >= (3, 8)


@pytest.mark.parametrize("version", sorted(INTERPRETERS) or ["none"])
def test_function_ops_and_superfunctions_import_with_only_the_standard_library(version, tmp_path):
    """A step running a function OP imports the module that defines it, superfunctions (DAGs) included."""
    if version == "none":
        pytest.skip("no python3.8+ interpreter besides the test's own was found on this machine")
    outputs = _run_task(INTERPRETERS[version], tmp_path, FUNCTION_SOURCE, "digits",
                        {"parameters": {"n": {"text": "54", "type": "int"}}, "artifacts": {}})
    got = [json.loads((outputs / "parameters" / n).read_text()) for n in ("dflow_output_0", "dflow_output_1")]
    assert got == [5, 4]
