"""The local engine's own launcher (the fork server) against the step launcher conformance suite."""

from __future__ import annotations

import pytest

from dflow.testing.launcher import StepLauncherConformance
from dflow_debug.forkserver import ForkLauncher


class TestForkLauncher(StepLauncherConformance):
    __test__ = True
    poll_wait = 10.0

    @pytest.fixture
    def launcher(self) -> ForkLauncher:
        return ForkLauncher()
