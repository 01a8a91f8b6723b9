"""Golden manifests: the normalized Argo manifest of every example, kept in ``golden/`` so a change shows in a diff.

What varies from run to run is normalized: the keys of uploads (random), the keys of
shipped packages (a digest of their files), the packed spec annotation, and in a Python
OP's pod script the payload, which is shown decoded with the OP's source reduced to the
name of its file. Set ``DFLOW_UPDATE_GOLDEN=1`` to write the files anew after an
intended change, then read the diff.
"""

from __future__ import annotations

import copy
import os
import re
from typing import Any, Dict

import yaml

from dflow_argo.manifest import SPEC_ANNOTATION
from dflow_argo.podscript import decode_payload

GOLDEN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
_UPLOAD = re.compile(r"upload/[0-9a-f]{32}")
_PACKAGE = re.compile(r"dflow/packages/([^/]+?)-[0-9a-f]{16}\.tgz")


def _text(s: str, workdir: str) -> str:
    if workdir:
        s = s.replace(workdir, "<workdir>")
    return _PACKAGE.sub(r"dflow/packages/\1-<digest>.tgz", _UPLOAD.sub("upload/<random>", s))


def _walk(node: Any, workdir: str) -> Any:
    if isinstance(node, dict):
        return {k: _walk(v, workdir) for k, v in node.items()}
    if isinstance(node, list):
        return [_walk(v, workdir) for v in node]
    if isinstance(node, str):
        return _text(node, workdir)
    return node


def normalize(manifest: Dict[str, Any], workdir: str = "") -> Dict[str, Any]:
    """The manifest with what varies between runs replaced by stable placeholders."""
    m = copy.deepcopy(manifest)
    annotations = m.get("metadata", {}).get("annotations", {})
    if SPEC_ANNOTATION in annotations:
        annotations[SPEC_ANNOTATION] = "<the WorkflowSpec, packed>"
    for t in m.get("spec", {}).get("templates", []):
        script = t.get("script") or {}
        source = script.get("source", "")
        if source.startswith("P = "):
            payload = decode_payload(source)
            op = payload.get("op", {})
            if op.get("source"):
                op["source"] = f"<{len(op['source'].splitlines())} lines of {os.path.basename(op.get('source_file') or '')}>"
            if op.get("source_file"):
                op["source_file"] = os.path.basename(op["source_file"])
            script["source"] = {"dflow payload": payload}
    return _walk(m, workdir)


def golden_path(example: str) -> str:
    return os.path.join(GOLDEN_DIR, os.path.splitext(os.path.basename(example))[0] + ".yaml")


def compare(example: str, manifest: Dict[str, Any], workdir: str = "") -> None:
    """Assert that ``manifest`` matches the example's golden file (or write it under DFLOW_UPDATE_GOLDEN=1).

    ``workdir``: the directory the example ran in (its paths become ``<workdir>``).
    """
    got = yaml.safe_dump(normalize(manifest, workdir), sort_keys=False, width=120)
    path = golden_path(example)
    if os.environ.get("DFLOW_UPDATE_GOLDEN"):
        os.makedirs(GOLDEN_DIR, exist_ok=True)
        with open(path, "w") as f:
            f.write(got)
        return
    assert os.path.exists(path), f"no golden manifest {path}; write it with DFLOW_UPDATE_GOLDEN=1 and read it"
    with open(path) as f:
        want = f.read()
    if got != want:
        import difflib

        diff = "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True), "golden", "rendered", n=2))
        raise AssertionError(f"the manifest of {os.path.basename(example)} changed (DFLOW_UPDATE_GOLDEN=1 writes it):\n"
                             + diff[:6000])
