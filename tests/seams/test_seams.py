"""The kernel's seams, used by a plugin written here (``seam_plugin``) with core's public names only.

The plugin adds an executor with its own step launcher and a container render, a storage
client whose artifacts appear to a cluster as ``gcs`` locations, and a ``dflow``
command. The same workflow runs on the local backend (through the plugin's launcher and
store) and on the Argo backend (rendered by the plugin; no Argo Server can run here, so
it runs on the project's stand-in server, which validates every manifest against Argo's
schema and runs the pods on this machine, reading and writing the plugin's store as the
cluster's GCS bucket).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ARGO_TESTS = os.path.join(HERE, "..", "..", "plugins", "argo_backend", "tests")
sys.path[:0] = [HERE, ARGO_TESTS]

import seam_ops  # noqa: E402
import seam_plugin  # noqa: E402

from dflow import Step, Workflow, config, download_artifact, s3_config, upload_artifact  # noqa: E402
from dflow.cli import main as dflow_main  # noqa: E402
from dflow.plugins import register_plugin, unregister_plugin  # noqa: E402
from dflow.python import PythonOPTemplate  # noqa: E402

TOKEN = "seam-token"
OPS = os.path.join(HERE, "seam_ops")


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    name = register_plugin(seam_plugin)
    saved_c, saved_s = dict(config), dict(s3_config)
    monkeypatch.chdir(tmp_path)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    s3_config.update(storage_client=None, storage_type="mirror", mirror_root=str(mirror))
    config.update(debug_workdir=str(tmp_path / "runs"), detach=False)
    yield mirror
    unregister_plugin(name)
    config.clear()
    config.update(saved_c)
    s3_config.clear()
    s3_config.update(saved_s)


def build(tmp_path: Path) -> Workflow:
    Path("data.txt").write_text("seams")
    data = upload_artifact("data.txt")
    remote = tmp_path / "remote"
    remote.mkdir(exist_ok=True)
    wf = Workflow("seams")
    # the OPs travel with the steps (python_packages), wherever the steps run
    first = Step("first", PythonOPTemplate(seam_ops.where_am_i, python_packages=[OPS]), parameters={"x": 1},
                 artifacts={"data": data}, executor=seam_plugin.RemoteSimExecutor(str(remote), tag="t1"))
    second = Step("second", PythonOPTemplate(seam_ops.read_back, python_packages=[OPS]),
                  artifacts={"data": first.outputs.artifacts["out"]})
    wf.add(first)
    wf.add(second)
    return wf


def test_on_the_local_backend_the_plugin_launches_the_step_and_keeps_the_artifacts(plugin, tmp_path, capsys):
    config["mode"] = "debug"
    wf = build(tmp_path)
    spec = wf.compile()
    [first_t] = [t for t in spec.templates if t.name.startswith("where-am-i")]
    assert first_t.executor.name == "remote-sim" and first_t.executor.options["tag"] == "t1"
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query().message
    [first] = wf.query_step(name="first")
    assert first.outputs.parameters["mark"].value == "launcher:t1"
    assert first.outputs.parameters["y"].value == 1 + len("seams")
    assert wf.query_step(name="second")[0].outputs.parameters["text"].value == "SEAMS"
    # the step record says where the launcher ran it; the remote copy was relocated
    launch = first.record.launch
    assert launch["executor"] == "remote-sim" and launch["where"].startswith(str(tmp_path / "remote"))
    task = json.loads((Path(launch["where"]) / "task.json").read_text())
    assert str(first.workdir) not in json.dumps(task)
    # the artifacts went through the plugin's store
    store = seam_plugin.MirrorStore(root=str(plugin))
    assert any(k.endswith("/.dflow-archive.tgz") or "out.txt" in k for k in store.list("", recursive=True))
    got = download_artifact(first.outputs.artifacts["out"], path=str(tmp_path / "dl"))
    assert Path(got[0]).read_text() == "SEAMS"
    # and the plugin's command
    capsys.readouterr()
    assert dflow_main(["--mode", "debug", "seam-count", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"workflows": 1}


def test_on_argo_the_plugin_renders_the_step_and_its_store_is_a_gcs_location(plugin, tmp_path):
    from fake_argo_server import FakeArgoServer

    with FakeArgoServer(str(plugin), str(tmp_path / "cluster"), token=TOKEN,
                        repositories={"gcs": str(plugin)}) as srv:
        config.update(mode="argo", host=srv.url, token=TOKEN, namespace="argo", verify_ssl=True)
        wf = build(tmp_path)
        manifest = wf.to_dict()
        text = json.dumps(manifest)
        assert '"s3"' not in text and '"gcs": {"bucket": "seam-bucket"' in text
        [first_t] = [t for t in manifest["spec"]["templates"] if t["name"].startswith("where-am-i")]
        assert {"name": seam_plugin.MARK, "value": "render:t1"} in first_t["script"]["env"]
        wf.submit()
        assert wf.wait(timeout=120) == "Succeeded", [(n.display, n.phase, n.message)
                                                      for n in srv.runs[wf.id].sandbox.nodes]
        assert srv.errors == [], srv.errors[:3]
        [first] = wf.query_step(name="first")
        assert first.outputs.parameters["mark"].value == "render:t1"
        assert wf.query_step(name="second")[0].outputs.parameters["text"].value == "SEAMS"


def test_terminating_a_run_cancels_what_the_plugin_launched(plugin, tmp_path):
    config.update(mode="debug", detach=True)
    remote = tmp_path / "remote"
    remote.mkdir()
    marker = tmp_path / "pid"
    wf = Workflow("cancel")
    wf.add(Step("long", PythonOPTemplate(seam_ops.sleep_long, python_packages=[OPS]), parameters={"marker": str(marker)},
                executor=seam_plugin.RemoteSimExecutor(str(remote))))
    wf.submit()
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    pid = int(marker.read_text())
    assert seam_plugin._alive(pid)
    wf.terminate()
    deadline = time.monotonic() + 10
    while seam_plugin._alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not seam_plugin._alive(pid), "the step the plugin launched outlived terminate()"
    assert wf.query_status() == "Failed"
