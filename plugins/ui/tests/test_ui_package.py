"""The wheel of dflow-ui carries the whole page: every asset index.html loads, and the licences."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

PLUGIN = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_wheel_ships_every_asset_the_page_loads(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", str(PLUGIN), "-w", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    wheel = next(tmp_path.glob("dflow_ui-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    page = (PLUGIN / "src/dflow_ui/static/index.html").read_text()
    assets = re.findall(r'(?:src|href)="/(static/[^"?]+)', page)
    assert len(assets) >= 10, assets
    missing = [a for a in assets if f"dflow_ui/{a}" not in names]
    assert not missing, f"the wheel lacks {missing}"
    for lib in ("cytoscape", "cytoscape-dagre", "dagre", "graphlib"):
        assert f"dflow_ui/static/vendor/LICENSE.{lib}.txt" in names
    # nothing in the page is loaded from elsewhere
    assert not re.search(r'(?:src|href)="(?:https?:)?//', page)
