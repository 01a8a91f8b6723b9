"""Registers ``dflow ui`` (entry-point group ``dflow.commands``)."""

from __future__ import annotations

from dflow.plugins import hookimpl

from .serve import configure, run


@hookimpl
def register_commands(register):  # type: ignore[no-untyped-def]
    """Add ``dflow ui``."""
    register("ui", configure, run,
             help="serve a page on 127.0.0.1 to watch and steer runs (prints its URL with a token)")
