"""Spec 3.2.4 (Upload python packages for development): a local package
directory, not installed, is shipped with the OP by ``python_packages`` and,
globally, by ``upload_packages``.
"""
import sys
from pathlib import Path

from dflow import Step, Workflow, config
from dflow.python import OP, OPIO, OPIOSign, PythonOPTemplate, upload_packages

config["mode"] = "debug"


class UsePackages(OP):
    @classmethod
    def get_input_sign(cls):
        return OPIOSign({"x": int})

    @classmethod
    def get_output_sign(cls):
        return OPIOSign({"y": int, "where": str})

    @OP.exec_sign_check
    def execute(self, op_in):
        import mypkg_dflow_example  # only importable through python_packages

        return OPIO({"y": mypkg_dflow_example.triple(op_in["x"]), "where": mypkg_dflow_example.__file__})


class UseGlobal(OP):
    @classmethod
    def get_input_sign(cls):
        return OPIOSign({"x": int})

    @classmethod
    def get_output_sign(cls):
        return OPIOSign({"y": int})

    @OP.exec_sign_check
    def execute(self, op_in):
        import otherpkg_dflow_example

        return OPIO({"y": otherpkg_dflow_example.VALUE + op_in["x"]})


def make_package(root, name, body):
    d = Path(root) / name
    d.mkdir(parents=True, exist_ok=True)
    (d / "__init__.py").write_text(body)
    return str(d.resolve())


def main():
    pkg = make_package("devpkgs", "mypkg_dflow_example", "def triple(x):\n    return 3 * x\n")
    other = make_package("devpkgs2", "otherpkg_dflow_example", "VALUE = 40\n")
    # the packages are not importable here
    for name in ("mypkg_dflow_example", "otherpkg_dflow_example"):
        assert name not in sys.modules
    try:
        import mypkg_dflow_example  # noqa: F401
        raise AssertionError("the example package should not be importable from the driver")
    except ImportError:
        pass

    upload_packages.append(other)
    try:
        wf = Workflow(name="packages")
        wf.add([
            Step("local", PythonOPTemplate(UsePackages, python_packages=[pkg]), parameters={"x": 5}),
            Step("global", PythonOPTemplate(UseGlobal), parameters={"x": 2}),
        ])
        wf.submit()
    finally:
        upload_packages.remove(other)
    assert wf.query_status() == "Succeeded", [(s.displayName, s.message) for s in wf.query_step()]
    s = wf.query_step(name="local")[0]
    assert s.outputs.parameters["y"].value == 15
    assert "mypkg_dflow_example" in s.outputs.parameters["where"].value
    assert wf.query_step(name="global")[0].outputs.parameters["y"].value == 42
    print("test_python_packages OK")


if __name__ == "__main__":
    main()
