"""The plugin manager, the hook specifications and the errors for missing plugins."""

import importlib
import inspect
import subprocess
import sys

import pytest

from dflow import Workflow, config, hookspecs
from dflow.errors import PluginNotFoundError
from dflow.plugins import get_backend, registry


def test_every_hook_is_documented():
    hooks = [f for name, f in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(f, "dflow_spec")]
    assert len(hooks) >= 6
    for f in hooks:
        doc = inspect.getdoc(f) or ""
        assert "Return value" in doc or "Return" in doc, f"hook {f.__name__} does not say what its return value means"
        assert "Called" in doc, f"hook {f.__name__} does not say when it is called"


def test_local_backend_and_storage_are_registered_through_entry_points():
    reg = registry()
    backend = reg.get("backend", "debug")
    assert backend.distribution == "dflow-debug" and backend.version
    local = reg.get("storage", "local")
    assert local.distribution == "dflow-core"
    assert reg.get("backend", "local").name == "debug"  # alias


def test_unknown_mode_names_installed_backends_and_the_install_command(monkeypatch):
    monkeypatch.setitem(config, "mode", "nosuch")
    with pytest.raises(PluginNotFoundError) as e:
        Workflow("x").backend  # noqa: B018
    msg = str(e.value)
    assert "'nosuch'" in msg and "debug" in msg


def test_missing_known_plugin_names_its_distribution():
    with pytest.raises(PluginNotFoundError, match=r"pip install dflow-oss"):
        registry().get("storage", "oss")


def test_legacy_import_path_names_the_distribution_to_install():
    with pytest.raises(ImportError, match=r"pip install dflow-dispatcher"):
        importlib.import_module("dflow.plugins.dispatcher")


def test_legacy_import_path_resolves_to_the_installed_plugin():
    pytest.importorskip("dflow_minio")
    mod = importlib.import_module("dflow.plugins.minio")
    assert hasattr(mod, "S3StorageClient")


def test_allow_list_limits_what_loads():
    code = "from dflow.plugins import registry; print(sorted(registry().items.get('backend', {})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**__import__("os").environ, "DFLOW_PLUGINS": "local"}, check=True)
    assert out.stdout.strip() == "[]"


def test_hook_tracing_prints_hook_calls():
    code = "from dflow.plugins import registry; registry()"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**__import__("os").environ, "DFLOW_TRACE_HOOKS": "1"}, check=True)
    # the registration hooks run before tracing is attached; lifecycle hooks are traced
    code2 = ("from dflow import Workflow, Step, config\nfrom dflow.python import PythonOPTemplate\n"
             "from dflow.testing import ops\nwf = Workflow('t')\n"
             "wf.add(Step('a', PythonOPTemplate(ops.AddOne), parameters={'n': 1}))\nwf.compile()\n")
    out = subprocess.run([sys.executable, "-c", code2], capture_output=True, text=True,
                         env={**__import__("os").environ, "DFLOW_TRACE_HOOKS": "1"}, check=True)
    assert "workflow_compiled" in out.stderr


def test_workflow_compiled_hook_sees_the_spec_and_can_stop_submission(tmp_path, monkeypatch):
    from dflow.plugins import get_plugin_manager, hookimpl
    from dflow.python import PythonOPTemplate
    from dflow.step import Step
    from dflow.testing import ops

    seen = []

    class Linter:
        @hookimpl
        def workflow_compiled(self, spec):
            seen.append(spec.name)
            if spec.name == "refused":
                raise ValueError("refused by the linter")

    pm = get_plugin_manager()
    plugin = Linter()
    pm.register(plugin)
    try:
        monkeypatch.setitem(config, "mode", "debug")
        monkeypatch.setitem(config, "debug_workdir", str(tmp_path))
        wf = Workflow("refused")
        wf.add(Step("a", PythonOPTemplate(ops.AddOne), parameters={"n": 1}))
        with pytest.raises(ValueError, match="refused by the linter"):
            wf.submit()
        assert seen == ["refused"]
        assert list(tmp_path.iterdir()) == []  # nothing was submitted
    finally:
        pm.unregister(plugin)


def test_get_backend_returns_a_fresh_backend():
    assert get_backend("debug") is not get_backend("debug")
