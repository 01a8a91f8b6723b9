"""The import rules of DESIGN.md: core never imports a plugin; a plugin imports only core's public names.

A public name is one listed in ``__all__`` of a ``dflow`` module whose dotted path has no
part starting with ``_``. Plugins also never import each other's packages.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
from typing import Iterator, List, Tuple

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CORE = os.path.join(ROOT, "core", "src", "dflow")
PLUGINS = sorted(
    os.path.join(ROOT, "plugins", p, "src")
    for p in os.listdir(os.path.join(ROOT, "plugins"))
    if os.path.isdir(os.path.join(ROOT, "plugins", p, "src"))
)


def _py_files(top: str) -> Iterator[str]:
    for d, _dirs, files in os.walk(top):
        for f in files:
            if f.endswith(".py"):
                yield os.path.join(d, f)


def _imports(path: str) -> Iterator[Tuple[str, List[str], int]]:
    """(module, imported names or [] for ``import module``, line) of every absolute import."""
    tree = ast.parse(open(path).read(), filename=path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            yield node.module, [a.name for a in node.names], node.lineno


def _package_of(src_dir: str) -> str:
    return next(n for n in os.listdir(src_dir) if os.path.isdir(os.path.join(src_dir, n)) and not n.endswith(".egg-info"))


def test_core_never_imports_a_plugin():
    plugin_packages = {_package_of(p) for p in PLUGINS}
    bad = []
    for path in _py_files(CORE):
        for module, _names, line in _imports(path):
            top = module.split(".")[0]
            if top in plugin_packages or top.startswith("dflow_"):
                bad.append(f"{os.path.relpath(path, ROOT)}:{line} imports {module}")
    assert bad == [], "core imports plugins:\n" + "\n".join(bad)


def _public(module: str, name: str) -> bool:
    if any(part.startswith("_") for part in module.split(".")):
        return False
    mod = importlib.import_module(module)
    if not name:
        return True
    exported = getattr(mod, "__all__", None)
    if exported is not None and name in exported:
        return True
    # a submodule imported by name (``from dflow import expressions``)
    if name.startswith("_") or not hasattr(mod, "__path__"):
        return False
    return importlib.util.find_spec(f"{module}.{name}") is not None


@pytest.mark.parametrize("src", PLUGINS, ids=[os.path.basename(os.path.dirname(p)) for p in PLUGINS])
def test_a_plugin_imports_only_core_public_names_and_no_other_plugin(src):
    own = _package_of(src)
    others = {_package_of(p) for p in PLUGINS} - {own}
    bad = []
    for path in _py_files(src):
        for module, names, line in _imports(path):
            top = module.split(".")[0]
            where = f"{os.path.relpath(path, ROOT)}:{line}"
            if top in others:
                bad.append(f"{where} imports the plugin package {module}")
            elif top == "dflow":
                for name in names or [""]:
                    if not _public(module, name):
                        bad.append(f"{where} imports {module}{'.' + name if name else ''}, not a public name of core")
    assert bad == [], "\n".join(bad)


def test_the_checker_sees_a_private_import(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("from dflow._plugin_manager import registry\nfrom dflow.storage import StorageClient\n")
    got = [(m, n) for m, n, _ in _imports(str(f))]
    assert got == [("dflow._plugin_manager", ["registry"]), ("dflow.storage", ["StorageClient"])]
    assert not _public("dflow._plugin_manager", "registry")
    assert _public("dflow.storage", "StorageClient")
    assert not _public("dflow.artifact", "_client_for")
