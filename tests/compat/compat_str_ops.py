"""An OP with an ``Artifact(str)`` sign, in its own module: importing it fails while cause C01 stands."""

from dflow.python import OP, Artifact


@OP.function
def kind_of(f: Artifact(str)) -> {"kind": str}:
    return {"kind": type(f).__name__}
