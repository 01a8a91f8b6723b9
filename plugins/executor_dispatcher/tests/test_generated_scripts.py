"""Schedulers that cannot run here (PBS, LSF): the submission scripts dpdispatcher generates for a step.

No PBS or LSF server can be installed on these machines, so these tests check the
generated job scripts instead of running them: the queue and resources of the executor,
the step's task directory and the command that runs it.
"""

from __future__ import annotations

import pytest

from dflow.testing.launcher import prepare_script_step
from dflow_dispatcher import DispatcherExecutor
from dflow_dispatcher.jobs import RUN_SCRIPT, make_machine, make_resources, make_task, task_dir_name


@pytest.mark.parametrize("batch, directive", [("PBS", "#PBS -q cpu"), ("LSF", "#BSUB -q cpu"),
                                              ("Slurm", "#SBATCH --partition cpu")])
def test_the_job_script_of_a_step(tmp_path, batch, directive):
    from dpdispatcher import Submission

    options = DispatcherExecutor(queue_name="cpu", remote_root=str(tmp_path / "cluster"),
                                 resources_dict={"cpu_per_node": 4},
                                 machine_dict={"batch_type": batch, "context_type": "LazyLocalContext"}).spec_options()
    step = prepare_script_step(tmp_path / "s", "echo hi\n")
    name = task_dir_name(step)
    machine = make_machine(options, str(tmp_path / "staging"))
    submission = Submission(work_base=".", machine=machine, resources=make_resources(options, 1, False),
                            task_list=[make_task(step, name, options)])
    submission.generate_jobs()
    job = submission.belonging_jobs[0]
    script, commands = machine.gen_script(job), machine.gen_script_command(job)
    assert directive in script
    assert f"sh {RUN_SCRIPT}" in commands and name in commands
    resource_lines = [ln for ln in script.splitlines() if ln.startswith(("#PBS -l", "#BSUB -n", "#SBATCH --ntasks"))]
    assert resource_lines and all("4" in ln for ln in resource_lines), script
