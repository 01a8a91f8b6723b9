"""Registers the local backend with dflow (entry point group ``dflow.backends``)."""

from __future__ import annotations

from dflow.plugins import hookimpl

from .backend import LocalBackend


@hookimpl
def register_backends(register):  # type: ignore[no-untyped-def]
    register("debug", LocalBackend, aliases=("local",))
