"""examples/hpc/test_wlm.py (user guide 3.1.16) and test_slurm.py, run as scripts against the real Slurm."""

from __future__ import annotations

import pytest
from slurm_cluster import run_example


@pytest.mark.parametrize("name", ["test_wlm.py", "test_slurm.py"])
def test_the_slurm_examples_run_on_the_cluster(slurm, tmp_path, name):
    out = run_example(slurm, name, tmp_path)
    assert "ok:" in out
