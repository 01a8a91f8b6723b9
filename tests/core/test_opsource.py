"""The source shipped for an OP of the submitting script: what it needs, nothing else."""

from __future__ import annotations

import textwrap

from dflow.python.opsource import _extract

SCRIPT = textwrap.dedent('''
    import json
    import os as operating_system
    from pathlib import Path
    from dflow import config, s3_config
    from dflow.python import OP, OPIO, OPIOSign

    s3_config["secret_key"] = "do-not-ship-1"
    config["token"] = "do-not-ship-2"
    TOKEN_FOR_SOMETHING_ELSE = "do-not-ship-3"
    SCALE = 2
    opts = "a module-level name the OP's argument shadows"
    print("top-level code")

    def helper(x):
        return x * SCALE + len(json.dumps([x]))

    def unrelated():
        return TOKEN_FOR_SOMETHING_ELSE

    class Base(OP):
        def where(self):
            return operating_system.getcwd()

    class MyOP(Base):
        @classmethod
        def get_input_sign(cls):
            return OPIOSign({"x": int, "opts": dict})

        @classmethod
        def get_output_sign(cls):
            return OPIOSign({"y": int})

        @OP.exec_sign_check
        def execute(self, op_in: OPIO) -> OPIO:
            opts = op_in["opts"]
            total = sum(v for v in [helper(op_in["x"])])
            return OPIO({"y": total + len(opts)})

    @OP.function
    def fn(opts: dict) -> {"n": int}:
        return {"n": len(opts)}

    if __name__ == "__main__":
        MyOP()
''')


def test_a_class_op_ships_with_its_bases_helpers_constants_and_imports():
    got = _extract(SCRIPT, "MyOP")
    for needed in ("import json", "import os as operating_system", "SCALE = 2", "def helper", "class Base(OP)",
                   "class MyOP(Base)", "from dflow.python import OP, OPIO, OPIOSign"):
        assert needed in got, needed
    for absent in ("do-not-ship", "s3_config", "config[", "print(", "def unrelated", "__main__", "a module-level name",
                   "from pathlib"):
        assert absent not in got, absent
    compile(got, "<op>", "exec")


def test_a_function_op_does_not_take_module_names_its_arguments_shadow():
    got = _extract(SCRIPT, "fn")
    assert "def fn(opts: dict)" in got
    assert "a module-level name" not in got and "SCALE" not in got


def test_line_numbers_are_kept():
    got = _extract(SCRIPT, "fn")
    line = 'def fn(opts: dict) -> {"n": int}:'
    assert got.splitlines()[SCRIPT.splitlines().index(line)] == line
