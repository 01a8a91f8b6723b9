"""A Python OP step inside a container: from the container file contract to the step runtime.

Standard library only, Python 3.8+: a cluster backend ships core's ``dflow`` package into
the pod and its script calls :func:`run_in_container` with a payload (compressed JSON in
base64, so template engines never touch the OP's source). The pod follows Argo's
executor contract: input artifacts are at ``/tmp/inputs/artifacts/NAME``, output
parameters are read from ``/tmp/outputs/parameters/NAME`` and output artifacts from
``/tmp/outputs/artifacts/NAME``. Parameter values arrive as environment variables
``DFLOW_P0``, ``DFLOW_P1``, ... (in the payload's order), which no quoting can break.
``DFLOW_SANDBOX_ROOT`` (unset in a pod) prefixes every such path, so tests run the very
same code in a temporary directory.

What this adds to :func:`dflow.runtime.run_task`, once for every container backend:
unpacking an uploaded artifact's tarball (safely), merging the parts of a gathered
artifact, cutting sub-path slices to this pod's item, running an executor's rewritten
script instead of the runtime stub, and the ``dflow_success`` flag of a slice.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zlib
from typing import Any, Dict, List, Optional

from dflow.contract import (
    ARCHIVE_OBJECT,
    PYTHON_OP_SCRIPT,
    SUCCESS_PARAMETER,
    TASK_ENV,
    merge_stacked,
    read_catalog,
    slice_item,
    slice_parameter,
)
from dflow.contract import slice_index as contract_slice_index

__all__ = ["encode_payload", "decode_payload", "container_task", "run_in_container", "PKG_DIR", "PACKAGES_DIR",
           "PARAMETERS_DIR"]

#: where the pod finds core's ``dflow`` package, and the OPs' ``python_packages``
PKG_DIR = "/tmp/dflow-pkg"
PACKAGES_DIR = "/tmp/dflow-packages"
#: where a pod finds the values of its BigParameter inputs, one file each (``<dir>/<i>``): an
#: environment string is limited to 128 KiB, a file (an artifact of raw data) is not
PARAMETERS_DIR = "/tmp/dflow-parameters"


def encode_payload(payload: Dict[str, Any]) -> str:
    """The payload as text safe in any template: compressed JSON in base64."""
    data = zlib.compress(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8"), 9)
    return base64.b64encode(data).decode("ascii")


def decode_payload(text: str) -> Dict[str, Any]:
    return json.loads(zlib.decompress(base64.b64decode(text)).decode("utf-8"))


def _unpack(path: str) -> None:
    """An uploaded artifact fetched as a directory holding its one tarball: unpack it in place, safely."""
    packed = os.path.join(path, ARCHIVE_OBJECT)
    if os.path.isfile(packed):
        from dflow.contract import safe_extract

        with tarfile.open(packed) as tf:
            safe_extract(tf, path)
        os.unlink(packed)


def _cut_artifact(path: str, index: int, dst_root: str, name: str) -> Optional[str]:
    """Item ``index`` of the artifact at ``path``, copied to its own place; returns that place
    (None when the artifact has no such item: the slice gets no artifact, as in dflow)."""
    items = read_catalog(path) or [{"index": None, "path": n}
                                   for n in sorted(os.listdir(path)) if not n.startswith(".")]
    item = slice_item(items, index)
    if item is None or item.get("path") is None:
        sys.stderr.write("dflow: sliced input artifact %r has no item %d; the slice gets none\n" % (name, index))
        return None
    rel = item["path"]
    dst = os.path.join(dst_root, name, rel)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    src = os.path.join(path, rel)
    (shutil.copytree if os.path.isdir(src) else shutil.copy2)(src, dst)
    return os.path.join(dst_root, name, rel)


def container_task(payload: Dict[str, Any], root: str = "") -> Dict[str, Any]:
    """The step runtime's task for this pod (``root``: the sandbox prefix of every path)."""
    params: Dict[str, Dict[str, Any]] = {}
    for i, (name, tp) in enumerate(payload["parameters"]):
        text = os.environ.get("DFLOW_P%d" % i)
        if text is None and os.path.isfile("%s%s/%d" % (root, PARAMETERS_DIR, i)):
            with open("%s%s/%d" % (root, PARAMETERS_DIR, i), newline="") as f:
                text = f.read()
        if text is not None:
            # Argo carries a parameter's text, not its writer's record of the type: ``tp`` is declared
            params[name] = {"text": text, "type": tp, "declared_only": True}
    slices = payload.get("slices")
    slice_index = None
    raw = os.environ.get("DFLOW_SLICE", "")
    if slices is not None and raw != "":
        slice_index = contract_slice_index(raw)
    arts: Dict[str, Dict[str, Optional[str]]] = {}
    for name in payload["artifacts"]:
        path = root + "/tmp/inputs/artifacts/" + name
        if os.path.isdir(path):
            _unpack(path)
            merge_stacked(path)
        arts[name] = {"path": path if os.path.exists(path) else None}
    if slice_index is not None and slices.get("sub_path"):
        # sub-path slices: this pod gets item <slice_index> of each sliced input, on its own
        for name in slices.get("input_parameter") or []:
            if name in params:
                text, tp = slice_parameter(params[name]["text"], params[name]["type"], slice_index)
                params[name] = {"text": text, "type": tp, "declared_only": True}
        for name in slices.get("input_artifact") or []:
            d = arts.get(name, {}).get("path")
            if d and os.path.isdir(d):
                cut = _cut_artifact(d, slice_index, root + "/tmp/inputs/slices", name)
                arts[name] = {"path": cut} if cut is not None else {"path": None}
    return {
        "op": payload["op"], "slices": slices, "slice_index": slice_index,
        "inputs": {"parameters": params, "artifacts": arts},
        "outputs_dir": root + "/tmp/outputs", "workdir": root + "/tmp/workdir",
        "progress_file": os.environ.get("ARGO_PROGRESS_FILE") or (root + "/tmp/dflow-progress"),
        "python_paths": [root + p for p in payload.get("python_paths") or []],
        "step": {"name": os.environ.get("DFLOW_STEP") or None, "key": os.environ.get("DFLOW_KEY") or None,
                 "workflow": os.environ.get("DFLOW_WORKFLOW") or None},
    }


def _run_script(task: Dict[str, Any], script: str, command: List[str], root: str) -> int:
    """Run an executor's rewritten script (or command) for the task, as a child process."""
    base = root + "/tmp/dflow-task"
    os.makedirs(base, exist_ok=True)
    task_file = os.path.join(base, "task.json")
    with open(task_file, "w") as f:
        json.dump(task, f)
    script_file = os.path.join(base, "script")
    with open(script_file, "w") as f:
        f.write(script)
    env = dict(os.environ)
    env[TASK_ENV] = task_file
    pkg = root + PKG_DIR
    env["PYTHONPATH"] = os.pathsep.join(p for p in (pkg, env.get("PYTHONPATH")) if p)
    return subprocess.call(list(command) + [script_file], env=env)


def run_in_container(encoded: str) -> None:
    """Run the step the payload describes and exit with its code (never returns)."""
    root = os.environ.get("DFLOW_SANDBOX_ROOT", "")
    payload = decode_payload(encoded)
    task = container_task(payload, root)
    script = payload.get("script")
    if script is None or script == PYTHON_OP_SCRIPT:
        from dflow.runtime import run_task

        code = run_task(task)
    else:
        code = _run_script(task, script, payload.get("command") or ["python3"], root)
    if payload.get("success_flag"):
        pdir = os.path.join(root + "/tmp/outputs", "parameters")
        os.makedirs(pdir, exist_ok=True)
        with open(os.path.join(pdir, SUCCESS_PARAMETER), "w") as f:
            f.write("1" if code == 0 else "0")
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(code)
