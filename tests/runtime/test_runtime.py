import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dflow import runtime
from dflow.runtime import decode_value, encode_value, load_op_class, run_task

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "core", "src"))

OPS_SOURCE = textwrap.dedent('''
    import os, time
    from pathlib import Path
    from typing import Dict, List, Optional
    from dflow.python.op import OP
    from dflow.python.opio import OPIO, OPIOSign, Artifact, Parameter, NestedDict
    from dflow.python._errors import TransientError, FatalError

    class Copy(OP):
        @classmethod
        def get_input_sign(cls):
            return OPIOSign({"msg": str, "num": Parameter(int, default=7), "foo": Artifact(Path),
                             "opt": Artifact(Path, optional=True)})
        @classmethod
        def get_output_sign(cls):
            return OPIOSign({"msg": str, "num": int, "bar": Artifact(Path), "had_opt": bool})
        @OP.exec_sign_check
        def execute(self, op_in):
            os.makedirs("out", exist_ok=True)
            Path("out/bar.txt").write_text(Path(op_in["foo"]).read_text() + "!")
            return OPIO({"msg": op_in["msg"], "num": op_in["num"], "bar": Path("out/bar.txt"),
                         "had_opt": op_in["opt"] is not None})

    class Undecorated(OP):
        @classmethod
        def get_input_sign(cls):
            return OPIOSign({"x": int})
        @classmethod
        def get_output_sign(cls):
            return OPIOSign({"y": int})
        def execute(self, op_in):
            return OPIO({"y": str(op_in["x"])})

    class Structures(OP):
        @classmethod
        def get_input_sign(cls):
            return OPIOSign({"l": Artifact(List[Path]), "d": Artifact(Dict[str, Path]),
                             "n": Artifact(NestedDict[Path])})
        @classmethod
        def get_output_sign(cls):
            return OPIOSign({"names": list, "l": Artifact(List[Path]), "d": Artifact(Dict[str, Path]),
                             "n": Artifact(NestedDict[Path]), "none": Artifact(Path, optional=True)})
        @OP.exec_sign_check
        def execute(self, op_in):
            names = [p.name for p in op_in["l"]] + sorted(op_in["d"]) + [op_in["n"]["a"]["b"].read_text()]
            return OPIO({"names": names, "l": op_in["l"], "d": op_in["d"], "n": op_in["n"], "none": None})

    class Raiser(OP):
        @classmethod
        def get_input_sign(cls):
            return OPIOSign({"kind": str})
        @classmethod
        def get_output_sign(cls):
            return OPIOSign({})
        @OP.exec_sign_check
        def execute(self, op_in):
            if op_in["kind"] == "transient":
                raise TransientError("try again")
            if op_in["kind"] == "fatal":
                raise FatalError("give up")
            raise ValueError("boom")

    class Sliced(OP):
        @classmethod
        def get_input_sign(cls):
            return OPIOSign({"msg": str, "data": Artifact(Path), "fixed": int})
        @classmethod
        def get_output_sign(cls):
            return OPIOSign({"out": str, "log": Artifact(Path), "pid": int})
        @OP.exec_sign_check
        def execute(self, op_in):
            Path("log.txt").write_text(op_in["msg"] + ":" + op_in["data"].read_text())
            return OPIO({"out": op_in["msg"].upper() + str(op_in["fixed"]), "log": Path("log.txt"),
                         "pid": os.getpid()})

    class Progress(OP):
        progress_total = 5
        @classmethod
        def get_input_sign(cls):
            return OPIOSign({})
        @classmethod
        def get_output_sign(cls):
            return OPIOSign({"key": str, "wf": str})
        @OP.exec_sign_check
        def execute(self, op_in):
            for i in range(5):
                self.progress_current = i + 1
            return OPIO({"key": self.key, "wf": self.workflow_name})

    @OP.function
    def add_one(x: int, y: int = 10) -> {"z": int, "obj": dict}:
        return {"z": x + y + 1, "obj": {"a": [1, 2]}}
''')


@pytest.fixture(scope="module")
def opsdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("ops")
    (d / "rt_ops_mod.py").write_text(OPS_SOURCE)
    return str(d)


def make_task(tmp_path, opsdir, qualname, params=None, arts=None, slices=None, slice_index=None,
              module="rt_ops_mod", **extra):
    step = tmp_path / "step"
    task = {
        "op": {"module": module, "qualname": qualname, "source": None, "source_file": None, "op_kwargs": {}},
        "slices": slices,
        "slice_index": slice_index,
        "inputs": {
            "parameters": {k: dict(zip(("text", "type"), encode_value(v))) for k, v in (params or {}).items()},
            "artifacts": {k: {"path": None if v is None else str(v)} for k, v in (arts or {}).items()},
        },
        "outputs_dir": str(step / "outputs"),
        "workdir": str(step / "workdir"),
        "progress_file": str(step / "progress"),
        "python_paths": [opsdir],
        "step": {"name": "s", "key": "my-key", "workflow": "wf-abc"},
    }
    task.update(extra)
    return task


def out_param(tmp_path, name):
    d = tmp_path / "step" / "outputs" / "parameters"
    types = json.loads((d / ".types.json").read_text())
    return decode_value((d / name).read_text(), types[name])


def catalog(path):
    items = []
    for f in sorted((Path(path) / ".dflow").glob("catalog*.json")):
        items.extend(json.loads(f.read_text()))
    return items


def test_encode_decode_roundtrip():
    for v, t in [("a", "str"), (3, "int"), (1.5, "float"), (True, "bool"), ({"a": [1]}, "dict"),
                 ([1, "x"], "list"), (None, "NoneType")]:
        text, tn = encode_value(v)
        assert tn == t
        assert decode_value(text, tn) == v
    assert encode_value("3") == ("3", "str")
    assert decode_value("3", "str") == "3"
    text, tn = encode_value({1, 2})
    assert tn == "pickle:set" and decode_value(text, tn, allow_pickle=True) == {1, 2}
    text, tn = encode_value((1, "a"))
    assert decode_value(text, tn, allow_pickle=True) == (1, "a")
    # without permission a pickled value stays its JSON wrapper: nothing is unpickled
    assert decode_value(text, tn) == json.loads(text)
    assert decode_value("not json", None) == "not json"


def test_text_only_backends_read_the_pickle_wrapper_as_the_record():
    """Argo carries a parameter's text without its writer's type record (the entry says ``declared_only``):
    the wrapper then counts as pickled (a set, a dict holding objects), except for signs of text or anything."""
    from typing import Any, Dict, Optional

    from dflow.stepio import parameter_value

    text, _ = encode_value({1, 2})
    assert parameter_value({"text": text, "type": "set", "declared_only": True}, set, False) == {1, 2}
    assert parameter_value({"text": text, "type": "Optional[set]", "declared_only": True}, Optional[set], False) == {1, 2}
    holder, tname = encode_value({"inputs": {3, 4}})  # dpgen2's fp config: a dict holding objects
    assert tname == "pickle:dict"
    entry = {"text": holder, "type": "dict", "declared_only": True}
    assert parameter_value(entry, dict, False) == {"inputs": {3, 4}}
    assert parameter_value(entry, Dict[str, Any], False) == {"inputs": {3, 4}}
    # a sign of text or of anything: the text, or the wrapper as JSON; nothing is unpickled
    assert parameter_value({"text": text, "type": "str", "declared_only": True}, str, False) == text
    assert parameter_value({"text": text, "type": "Any", "declared_only": True}, Any, False) == json.loads(text)
    # with the writer's record missing and no declared_only mark (a local run), the old rule holds
    assert parameter_value({"text": text, "type": "set"}, set, False) == json.loads(text)


def test_class_op(tmp_path, opsdir):
    foo = tmp_path / "foo.txt"
    foo.write_text("hello")
    task = make_task(tmp_path, opsdir, "Copy", {"msg": "hi"}, {"foo": foo, "opt": None})
    cwd = os.getcwd()
    assert run_task(task) == 0
    assert os.getcwd() == cwd
    assert out_param(tmp_path, "msg") == "hi"
    assert out_param(tmp_path, "num") == 7
    assert out_param(tmp_path, "had_opt") is False
    bar = tmp_path / "step" / "outputs" / "artifacts" / "bar"
    assert (bar / "out" / "bar.txt").read_text() == "hello!"
    assert catalog(bar) == [{"index": None, "key": None, "path": "out/bar.txt"}]
    # the next step gets the file back for a Path sign
    assert runtime.artifact_value(str(bar), Path) == bar / "out" / "bar.txt"
    # no temporary leftovers
    assert sorted(os.listdir(tmp_path / "step" / "outputs" / "artifacts")) == ["bar"]
    assert not [n for n in os.listdir(tmp_path / "step" / "outputs" / "parameters") if ".tmp" in n]


def test_optional_artifact_present(tmp_path, opsdir):
    foo = tmp_path / "foo.txt"
    foo.write_text("x")
    task = make_task(tmp_path, opsdir, "Copy", {"msg": "hi", "num": 2}, {"foo": foo, "opt": foo})
    assert run_task(task) == 0
    assert out_param(tmp_path, "had_opt") is True and out_param(tmp_path, "num") == 2


def test_function_op_defaults(tmp_path, opsdir):
    task = make_task(tmp_path, opsdir, "add_one", {"x": 1})
    assert run_task(task) == 0
    assert out_param(tmp_path, "z") == 12
    assert out_param(tmp_path, "obj") == {"a": [1, 2]}


def test_param_given_as_str_text_is_decoded(tmp_path, opsdir):
    task = make_task(tmp_path, opsdir, "add_one", {})
    task["inputs"]["parameters"] = {"x": {"text": "5", "type": "str"}, "y": {"text": "1", "type": None}}
    assert run_task(task) == 0
    assert out_param(tmp_path, "z") == 7


def test_undecorated_is_type_checked(tmp_path, opsdir, capsys):
    task = make_task(tmp_path, opsdir, "Undecorated", {"x": 1})
    assert run_task(task) == 3  # any exception but a FatalError may be retried, as in dflow
    err = json.loads((tmp_path / "step" / "error.json").read_text())
    assert err["type"] == "TypeError"
    assert err["message"] == "Undecorated: output parameter 'y': expected int, found str '1'"
    assert err["transient"] is True
    assert "Traceback" in capsys.readouterr().err


def test_input_type_error(tmp_path, opsdir):
    foo = tmp_path / "foo.txt"
    foo.write_text("x")
    task = make_task(tmp_path, opsdir, "Copy", {"msg": "hi", "num": "abc"}, {"foo": foo})
    assert run_task(task) == 3
    err = json.loads((tmp_path / "step" / "error.json").read_text())
    assert err["message"] == "Copy: input parameter 'num': expected int, found str 'abc'"


@pytest.mark.parametrize("kind,code,etype", [("transient", 3, "TransientError"), ("fatal", 1, "FatalError"),
                                              ("other", 3, "ValueError")])  # as in dflow: only FatalError is final
def test_errors(tmp_path, opsdir, kind, code, etype):
    task = make_task(tmp_path, opsdir, "Raiser", {"kind": kind})
    assert run_task(task) == code
    err = json.loads((tmp_path / "step" / "error.json").read_text())
    assert err["type"] == etype and err["transient"] is (code == 3)
    assert "Traceback" in err["traceback"]


def test_load_error_may_be_retried_as_in_dflow(tmp_path, opsdir):
    task = make_task(tmp_path, opsdir, "NoSuchOP")
    assert run_task(task) == 3
    assert "NoSuchOP" in json.loads((tmp_path / "step" / "error.json").read_text())["message"]


def _write_catalog(d, items):
    (d / ".dflow").mkdir(parents=True, exist_ok=True)
    (d / ".dflow" / "catalog-x.json").write_text(json.dumps(items))


def test_structures_with_catalogs(tmp_path, opsdir):
    la = tmp_path / "l"
    for n in ("z", "a", "m"):
        (la / n).mkdir(parents=True)
        (la / n / "f").write_text(n)
    _write_catalog(la, [{"index": 2, "key": None, "path": "a"}, {"index": 0, "key": None, "path": "z"},
                        {"index": 1, "key": None, "path": "m"}])
    da = tmp_path / "d"
    da.mkdir()
    (da / "one.txt").write_text("1")
    (da / "two.txt").write_text("2")  # no catalog: {name: path}
    na = tmp_path / "n"
    (na / "deep").mkdir(parents=True)
    (na / "deep" / "x.txt").write_text("nested!")
    (na / "c.txt").write_text("c")
    _write_catalog(na, [{"index": None, "key": "a/b", "path": "deep/x.txt"}, {"index": None, "key": "c", "path": "c.txt"}])
    task = make_task(tmp_path, opsdir, "Structures", {}, {"l": la, "d": da, "n": na})
    assert run_task(task) == 0, (tmp_path / "step" / "error.json").read_text()
    assert out_param(tmp_path, "names") == ["z", "m", "a", "one.txt", "two.txt", "nested!"]
    arts = tmp_path / "step" / "outputs" / "artifacts"
    # parts of an input artifact handed on keep their paths inside that artifact (as in dflow)
    lc = catalog(arts / "l")
    assert [i["index"] for i in lc] == [0, 1, 2]
    assert [i["path"] for i in lc] == ["z", "m", "a"]
    got = runtime.artifact_value(str(arts / "l"), __import__("typing").List[Path])
    assert [p.name for p in got] == ["z", "m", "a"] and (got[0] / "f").read_text() == "z"
    got = runtime.artifact_value(str(arts / "d"), __import__("typing").Dict[str, Path])
    assert sorted(got) == ["one.txt", "two.txt"] and got["two.txt"].read_text() == "2"
    from dflow.python.opio import NestedDict
    got = runtime.artifact_value(str(arts / "n"), NestedDict[Path])
    assert got["a"]["b"].read_text() == "nested!" and got["c"].read_text() == "c"
    # an optional output returned as None exists, holding one item with no path (as in dflow): the next step gets None
    assert catalog(arts / "none") == [{"index": None, "key": None, "path": None}]
    assert runtime.artifact_value(str(arts / "none"), Path) is None


def test_list_without_catalog_and_optional_missing():
    import typing
    assert runtime.artifact_value(None, Path, optional=True) is None
    assert runtime.artifact_value("/nonexistent/x", typing.Optional[Path]) is None


def test_main_source_with_submit(tmp_path, opsdir):
    src = textwrap.dedent('''
        from pathlib import Path
        from dflow.python.op import OP
        from dflow.python.opio import OPIO, OPIOSign
        import dflow.runtime

        @OP.function
        def hello(name: str) -> {"greeting": str, "main": bool}:
            return {"greeting": "hello " + name, "main": __name__ == "__main__"}

        def submit():
            if dflow.runtime.LOADING_OP_SOURCE:
                raise dflow.runtime.StopSourceExec()
            raise RuntimeError("really submitted")

        submit()
        raise RuntimeError("must not get here")

        if __name__ == "__main__":
            raise RuntimeError("main block ran")
    ''')
    f = tmp_path / "user_script.py"
    f.write_text(src)
    task = make_task(tmp_path, opsdir, "hello", {"name": "bob"}, module="__main__")
    task["op"]["source_file"] = str(f)
    sys.modules.pop("__dflow_main__", None)
    try:
        assert run_task(task) == 0, (tmp_path / "step" / "error.json").read_text()
        assert out_param(tmp_path, "greeting") == "hello bob"
        assert out_param(tmp_path, "main") is False
        assert runtime.LOADING_OP_SOURCE is False
        cls = sys.modules["__dflow_main__"].hello
        assert cls.__module__ == "__dflow_main__"
    finally:
        sys.modules.pop("__dflow_main__", None)


def test_load_op_class_inline_source():
    sys.modules.pop("__dflow_main__", None)
    src = "from dflow.python.op import OP\nclass A:\n    class B(OP):\n        pass\n"
    try:
        cls = load_op_class({"module": "__main__", "qualname": "A.B", "source": src})
        assert cls.__qualname__ == "A.B"
    finally:
        sys.modules.pop("__dflow_main__", None)


def _slice_inputs(tmp_path):
    data = tmp_path / "data"
    for i in range(5):
        (data / ("d%d" % i)).mkdir(parents=True)
        (data / ("d%d" % i) / "v.txt").write_text(str(i))
    _write_catalog(data, [{"index": i, "key": None, "path": "d%d/v.txt" % i} for i in range(5)])
    return data


@pytest.mark.parametrize("group,pool,index,expect", [
    (None, None, 3, [3]),
    (2, None, 1, [2, 3]),
    (2, None, 2, [4]),
    (2, 2, 0, [0, 1]),
    (None, 3, None, [0, 1, 2, 3, 4]),
])
def test_slices(tmp_path, opsdir, group, pool, index, expect):
    data = _slice_inputs(tmp_path)
    msgs = ["m%d" % i for i in range(5)]
    slices = {"input_parameter": ["msg"], "input_artifact": ["data"], "output_parameter": ["out"],
              "output_artifact": ["log"], "sub_path": False, "group_size": group, "pool_size": pool,
              "create_dir": True}
    task = make_task(tmp_path, opsdir, "Sliced", {"msg": msgs, "fixed": 1}, {"data": data},
                     slices=slices, slice_index=index)
    assert run_task(task) == 0, (tmp_path / "step" / "error.json").read_text()
    one_slice = index is not None and not group
    # one slice of a fan-out writes its value; a group (or all slices in one step) the list of values
    assert out_param(tmp_path, "out") == ("M%d1" % expect[0] if one_slice else ["M%d1" % i for i in expect])
    log = tmp_path / "step" / "outputs" / "artifacts" / "log"
    items = catalog(log)
    assert [it["index"] for it in items] == expect
    for it in items:
        assert it["path"] == "%d/log.txt" % it["index"]  # create_dir: "<i>/", as in dflow
        assert (log / it["path"]).read_text() == "m%d:%d" % (it["index"], it["index"])
    if pool and len(expect) > 1:
        assert isinstance(out_param(tmp_path, "pid"), int)


def test_slices_merge_without_create_dir(tmp_path, opsdir):
    data = _slice_inputs(tmp_path)
    slices = {"input_parameter": ["msg"], "input_artifact": ["data"], "output_parameter": ["out"],
              "output_artifact": [], "sub_path": False, "group_size": None, "pool_size": None,
              "create_dir": False}
    task = make_task(tmp_path, opsdir, "Sliced", {"msg": ["a", "b"], "fixed": 2}, {"data": data},
                     slices=slices, slice_index=1)
    assert run_task(task) == 0
    assert out_param(tmp_path, "out") == "B2"
    log = tmp_path / "step" / "outputs" / "artifacts" / "log"
    assert (log / "log.txt").read_text() == "b:1"


def test_sub_path_slices(tmp_path, opsdir):
    one = tmp_path / "one.txt"
    one.write_text("9")
    slices = {"input_parameter": ["msg"], "input_artifact": ["data"], "output_parameter": ["out"],
              "output_artifact": ["log"], "sub_path": True, "group_size": None, "pool_size": None,
              "create_dir": False}
    task = make_task(tmp_path, opsdir, "Sliced", {"msg": "x", "fixed": 0}, {"data": one},
                     slices=slices, slice_index=4)
    assert run_task(task) == 0, (tmp_path / "step" / "error.json").read_text()
    assert out_param(tmp_path, "out") == "X0"
    log = tmp_path / "step" / "outputs" / "artifacts" / "log"
    assert catalog(log) == [{"index": 4, "key": None, "path": "log.txt"}]


def test_slice_failure_in_pool(tmp_path, opsdir):
    data = _slice_inputs(tmp_path)
    slices = {"input_parameter": ["msg"], "input_artifact": ["data"], "output_parameter": ["out"],
              "output_artifact": ["log"], "sub_path": False, "group_size": None, "pool_size": 2,
              "create_dir": False}
    # 'fixed' has the wrong type: every slice fails with a TypeError
    task = make_task(tmp_path, opsdir, "Sliced", {"msg": ["a", "b"], "fixed": "x"}, {"data": data},
                     slices=slices, slice_index=None)
    assert run_task(task) == 3
    err = json.loads((tmp_path / "step" / "error.json").read_text())
    assert err["message"] == "Sliced: input parameter 'fixed': expected int, found str 'x'"


def test_progress_and_step_info(tmp_path, opsdir):
    task = make_task(tmp_path, opsdir, "Progress")
    assert run_task(task) == 0
    assert (tmp_path / "step" / "progress").read_text() == "5/5"
    assert out_param(tmp_path, "key") == "my-key"
    assert out_param(tmp_path, "wf") == "wf-abc"


def test_output_artifact_directory_and_rerun(tmp_path, opsdir):
    src = textwrap.dedent('''
        from pathlib import Path
        from dflow.python.op import OP
        from dflow.python.opio import Artifact
        import os
        @OP.function
        def mkdir_op() -> {"odir": Artifact(Path), "abs": Artifact(Path)}:
            os.makedirs("odir/sub", exist_ok=True)
            Path("odir/sub/a.txt").write_text("a")
            return {"odir": Path("odir"), "abs": Path(os.getcwd()) / "odir" / "sub" / "a.txt"}
    ''')
    (Path(opsdir) / "rt_mkdir_mod.py").write_text(src)
    task = make_task(tmp_path, opsdir, "mkdir_op", module="rt_mkdir_mod")
    for _ in range(2):  # a retry overwrites the previous attempt's outputs
        assert run_task(task) == 0, (tmp_path / "step" / "error.json").read_text()
    arts = tmp_path / "step" / "outputs" / "artifacts"
    assert (arts / "odir" / "odir" / "sub" / "a.txt").read_text() == "a"
    assert catalog(arts / "odir") == [{"index": None, "key": None, "path": "odir"}]
    assert catalog(arts / "abs") == [{"index": None, "key": None, "path": "odir/sub/a.txt"}]
    assert len(list((arts / "odir" / ".dflow").iterdir())) == 1


def test_missing_output_path_is_left_out_with_a_warning(tmp_path, opsdir, capfd):
    """As in dflow: an output artifact naming a path the OP did not write holds nothing for it;
    the step log says so (dpgen2's calypso OPs rely on it)."""
    src = textwrap.dedent('''
        from pathlib import Path
        from dflow.python.op import OP
        from dflow.python.opio import Artifact
        @OP.function
        def ghost() -> {"g": Artifact(Path)}:
            return {"g": Path("nope.txt")}
    ''')
    (Path(opsdir) / "rt_ghost_mod.py").write_text(src)
    task = make_task(tmp_path, opsdir, "ghost", module="rt_ghost_mod")
    assert run_task(task) == 0
    assert "output artifact 'g'" in capfd.readouterr().err
    out = tmp_path / "step" / "outputs" / "artifacts" / "g"
    assert not [p for p in out.rglob("*") if p.is_file() and ".dflow" not in p.parts]


@pytest.mark.parametrize("how", ["module", "script"])
def test_command_line(tmp_path, opsdir, how):
    task = make_task(tmp_path, opsdir, "add_one", {"x": 2, "y": 3})
    tf = tmp_path / "task.json"
    tf.write_text(json.dumps(task))
    if how == "module":
        cmd = [sys.executable, "-m", "dflow.runtime", str(tf)]
        env = dict(os.environ, PYTHONPATH=SRC)
    else:
        cmd = [sys.executable, os.path.join(SRC, "dflow", "runtime.py"), str(tf)]
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run(cmd, env=env, cwd=str(tmp_path), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert out_param(tmp_path, "z") == 6
    task = make_task(tmp_path, opsdir, "Raiser", {"kind": "transient"})
    tf.write_text(json.dumps(task))
    r = subprocess.run(cmd, env=env, cwd=str(tmp_path), capture_output=True, text=True)
    assert r.returncode == 3
    assert "TransientError: try again" in r.stderr


def _imported_after(code: str, env: dict) -> str:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint(sorted(m for m in ('threading', 'logging') "
                          "if m in sys.modules))"], capture_output=True, text=True, env=env, check=True)
    return out.stdout.strip()


def test_the_step_runtime_imports_neither_threading_nor_logging():
    """Every local step is forked from a process that holds the runtime. ``threading`` (which
    ``logging`` imports) registers a handler that runs in every forked child, about a third of
    what a fork costs here; a step whose OP needs neither starts without them."""
    env = {k: v for k, v in os.environ.items() if k != "LOG_LEVEL"}
    assert _imported_after("import dflow.runtime, dflow.python", env) == "[]"


def test_log_level_still_configures_logging():
    env = {**os.environ, "LOG_LEVEL": "debug"}
    code = "import dflow, logging\nassert logging.getLogger().level == logging.DEBUG, logging.getLogger().level"
    assert _imported_after(code, env) == "['logging', 'threading']"
