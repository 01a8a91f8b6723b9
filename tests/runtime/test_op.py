from pathlib import Path
from typing import Dict, List, Optional

import pytest

from dflow.python import op as op_module
from dflow.python.op import OP, check_inputs
from dflow.python.opio import OPIO, Artifact, BigParameter, NestedDict, OPIOSign, Parameter, sign_fields


class Simple(OP):
    @classmethod
    def get_input_sign(cls):
        return OPIOSign({"msg": str, "num": Parameter(int, default=3), "foo": Artifact(Path),
                         "opt": Artifact(Path, optional=True)})

    @classmethod
    def get_output_sign(cls):
        return OPIOSign({"msg": str, "n": int})

    @OP.exec_sign_check
    def execute(self, op_in):
        return OPIO({"msg": op_in["msg"] + "!", "n": op_in["num"]})


def test_opio_is_ordered_mapping():
    s = OPIOSign({"b": int, "a": str})
    s["c"] = float
    assert list(s) == ["b", "a", "c"]
    o = OPIO(x=1)
    assert o == {"x": 1} and len(o) == 1 and dict(o) == {"x": 1}


def test_exec_sign_check_fills_defaults():
    out = Simple().execute(OPIO({"msg": "hi", "foo": Path("f")}))
    assert dict(out) == {"msg": "hi!", "n": 3}


def test_missing_input_message():
    with pytest.raises(TypeError) as e:
        Simple().execute(OPIO({"foo": Path("f")}))
    assert str(e.value) == "Simple: input parameter 'msg' is missing (expected str)"


def test_wrong_input_type_message():
    with pytest.raises(TypeError) as e:
        Simple().execute(OPIO({"msg": 3, "foo": Path("f")}))
    msg = str(e.value)
    assert msg.startswith("Simple: input parameter 'msg': expected str, found int 3")


def test_unexpected_input():
    with pytest.raises(TypeError, match="unexpected input 'zzz'"):
        Simple().execute(OPIO({"msg": "a", "foo": Path("f"), "zzz": 1}))


def test_wrong_output_type():
    class Bad(Simple):
        @OP.exec_sign_check
        def execute(self, op_in):
            return OPIO({"msg": "x", "n": "notint"})

    with pytest.raises(TypeError) as e:
        Bad().execute(OPIO({"msg": "a", "foo": Path("f")}))
    assert "Bad: output parameter 'n': expected int, found str 'notint'" in str(e.value)


def test_bool_not_int():
    with pytest.raises(TypeError, match="expected int, found bool"):
        check_inputs(Simple, {"msg": "a", "num": True, "foo": Path("f")})


def test_artifact_type_validation():
    from typing import Set, Union

    from dflow.python import HDF5Datasets

    # every artifact sign dflow allows (str and Set included), and Optional[...] of them
    for ok in (Path, List[Path], Dict[str, Path], NestedDict[Path], Optional[Path], Optional[List[Path]],
               str, List[str], Set[str], Set[Path], Dict[str, str], NestedDict[str], HDF5Datasets,
               Union[List[Path], HDF5Datasets], Union[str, HDF5Datasets]):
        Artifact(ok)
    with pytest.raises(TypeError) as e:
        Artifact(int)
    assert "Artifact type int is not allowed" in str(e.value)
    assert "List[str|Path]" in str(e.value) and "NestedDict[str|Path]" in str(e.value)
    for bad in (List[int], Dict[int, Path], Union[Path, str]):
        with pytest.raises(TypeError):
            Artifact(bad)
    assert Artifact(Optional[Path]).optional is True


def test_parameter_defaults():
    p = Parameter(int)
    assert p.has_default is False
    p = Parameter(int, default=None)
    assert p.has_default is True and p.default is None
    assert isinstance(BigParameter(dict), Parameter)


def test_sign_fields():
    f = sign_fields(Simple.get_input_sign())
    assert f["msg"] == {"kind": "parameter", "type": "str", "optional": False, "archive": None,
                        "default": None, "has_default": False, "description": None}
    assert f["num"]["default"] == "3" and f["num"]["has_default"] is True
    assert f["foo"]["kind"] == "artifact" and f["foo"]["type"] == "Path"
    assert f["opt"]["optional"] is True


@OP.function
def func_op(msg: str, foo: Artifact(Path), n: int = 2, k: Parameter(int, default=5) = 5) -> {"msg": str, "bar": Artifact(List[Path])}:
    return {"msg": msg * n + str(k), "bar": [Path(foo)]}


def test_function_op_is_class_findable():
    import sys

    assert isinstance(func_op, type) and issubclass(func_op, OP)
    assert func_op.__module__ == __name__
    assert func_op.__qualname__ == "func_op"
    assert sys.modules[__name__].func_op is func_op
    assert list(func_op.get_input_sign()) == ["msg", "foo", "n", "k"]
    assert func_op.get_input_sign()["n"].default == 2
    assert list(func_op.get_output_sign()) == ["msg", "bar"]
    out = func_op().execute(OPIO({"msg": "ab", "foo": Path("x")}))
    assert out["msg"] == "abab5" and out["bar"] == [Path("x")]


def test_function_op_return_opiosign_and_type_error():
    @OP.function
    def f2(x: int) -> OPIOSign({"y": int}):
        return {"y": str(x)}

    with pytest.raises(TypeError) as e:
        f2().execute({"x": 1})
    assert "f2: output parameter 'y': expected int, found str '1'" in str(e.value)


def test_function_op_string_annotations():
    ns = {}
    src = (
        "from __future__ import annotations\n"
        "from pathlib import Path\n"
        "from dflow.python.op import OP\n"
        "from dflow.python.opio import Artifact\n"
        "@OP.function\n"
        "def g(a: int, p: Artifact(Path)) -> {'b': int}:\n"
        "    return {'b': a + 1}\n"
    )
    exec(compile(src, "<g>", "exec"), ns)
    g = ns["g"]
    assert g.get_input_sign()["a"] is int
    assert isinstance(g.get_input_sign()["p"], Artifact)
    assert g().execute({"a": 1, "p": Path("x")})["b"] == 2


def test_progress_hook_called():
    calls = []
    op_module.set_progress_hook(lambda c, t: calls.append((c, t)))
    try:
        class P(Simple):
            progress_total = 10
        p = P()
        p.progress_current = 4
    finally:
        op_module.set_progress_hook(None)
    assert calls == [(4, 10)]


def test_progress_writer_rate_limit(tmp_path):
    w = op_module._ProgressWriter(str(tmp_path / "progress"), interval=10)
    w(1, 10)
    w(2, 10)
    assert (tmp_path / "progress").read_text() == "1/10"
    w.flush()
    assert (tmp_path / "progress").read_text() == "2/10"
    w(10, 10)
    assert (tmp_path / "progress").read_text() == "10/10"
