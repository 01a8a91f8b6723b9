"""The Argo backend against a real Argo Server (and its cluster), when one is available.

Set ``DFLOW_ARGO_SERVER`` to the server's URL (e.g. ``https://localhost:2746``) to run
these; optionally ``DFLOW_ARGO_TOKEN`` (bearer token), ``DFLOW_ARGO_NAMESPACE``
(default ``argo``), ``DFLOW_ARGO_VERIFY_SSL=0`` for a self-signed certificate, and
``DFLOW_ARGO_IMAGE`` (an image with ``python3``, default ``python:3.10``). The cluster
needs a default artifact repository; the Python OP test also needs this machine to reach
the same bucket (``DFLOW_S3_*`` settings and the ``dflow-minio`` plugin) so the dflow
package can be uploaded before submission.

``TestArgoConformanceOnRealServer`` runs core's backend conformance suite
(``dflow.testing.backend.BackendConformance``) there too; the cluster's pods do not share
this machine's filesystem, so the suite's tests that need that skip with that reason.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dflow.testing.backend import BackendConformance

SERVER = os.environ.get("DFLOW_ARGO_SERVER")

pytestmark = pytest.mark.skipif(not SERVER, reason="set DFLOW_ARGO_SERVER to run against a real Argo Server")

IMAGE = os.environ.get("DFLOW_ARGO_IMAGE", "python:3.10")
NAMESPACE = os.environ.get("DFLOW_ARGO_NAMESPACE", "argo")
VERIFY_SSL = os.environ.get("DFLOW_ARGO_VERIFY_SSL", "1").lower() not in ("0", "false", "no")


@pytest.fixture(autouse=True)
def real_server(isolated_config):
    from dflow.settings import config, s3_config

    config.update(
        mode="default",
        host=SERVER,
        token=os.environ.get("DFLOW_ARGO_TOKEN"),
        namespace=NAMESPACE,
        verify_ssl=VERIFY_SSL,
        util_image=IMAGE,
    )
    s3_config["storage_client"] = None  # the cluster's bucket, not the tests' local store
    yield


def test_shell_steps_run_on_the_cluster():
    from dflow import InputParameter, OutputParameter, ShellOPTemplate, Step, Workflow

    t = ShellOPTemplate(name="echo", image=IMAGE, script="echo -n {{inputs.parameters.msg}}! > /tmp/out.txt")
    t.inputs.parameters["msg"] = InputParameter()
    t.outputs.parameters["out"] = OutputParameter(value_from_path="/tmp/out.txt")
    wf = Workflow("dflow-argo-shell")
    first = Step("first", t, parameters={"msg": "hi"})
    wf.add(first)
    wf.add(Step("second", t, parameters={"msg": first.outputs.parameters["out"]}, key="second"))
    wf.submit()
    assert wf.wait(timeout=600) == "Succeeded"
    assert wf.query_step(key="second")[0].outputs.parameters["out"].value == "hi!!"


def test_python_op_with_transient_retry_on_the_cluster(tmp_path):
    import argo_ops as ops
    from feature_workflows import T

    from dflow import Step, Workflow

    wf = Workflow("dflow-argo-python")
    wf.add(
        Step(
            "flaky",
            T(ops.Flaky, image=IMAGE, retry_on_transient_error=2),
            parameters={"marker": "/tmp/marker", "fail_times": 0},
        )
    )
    wf.add(Step("square", T(ops.square, image=IMAGE), parameters={"x": 7}))
    wf.submit()
    assert wf.wait(timeout=900) == "Succeeded"
    assert wf.query_step(name="square")[0].outputs.parameters["y"].value == 49


def test_terminate_on_the_cluster():
    import argo_ops as ops
    from feature_workflows import T

    from dflow import Step, Workflow

    wf = Workflow("dflow-argo-terminate")
    wf.add(Step("sleep", T(ops.Sleep, image=IMAGE), parameters={"seconds": 600.0}))
    wf.submit()
    wf.terminate()
    assert wf.wait(timeout=300) in ("Failed", "Error")


class TestArgoConformanceOnRealServer(BackendConformance):
    """The backend conformance suite against the real Argo Server (pods run on the cluster)."""

    __test__ = True
    mode = "argo"
    shares_filesystem = False  # the pods run on the cluster, not on this machine
    wait_timeout = 900.0  # image pulls and pod scheduling take their time

    @pytest.fixture(autouse=True)
    def backend_env(self, tmp_path: Path, real_server: None):  # type: ignore[override]
        from dflow.settings import config

        config.update(mode="argo", detach=False)
        self.tmp = tmp_path
        self.scratch = tmp_path / "scratch"
        self.scratch.mkdir()
        yield

    def subprocess_setup(self) -> str:
        # the token travels in the environment the child process inherits, never in its source
        return (
            "import os\n"
            "from dflow import config, s3_config\n"
            f"config.update(mode='argo', host={SERVER!r}, token=os.environ.get('DFLOW_ARGO_TOKEN'), "
            f"namespace={NAMESPACE!r}, verify_ssl={VERIFY_SSL!r}, util_image={IMAGE!r})\n"
            "s3_config['storage_client'] = None\n"
        )
