"""Python OPs: ``OP``, ``OPIO``, signs, ``PythonOPTemplate`` and ``Slices``.

``OP``, ``OPIO``, ``OPIOSign``, ``Artifact``, ``Parameter``, ``BigParameter``,
``NestedDict``, ``TransientError`` and ``FatalError`` need only the standard
library (they run inside step containers); ``PythonOPTemplate`` and ``Slices``
are loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._errors import FatalError, TransientError
from .op import OP
from .opio import OPIO, Artifact, BigParameter, HDF5Dataset, HDF5Datasets, NestedDict, OPIOSign, Parameter

_LAZY = {"PythonOPTemplate": "python_op_template", "Slices": "python_op_template", "upload_packages": "python_op_template"}

__all__ = [
    "OP", "OPIO", "OPIOSign", "Artifact", "Parameter", "BigParameter", "NestedDict", "HDF5Datasets", "HDF5Dataset",
    "TransientError", "FatalError", "PythonOPTemplate", "Slices", "upload_packages",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dflow.python' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
