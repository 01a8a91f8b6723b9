"""Small pieces shared by the parts of the Argo manifest compiler: names, patterns, field builders."""

from __future__ import annotations

import hashlib
import re
from typing import Any, Dict, Optional

from dflow.contract import GROUP_KEY_PARAMETER, PART_PREFIX, SLICE_PARAMETER
from dflow.errors import ValidationError

__all__ = [
    "API_VERSION",
    "SPEC_ANNOTATION",
    "WRAPPER_ANNOTATION",
    "REUSED_TEMPLATE_ANNOTATION",
    "REUSE_WRAPPER_ANNOTATION",
    "REUSED_MARK_TEMPLATE",
    "REUSED_KEY_ANNOTATION",
    "part_key",
    "default_group_key",
    "CHECK_TEMPLATE",
    "CHECK_SOURCE",
    "COUNT_TEMPLATE",
    "COUNT_SOURCE",
    "MERGE_TEMPLATE",
    "MERGE_SOURCE",
    "GATHER_TEMPLATE",
    "INSTANCE_TEMPLATE",
    "SPEC_ANNOTATION_LIMIT",
    "STEP_PARAM_REF",
    "EXPR_PARAM_REF",
    "OUTER_IN_EXPR",
    "ARTIFACT_IN_SCRIPT",
    "STEP_ART_REF",
    "archive_field",
    "prune",
    "step_name_part",
    "or_default",
    "input_parameter",
]

API_VERSION = "argoproj.io/v1alpha1"
SPEC_ANNOTATION = "workflows.dflow.io/spec"
# marks templates the backend adds around a step (not shown as steps of their own)
WRAPPER_ANNOTATION = "workflows.dflow.io/wrapper"
# on a reuse template: the template whose recorded outputs it hands back
REUSED_TEMPLATE_ANNOTATION = "workflows.dflow.io/reused-template"
# on a reuse-or-run wrapper (a step whose key is rendered at run time): the template of the step
REUSE_WRAPPER_ANNOTATION = "workflows.dflow.io/reuse-or-run"
# on a reuse template: the key of the step it hands back
REUSED_KEY_ANNOTATION = "workflows.dflow.io/reused-key"
# the one step of a reuse template (it never runs: ``when: false``)
REUSED_MARK_TEMPLATE = "dflow-reused-step"
CHECK_TEMPLATE = "dflow-check-success"
# the pod that counts a fan-out's slices when the count is only known at run time
COUNT_TEMPLATE = "dflow-count-slices"
# the pod that merges a list or dict given as one artifact whose items are other steps' outputs (one per count)
MERGE_TEMPLATE = "dflow-merge-artifact"
# the pod that names the prefix a fan-out's slices stack a gathered artifact under
GATHER_TEMPLATE = "dflow-gathered-artifact"
# the pod that names the storage prefix of one instance of a Steps/DAG template that may run more than once
INSTANCE_TEMPLATE = "dflow-instance-key"
# kubernetes refuses annotations above 256 kB in total; keep room for the user's own
SPEC_ANNOTATION_LIMIT = 200_000
#: an output artifact's copy at the key of its ``save=[S3Artifact(key=...)]``: Argo writes the path twice
SAVED_PREFIX = "dflow-saved-"

STEP_PARAM_REF = re.compile(r"\{\{\s*(steps|tasks)\.([^.{}\s]+)\.outputs\.parameters\.([^.{}\s]+)\s*\}\}")
EXPR_PARAM_REF = re.compile(r"\b(steps|tasks)\[\s*'([^']+)'\s*\]\.outputs\.parameters\[\s*'([^']+)'\s*\]")
# what an expression reads from the template it is written in (lifted into a wrapper's inputs)
OUTER_IN_EXPR = re.compile(r"\b(?:(?:steps|tasks)\[\s*'[^']+'\s*\]|inputs)(?:\.[A-Za-z_][\w-]*|\[\s*'[^']+'\s*\])+")
ARTIFACT_IN_SCRIPT = re.compile(r"\{\{\s*inputs\.artifacts\.([^.{}\s]+)\s*\}\}")
# the pod after a fan-out with continue_on_num_success / continue_on_success_ratio
CHECK_SOURCE = r"""
import json, os, sys
items = os.environ["DFLOW_ITEMS"]
try:
    n = len(json.loads(items))
except ValueError:
    seq = json.loads(os.environ["DFLOW_SEQUENCE"] or "{}")
    start = int(seq.get("start") or 0)
    n = int(seq["count"]) if seq.get("count") not in (None, "") else abs(int(seq.get("end") or 0) - start) + 1
raw = os.environ.get("DFLOW_SUCCEEDED", "")
try:
    flags = json.loads(raw)
except ValueError:
    flags = []
ok = sum(1 for f in (flags if isinstance(flags, list) else [flags]) if str(f) == "1")
need_n = int(os.environ.get("DFLOW_MIN_NUM") or 0)
need_r = float(os.environ.get("DFLOW_MIN_RATIO") or 0)
print("%s: %d/%d slices succeeded (need %d and ratio %s)" % (os.environ.get("DFLOW_CHECKED"), ok, n, need_n, need_r))
sys.exit(0 if ok >= need_n and (n == 0 or float(ok) / n >= need_r) else 1)
""".lstrip()

STEP_ART_REF = re.compile(r"^\{\{\s*(steps|tasks)\.([^.{}\s]+)\.outputs\.artifacts\.([^.{}\s]+)\s*\}\}$")


def archive_field(archive: Optional[str]) -> Optional[Dict[str, Any]]:
    """Argo's ``archive`` of an output artifact (None: Argo's default, tar + gzip)."""
    if archive in ("tar", "default"):
        return None
    if archive is None or archive == "none":
        return {"none": {}}
    if archive == "zip":
        return {"zip": {}}
    raise ValidationError(f"artifact archive {archive!r} is not supported by Argo; use 'tar' or None")


def part_key(artifact: str) -> str:
    """Where a slice's pod writes its part of the gathered output ``artifact`` (unarchived, under the
    fan-out's ``dflow_group_key``): readers merge the parts in slice order."""
    return "{{inputs.parameters.%s}}/%s/%s{{inputs.parameters.%s}}" % (GROUP_KEY_PARAMETER, artifact, PART_PREFIX,
                                                                      SLICE_PARAMETER)


def default_group_key(template: str) -> str:
    """The ``dflow_group_key`` of a gathering template when its step gives none."""
    return "{{workflow.name}}/%s" % template


def step_name_part(name: str) -> str:
    """A parameter or artifact name made fit for a step or template name, which Argo allows only
    alpha-numerics and '-' (an artifact may have '_'): changed names get a digest, so two stay two."""
    fit = re.sub(r"[^-a-zA-Z0-9]", "-", name)
    if fit == name:
        return name
    return f"{fit}-{hashlib.sha1(name.encode()).hexdigest()[:6]}"


def prune(d: Dict[str, Any]) -> Dict[str, Any]:
    """``d`` without empty values (Argo omits them; smaller manifests)."""
    return {k: v for k, v in d.items() if v not in (None, {}, [], "")}


def or_default(scope: str, step: str, ref: str, default: str) -> str:
    """An expression: the output ``ref`` of ``step``, or ``default`` when the step was skipped."""
    literal = "'" + default.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return f"({scope}['{step}'].status == 'Skipped' ? {literal} : {ref})"


def input_parameter(p: Any) -> Dict[str, Any]:
    out: Dict[str, Any] = {"name": p.name}
    if p.value is not None:
        out["value"] = p.value  # "" is a real default
    if p.description:
        out["description"] = p.description
    return out


# ``items`` (a JSON list of slice indices) from a sliced parameter or the catalog of a sliced artifact
COUNT_SOURCE = r"""
import json, os, sys
root = os.environ.get("DFLOW_SANDBOX_ROOT", "") + "/tmp"  # unset in a pod
sys.path.insert(0, root + "/dflow-pkg")
from dflow.contract import merge_stacked, read_catalog
name = os.environ.get("DFLOW_NAME", "")
if os.environ.get("DFLOW_KIND") == "parameters":
    value = os.environ.get("DFLOW_VALUE", "")
    items = json.loads(value)
    if not isinstance(items, list):
        sys.exit("the sliced input parameter %s is not a list: %r" % (name, value[:200]))
    n = len(items)
else:
    path = root + "/dflow-count" + "/in"
    merge_stacked(path)
    n = len(read_catalog(path) or []) if os.path.isdir(path) else 0
with open(root + "/dflow-count" + "/items", "w") as f:  # dflow's sub_path slices: {"order": i} items
    json.dump([{"order": i} for i in range(n)] if os.environ.get("DFLOW_ORDERED") else list(range(n)), f)
print("%s: %d slices" % (name, n))
"""


# a pod that merges a list or dict given as one artifact when its items include other steps' outputs:
# DFLOW_LAYOUT is the tree of items (a leaf: the index of its part, fetched at parts/<i>), with the keys
# of a dict's items; the merge is core's, the same as the local engine's
MERGE_SOURCE = r"""
import json, os, shutil, sys
root = os.environ.get("DFLOW_SANDBOX_ROOT", "") + "/tmp"  # unset in a pod
sys.path.insert(0, root + "/dflow-pkg")
from dflow.contract import key_part, merge_part, merge_stacked, write_catalog
base = root + "/dflow-merge"
name = os.environ["DFLOW_NAME"]
def part(i):
    path = "%s/parts/%d" % (base, i)
    if os.path.isfile(path):  # a text (a raw artifact): a file named as the input, as the local engine places it
        tmp = path + ".file"
        os.replace(path, tmp)
        os.makedirs(path)
        os.replace(tmp, os.path.join(path, name))
        write_catalog(path, [{"index": None, "key": None, "path": name}])
    elif os.path.isdir(path):
        merge_stacked(path)
    else:
        return None  # an optional output that was not made: left out, as the local engine leaves it out
    return path
def build(node, target):
    os.makedirs(target)
    found = 0
    for i, item in enumerate(node["items"]):
        src = part(item) if isinstance(item, int) else build(item, "%s.%d" % (target, i))
        if src is None:
            continue
        if node.get("keys"):
            key_part(src, node["keys"][i])
        merge_part(src, target, found)
        found += 1
        shutil.rmtree(src, ignore_errors=True)
    return target
build(json.loads(os.environ["DFLOW_LAYOUT"]), base + "/out")
print("%s: merged %s" % (name, os.environ["DFLOW_LAYOUT"]))
"""
