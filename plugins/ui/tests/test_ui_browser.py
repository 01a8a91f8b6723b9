"""The page in a real browser: what a person watching a run would check.

Headless Debian Chromium driven by Playwright, against ``dflow ui`` and runs of the
local backend, all started by the tests. Each test saves screenshots of the pages
it saw (see ``conftest.shoot``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Dict, List

import pytest
from ui_harness import (
    SECRET,
    UIServer,
    copy_to_docs,
    docs_screenshot_wanted,
    find_process,
    processes_in_session,
    session_of,
)

try:
    from playwright.sync_api import expect
except ImportError:  # the page fixture skips (or fails in CI) with the reason
    expect = None

# each test runs a workflow and a browser for several seconds
pytestmark = pytest.mark.slow


def tree_phases(page) -> Dict[str, str]:  # type: ignore[no-untyped-def]
    """Step name -> phase, as the tree shows them now."""
    return page.evaluate("""() => Object.fromEntries(Array.from(document.querySelectorAll('.tree .row')).map(
        r => [r.querySelector('.name').textContent, r.querySelector('.phase').textContent]))""")


def graph_phases(page) -> Dict[str, str]:  # type: ignore[no-untyped-def]
    return page.evaluate("""() => Object.fromEntries(DF.current.graph.cy.nodes().map(
        n => [n.data('label').split('\\n')[0], n.data('phase')]))""")


def describe(pids: List[int]) -> List[str]:
    out = []
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        out.append(f"{pid} state={stat[0]} ppid={stat[1]} {cmd}")
    return out


def wait_for(cond, timeout: float = 30.0, what: str = "condition") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_a_new_run_appears_and_its_steps_turn_green_live(ui: UIServer, submit, page, shoot) -> None:
    page.goto(ui.url)
    expect(page.locator("#conn")).to_have_class("conn live")
    page.evaluate("window.__sameDocument = 1")  # gone if the page ever reloads
    run_id = submit("chain", "chain")  # its last step waits for the file go-chain
    row = page.locator(f"tr.run-row[data-id='{run_id}']")
    expect(row).to_be_visible()
    shoot(page, "runs")
    row.locator("a.run-name").click()
    expect(page.locator(".run-head h1")).to_have_text("chain")
    seen: Dict[str, List[str]] = {}

    def look() -> Dict[str, str]:
        now = tree_phases(page)
        for name, phase in now.items():
            history = seen.setdefault(name, [])
            if not history or history[-1] != phase:
                history.append(phase)
        return now

    wait_for(lambda: look().get("step-1") == "Succeeded" and look().get("step-2") == "Running", 30,
             "the first steps to turn green while the last one runs")
    expect(page.locator(".run-head .badge")).to_have_text("Running")
    shoot(page, "run-running")
    (ui.workdir / "go-chain").touch()
    wait_for(lambda: all(look().get(f"step-{i}") == "Succeeded" for i in range(3)), 30, "every step to turn green")
    # every step was seen before it turned green: the page followed the run live
    assert seen["step-2"][0] != "Succeeded" and "Running" in seen["step-2"], seen
    expect(page.locator(".run-head .badge")).to_have_text("Succeeded")
    wait_for(lambda: all(graph_phases(page).get(f"step-{i}") == "Succeeded" for i in range(3)), 10, "a green graph")
    assert page.evaluate("window.__sameDocument") == 1
    shoot(page, "run-done")


def test_a_steps_log_streams_as_text_and_its_outputs_show(ui: UIServer, submit, page, shoot) -> None:
    run_id = submit("logs", "logs")  # the step stops after line 3 until the file go-logs exists
    page.goto(ui.url + f"#/run/{run_id}")
    page.locator(".tree .row", has_text="talk").click()
    log = page.locator(".step-panel pre.log")
    expect(log).to_contain_text("line 3")
    # the first lines are on the page while the step is still running
    assert "line 4" not in log.inner_text()
    expect(page.locator(".step-panel header .badge")).to_have_text("Running")
    shoot(page, "log-streaming")
    (ui.workdir / "go-logs").touch()
    expect(log).to_contain_text("line 6", timeout=20000)
    expect(log).to_contain_text("<script>window.__pwned = 1</script><b>not bold</b>")
    assert page.evaluate("window.__pwned") is None
    assert page.locator(".step-panel pre.log script, .step-panel pre.log b").count() == 0
    expect(log).to_contain_text("the secret is ••••••")
    assert SECRET not in page.content()
    expect(page.locator(".step-panel .log-status")).to_have_text("complete", timeout=20000)
    expect(page.locator(".step-panel header .badge")).to_have_text("Succeeded")
    # a long value is folded, and opens
    long_value = page.locator(".step-panel details.value-fold")
    expect(long_value).to_contain_text("5000 characters")
    long_value.locator("summary").click()
    expect(long_value.locator("pre.value")).to_contain_text("x" * 200)
    with page.expect_download() as download:
        page.locator(".step-panel a.download", has_text="file").click()
    assert Path(download.value.path()).read_text() == "a small file\n"
    shoot(page, "step-panel")


def test_terminate_asks_first_then_stops_every_process_of_the_run(ui: UIServer, submit, page, shoot) -> None:
    run_id = submit("sleepy")
    page.goto(ui.url + f"#/run/{run_id}")
    wait_for(lambda: tree_phases(page).get("shell-sleep") == "Running" and tree_phases(page).get("python-sleep") == "Running",
             30, "both steps to run")
    marker = ui.workdir / "sleep-marker"
    wait_for(marker.exists, 10, "the Python step to start")
    sleepers = find_process("sleep 3000")
    assert sleepers, "the shell step's sleep is not running"
    sid = session_of(sleepers[0])
    assert sid is not None
    python_step = int(marker.read_text().split()[0])
    alive = processes_in_session(sid)
    assert python_step in alive and sleepers[0] in alive and len(alive) >= 4, alive

    page.locator("button.action.terminate").click()
    dialog = page.locator("dialog#confirm")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Stop this run now?")
    shoot(page, "confirm")
    dialog.locator("button.cancel").click()
    expect(dialog).to_be_hidden()
    time.sleep(1.0)
    expect(page.locator(".run-head .badge")).to_have_text("Running")
    assert set(alive) <= set(processes_in_session(sid)) | {p for p in alive if session_of(p) is None}
    assert session_of(python_step) == sid, "cancelling must not stop the run"

    page.locator("button.action.terminate").click()
    dialog.locator("button.ok").click()
    expect(page.locator(".run-head .badge")).to_have_text("Failed", timeout=30000)
    expect(page.locator(".failures")).to_contain_text("terminated")
    wait_for(lambda: not processes_in_session(sid), 20,
             f"every process of the run to end (left: {describe(processes_in_session(sid))})")
    assert session_of(python_step) is None and all(session_of(p) is None for p in sleepers)
    shoot(page, "terminated")


def test_a_wrong_token_is_refused(ui: UIServer, page, shoot) -> None:
    for bad in (ui.base + "/?token=wrong", ui.base + "/", ui.base + "/?token=" + ui.token[:-2]):
        response = page.goto(bad)
        assert response is not None and response.status == 403
        expect(page.locator("body")).to_contain_text("forbidden")
        assert page.locator("#main").count() == 0
    shoot(page, "refused")
    # the right token opens the page
    assert page.goto(ui.url).status == 200
    expect(page.locator("#conn")).to_have_class("conn live")


def test_an_unknown_run_says_so(ui: UIServer, page, shoot) -> None:
    page.goto(ui.url + "#/run/no-such-run")
    expect(page.locator(".tree-box .error")).to_contain_text("no workflow 'no-such-run'")
    expect(page.locator("#conn")).to_have_class("conn closed")
    shoot(page, "unknown-run")


def test_a_failed_fan_out_says_which_slices_failed_and_pages_them(ui: UIServer, submit, page, shoot) -> None:
    run_id = submit("odd")
    page.goto(ui.url + f"#/run/{run_id}")
    expect(page.locator(".run-head .badge")).to_have_text("Failed", timeout=30000)
    failures = page.locator(".failures")
    expect(failures).to_contain_text("20 steps failed")
    expect(failures).to_contain_text("is odd")
    group = page.locator(".group")
    expect(group).to_contain_text("40 slices")
    group.locator("button.chip.phase-Failed").click()
    expect(group.locator(".page-bar")).to_contain_text("Failed: 1–20 of 20")
    expect(group.locator(".page .row.phase-Failed")).to_have_count(20)
    group.locator(".page .row.phase-Failed").first.click()
    expect(page.locator(".step-panel pre.message")).to_contain_text("is odd")
    shoot(page, "failed-fan-out")


def test_the_run_page_of_a_campaign(ui: UIServer, submit, page, shoot) -> None:
    """Draws the graph of Steps, a folded fan-out and a DAG; saves the README's picture."""
    run_id = submit("showcase")
    page.goto(ui.url + f"#/run/{run_id}")
    expect(page.locator(".run-head .badge")).to_have_text("Succeeded", timeout=60000)
    wait_for(lambda: graph_phases(page).get("summary") == "Succeeded", 10, "the graph")
    names = set(graph_phases(page))
    assert {"prepare", "sweep ×64", "refine", "relax", "analyse", "load", "fit", "plot", "report", "summary"} <= names, names
    assert page.evaluate("DF.current.graph.cy.edges().length") >= 12
    page.locator(".tree .row", has_text="prepare").click()
    expect(page.locator(".step-panel pre.log")).to_contain_text("preparing inputs")
    expect(page.locator(".step-panel .log-status")).to_have_text("complete")
    path = shoot(page, "run-page")
    if docs_screenshot_wanted():
        copy_to_docs(path)
