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


def _without_plugins(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter where only core's own plugins load (DFLOW_PLUGINS),
    as on a machine where none of this project's plugin distributions is installed."""
    env = {**__import__("os").environ, "DFLOW_PLUGINS": "local"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


def test_missing_known_plugin_names_its_distribution():
    out = _without_plugins(
        "import pytest\nfrom dflow.errors import PluginNotFoundError\nfrom dflow.plugins import registry\n"
        "with pytest.raises(PluginNotFoundError, match=r'pip install dflow-oss'):\n"
        "    registry().get('storage', 'oss')\n")
    assert out.returncode == 0, out.stderr


def test_legacy_import_path_imports_without_the_plugin_and_names_the_distribution_when_used():
    """Code that merely imports a plugin's name must import (dpgen2 does); using the name says what to install."""
    out = _without_plugins(
        "import importlib, pytest\n"
        "from dflow.errors import PluginNotFoundError\n"
        "mod = importlib.import_module('dflow.plugins.dispatcher')\n"
        "executor_class = mod.DispatcherExecutor\n"
        "assert not isinstance(object(), executor_class)\n"
        "for use in (lambda: executor_class(host='h'), lambda: executor_class.some_attribute,\n"
        "            lambda: type('Mine', (executor_class,), {})):\n"
        "    with pytest.raises(PluginNotFoundError, match=r'DispatcherExecutor.*pip install dflow-dispatcher'):\n"
        "        use()\n"
        "from dflow import SlurmJobTemplate\n"
        "with pytest.raises(PluginNotFoundError, match=r'pip install dflow-slurm-vk'):\n"
        "    SlurmJobTemplate(header='#SBATCH -N 1')\n"
        "from dflow.plugins import bohrium\n"
        "bohrium.config['username'] = 'x'  # settings are a dict: APEX sets them on every submit\n"
        "with pytest.raises(PluginNotFoundError, match='no distribution of this project provides it'):\n"
        "    bohrium.TiefblueClient()\n")
    assert out.returncode == 0, out.stderr


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


# --------------------------------------------------------------------------- plugins as distributions


def _make_dist(site, name, entry_points, modules):
    """A distribution installed into ``site``: a dist-info with entry points, and its modules."""
    info = site / f"{name.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    lines = []
    for group, eps in entry_points.items():
        lines.append(f"[{group}]")
        lines += [f"{k} = {v}" for k, v in eps.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for mod, text in modules.items():
        (site / f"{mod}.py").write_text(text)


def _run_with_site(site, code):
    env = {**__import__("os").environ, "PYTHONPATH": str(site)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)


def test_misspelt_hook_is_refused_naming_the_plugin_and_the_hooks(tmp_path):
    _make_dist(tmp_path, "dflow-typo", {"dflow.storage": {"typo": "typo_plugin"}}, {
        "typo_plugin": "from dflow.plugins import hookimpl\n"
                       "@hookimpl\ndef register_storage_client(register):\n    register('typo', dict)\n"})
    out = _run_with_site(tmp_path, "from dflow.plugins import registry; registry()")
    assert out.returncode != 0
    assert "register_storage_client" in out.stderr and "dflow-typo" in out.stderr
    assert "register_storage_clients" in out.stderr  # the list of real hooks


def test_hook_with_wrong_arguments_is_refused(tmp_path):
    _make_dist(tmp_path, "dflow-badargs", {"dflow.storage": {"bad": "bad_plugin"}}, {
        "bad_plugin": "from dflow.plugins import hookimpl\n"
                      "@hookimpl\ndef register_storage_clients(register, extra):\n    pass\n"})
    out = _run_with_site(tmp_path, "from dflow.plugins import registry; registry()")
    assert out.returncode != 0 and "dflow-badargs" in out.stderr and "extra" in out.stderr


def test_function_without_hookimpl_is_not_called_and_the_group_must_be_honoured(tmp_path):
    _make_dist(tmp_path, "dflow-unmarked", {"dflow.storage": {"unmarked": "unmarked_plugin"}}, {
        "unmarked_plugin": "def register_storage_clients(register):\n    register('unmarked', dict)\n"})
    out = _run_with_site(tmp_path, "from dflow.plugins import registry; registry()")
    # nothing was registered (the function is not a hook implementation), so the plugin
    # breaks the promise of the group it is listed in
    assert out.returncode != 0
    assert "dflow.storage" in out.stderr and "registers no storage" in out.stderr


def test_a_plugin_adds_a_command_and_names_its_distribution(tmp_path):
    _make_dist(tmp_path, "dflow-hello", {"dflow.commands": {"hello": "hello_plugin"}}, {
        "hello_plugin": (
            "from dflow.plugins import hookimpl\n"
            "def configure(p):\n    p.add_argument('who')\n"
            "def run(args):\n    print('hello ' + args.who)\n    return 0\n"
            "@hookimpl\ndef register_commands(register):\n    register('hello', configure, run, help='say hello')\n")})
    out = _run_with_site(tmp_path, "from dflow.cli import main; raise SystemExit(main(['hello', 'world']))")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "hello world"
    out = _run_with_site(tmp_path, "from dflow.cli import main; raise SystemExit(main(['plugins']))")
    assert "hello" in out.stdout and "dflow-hello 0.1" in out.stdout


def test_a_plugin_cannot_take_a_core_command(tmp_path):
    _make_dist(tmp_path, "dflow-greedy", {"dflow.commands": {"greedy": "greedy_plugin"}}, {
        "greedy_plugin": ("from dflow.plugins import hookimpl\n"
                          "@hookimpl\ndef register_commands(register):\n"
                          "    register('list', lambda p: None, lambda a: 0)\n")})
    out = _run_with_site(tmp_path, "from dflow.plugins import registry; registry()")
    assert out.returncode != 0 and "'list'" in out.stderr and "core" in out.stderr


def test_render_comes_with_the_argo_plugin():
    reg = registry()
    item = reg.get("command", "render")
    assert item.distribution == "dflow-argo"


def test_render_without_the_argo_plugin_names_the_distribution():
    code = "from dflow.cli import main; raise SystemExit(main(['render', 'x.py']))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**__import__("os").environ, "DFLOW_PLUGINS": "debug,local"})
    assert out.returncode == 2 and "pip install dflow-argo" in out.stderr


def test_op_packages_are_listed_with_their_signs(tmp_path):
    _make_dist(tmp_path, "my-ops", {"dflow.ops": {"my_ops": "my_ops_mod"}}, {
        "my_ops_mod": (
            "from pathlib import Path\nfrom dflow.python import OP, Artifact\n"
            "@OP.function\ndef double(x: int, data: Artifact(Path)) -> {'y': int}:\n"
            "    '''Twice x.'''\n    return {'y': 2 * x}\n")})
    out = _run_with_site(tmp_path, "from dflow.cli import main; raise SystemExit(main(['ops']))")
    assert out.returncode == 0, out.stderr
    assert "my_ops (my-ops 0.1)" in out.stdout
    assert "double" in out.stdout and "Twice x." in out.stdout
    assert "parameter int" in out.stdout and "artifact Path" in out.stdout


def test_runtime_registration_and_removal():
    from dflow.plugins import hookimpl, register_plugin, unregister_plugin

    class Plugin:
        @hookimpl
        def register_storage_clients(self, register):
            register("runtime-store", dict, aliases=("rs",))

    name = register_plugin(Plugin())
    try:
        assert registry().get("storage", "rs").obj is dict
    finally:
        unregister_plugin(name)
    assert registry().find("storage", "runtime-store") is None
    assert registry().find("storage", "rs") is None


# what an installed plugin may load only when it is used, not when the plugin manager starts
HEAVY = ("boto3", "botocore", "oss2", "azure.storage", "google.cloud", "kubernetes", "starlette", "uvicorn",
         "dpdispatcher", "paramiko")


def test_loading_every_installed_plugin_imports_no_sdk():
    """Every dflow session loads every installed plugin's entry module: those modules register
    names and factories, and leave SDKs and web stacks to the first use (each costs 50-250 ms)."""
    code = (
        "import sys\n"
        "from dflow.plugins import registry\n"
        "reg = registry()\n"
        "print(sorted(reg.names('storage')) + sorted(reg.names('backend')))\n"
        f"heavy = [m for m in sys.modules if m.split('.')[0] in {sorted({h.split('.')[0] for h in HEAVY})!r}"
        f" and any(m == h or m.startswith(h + '.') for h in {list(HEAVY)!r})]\n"
        "print(heavy)\n"
        "raise SystemExit(1 if heavy else 0)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


def test_submit_wraps_compiling_and_submitting_in_the_backends_submitting():
    """A backend may start what its run needs while the workflow compiles (``Backend.submitting``):
    entered before compiling, left after ``submit`` returned, and left too when compiling fails."""
    import contextlib

    from dflow import Step, Workflow
    from dflow.backend import Backend
    from dflow.python import OP, PythonOPTemplate

    calls = []

    class Recording(Backend):
        name = "recording"

        @contextlib.contextmanager
        def submitting(self, *, detach=False):
            calls.append(("enter", detach))
            try:
                yield
            finally:
                calls.append(("leave", detach))

        def submit(self, spec, *, reuse=None, detach=False):
            calls.append(("submit", spec.name))
            return "recorded-1"

        def get_workflow(self, workflow_id):
            raise NotImplementedError

        def get_spec(self, workflow_id):
            raise NotImplementedError

        def list_steps(self, workflow_id):
            raise NotImplementedError

        def terminate(self, workflow_id):
            raise NotImplementedError

        def list_workflows(self):
            raise NotImplementedError

    @OP.function
    def noop() -> {"x": int}:
        return {"x": 1}

    wf = Workflow("wrapped")
    wf.add(Step("s", PythonOPTemplate(noop)))
    wf._backend = Recording()
    compiled = Workflow.compile

    def compile_noting(self):
        calls.append(("compile", None))
        return compiled(self)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Workflow, "compile", compile_noting)
        wf.submit(detach=True)
    assert calls == [("enter", True), ("compile", None), ("submit", "wrapped"), ("leave", True)]

    calls.clear()
    wf2 = Workflow("fails")
    wf2.add(Step("s", PythonOPTemplate(noop)))
    wf2._backend = Recording()

    def compile_failing(self):
        raise ValueError("no")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Workflow, "compile", compile_failing)
        with pytest.raises(ValueError):
            wf2.submit(detach=True)
    assert calls == [("enter", True), ("leave", True)]
