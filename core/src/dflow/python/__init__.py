"""Python OPs: ``OP``, ``OPIO``, signs, ``PythonOPTemplate`` and ``Slices``.

``OP``, ``OPIO``, ``OPIOSign``, ``Artifact``, ``Parameter``, ``BigParameter``,
``NestedDict``, ``TransientError`` and ``FatalError`` need only the standard
library (they run inside step containers); ``PythonOPTemplate`` and ``Slices``
are loaded on first use.
"""

from __future__ import annotations

from .._exports import lazy_exports
from ._errors import FatalError, TransientError
from .op import OP
from .opio import OPIO, Artifact, BigParameter, HDF5Dataset, HDF5Datasets, NestedDict, OPIOSign, Parameter

_LAZY = {"PythonOPTemplate": "python_op_template", "Slices": "python_op_template", "upload_packages": "python_op_template"}

__all__ = [
    "OP", "OPIO", "OPIOSign", "Artifact", "Parameter", "BigParameter", "NestedDict", "HDF5Datasets", "HDF5Dataset",
    "TransientError", "FatalError", "PythonOPTemplate", "Slices", "upload_packages",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
