"""Unit tests: each OP called directly, as the step runtime calls it, without a workflow."""

from pathlib import Path

import pytest
from dflow.python import OPIO, FatalError

from {{ cookiecutter.module_name }}.ops import (
    Summarize,
    read_values,
    scale_values,
)


def test_scale_values_writes_the_scaled_values_and_their_sum(workdir):
    out = scale_values().execute(OPIO(values=[1.0, 2.0, 4.5], factor=2.0))
    assert out["total"] == 15.0
    assert read_values(out["data"]) == [2.0, 4.0, 9.0]


def test_scale_values_factor_defaults_to_one(workdir):
    out = scale_values().execute(OPIO(values=[3.0]))
    assert out["total"] == 3.0


def test_scale_values_refuses_inputs_of_the_wrong_type(workdir):
    with pytest.raises(TypeError, match="values"):
        scale_values().execute(OPIO(values=["one", "two"]))


def test_summarize_counts_and_averages(workdir):
    data = Path("data.txt")
    data.write_text("1\n2\n\n3\n4\n")
    out = Summarize().execute(OPIO(data=data, bins=2))
    assert out["count"] == 4
    assert out["mean"] == pytest.approx(2.5)
    assert out["stdev"] == pytest.approx(1.25**0.5)
    counts = [int(line.split()[2]) for line in out["histogram"].read_text().splitlines()]
    assert counts == [2, 2]


def test_summarize_of_equal_values_puts_them_in_one_bin(workdir):
    data = Path("data.txt")
    data.write_text("7\n7\n7\n")
    out = Summarize().execute(OPIO(data=data))  # bins takes its default, 5
    counts = [int(line.split()[2]) for line in out["histogram"].read_text().splitlines()]
    assert counts == [3, 0, 0, 0, 0]
    assert out["stdev"] == 0.0


@pytest.mark.parametrize(
    ("text", "bins", "message"),
    [
        ("", 5, "holds no numbers"),
        ("1\nabc\n", 5, "line 2: 'abc' is not a number"),
        ("1\n", 0, "bins must be at least 1"),
    ],
    ids=["empty", "not-a-number", "no-bins"],
)
def test_summarize_fails_for_good_on_bad_input(workdir, text, bins, message):
    data = Path("data.txt")
    data.write_text(text)
    with pytest.raises(FatalError, match=message):
        Summarize().execute(OPIO(data=data, bins=bins))


def test_signs_name_every_input_and_output():
    assert Summarize.get_opio_info(Summarize.get_input_sign()) == {
        "data": "artifact Path",
        "bins": "parameter int",
    }
    assert set(Summarize.get_output_sign()) == {"count", "mean", "stdev", "histogram"}
    assert set(scale_values.get_input_sign()) == {"values", "factor"}
    assert set(scale_values.get_output_sign()) == {"data", "total"}
