"""The local backend against the backend conformance suite of ``dflow.testing``."""

from dflow.testing.backend import BackendConformance


class TestLocalBackendConformance(BackendConformance):
    __test__ = True
    mode = "debug"
    local_engine = True
