"""The kernel's launcher conformance suite, run by the sbatch launcher against the real Slurm:
over SSH (SlurmRemoteExecutor) and on this machine (SlurmJobTemplate on the local backend)."""

from __future__ import annotations

from typing import Any, Dict

import pytest

from dflow.testing.launcher import StepLauncherConformance
from dflow_slurm_vk import SbatchLauncher, SlurmJobTemplate, SlurmRemoteExecutor


class TestSbatchOverSSH(StepLauncherConformance):
    __test__ = True
    # the cancel test waits this long for a "started" file the remote job writes on the cluster
    poll_wait = 10.0

    @pytest.fixture
    def launcher(self, slurm: Dict[str, Any], remote: str) -> SbatchLauncher:
        ex = SlurmRemoteExecutor(slurm["ssh_host"], port=slurm["ssh_port"], username=slurm["ssh_user"],
                                 private_key_file=slurm["ssh_key"], workdir=remote + "/{{pod.name}}",
                                 header=f"#!/bin/sh\n#SBATCH --partition={slurm['partition']}")
        return SbatchLauncher(ex.spec_options())


class TestSbatchHere(StepLauncherConformance):
    __test__ = True
    poll_wait = 20.0

    @pytest.fixture
    def launcher(self, slurm: Dict[str, Any]) -> SbatchLauncher:
        return SbatchLauncher(SlurmJobTemplate(header="#!/bin/sh\n#SBATCH --nodes=1").spec_options())
