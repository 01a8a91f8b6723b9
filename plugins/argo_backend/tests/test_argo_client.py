"""Submission, status, query_step, terminate, retry, resubmit with reuse_step and
``Workflow(id=...)`` through the Argo Server REST client.

No Argo Server can run in this environment, so these tests run the client against a
local HTTP server on 127.0.0.1 (``fake_argo_server``) that speaks the same REST API,
checks the bearer token, validates every manifest it receives against the strict Argo
v4.1.2 schema, actually runs the workflow's pods in the ``argo_sandbox`` interpreter, and
answers with Workflow objects that validate against the schema. ``test_argo_real_server``
runs against a real Argo Server when ``DFLOW_ARGO_SERVER`` is set.
"""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import argo_ops as ops
import pytest
from fake_argo_server import FakeArgoServer
from feature_workflows import FEATURES, T

from dflow import Step, Workflow, query_workflows
from dflow.errors import BackendError, WorkflowNotFoundError
from dflow.settings import config, s3_config
from dflow_argo import ArgoBackend, ArgoClient

TOKEN = "s3cr3t-token"


@pytest.fixture
def server(tmp_path):
    repo = s3_config["storage_client"].root
    with FakeArgoServer(str(repo), str(tmp_path / "cluster"), token=TOKEN) as srv:
        config.update(mode="default", host=srv.url, token=TOKEN, namespace="argo", verify_ssl=True)
        yield srv
        assert srv.errors == [], srv.errors[:5]


def build(feature: str, tmp_path: Path) -> Workflow:
    d = tmp_path / f"build-{feature}"
    d.mkdir(exist_ok=True)
    return FEATURES[feature](d)


def test_submit_wait_and_query_steps(server, tmp_path):
    wf = build("steps_and_artifacts", tmp_path)
    wf.submit()
    assert wf.id.startswith("steps-artifacts-")
    assert wf.wait(timeout=60) == "Succeeded"
    assert wf.query_status() == "Succeeded"
    s1 = wf.query_step(name="s1")[0]
    assert s1.phase == "Succeeded" and s1.type == "Pod"
    assert s1.outputs.parameters["msg"].value == "aaaa"
    assert s1.outputs.parameters["n"].value == 3
    assert s1.inputs.parameters["n"].value == 2
    assert s1.outputs.artifacts["bar"].key
    method, path, body = next(r for r in server.requests if r[0] == "POST")
    assert path == "/api/v1/workflows/argo" and body["workflow"]["kind"] == "Workflow"


def test_uploads_the_pod_code_before_creating_the_workflow(server, tmp_path):
    wf = build("identical_templates", tmp_path)
    wf.submit()
    keys = s3_config["storage_client"].list("dflow/packages", recursive=True)
    assert any(k.split("/")[-1].startswith("dflow-") for k in keys)
    assert any(k.split("/")[-1].startswith("argo_ops-") for k in keys)
    assert wf.wait(timeout=60) == "Succeeded"


def test_slices_gathered_and_keys(server, tmp_path):
    wf = build("slices", tmp_path)
    wf.submit()
    assert wf.wait(timeout=120) == "Succeeded"
    group = wf.query_step(name="sq", type="StepGroup")[0]
    assert group.outputs.parameters["y"].value == [1, 4, 9, 16]
    grouped = wf.query_step(name="grouped", type="StepGroup")[0]
    assert grouped.outputs.parameters["y"].value == [1, 4, 9, 16]
    assert sorted(s.outputs.parameters["y"].value for s in wf.query_step(name="sq", type="Pod")) == [1, 4, 9, 16]
    assert wf.query_step(name="read-back")[0].outputs.parameters["text"].value.split("|") == ["a", "b", "c"]

    wf2 = build("progress_keys_defaults", tmp_path)
    wf2.submit()
    assert wf2.wait(timeout=60) == "Succeeded"
    (step,) = wf2.query_step(key="sq-2")
    assert step.outputs.parameters["y"].value == 4
    assert set(wf2.query_keys_of_steps()) == {"progress-step", "sq-1", "sq-2"}
    assert wf2.query_step(key="progress-step")[0].progress == "4/4"
    assert wf2.query_step(name="default")[0].outputs.parameters["v"].value == 0


def test_workflow_by_id_from_another_process(server, tmp_path):
    wf = build("dag", tmp_path)
    wf.submit()
    wf.wait(timeout=60)
    again = Workflow(id=wf.id)  # what another process does: only the id is known
    assert again.name == "dag"
    assert again.query_status() == "Succeeded"
    assert again.query_step(name="e")[0].outputs.parameters["sum"].value == 13 + 23


def test_terminate_stops_the_run(server, tmp_path):
    wf = Workflow("long")
    wf.add(Step("first", T(ops.Sleep), parameters={"seconds": 2.0}))
    wf.add(Step("second", T(ops.Sleep), parameters={"seconds": 2.0}))
    wf.submit()
    wf.terminate()
    assert wf.wait(timeout=30) == "Failed"
    assert not [s for s in wf.query_step(name="second") if s.phase == "Succeeded"]
    assert any(r[0] == "PUT" and r[1].endswith("/terminate") for r in server.requests)


def test_retry_calls_argo_retry(server, tmp_path):
    wf = Workflow("fails")
    wf.add(Step("bad", T(ops.fail_if), parameters={"x": 1, "bad": 1}))
    wf.submit()
    assert wf.wait(timeout=60) == "Failed"
    assert "x is 1" in (wf.query_step(name="bad")[0].message or "")
    wf.retry()
    method, path, body = server.requests[-1]
    assert (method, path) == ("PUT", f"/api/v1/workflows/argo/{wf.id}/retry")
    assert body["name"] == wf.id and body["restartSuccessful"] is False


def test_resubmit_with_reuse_step(server, tmp_path):
    wf = Workflow("first")
    wf.add(
        [
            Step("a", T(ops.square), parameters={"x": 3}, key="sq-a"),
            Step("b", T(ops.write_file), parameters={"name": "f.txt", "text": "kept"}, key="w-b"),
        ]
    )
    wf.submit()
    assert wf.wait(timeout=60) == "Succeeded"
    reused = wf.query_step(key=["sq-a", "w-b"])
    reused[0 if reused[0].key == "sq-a" else 1].modify_output_parameter("y", 100)
    wf2 = Workflow("second")
    a = Step("a", T(ops.square), parameters={"x": 3}, key="sq-a")
    b = Step("b", T(ops.write_file), parameters={"name": "f.txt", "text": "NEW"}, key="w-b")
    wf2.add([a, b])
    wf2.add(Step("after", T(ops.read_files), artifacts={"files": b.outputs.artifacts["out"]}))
    wf2.submit(reuse_step=reused)
    assert wf2.wait(timeout=60) == "Succeeded"
    assert wf2.query_step(key="sq-a")[0].outputs.parameters["y"].value == 100
    assert wf2.query_step(name="after")[0].outputs.parameters["text"].value == "kept"
    assert wf2.query_step(key="w-b")[0].templateName.startswith("dflow-reuse-")


def test_list_workflows_and_logs(server, tmp_path):
    wf = Workflow("logs", labels={"project": "logs-test"})
    wf.add([Step("one", T(ops.say), parameters={"text": "first words"}),
            Step("two", T(ops.say), parameters={"text": "second words"})])
    wf.submit()
    assert wf.wait(timeout=60) == "Succeeded"
    assert wf.id in [r.id for r in query_workflows()]
    # by its labels, as dflow's query_workflows(labels) asks Argo with a label selector
    [listed] = query_workflows(labels={"project": "logs-test"})
    assert (listed.metadata.name, listed.status.phase, listed.metadata.labels["project"]) == (wf.id, "Succeeded", "logs-test")
    assert query_workflows(labels={"project": "another"}) == []
    # Argo Server did the filtering: the listings asked for the label, not for every run of the namespace
    listings = [r[1] for r in server.requests if r[0] == "GET" and r[1].split("?")[0].rstrip("/").endswith("/workflows/argo")]
    assert any("listOptions.labelSelector=project%3Dlogs-test" in p for p in listings), listings
    # a value no selector can state is matched on the listing (Argo Server would refuse the selector)
    assert query_workflows(labels={"project": "logs test"}) == []
    # the stand-in answers with the log each pod really wrote
    assert "the pod says: first words" in wf.logs(wf.query_step(name="one")[0])
    log_two = wf.logs(wf.query_step(name="two")[0])
    assert "the pod says: second words" in log_two and "first words" not in log_two


def test_retry_keeps_the_steps_that_succeeded(server, tmp_path):
    counter_a, counter_b, flag = tmp_path / "a", tmp_path / "b", tmp_path / "flag"
    flag.write_text("")
    wf = Workflow("retry-keeps")
    wf.add(Step("a", T(ops.count_and_fail_if_file), parameters={"counter": str(counter_a), "flag": str(tmp_path / "no")}))
    wf.add(Step("b", T(ops.count_and_fail_if_file), parameters={"counter": str(counter_b), "flag": str(flag)}))
    wf.submit()
    assert wf.wait(timeout=60) == "Failed"
    flag.unlink()
    wf.retry()
    assert wf.wait(timeout=60) == "Succeeded"
    assert counter_a.read_text() == "x"  # a succeeded before: kept, not run again
    assert counter_b.read_text() == "xx"
    assert wf.query_step(name="a")[0].outputs.parameters["runs"].value == 1


def test_wrong_token_and_unknown_workflow(server):
    bad = ArgoBackend(token="wrong")
    with pytest.raises(BackendError, match="401.*token"):
        bad.get_workflow("nope")
    with pytest.raises(WorkflowNotFoundError):
        ArgoBackend().get_workflow("no-such-workflow")


def test_client_never_shows_its_token():
    c = ArgoClient("https://argo.example:2746", token=TOKEN)
    assert TOKEN not in repr(c)


def test_unreachable_server_names_the_host():
    c = ArgoClient("http://127.0.0.1:9", token="t")
    with pytest.raises(BackendError, match="127.0.0.1:9"):
        c.get("x")


@pytest.fixture
def tls_server(tmp_path):
    """An HTTPS server with a self-signed certificate (made with the openssl command)."""
    from fake_argo_server import FakeArgoServer as _F

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    try:
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                str(key),
                "-out",
                str(cert),
                "-days",
                "1",
                "-subj",
                "/CN=127.0.0.1",
            ],
            check=True,
            capture_output=True,
        )
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("the openssl command is not available to make a test certificate")
    srv = _F(str(tmp_path), str(tmp_path / "cluster"), token=TOKEN)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    srv.httpd.socket = ctx.wrap_socket(srv.httpd.socket, server_side=True)
    with srv:
        yield f"https://127.0.0.1:{srv.httpd.server_address[1]}"


def test_tls_is_verified_by_default_and_can_be_switched_off(tls_server):
    with pytest.raises(BackendError, match="verify_ssl"):
        ArgoClient(tls_server, token=TOKEN).list()
    assert ArgoClient(tls_server, token=TOKEN, verify_ssl=False).list() == []
    config.update(host=tls_server, token=TOKEN, verify_ssl=False)
    assert ArgoBackend().list_workflows() == []


def test_status_nodes_become_step_records():
    """Argo's node tree (Retry nodes, StepGroups with loop children, TaskGroups) as dflow records."""
    from _schema import schema_errors

    from dflow_argo.backend import nodes_to_records

    def node(nid, name, display, type_, phase="Succeeded", **kw):
        n = {
            "id": nid,
            "name": name,
            "displayName": display,
            "type": type_,
            "phase": phase,
            "startedAt": "2026-01-01T00:00:0%dZ" % (len(nid) % 10),
            "finishedAt": "2026-01-01T00:01:00Z",
        }
        n.update(kw)
        return n

    nodes = {
        "wf": node("wf", "wf", "wf", "Steps", templateName="main", children=["wf-1"]),
        "wf-1": node("wf-1", "wf[0]", "[0]", "StepGroup", children=["wf-2", "wf-4", "wf-5"]),
        "wf-2": node(
            "wf-2",
            "wf[0].flaky",
            "flaky",
            "Retry",
            templateName="flaky",
            children=["wf-3", "wf-33"],
            inputs={"parameters": [{"name": "dflow_key", "value": "k1"}, {"name": "x", "value": "1"}]},
            outputs={
                "parameters": [{"name": "y", "value": "5"}],
                "artifacts": [
                    {"name": "out", "s3": {"key": "wf/out"}},
                    {"name": "main-logs", "s3": {"key": "wf/logs"}},
                ],
            },
        ),
        "wf-3": node("wf-3", "wf[0].flaky(0)", "flaky(0)", "Pod", phase="Failed", templateName="flaky"),
        "wf-33": node("wf-33", "wf[0].flaky(1)", "flaky(1)", "Pod", templateName="flaky"),
        "wf-4": node(
            "wf-4",
            "wf[0].sq(0:1)",
            "sq(0:1)",
            "Pod",
            templateName="sq",
            progress="1/1",
            outputs={"parameters": [{"name": "y", "value": "1"}]},
        ),
        "wf-5": node(
            "wf-5",
            "wf[0].sq(1:2)",
            "sq(1:2)",
            "Pod",
            templateName="sq",
            outputs={"parameters": [{"name": "y", "value": "4"}]},
        ),
    }
    wf = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": "wf"},
        "spec": {"entrypoint": "main", "templates": [{"name": "main", "steps": []}]},
        "status": {"phase": "Succeeded", "nodes": nodes},
    }
    assert schema_errors(wf) == []
    recs = {r.id: r for r in nodes_to_records(wf)}
    flaky = recs["wf-2"]
    assert (flaky.type, flaky.name, flaky.key, flaky.attempts) == ("Pod", "flaky", "k1", 2)
    assert "dflow_key" not in flaky.inputs_parameters and flaky.inputs_parameters["x"].text == "1"
    assert list(flaky.outputs_artifacts) == ["out"] and flaky.outputs_artifacts["out"].key == "wf/out"
    assert recs["wf-3"].type == "Retry"
    group = recs["wf-1/sq"]
    assert (group.type, group.name, group.phase) == ("StepGroup", "sq", "Succeeded")
    assert group.outputs_parameters["y"].text == "[1, 4]"
    assert recs["wf-4"].parent == "wf-1/sq" and recs["wf-4"].progress == "1/1" and recs["wf-4"].name == "sq"


def test_parallelism_wrapper_is_not_a_step(server, tmp_path):
    wf = build("loops", tmp_path)
    wf.submit()
    assert wf.wait(timeout=120) == "Succeeded"
    assert not wf.query_step(name="limited", type=["Steps"])
    (group,) = wf.query_step(name="limited", type="StepGroup")
    assert group.outputs.parameters["sum"].value == [3, 4, 5]
    assert wf.query_step(name="after-limited")[0].outputs.parameters["items"].value == [0, 1, 2]


def test_retry_and_deadline_messages_in_records():
    """A Retry node's record tells its last attempt's story; Argo's deadline message reads as a timeout."""
    from _schema import schema_errors

    from dflow_argo.backend import nodes_to_records

    def node(nid, display, type_, phase="Failed", **kw):
        n = {
            "id": nid,
            "name": f"wf.{display}",
            "displayName": display,
            "type": type_,
            "phase": phase,
            "templateName": "slow",
            "startedAt": "2026-01-01T00:00:00Z",
            "finishedAt": "2026-01-01T00:01:00Z",
        }
        n.update(kw)
        return n

    deadline = "Pod was active on the node longer than the specified deadline"
    nodes = {
        "wf": node("wf", "wf", "Steps", templateName="main", children=["wf-1"]),
        "wf-1": node("wf-1", "[0]", "StepGroup", children=["wf-2"]),
        "wf-2": node("wf-2", "slow", "Retry", children=["wf-3", "wf-4"], message="No more retries left"),
        "wf-3": node("wf-3", "slow(0)", "Pod", message=deadline, progress="1/4"),
        "wf-4": node("wf-4", "slow(1)", "Pod", message=deadline, progress="2/4"),
    }
    templates = [
        {"name": "main", "steps": []},
        {"name": "slow", "activeDeadlineSeconds": "1", "script": {"image": "python:3.8", "source": ""}},
    ]
    wf = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": "wf"},
        "spec": {"entrypoint": "main", "templates": templates},
        "status": {"phase": "Failed", "nodes": nodes},
    }
    assert schema_errors(wf) == []
    recs = {r.id: r for r in nodes_to_records(wf)}
    slow = recs["wf-2"]
    assert (slow.type, slow.attempts, slow.progress) == ("Pod", 2, "2/4")
    assert slow.message.startswith("timed out after 1s") and deadline in slow.message


def test_plumbing_pods_are_not_steps():
    """The pods the manifest adds as plumbing (an instance's storage prefix, a gathered artifact's prefix, a
    slice count) are not steps once they succeeded, as parallelism wrappers are not; a failed one stays."""
    from dflow_argo.backend import nodes_to_records

    def node(nid, display, type_, template, phase="Succeeded", **kw):
        return {"id": nid, "name": f"wf.{display}", "displayName": display, "type": type_, "phase": phase,
                "templateName": template, "startedAt": "2026-01-01T00:00:00Z",
                "finishedAt": "2026-01-01T00:01:00Z", **kw}

    nodes = {
        "wf": node("wf", "wf", "Steps", "main", children=["wf-1"]),
        "wf-1": node("wf-1", "[0]", "StepGroup", "main", children=["wf-2"]),
        "wf-2": node("wf-2", "dflow-instance-key", "Pod", "dflow-instance-key", children=["wf-3"]),
        "wf-3": node("wf-3", "[1]", "StepGroup", "main", children=["wf-4", "wf-5", "wf-6"]),
        "wf-4": node("wf-4", "work", "Pod", "work"),
        "wf-5": node("wf-5", "work-gathered-out", "Pod", "dflow-gathered-artifact"),
        "wf-6": node("wf-6", "other-count-slices", "Pod", "dflow-count-slices", phase="Failed"),
    }
    wf = {"metadata": {"name": "wf"}, "spec": {"entrypoint": "main", "templates": []},
          "status": {"phase": "Failed", "nodes": nodes}}
    recs = nodes_to_records(wf)
    shown = [r.display_name for r in recs]
    assert "dflow-instance-key" not in shown and "work-gathered-out" not in shown
    assert "work" in shown and "other-count-slices" in shown  # the failed one says why the run failed
    assert all("wf-2" not in r.children and "wf-5" not in r.children for r in recs)
