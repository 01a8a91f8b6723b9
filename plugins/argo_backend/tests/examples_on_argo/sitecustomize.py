"""Run a dflow script on the Argo backend against the stand-in Argo Server (see ../fake_argo_server.py).

``test_examples_on_argo.py`` puts this folder first on ``PYTHONPATH`` of each example's
process, so Python imports this module at start-up. It starts the stand-in server (its
pods run in the sandbox, with a local directory as the cluster's artifact repository),
makes that repository the configured store, and points ``Workflow.submit`` at the
server whatever mode the script set. Like the local backend (which the examples are
written for), ``submit`` returns when the run has ended unless ``config["detach"]`` is set.
"""

import atexit
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from fake_argo_server import FakeArgoServer  # noqa: E402
from sandbox_repo import SandboxRepository  # noqa: E402

from dflow import workflow  # noqa: E402
from dflow.settings import config, s3_config  # noqa: E402

_work = os.environ.get("DFLOW_EXAMPLE_CLUSTER") or tempfile.mkdtemp(prefix="dflow-example-cluster-")
_store = os.path.join(_work, "store")
os.makedirs(_store, exist_ok=True)
_server = FakeArgoServer(_store, os.path.join(_work, "cluster"), token="example-token")
_server.__enter__()


def _stop() -> None:
    _server.__exit__(None, None, None)
    if _server.errors:  # what the stand-in refused (schema, API use): the example's process fails
        sys.stderr.write(f"the stand-in Argo Server refused: {_server.errors[:3]}\n")
        os._exit(3)


atexit.register(_stop)
s3_config["storage_client"] = SandboxRepository(root=_store)
_submit = workflow.Workflow.submit


def _submit_to_argo(self, *args, **kwargs):  # type: ignore[no-untyped-def]
    config.update(mode="argo", host=_server.url, token="example-token", namespace="argo", verify_ssl=True)
    out = _submit(self, *args, **kwargs)
    if not config.get("detach"):
        self.wait()
    return out


workflow.Workflow.submit = _submit_to_argo
