"""An OP defined in the submitting script, run on the local backend: only what it needs is shipped.

The script's top-level code (its uploads, its submission, anything it prints or writes)
runs once, when the user runs the script; never again inside a step, also when the run is
resumed from another process. Credentials the script sets are in no file of the run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent('''
    from pathlib import Path
    from dflow import Step, Workflow, config, s3_config
    from dflow.python import OP, PythonOPTemplate

    config["mode"] = "debug"
    config["debug_workdir"] = {workdir!r}
    s3_config["secret_key"] = "secret-in-the-main-script-4711"
    config["token"] = "token-in-the-main-script-4712"
    with open({runs!r}, "a") as f:
        f.write("top-level code ran\\n")
    OFFSET = 100

    @OP.function
    def shifted(x: int) -> {{"y": int}}:
        return {{"y": x + OFFSET}}

    wf = Workflow("main-ops")
    wf.add(Step("a", PythonOPTemplate(shifted), parameters={{"x": 1}}))
    wf.add(Step("b", PythonOPTemplate(shifted), parameters={{"x": 2}}))
    wf.submit()
    print("RESULT", wf.query_status(), wf.query_step(name="b")[0].outputs.parameters["y"].value)
''')


def test_top_level_code_runs_once_and_no_secret_is_written(tmp_path):
    runs = tmp_path / "runs.txt"
    work = tmp_path / "work"
    work.mkdir()
    script = tmp_path / "user_script.py"
    script.write_text(SCRIPT.format(workdir=str(work), runs=str(runs)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DFLOW_")}
    out = subprocess.run([sys.executable, str(script)], cwd=str(tmp_path), env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "RESULT Succeeded 102" in out.stdout
    assert runs.read_text() == "top-level code ran\n"
    for path in Path(work).rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"secret-in-the-main-script" not in data, path
            assert b"token-in-the-main-script" not in data, path
