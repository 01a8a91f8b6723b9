"""Errors a Python OP raises to tell the runtime how its failure should be treated.

Standard library only, Python 3.8+: this file runs inside users' images.
"""

from __future__ import annotations

__all__ = ["TransientError", "FatalError"]


class TransientError(Exception):
    """A failure that may go away when the step is run again (exit code 3, retried)."""


class FatalError(Exception):
    """A failure that retrying cannot fix (exit code 1, never retried)."""
