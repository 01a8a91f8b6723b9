"""Fixtures of the dflow-ui tests: a real ``dflow ui`` server, real runs, a real browser.

(The helpers they use are in ``ui_harness.py``.)

- ``ui``: ``dflow ui`` started as a child process on a free port of 127.0.0.1,
  watching a fresh local-backend work directory; the URL is read from what it prints.
- ``submit(name)``: a workflow of ``ui_workflows.py`` submitted detached, from a
  process of its own, into that directory.
- ``page``: a page of Debian's Chromium (``/usr/bin/chromium``, or
  ``DFLOW_UI_CHROMIUM``) driven by Playwright, headless, with a new empty profile.
  Without Chromium the browser tests are skipped with the reason, except in CI
  (``CI`` set), where they fail: ``scripts/setup-chromium.sh`` installs it.
- ``shoot(page, name)``: a screenshot into the test run's output folder
  (``<pytest basetemp>/dflow-ui-screenshots``, printed at the end of the run).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any, Iterator, List

import pytest
from ui_harness import CHROMIUM, CHROMIUM_FLAGS, UIServer, dflow_command, run_env, start_ui, stop_ui, submit_workflow

_SHOTS: List[Path] = []


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UIServer]:
    workdir = tmp_path_factory.mktemp("ui-runs")
    srv = start_ui(workdir)
    yield srv
    stop_ui(srv)
    # whatever a test left running (a failed assertion before a terminate) is stopped too
    for run_id in os.listdir(workdir):
        status = workdir / run_id / "status"  # the local backend's documented layout
        if status.exists() and status.read_text().strip() in ("Pending", "Running"):
            subprocess.run(dflow_command() + ["terminate", run_id], env=run_env(workdir), capture_output=True,
                           check=False)
    assert srv.proc.returncode == 0, "dflow ui did not stop cleanly:\n" + "".join(srv.output)


@pytest.fixture
def submit(ui: UIServer) -> Any:
    """``submit(name, *args)``: a workflow of ``ui_workflows.py``, submitted detached; its id."""
    return lambda name, *args: submit_workflow(ui, name, *args)


# --------------------------------------------------------------------------- the browser


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Any]:
    why = None
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        why = f"Chromium is not installed at {CHROMIUM} (scripts/setup-chromium.sh installs Debian's chromium)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        why = "the Python package playwright is not installed (pip install -r requirements-dev.txt)"
    if why:
        if os.environ.get("CI"):
            pytest.fail(f"{why}; the browser tests must run in CI")
        pytest.skip(why)
    with sync_playwright() as p:
        yield p


@pytest.fixture
def page(playwright_driver: Any, tmp_path: Path) -> Iterator[Any]:
    context = playwright_driver.chromium.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS,
        viewport={"width": 1440, "height": 900}, accept_downloads=True)
    pg = context.pages[0] if context.pages else context.new_page()
    errors: List[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.page_errors = errors  # type: ignore[attr-defined]
    pg.set_default_timeout(20000)
    yield pg
    context.close()
    assert not errors, f"the page raised: {errors}"


@pytest.fixture(scope="session")
def shots_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = Path(os.environ.get("DFLOW_UI_SCREENSHOTS") or tmp_path_factory.getbasetemp() / "dflow-ui-screenshots")
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture
def shoot(shots_dir: Path, request: pytest.FixtureRequest) -> Any:
    def _shoot(pg: Any, name: str) -> Path:
        path = shots_dir / f"{request.node.name}-{name}.png"
        pg.screenshot(path=str(path))
        _SHOTS.append(path)
        return path

    return _shoot


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _SHOTS:
        terminalreporter.write_line(f"dflow-ui screenshots ({len(_SHOTS)}): {_SHOTS[0].parent}")
