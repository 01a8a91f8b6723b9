"""OPs and a class of their values for the dpgen2-pattern regression tests (an importable module:
objects of its classes travel pickled between steps, as dpgen2's reports and schedulers do)."""

from pathlib import Path
from typing import List, Union

from dflow.python import OP, OPIO, Artifact, BigParameter, HDF5Datasets, OPIOSign, Parameter


class Report:
    def __init__(self, n: int) -> None:
        self.n = n


class SubReport(Report):
    """What an OP returns where its sign says ``Report``."""


@OP.function
def make_report(n: int) -> {"r": BigParameter(Report)}:
    return {"r": SubReport(n)}


@OP.function
def read_config(config: BigParameter(dict)) -> {"n": int}:
    return {"n": config["obj"].n}


@OP.function
def maybe_report(r: Parameter(Report)) -> {"got": str}:
    return {"got": "none" if r is None else str(r.n)}


@OP.function
def count_union(files: Artifact(Union[List[Path], HDF5Datasets])) -> {"n": int}:
    return {"n": len(files)}


@OP.function
def read_or_none(f: Artifact(Path)) -> {"text": str}:
    return {"text": "none" if f is None else Path(f).read_text()}


class Scaled(OP):
    """An OP built with an argument: ``PythonOPTemplate(Scaled(3))``."""

    def __init__(self, factor: int) -> None:
        self.factor = factor

    @classmethod
    def get_input_sign(cls):
        return OPIOSign({"x": int})

    @classmethod
    def get_output_sign(cls):
        return OPIOSign({"y": int})

    @OP.exec_sign_check
    def execute(self, op_in):
        return OPIO({"y": self.factor * op_in["x"]})
