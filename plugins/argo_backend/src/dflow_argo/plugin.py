"""Registers the Argo backend with dflow (entry point group ``dflow.backends``)."""

from __future__ import annotations

from dflow.plugins import hookimpl

from .backend import ArgoBackend


@hookimpl
def register_backends(register):  # type: ignore[no-untyped-def]
    # "default" is the mode name of the original dflow for a cluster run
    register("argo", ArgoBackend, aliases=("default",))
