"""The OPs of {{ cookiecutter.package_name }}.

An OP is one unit of work of a workflow step: typed inputs in, typed outputs out.
Parameters are small JSON-able values; artifacts are files, passed as paths. The
signs are checked before and after every run, on this machine and on a cluster alike.

* :class:`Summarize` is a class OP: a subclass of ``OP`` with ``get_input_sign``,
  ``get_output_sign`` and ``execute``.
* :func:`scale_values` is a function OP: ``@OP.function`` makes an OP class from
  the annotations of a plain function, its return annotation naming the outputs.

``pyproject.toml`` lists this module in the ``dflow.ops`` entry-point group, so
``dflow ops {{ cookiecutter.module_name }}`` shows every OP named in ``__all__``.
"""

import math
from pathlib import Path

from dflow.python import OP, OPIO, Artifact, FatalError, OPIOSign, Parameter

__all__ = ["Summarize", "scale_values"]


def read_values(path: Path) -> list:
    """The numbers in the text file ``path``, one per line (blank lines skipped)."""
    values = []
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            values.append(float(line))
        except ValueError:
            # not worth a retry: the same input fails the same way
            raise FatalError(f"{path}, line {number}: {line.strip()!r} is not a number") from None
    return values


class Summarize(OP):
    """Count, mean and standard deviation of a file of numbers, and a text histogram of them."""

    @classmethod
    def get_input_sign(cls) -> OPIOSign:
        return OPIOSign(
            {
                "data": Artifact(Path),
                "bins": Parameter(int, default=5, description="number of histogram bins"),
            }
        )

    @classmethod
    def get_output_sign(cls) -> OPIOSign:
        return OPIOSign(
            {
                "count": int,
                "mean": float,
                "stdev": float,
                "histogram": Artifact(Path),
            }
        )

    @OP.exec_sign_check
    def execute(self, op_in: OPIO) -> OPIO:
        values = read_values(op_in["data"])
        bins = op_in["bins"]
        if not values:
            raise FatalError(f"{op_in['data']} holds no numbers")
        if bins < 1:
            raise FatalError(f"bins must be at least 1, found {bins}")
        mean = math.fsum(values) / len(values)
        stdev = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / len(values))
        histogram = Path("histogram.txt")
        histogram.write_text(text_histogram(values, bins))
        return OPIO({"count": len(values), "mean": mean, "stdev": stdev, "histogram": histogram})


def text_histogram(values: list, bins: int) -> str:
    """One line per bin: its lower and upper edge, the count and a bar of ``#``."""
    low, high = min(values), max(values)
    width = (high - low) / bins or 1.0  # all values equal: one bin of width 1 holds them
    counts = [0] * bins
    for v in values:
        counts[min(int((v - low) / width), bins - 1)] += 1
    return "".join(
        f"{low + i * width:10.4g} {low + (i + 1) * width:10.4g} {n:6d} {'#' * n}\n"
        for i, n in enumerate(counts)
    )


@OP.function
def scale_values(
    values: list[float],
    factor: float = 1.0,
) -> OPIOSign({"data": Artifact(Path), "total": float}):
    """Multiply ``values`` by ``factor``; write them to a file, one per line, and return their sum.

    The return annotation names the outputs. It is written as ``OPIOSign({...})``
    rather than a bare dict so that linters do not read the output names as
    forward references.
    """
    scaled = [v * factor for v in values]
    data = Path("values.txt")
    data.write_text("".join(f"{v!r}\n" for v in scaled))
    return {"data": data, "total": math.fsum(scaled)}
