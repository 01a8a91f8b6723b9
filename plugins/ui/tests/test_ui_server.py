"""The ``dflow ui`` server over HTTP: the token, the folded views, logs, artifacts, actions.

Everything runs for real: ``dflow ui`` as a child process, workflows on the local
backend, requests with ``urllib``. The browser tests are in ``test_ui_browser.py``.
"""

from __future__ import annotations

import io
import json
import socket
import subprocess
import tarfile
import time
from typing import Tuple

import pytest
from ui_harness import SECRET, UIServer, dflow_command, run_env, start_ui, stop_ui, submit_workflow

# --------------------------------------------------------------------------- the command and the token


def test_command_prints_a_local_url_and_wants_its_token_everywhere(ui: UIServer, submit) -> None:
    assert ui.url.startswith("http://127.0.0.1:")
    run_id = submit("logs")
    snap = ui.wait_phase(run_id, ("Running", "Succeeded"))
    step = next(n for n in snap["nodes"] if n["display"] == "talk")
    base = f"/api/runs/{run_id}/steps/{step['id']}"
    paths = ["/", "/static/js/app.js", "/static/vendor/cytoscape.min.js", "/api/runs", "/api/runs/events",
             f"/api/runs/{run_id}", f"/api/runs/{run_id}/events", base, base + "/log", base + "/log.txt",
             base + "/artifacts/outputs/file", f"/api/runs/{run_id}/nodes/{snap['root']}/children"]
    for path in paths:
        for token in (None, "wrong", ui.token[:-1], ui.token + "x"):
            status, body, _ = ui.get(path, token=token)
            assert status == 403, (path, token, status)
            assert b"forbidden" in body
    status, body, headers = ui.get("/")
    assert status == 200 and b"/static/js/app.js?token=" in body
    assert "default-src 'self'" in headers["content-security-policy"]
    assert headers["referrer-policy"] == "no-referrer"
    # a foreign Host (a DNS-rebinding page) is refused even with the token
    status, _, _ = ui.get("/api/runs", headers={"Host": "evil.example:80"})
    assert status == 403
    # an action wants the token in a header: a token in the URL is not enough
    status, _ = ui.post(f"/api/runs/{run_id}/actions/terminate", header_token=None, query_token=ui.token)
    assert status == 403
    status, _ = ui.post(f"/api/runs/{run_id}/actions/terminate", header_token="wrong")
    assert status == 403
    assert ui.json(f"/api/runs/{run_id}")["run"]["phase"] in ("Running", "Succeeded")
    # nothing the server printed holds the token but the URL line
    assert sum(ui.token in line for line in ui.output) == 1, ui.output


def test_a_port_in_use_is_refused_before_anything_starts(tmp_path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        done = subprocess.run(dflow_command() + ["ui", "--port", str(port)], env=run_env(tmp_path),
                              capture_output=True, text=True, timeout=60)
    finally:
        taken.close()
    assert done.returncode != 0
    assert f"port {port} on 127.0.0.1 is in use" in done.stderr and "--port" in done.stderr
    assert "token" not in done.stdout


def test_an_unknown_backend_is_refused_naming_the_installed_ones(tmp_path) -> None:
    done = subprocess.run(dflow_command() + ["--mode", "nosuch", "ui"], env=run_env(tmp_path), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode != 0
    assert "nosuch" in done.stderr and "debug" in done.stderr
    assert "http://" not in done.stdout


def test_a_chosen_port_is_used(tmp_path) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    srv = start_ui(tmp_path, ["--port", str(port)])
    try:
        assert srv.base == f"http://127.0.0.1:{port}"
        assert srv.json("/api/runs") == {"rows": [], "total": 0, "all": 0}
    finally:
        stop_ui(srv)
    assert srv.proc.returncode == 0


# --------------------------------------------------------------------------- runs and folded views


def test_runs_list_newest_first_and_filtered(ui: UIServer, submit) -> None:
    first = submit("keyed")
    second = submit("odd")
    ui.wait_phase(first, ("Succeeded",))
    ui.wait_phase(second, ("Failed",))
    rows = ui.json("/api/runs")["rows"]
    ids = [r["id"] for r in rows]
    assert ids.index(second) < ids.index(first)
    failed = ui.json("/api/runs?phase=Failed")["rows"]
    assert second in [r["id"] for r in failed] and first not in [r["id"] for r in failed]
    by_name = ui.json("/api/runs?q=KEY")["rows"]
    assert [r["id"] for r in by_name if r["name"] == "keyed"] and all("key" in r["name"] for r in by_name)
    # the live stream sends the same page, then only differences
    events = ui.events("/api/runs/events?phase=Failed&limit=5", 1)
    name, data, _ = events[0]
    assert name == "runs" and second in data["order"] and first not in data["order"]


def test_a_fan_out_is_folded_into_counts_and_paged(ui: UIServer, submit) -> None:
    run_id = submit("fanout")
    snap = ui.wait_phase(run_id, ("Succeeded",))
    # the view holds the workflow and the fan-out node, not its 200 slices
    assert len(snap["nodes"]) == 2, [n["display"] for n in snap["nodes"]]
    group = next(n for n in snap["nodes"] if n["type"] == "StepGroup")
    assert group["group"]["total"] == 200 and group["group"]["counts"] == {"Succeeded": 200}
    assert group["kids"] == []
    assert snap["summary"]["steps_total"] == 200 and snap["summary"]["counts"] == {"Succeeded": 200}
    assert len(json.dumps(snap)) < 4000
    page = ui.json(f"/api/runs/{run_id}/nodes/{group['id']}/children?offset=190&limit=50")
    assert page["total"] == 200 and len(page["rows"]) == 10
    assert page["rows"][0]["display"].startswith("sq(")
    assert ui.json(f"/api/runs/{run_id}/nodes/{group['id']}/children?phase=Failed")["total"] == 0


def test_a_failed_run_names_the_failed_steps_and_why(ui: UIServer, submit) -> None:
    run_id = submit("odd")
    snap = ui.wait_phase(run_id, ("Failed",))
    summary = snap["summary"]
    assert summary["failed_total"] == 20
    assert all("is odd" in f["message"] for f in summary["failed"])
    group = next(n for n in snap["nodes"] if n["type"] == "StepGroup")
    assert group["group"]["counts"] == {"Succeeded": 20, "Failed": 20}
    # the failed slices stay visible inside the folded group
    notable = snap["notable"][group["id"]]
    assert notable and all(n["phase"] == "Failed" for n in notable)
    failed = ui.json(f"/api/runs/{run_id}/nodes/{group['id']}/children?phase=Failed&limit=100")
    assert failed["total"] == 20 and {r["phase"] for r in failed["rows"]} == {"Failed"}


def test_graph_edges_follow_steps_and_dag_dependencies(ui: UIServer, submit) -> None:
    run_id = submit("showcase")
    snap = ui.wait_phase(run_id, ("Succeeded",), timeout=90)
    by_name = {}
    for n in snap["nodes"]:
        by_name.setdefault(n["display"], n["id"])
    edges = {(a, b) for a, b in snap["edges"]}
    root = snap["root"]
    assert (root, by_name["prepare"]) in edges
    # a parallel group follows the step before it; the fan-out is folded into one node
    assert (by_name["prepare"], by_name["sweep"]) in edges and (by_name["prepare"], by_name["refine"]) in edges
    # the DAG's tasks follow their dependencies (from the data flow and explicit ones)
    assert (by_name["load"], by_name["fit"]) in edges and (by_name["load"], by_name["plot"]) in edges
    assert (by_name["fit"], by_name["report"]) in edges and (by_name["plot"], by_name["report"]) in edges
    # the step after a group hangs below what the group ends in
    assert (by_name["sweep"], by_name["analyse"]) in edges and (by_name["relax"], by_name["analyse"]) in edges
    assert (by_name["report"], by_name["summary"]) in edges


def test_an_unknown_run_or_step_is_a_clear_404(ui: UIServer, submit) -> None:
    status, body, _ = ui.get("/api/runs/no-such-run/events")
    assert status == 404 and b"no-such-run" in body
    run_id = submit("keyed")
    ui.wait_phase(run_id, ("Succeeded",))
    status, body, _ = ui.get(f"/api/runs/{run_id}/steps/nope")
    assert status == 404 and b"nope" in body


# --------------------------------------------------------------------------- a step: values, logs, artifacts


@pytest.fixture(scope="module")
def talk(ui: UIServer) -> Tuple[str, dict]:
    """A finished run of the ``logs`` workflow, and the details of its step ``talk``."""
    run_id = submit_workflow(ui, "logs")
    snap = ui.wait_phase(run_id, ("Succeeded",), timeout=60)
    step = next(n for n in snap["nodes"] if n["display"] == "talk")
    return run_id, ui.json(f"/api/runs/{run_id}/steps/{step['id']}")


def test_step_detail_shows_values_as_text_and_hides_secrets(ui: UIServer, talk) -> None:
    run_id, detail = talk
    long = next(p for p in detail["outputs"]["parameters"] if p["name"] == "long")
    assert long["text"].startswith("x" * 100) and long["size"] >= 5000 and not long["opaque"]
    assert {a["name"] for a in detail["outputs"]["artifacts"]} == {"file", "folder"}
    assert detail["has_log"] and detail["where"]
    log = ui.get(f"/api/runs/{run_id}/steps/{detail['id']}/log.txt")[1].decode()
    assert "line 6" in log and "<script>window.__pwned = 1</script>" in log
    assert SECRET not in log and "the secret is ••••••" in log
    # the log stream masks it too, and ends once the run is over
    events = ui.events(f"/api/runs/{run_id}/steps/{detail['id']}/log", 10)
    text = "".join(d["text"] for name, d, _ in events if name == "append")
    assert "line 1" in text and SECRET not in text and "••••••" in text
    assert events[-1][0] == "end"


def test_a_log_stream_resumes_where_a_dropped_connection_left_it(ui: UIServer, submit) -> None:
    run_id = submit("logs")
    snap = ui.wait_phase(run_id, ("Running",))
    step = next(n for n in snap["nodes"] if n["display"] == "talk")
    path = f"/api/runs/{run_id}/steps/{step['id']}/log"
    first = ui.events(path, 1)  # the connection drops after the first lines
    name, data, event_id = first[0]
    assert name == "append" and data["text"].startswith("line 1\n") and event_id and event_id.isdigit()
    ui.wait_phase(run_id, ("Succeeded",))
    rest = ui.events(path, 50, headers={"Last-Event-ID": event_id})
    assert rest[-1][0] == "end" and all(name != "skipped" for name, _, _ in rest)
    resumed = data["text"] + "".join(d["text"] for name, d, _ in rest if name == "append")
    whole = ui.get(f"/api/runs/{run_id}/steps/{step['id']}/log.txt")[1].decode()
    assert resumed == whole and resumed.count("line 1\n") == 1


def test_artifacts_download_as_a_file_or_a_tarball(ui: UIServer, talk) -> None:
    run_id, detail = talk
    base = f"/api/runs/{run_id}/steps/{detail['id']}/artifacts/outputs"
    status, body, headers = ui.get(base + "/file")
    assert status == 200 and body == b"a small file\n"
    assert 'filename="one.txt"' in headers["content-disposition"]
    status, body, headers = ui.get(base + "/folder")
    assert status == 200 and headers["content-type"] == "application/gzip"
    with tarfile.open(fileobj=io.BytesIO(body)) as tf:
        names = sorted(m.name for m in tf.getmembers() if m.isfile())
        assert names == ["1.txt", "2.txt"], names
        assert tf.extractfile("2.txt").read() == b"two\n"
    status, body, _ = ui.get(base + "/nosuch")
    assert status == 404 and b"nosuch" in body


# --------------------------------------------------------------------------- actions


def test_actions_apply_only_where_they_make_sense(ui: UIServer, submit) -> None:
    run_id = submit("keyed")
    ui.wait_phase(run_id, ("Succeeded",))
    status, answer = ui.post(f"/api/runs/{run_id}/actions/terminate")
    assert status == 409 and "already ended (Succeeded)" in answer["error"]
    status, answer = ui.post(f"/api/runs/{run_id}/actions/retry")
    assert status == 409 and "Failed" in answer["error"]
    status, answer = ui.post(f"/api/runs/{run_id}/actions/explode")
    assert status == 404 and "terminate" in answer["error"]


def test_resubmit_reuses_the_succeeded_keyed_steps(ui: UIServer, submit) -> None:
    run_id = submit("keyed")
    ui.wait_phase(run_id, ("Succeeded",))
    status, answer = ui.post(f"/api/runs/{run_id}/actions/resubmit")
    assert status == 200, answer
    assert answer["id"] != run_id and answer["reused"] == 2
    snap = ui.wait_phase(answer["id"], ("Succeeded",))
    assert {n["key"] for n in snap["nodes"] if n["key"]} == {"add-a", "add-b"}
    assert answer["id"] in [r["id"] for r in ui.json("/api/runs")["rows"]]


def test_retry_runs_the_failed_step_again(ui: UIServer, submit) -> None:
    run_id = submit("flaky")
    snap = ui.wait_phase(run_id, ("Failed",))
    assert [f["display"] for f in snap["summary"]["failed"]] == ["second"]
    status, answer = ui.post(f"/api/runs/{run_id}/actions/retry")
    assert status == 200, answer
    snap = ui.wait_phase(run_id, ("Succeeded",))
    assert snap["summary"]["failed_total"] == 0


def test_terminate_then_resume(ui: UIServer, submit) -> None:
    run_id = submit("chain", "resume")  # cannot end before the file go-resume exists
    ui.wait_phase(run_id, ("Running",))
    status, answer = ui.post(f"/api/runs/{run_id}/actions/terminate")
    assert status == 200, answer
    snap = ui.wait_phase(run_id, ("Failed", "Error"), timeout=30)
    assert snap["run"]["message"] == "terminated"
    (ui.workdir / "go-resume").touch()
    status, answer = ui.post(f"/api/runs/{run_id}/actions/resume")
    assert status == 200, answer
    snap = ui.wait_phase(run_id, ("Succeeded",), timeout=60)
    assert snap["summary"]["counts"] == {"Succeeded": 3}


@pytest.mark.parametrize("action", ["resume", "retry", "resubmit"])
def test_an_action_that_fails_says_why(ui: UIServer, action: str, tmp_path) -> None:
    # a run whose spec is gone cannot start again: the child process's error reaches the page
    run_id = "broken-run"
    wfdir = ui.workdir / run_id
    wfdir.mkdir(exist_ok=True)
    (wfdir / "workflow.json").write_text(json.dumps({"id": run_id, "name": "broken", "phase": "Failed",
                                                     "created_at": time.time()}))
    status, answer = ui.post(f"/api/runs/{run_id}/actions/{action}")
    assert status == 500 and f"{action} of run {run_id} failed" in answer["error"], answer
