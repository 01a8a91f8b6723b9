"""Function OPs in each return form dflow reads, and superfunctions: promises of the conformance suite.

Mixed into :class:`dflow.testing.backend.BackendConformance` (every backend runs them).
dflow reads an ``@OP.function``'s return annotation as a dict of outputs, one type (the
output ``dflow_output``), ``typing.Tuple[...]`` (``dflow_output_0``, ...) or a
``NamedTuple`` (its fields), and ``@OP.superfunction`` makes a DAG of the OPs a function
calls; code written so must run the same on every backend.
"""

from pathlib import Path
from typing import NamedTuple, Tuple

import dflow
from dflow.python import OP, Artifact

__all__ = ["FunctionChecks"]


@OP.function
def add(a: int, b: int) -> int:
    return a + b


@OP.function
def digits(n: int) -> Tuple[int, int]:
    """The tens and the units of ``n``."""
    return n // 10, n % 10


class Halves(NamedTuple):
    low: int
    high: int


@OP.function
def halves(n: int) -> Halves:
    return Halves(n // 2, n - n // 2)


@OP.function
def write(text: str) -> Artifact(Path):  # type: ignore[valid-type]
    Path("note.txt").write_text(text)
    return Path("note.txt")


@OP.function
def read(f: Artifact(Path), suffix: str = "") -> str:  # type: ignore[valid-type]
    return f.read_text() + suffix


@OP.superfunction
def digit_sum(n: int, extra: int = 0) -> {"sum": int, "note": Artifact(Path), "constant": int,
                                          "echo": int}:
    """The sum of the digits of ``n``, plus ``extra``; a note; a constant; ``n`` itself."""
    tens, units = digits(n=n)
    total = add(a=add(a=tens, b=units), b=extra)
    return {"sum": total, "note": write(text="digits of {{inputs.parameters.n}}"), "constant": 7, "echo": n}


@OP.superfunction(parallelism=1)
def twice(n: int) -> int:
    """A superfunction calling another: ``digit_sum(n)`` plus its constant."""
    first = digit_sum(n=n)
    return add(a=first["sum"], b=first["constant"])


class FunctionChecks:
    """Tests using the helpers of :class:`~dflow.testing.backend.BackendConformance` (``run``, ``one``)."""

    def test_function_ops_return_one_value_a_tuple_or_a_named_tuple(self) -> None:
        """``-> int`` is the output ``dflow_output``, and a call in a block gives it alone; ``Tuple[int, int]``
        (``dflow_output_0``, ``_1``) and a ``NamedTuple`` (its fields) give a tuple, as in dflow."""
        with dflow.DAG("forms") as dag:
            low, high = halves(n=27)
            tens, units = digits.use(key="digits")(n=add(a=low, b=high))
            add.use(key="sum")(a=tens, b=units)
            read.use(key="read")(f=write(text="hello"), suffix="!")
        wf = dflow.Workflow("function-forms", dag=dag)
        self.run(wf)  # type: ignore[attr-defined]
        got = self.one(wf, key="digits").outputs.parameters  # type: ignore[attr-defined]
        assert (got["dflow_output_0"].value, got["dflow_output_1"].value) == (2, 7), got  # 13 + 14
        assert self.one(wf, key="sum").outputs.parameters["dflow_output"].value == 9  # type: ignore[attr-defined]
        assert self.one(wf, key="read").outputs.parameters["dflow_output"].value == "hello!"  # type: ignore[attr-defined]

    def test_a_superfunction_is_a_dag_of_the_ops_it_calls(self) -> None:
        """``@OP.superfunction`` makes a DAG: its inputs are the function's (defaults included), each OP it
        calls is a task, and what it returns names its outputs (a task's output, an input, a constant). It is
        a template (``Task(template=digit_sum)``) and may be called in a block, also inside another."""
        first = dflow.Task("first", template=digit_sum, parameters={"n": 38})
        with dflow.DAG("calls") as dag:
            dag.add(first)
            called = digit_sum.use(key="called")(n=first.outputs.parameters["sum"], extra=100)
            twice.use(key="twice")(n=called["echo"])
            read.use(key="read")(f=called["note"])
        wf = dflow.Workflow("superfunction", dag=dag)
        self.run(wf)  # type: ignore[attr-defined]
        out = self.one(wf, name="first").outputs.parameters  # type: ignore[attr-defined]
        assert (out["sum"].value, out["constant"].value, out["echo"].value) == (11, 7, 38), out
        out = self.one(wf, key="called").outputs.parameters  # type: ignore[attr-defined]
        assert (out["sum"].value, out["echo"].value) == (102, 11), out  # 1 + 1 + 100
        assert self.one(wf, key="twice").outputs.parameters["dflow_output"].value == 9  # type: ignore[attr-defined]
        assert self.one(wf, key="read").outputs.parameters["dflow_output"].value == "digits of 11"  # type: ignore[attr-defined]
