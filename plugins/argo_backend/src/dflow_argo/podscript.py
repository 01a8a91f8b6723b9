"""The script an Argo pod runs for a Python OP: a small bootstrap handing over to core's step runtime.

The bootstrap is the same text for every template; only its payload (the OP's location,
its slices and the names and types of its inputs, as compressed JSON in base64) differs.
Base64 keeps the payload free of ``{{`` so Argo's template substitution never touches
an OP's source code, and free of quotes so no escaping is needed.

Parameter values reach the pod as environment variables (``DFLOW_P0``, ``DFLOW_P1``, ...
whose values are ``{{inputs.parameters.NAME}}``): Argo substitutes them without any
quoting problem, whatever the text holds.

Paths follow Argo's executor contract: input artifacts are placed at
``/tmp/inputs/artifacts/NAME``, output parameters are read from
``/tmp/outputs/parameters/NAME`` and output artifacts from ``/tmp/outputs/artifacts/NAME``;
the dflow package (core's ``dflow`` source, an input artifact) is at ``/tmp/dflow-pkg/dflow``.
``DFLOW_SANDBOX_ROOT`` (unset in a pod) prefixes every such path, so tests can run the
very same script in a temporary directory.
"""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any, Dict

__all__ = ["BOOTSTRAP", "pod_script", "decode_payload", "PKG_DIR", "PACKAGES_DIR", "SUCCESS_PARAMETER"]

PKG_DIR = "/tmp/dflow-pkg"
PACKAGES_DIR = "/tmp/dflow-packages"
SUCCESS_PARAMETER = "dflow_success"

# Python 3.8+, standard library only: this runs inside the user's image.
BOOTSTRAP = r"""
import base64, json, os, shutil, sys, uuid, zlib
R = os.environ.get("DFLOW_SANDBOX_ROOT", "")
T = json.loads(zlib.decompress(base64.b64decode(P)).decode("utf-8"))
sys.path.insert(0, R + T["pkg_dir"])
from dflow.runtime import run_task
params = {}
for i, (name, tp) in enumerate(T["parameters"]):
    text = os.environ.get("DFLOW_P%d" % i)
    if text is not None:
        params[name] = {"text": text, "type": tp}
slice_index = None
raw = os.environ.get("DFLOW_SLICE", "")
if T["slices"] is not None and raw != "":
    slice_index = int(json.loads(raw))
arts = {}
for name in T["artifacts"]:
    path = R + "/tmp/inputs/artifacts/" + name
    packed = os.path.join(path, "dflow-archive.tgz")
    if os.path.isfile(packed):  # an upload_artifact() tarball fetched as a directory
        import tarfile
        with tarfile.open(packed) as tf:
            tf.extractall(path)
        os.unlink(packed)
    arts[name] = {"path": path if os.path.exists(path) else None}
if slice_index is not None and T["slices"].get("sub_path"):
    # sub-path slices: this pod gets item <slice_index> of each sliced input, on its own
    for name in T["slices"].get("input_parameter", []):
        if name in params:
            v = json.loads(params[name]["text"])[slice_index]
            params[name] = {"text": v, "type": "str"} if isinstance(v, str) else {"text": json.dumps(v), "type": None}
    for name in T["slices"].get("input_artifact", []):
        d = arts.get(name, {}).get("path")
        if not d or not os.path.isdir(d):
            continue
        items = []
        cat = os.path.join(d, ".dflow")
        for fn in sorted(os.listdir(cat)) if os.path.isdir(cat) else []:
            with open(os.path.join(cat, fn)) as f:
                items.extend(json.load(f))
        items.sort(key=lambda c: (c.get("index") is None, c.get("index") or 0))
        rel = ([c["path"] for c in items if c.get("index") == slice_index] or [c["path"] for c in items] or
               sorted(e for e in os.listdir(d) if e != ".dflow"))
        rel = rel[0] if [c for c in items if c.get("index") == slice_index] else rel[slice_index]
        dst = os.path.join(R + "/tmp/inputs/slices", name, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        (shutil.copytree if os.path.isdir(os.path.join(d, rel)) else shutil.copy2)(os.path.join(d, rel), dst)
        arts[name] = {"path": dst}
out = R + "/tmp/outputs"
task = {
    "op": T["op"], "slices": T["slices"], "slice_index": slice_index,
    "inputs": {"parameters": params, "artifacts": arts},
    "outputs_dir": out, "workdir": R + "/tmp/workdir",
    "progress_file": os.environ.get("ARGO_PROGRESS_FILE") or (R + "/tmp/dflow-progress"),
    "python_paths": [R + p for p in T["python_paths"]],
    "step": {"name": os.environ.get("DFLOW_STEP") or None, "key": os.environ.get("DFLOW_KEY") or None,
             "workflow": os.environ.get("DFLOW_WORKFLOW") or None},
}
code = run_task(task)
if code == 0 and slice_index is not None:
    s = T["slices"]
    if not s.get("group_size"):
        # one slice per pod: its sliced outputs become single values, so Argo's
        # aggregation of the fan-out gives the flat list of all slices
        for name in s.get("output_parameter", []):
            fp = os.path.join(out, "parameters", name)
            if os.path.exists(fp):
                with open(fp) as f:
                    values = json.loads(f.read())
                with open(fp + ".tmp", "w") as f:
                    f.write(json.dumps(values[0] if len(values) == 1 else values))
                os.replace(fp + ".tmp", fp)
    for name in s.get("output_artifact", []):
        # every slice writes into one shared storage prefix: move the files under
        # slice-<i>/ and point the catalogs there, so the merged prefix is one artifact
        d = os.path.join(out, "artifacts", name)
        if not os.path.isdir(d):
            continue
        sub = "slice-%d" % slice_index
        tmp = d + ".%s" % uuid.uuid4().hex
        os.makedirs(tmp)
        for entry in os.listdir(d):
            if entry != ".dflow":
                shutil.move(os.path.join(d, entry), os.path.join(tmp, entry))
        os.rename(tmp, os.path.join(d, sub))
        cat = os.path.join(d, ".dflow")
        for fn in sorted(os.listdir(cat)) if os.path.isdir(cat) else []:
            fp = os.path.join(cat, fn)
            with open(fp) as f:
                items = json.load(f)
            for it in items:
                it["path"] = sub + "/" + it["path"]
            with open(fp, "w") as f:
                json.dump(items, f)
if T.get("success_flag"):
    os.makedirs(os.path.join(out, "parameters"), exist_ok=True)
    with open(os.path.join(out, "parameters", "dflow_success"), "w") as f:
        f.write("1" if code == 0 else "0")
sys.exit(code)
""".lstrip()


def pod_script(payload: Dict[str, Any]) -> str:
    """The full script of a Python OP template: the payload line and the bootstrap."""
    data = zlib.compress(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8"), 9)
    return "P = {!r}\n{}".format(base64.b64encode(data).decode("ascii"), BOOTSTRAP)


def decode_payload(script: str) -> Dict[str, Any]:
    """The payload of a script made by :func:`pod_script` (for tests and ``get_spec`` fallbacks)."""
    first = script.split("\n", 1)[0]
    if not first.startswith("P = "):
        raise ValueError("not a dflow pod script")
    data = base64.b64decode(first[4:].strip().strip("'\""))
    return json.loads(zlib.decompress(data).decode("utf-8"))
