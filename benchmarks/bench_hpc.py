"""The dispatcher executor on a real Slurm: its overhead over calling dpdispatcher directly, and merged slices.

    python benchmarks/bench_hpc.py [--jobs 50] [--slices 200]

Starts a throw-away single-node Slurm with an SSH login (scripts/start-slurm.sh; needs
root and scripts/setup-slurm.sh; stopped at the end), unless DFLOW_TEST_SLURM names the
slurm.json of a running one. Two workloads:

* **single-step jobs**: ``--jobs`` times, alternating which goes first, the same job
  (a shell step that writes a file, which comes back) is run (a) as a one-step dflow
  workflow on the local backend with ``DispatcherExecutor`` and (b) with dpdispatcher's
  own API (``Machine``, ``Resources``, ``Task``, ``Submission.run_submission``), both
  through Slurm over SSH and polling the scheduler every second. Prints the median
  seconds per job of each and the ratio dflow / dpdispatcher.
* **a sliced step** of ``--slices`` slices of a Python OP: one Slurm job per slice, and
  with ``merge_sliced_step=True`` (one job for all slices); wall time of the workflow.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, List

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins" / "executor_dispatcher" / "tests"))

from slurm_cluster import cluster_unavailable_reason, running_cluster, ssh  # noqa: E402

from dflow import ShellOPTemplate, Step, Workflow, argo_range, config  # noqa: E402
from dflow.io import OutputArtifact  # noqa: E402
from dflow.python import OP, PythonOPTemplate, Slices  # noqa: E402
from dflow_dispatcher import DispatcherExecutor  # noqa: E402

COMMAND = "echo hello > out.txt"


@OP.function
def square(x: int) -> {"y": int}:
    return {"y": x * x}


def _timed(fn: Callable[[], None]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _executor(hpc: Dict[str, Any], remote: str, **kw: Any) -> DispatcherExecutor:
    return DispatcherExecutor(host=hpc["ssh_host"], port=hpc["ssh_port"], username=hpc["ssh_user"],
                              private_key_file=hpc["ssh_key"], queue_name=hpc["partition"], remote_root=remote, **kw)


def dflow_job(hpc: Dict[str, Any], remote: str) -> None:
    t = ShellOPTemplate(name="job", image="alpine", script=COMMAND.replace("out.txt", "/tmp/out/out.txt")
                        .replace("echo", "mkdir -p /tmp/out && echo"))
    t.outputs.artifacts["out"] = OutputArtifact(path="/tmp/out")
    wf = Workflow("bench-job")
    wf.add(Step("job", t, executor=_executor(hpc, remote)))
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query().message


def dpdispatcher_job(hpc: Dict[str, Any], remote: str, work: Path) -> None:
    from dpdispatcher import Machine, Resources, Submission, Task

    task_dir = work / uuid.uuid4().hex[:10]
    task_dir.mkdir(parents=True)
    machine = Machine.load_from_dict({
        "batch_type": "Slurm", "context_type": "SSHContext", "local_root": str(work), "remote_root": remote,
        "remote_profile": {"hostname": hpc["ssh_host"], "port": hpc["ssh_port"], "username": hpc["ssh_user"],
                           "key_filename": hpc["ssh_key"], "timeout": 10}})
    resources = Resources(number_node=1, cpu_per_node=1, gpu_per_node=0, queue_name=hpc["partition"], group_size=1)
    task = Task(command=COMMAND, task_work_path=task_dir.name, forward_files=[], backward_files=["out.txt"],
                outlog="log", errlog="log")
    Submission(work_base=".", machine=machine, resources=resources, task_list=[task]).run_submission(
        check_interval=1, clean=True)
    assert (task_dir / "out.txt").read_text().strip() == "hello"


def sliced(hpc: Dict[str, Any], remote: str, n: int, merge: bool) -> None:
    wf = Workflow("bench-slices")
    wf.add(Step("sq", PythonOPTemplate(square, slices=Slices("{{item}}", input_parameter=["x"], output_parameter=["y"])),
                parameters={"x": list(range(n))}, with_param=argo_range(n),
                executor=_executor(hpc, remote, merge_sliced_step=merge)))
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query().message
    assert wf.query_step(name="sq", type="StepGroup")[0].outputs.parameters["y"].value == [i * i for i in range(n)]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=50)
    ap.add_argument("--slices", type=int, default=200)
    args = ap.parse_args()
    reason = cluster_unavailable_reason()
    if reason:
        print(f"bench_hpc: skipped: {reason}")
        return 0
    import logging

    work = Path(tempfile.mkdtemp(prefix="dflow-bench-hpc-"))
    os.chdir(work)  # first: dpdispatcher opens its log file in the working directory when it is imported
    import dpdispatcher  # noqa: F401 - its logger is configured when it is imported; quiet it after

    logging.getLogger("dpdispatcher").setLevel(logging.WARNING)
    config.update(mode="debug", debug_workdir=str(work / "runs"), detach=False)
    results: Dict[str, Any] = {}
    try:
        with running_cluster() as hpc:
            remote = f"{hpc['remote_home']}/dflow-bench/{uuid.uuid4().hex[:8]}"
            ours: List[float] = []
            theirs: List[float] = []
            dflow_job(hpc, remote)  # warm-up: imports, first SSH login
            dpdispatcher_job(hpc, remote, work / "dp")
            for i in range(args.jobs):
                pair = [("dflow", lambda: dflow_job(hpc, remote)),
                        ("dpdispatcher", lambda: dpdispatcher_job(hpc, remote, work / "dp"))]
                for name, fn in (pair if i % 2 == 0 else pair[::-1]):
                    (ours if name == "dflow" else theirs).append(_timed(fn))
            m_ours, m_theirs = statistics.median(ours), statistics.median(theirs)
            results["single_step_jobs"] = {"jobs": args.jobs, "dflow_median_s": round(m_ours, 3),
                                           "dpdispatcher_median_s": round(m_theirs, 3),
                                           "ratio": round(m_ours / m_theirs, 3)}
            print(f"single-step jobs ({args.jobs} each, Slurm over SSH):")
            print(f"  dflow + DispatcherExecutor: median {m_ours:.2f} s per job")
            print(f"  dpdispatcher directly:      median {m_theirs:.2f} s per job")
            print(f"  ratio dflow / dpdispatcher: {m_ours / m_theirs:.2f}x")
            for merge in (False, True):
                secs = _timed(lambda merge=merge: sliced(hpc, remote, args.slices, merge))
                key = "merged" if merge else "job_per_slice"
                results[f"slices_{key}"] = {"slices": args.slices, "seconds": round(secs, 2)}
                label = "merge_sliced_step=True (one job)" if merge else "one Slurm job per slice"
                print(f"{args.slices}-slice step, {label}: {secs:.1f} s")
            ssh(hpc, f"rm -rf {hpc['remote_home']}/dflow-bench", check=False)
    finally:
        os.chdir(ROOT)
        shutil.rmtree(work, ignore_errors=True)
    out = ROOT / ".bench"
    out.mkdir(exist_ok=True)
    (out / "hpc.json").write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except subprocess.CalledProcessError as e:
        print(f"bench_hpc: {e}")
        sys.exit(1)
