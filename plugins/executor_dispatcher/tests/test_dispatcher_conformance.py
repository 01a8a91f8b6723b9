"""The kernel's launcher conformance suite, run by the dispatcher launcher against the real Slurm.

Three setups: Slurm jobs over SSH (the common HPC case), the Shell batch type over SSH
(no scheduler: the job is a process on the login host), and Slurm through dpdispatcher's
local context (sbatch on this machine, as root).
"""

from __future__ import annotations

from typing import Any, Dict

import pytest

from dflow.testing.launcher import StepLauncherConformance
from dflow_dispatcher import DispatcherExecutor, DispatcherLauncher

# The suite's cancel test waits up to poll_wait for the step's "started" file to show up
# in the local step directory; a remote step writes it on the cluster, so it waits the
# whole time. Jobs here start and end within seconds: keep the wait short.
WAIT = 10.0


def _ssh_options(slurm: Dict[str, Any], remote: str, batch: str) -> Dict[str, Any]:
    ex = DispatcherExecutor(host=slurm["ssh_host"], port=slurm["ssh_port"], username=slurm["ssh_user"],
                            private_key_file=slurm["ssh_key"], queue_name=slurm["partition"], remote_root=remote,
                            machine_dict={"batch_type": batch})
    return ex.spec_options()


class TestSlurmOverSSH(StepLauncherConformance):
    __test__ = True
    poll_wait = WAIT

    @pytest.fixture
    def launcher(self, slurm: Dict[str, Any], remote: str) -> DispatcherLauncher:
        return DispatcherLauncher(_ssh_options(slurm, remote, "Slurm"))


class TestShellOverSSH(StepLauncherConformance):
    __test__ = True
    poll_wait = WAIT

    @pytest.fixture
    def launcher(self, slurm: Dict[str, Any], remote: str) -> DispatcherLauncher:
        return DispatcherLauncher(_ssh_options(slurm, remote, "Shell"))


class TestSlurmLocalContext(StepLauncherConformance):
    __test__ = True
    poll_wait = WAIT

    @pytest.fixture
    def launcher(self, slurm: Dict[str, Any], tmp_path: Any) -> DispatcherLauncher:
        ex = DispatcherExecutor(queue_name=slurm["partition"], remote_root=str(tmp_path / "cluster"),
                                machine_dict={"batch_type": "Slurm", "context_type": "LocalContext"})
        return DispatcherLauncher(ex.spec_options())
