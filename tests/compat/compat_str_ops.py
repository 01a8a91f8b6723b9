"""An OP with an ``Artifact(str)`` sign, in its own module: importing it fails while cause C01 stands."""

import os

from dflow.python import OP, Artifact


@OP.function
def kind_of(f: Artifact(str)) -> {"kind": str}:
    # the OP gets the path as text: a str (as in dflow, of a subclass of str carrying art_root)
    return {"kind": "str" if isinstance(f, str) and os.path.isfile(f) and f.art_root else type(f).__name__}
