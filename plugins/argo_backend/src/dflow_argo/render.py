"""``dflow render FILE.py``: the Argo manifest of the workflow a user script builds, offline.

The script runs as ``__main__`` (as ``python FILE.py`` would run it) until it calls
``Workflow.submit()``; that call is stopped before anything is submitted and the
workflow is rendered instead. A script that never submits has its last module-level
``Workflow`` rendered.
"""

from __future__ import annotations

import os
import runpy
import sys
from typing import Any, Dict, List, Optional

from dflow.storage import ArtifactLocation, LocalStorageClient, StorageClient

__all__ = ["render_file", "render_workflow", "to_yaml", "CapturedSubmit", "main"]


class CapturedSubmit(BaseException):
    """Raised in place of a submission while rendering; a ``BaseException`` so user ``except Exception`` lets it pass."""

    def __init__(self, workflow: Any, manifest: Dict[str, Any]) -> None:
        super().__init__("workflow captured for rendering")
        self.workflow = workflow
        self.manifest = manifest


def render_workflow(workflow: Any) -> Dict[str, Any]:
    """The manifest of a user ``Workflow`` object (compiled, then rendered by the Argo backend)."""
    from .backend import ArgoBackend

    return ArgoBackend().render(workflow.compile())


def render_file(path: str, fmt: str = "yaml", argv: Optional[List[str]] = None) -> str:
    """Run the user script ``path`` up to its ``submit()`` and return the manifest as YAML (or ``fmt="json"``).

    Nothing is submitted and no Argo Server is contacted.
    """
    import json

    from dflow.errors import ValidationError
    from dflow.settings import s3_config
    from dflow.workflow import Workflow

    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise ValidationError(f"dflow render: {path} is not a file; give the Python script that builds the workflow")
    original = Workflow.submit

    def capture(self: Any, *args: Any, **kwargs: Any) -> Any:
        # compile now: OPs defined in the script are found in ``__main__`` only while it runs
        raise CapturedSubmit(self, render_workflow(self))

    saved_argv, saved_path, saved_main = list(sys.argv), list(sys.path), sys.modules.get("__main__")
    manifest = None
    import tempfile

    # upload_artifact() in the script computes its key as usual, but the bytes stay in a
    # scratch directory on this machine: the manifest only names keys, where the configured
    # store would have them
    scratch = tempfile.TemporaryDirectory(prefix="dflow-render-")
    saved_storage = s3_config.get("storage_client")
    s3_config["storage_client"] = _ScratchStore(scratch.name, _configured_store())
    Workflow.submit = capture  # type: ignore[method-assign]
    sys.argv = [path] + list(argv or [])
    sys.path.insert(0, os.path.dirname(path))
    try:
        try:
            namespace = runpy.run_path(path, run_name="__main__")
        except CapturedSubmit as c:
            manifest = c.manifest
        else:
            found = [v for v in namespace.values() if isinstance(v, Workflow)]
            if not found:
                raise ValidationError(
                    f"dflow render: {path} neither submits a workflow nor defines one at module level; "
                    "end the script with wf.submit() or keep the Workflow in a global variable"
                )
            manifest = render_workflow(found[-1])
    finally:
        Workflow.submit = original  # type: ignore[method-assign]
        s3_config["storage_client"] = saved_storage
        scratch.cleanup()
        sys.argv, sys.path[:] = saved_argv, saved_path
        if saved_main is not None:
            sys.modules["__main__"] = saved_main
    if fmt == "json":
        return json.dumps(manifest, indent=2)
    return to_yaml(manifest)


def _configured_store() -> Optional[StorageClient]:
    """The store the manifest's artifacts will be in, made offline; None when it cannot be made here."""
    from dflow.artifact import get_storage_client

    try:
        return get_storage_client()
    except Exception:  # noqa: BLE001 - a store whose plugin is missing: key-only locations
        return None


class _ScratchStore(LocalStorageClient):
    """Keeps what a rendered script uploads on this machine, and names it as the configured store would."""

    def __init__(self, root: str, configured: Optional[StorageClient]) -> None:
        super().__init__(root=root)
        self._configured = configured

    def local_path(self, key: str) -> Optional[str]:
        return None  # behave as a remote store: uploads are packed as they will be at submission

    def artifact_location(self, key: str) -> ArtifactLocation:
        if self._configured is not None:
            try:
                return self._configured.artifact_location(key)
            except Exception:  # noqa: BLE001 - a store a cluster cannot reach: the default repository
                pass
        # the cluster's default artifact repository (S3-compatible, as dflow's default)
        return ArtifactLocation("s3", {"key": key})


def to_yaml(manifest: Dict[str, Any]) -> str:
    """YAML of a manifest, multi-line scripts as literal blocks so they read as code."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: Any, data: str) -> Any:
        if "\n" in data and not any(line != line.rstrip() for line in data.split("\n")):
            return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
        return dumper.represent_scalar("tag:yaml.org,2002:str", data)

    Dumper.add_representer(str, text)
    return yaml.dump(manifest, Dumper=Dumper, sort_keys=False, width=120)


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m dflow_argo FILE.py [--json]``: print the manifest (what ``dflow render`` calls)."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="dflow render", description="Print the Argo manifest of a workflow script, offline."
    )
    parser.add_argument("file")
    parser.add_argument("--json", action="store_true", help="JSON instead of YAML")
    args, rest = parser.parse_known_args(argv)
    sys.stdout.write(render_file(args.file, fmt="json" if args.json else "yaml", argv=rest))
    sys.stdout.write("\n")
    return 0
