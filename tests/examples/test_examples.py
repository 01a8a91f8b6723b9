"""Run every script in examples/ as a user would: in a fresh directory, as a subprocess.

The examples are named ``test_*.py`` like the original dflow repository's, but
they are scripts, not pytest modules: pytest collects only ``tests`` and
``plugins`` (``testpaths``), and this runner executes each one.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("*.py"))


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example(script, tmp_path):
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("DFLOW_"):  # examples set their own config
            del env[k]
    proc = subprocess.run([sys.executable, str(script)], cwd=str(tmp_path), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    assert proc.returncode == 0, f"{script.name} exited with {proc.returncode}:\n{proc.stdout[-6000:]}"


def test_examples_found():
    assert len(EXAMPLES) >= 20, [p.name for p in EXAMPLES]
