"""examples/hpc/test_dispatcher.py (user guide 3.1.15), run as a script against the real Slurm over SSH."""

from __future__ import annotations

from slurm_cluster import run_example


def test_the_dispatcher_example_runs_on_the_cluster(slurm, tmp_path):
    out = run_example(slurm, "test_dispatcher.py", tmp_path)
    assert "ok: the OP ran as a Slurm job" in out
