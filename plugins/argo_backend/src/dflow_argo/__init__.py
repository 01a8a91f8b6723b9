"""dflow-argo: compile a dflow WorkflowSpec into an Argo Workflow and run it through Argo Server."""

from __future__ import annotations

from .backend import ArgoBackend
from .client import ArgoClient, ArgoServerError
from .manifest import ManifestCompiler, render_manifest
from .render import render_file

__all__ = ["ArgoBackend", "ArgoClient", "ArgoServerError", "ManifestCompiler", "render_manifest", "render_file"]
