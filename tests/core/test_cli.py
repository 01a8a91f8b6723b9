"""The ``dflow`` command against a real local run."""

import subprocess
import sys

import pytest

from dflow import Step, Workflow, config
from dflow.python import PythonOPTemplate
from dflow.testing import ops


def dflow(*args, cwd):
    env = {**__import__("os").environ, "DFLOW_MODE": "debug", "DFLOW_DEBUG_WORKDIR": str(cwd)}
    return subprocess.run([sys.executable, "-m", "dflow.cli", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=60)


@pytest.fixture
def finished(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(config, "mode", "debug")
    monkeypatch.setitem(config, "debug_workdir", str(tmp_path))
    wf = Workflow("cli")
    wf.add(Step("first", PythonOPTemplate(ops.AddOne), parameters={"n": 1}, key="the-key"))
    wf.add(Step("bad", PythonOPTemplate(ops.FailIfOdd), parameters={"x": 3}, continue_on_failed=True))
    wf.submit()
    return wf


def test_plugins_lists_distributions_with_versions(tmp_path):
    out = dflow("plugins", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "debug" in out.stdout and "dflow-debug 0.1.0" in out.stdout and "local" in out.stdout


def test_list_and_get_and_logs(finished, tmp_path):
    out = dflow("list", cwd=tmp_path)
    assert finished.id in out.stdout and "Succeeded" in out.stdout
    out = dflow("get", finished.id, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "first" in out.stdout and "key=the-key" in out.stdout and "Failed" in out.stdout
    assert "3 is odd" in out.stdout
    out = dflow("logs", finished.id, "bad", cwd=tmp_path)
    assert "FatalError: 3 is odd" in out.stdout


def test_unknown_workflow_is_a_clear_error(tmp_path):
    out = dflow("get", "nope-12345", cwd=tmp_path)
    assert out.returncode == 1
    assert "no workflow 'nope-12345'" in out.stderr


def test_submit_runs_a_rendered_manifest_and_refuses_one_without_a_spec(tmp_path, monkeypatch):
    # dflow's `dflow submit FILE`: a manifest wf.to_yaml() wrote runs on the chosen backend
    import yaml

    monkeypatch.setitem(config, "mode", "debug")
    monkeypatch.setitem(config, "debug_workdir", str(tmp_path))
    wf = Workflow("from-file")
    wf.add(Step("one", PythonOPTemplate(ops.AddOne), parameters={"n": 1}, key="k1"))
    (tmp_path / "wf.yaml").write_text(wf.to_yaml())
    out = dflow("submit", "wf.yaml", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    wf_id, phase = out.stdout.strip().rsplit(": ", 1)
    assert wf_id.startswith("from-file-") and phase == "Succeeded"
    assert Workflow(id=wf_id).query_step(key="k1")[0].outputs.parameters["n"].value == 2
    # a manifest that does not carry the spec (written by hand, by the original dflow): refused, nothing runs
    bare = yaml.safe_load(wf.to_yaml())
    del bare["metadata"]["annotations"]
    (tmp_path / "bare.yaml").write_text(yaml.safe_dump(bare))
    out = dflow("submit", "bare.yaml", cwd=tmp_path)
    assert out.returncode == 1 and "carries no dflow spec" in out.stderr and "Python code" in out.stderr
    out = dflow("submit", "missing.yaml", cwd=tmp_path)
    assert out.returncode == 1 and "cannot read the manifest 'missing.yaml'" in out.stderr
    loaded = Workflow.from_dict(yaml.safe_load(wf.to_yaml()))
    with pytest.raises(Exception, match="made from a manifest .* takes no more steps"):
        loaded.add(Step("two", PythonOPTemplate(ops.AddOne), parameters={"n": 2}))
