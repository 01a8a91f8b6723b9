"""Registers the Argo backend with dflow (entry point group ``dflow.backends``), and ``dflow render``."""

from __future__ import annotations

import argparse
import sys

from dflow.plugins import hookimpl, lazy

# imported on first use: the Argo backend's modules cost a run on another backend ~0.1 s it does not need
# (``default_storage`` as the class says: core reads it from the factory)
argo_backend = lazy("dflow_argo.backend:ArgoBackend", default_storage="s3")


@hookimpl
def register_backends(register):  # type: ignore[no-untyped-def]
    # "default" is the mode name of the original dflow for a cluster run
    register("argo", argo_backend, aliases=("default",))


def _configure_render(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="the Python script that builds (and submits) the workflow")
    parser.add_argument("--json", action="store_true", help="JSON instead of YAML")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script")


def _run_render(args: argparse.Namespace) -> int:
    from .render import render_file

    sys.stdout.write(render_file(args.file, fmt="json" if args.json else "yaml", argv=list(args.args)))
    sys.stdout.write("\n")
    return 0


@hookimpl
def register_commands(register):  # type: ignore[no-untyped-def]
    register("render", _configure_render, _run_render,
             help="print the Argo manifest of the workflows a script builds (offline)")
