"""Slices on a Steps or DAG template (a super-OP) on Argo.

A sliced step whose template is a Steps/DAG template runs one instance of that template per
item, with the sliced inputs cut to the item, and gathers the sliced outputs. dflow (and the
local engine, which follows it) *stacks* a sliced output artifact: it is what every step
of the template it may come from wrote, over the whole run of the instance (both branches
of an ``if_expression``, every round of a recursion), not only the branch that was taken.

On Argo the step calls a wrapper Steps template (one per sliced step) that:

1. cuts the sliced inputs to its item in a pod (``dflow-cut-slice-*``: a parameter's item,
   an artifact's catalog item), as the local engine does before an instance runs;
2. calls a *stacking variant* of the template: every step that may produce a sliced output
   (at any depth: a recursion calls the variant again) writes that output under one storage
   prefix per slice, ``<fan-out prefix>/<output>/.dflow-stack-<slice>/.dflow-stack-<k>/...``
   (``k``: the step's place among the output's producers), instead of its usual place;
3. names that prefix with a ``dflow-gathered-artifact`` pod: the instance's output.

Readers merge ``.dflow-stack-<k>`` folders inside out, each as a stacked part
(:func:`dflow.contract.merge_stacked`), which gives the files the local engine gives. The
wrapper, the cutting pod and the variants say which template they stand for
(:data:`STANDS_FOR_ANNOTATION`), so the run's records read as the local engine's.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from typing import Any, Dict, FrozenSet, List, Tuple

from dflow.contract import GROUP_KEY_PARAMETER, KEY_PARAMETER, SLICE_PARAMETER, STACK_PREFIX
from dflow.errors import ValidationError
from dflow.slicing import stack_producers, stacked_of_steps
from dflow.spec import ScriptTemplateSpec, StepSpec

from .util import prune, step_name_part

__all__ = ["SuperOPSlices", "STANDS_FOR_ANNOTATION", "SLICE_WRAPPER_ANNOTATION", "PLUMBING_ANNOTATION", "RUN_STEP",
           "CUT_STEP", "stack_parameter"]

#: on a template the compiler made in place of another: the template it stands for in the records
STANDS_FOR_ANNOTATION = "workflows.dflow.io/stands-for"
#: on the wrapper a sliced super-OP's step calls (the step's name): its first step cuts the instance's inputs
SLICE_WRAPPER_ANNOTATION = "workflows.dflow.io/slice-wrapper"
#: on a template of the compiler's own plumbing: its pods are not steps of the run once they succeed
PLUMBING_ANNOTATION = "workflows.dflow.io/plumbing"
#: the step of a slice wrapper that runs the instance (its node is the instance's, not a step of its own)
RUN_STEP = "dflow-instance"
#: the step of a slice wrapper that cuts the instance's inputs (its outputs are the instance's inputs)
CUT_STEP = "dflow-cut"
_LOCATION_KINDS = ("s3", "oss", "gcs", "azure", "hdfs", "http", "git", "artifactory", "raw", "archive")

# the cutting pod: each sliced parameter's item and each sliced artifact's catalog item
CUT_SOURCE = r"""
import json, os, shutil, sys
root = os.environ.get("DFLOW_SANDBOX_ROOT", "") + "/tmp"  # unset in a pod
sys.path.insert(0, root + "/dflow-pkg")
from dflow.contract import merge_stacked, read_catalog, slice_index, slice_item, slice_parameter, write_catalog
index = slice_index(os.environ["DFLOW_SLICE"])
plan = json.loads(os.environ["DFLOW_CUT"])
out = root + "/dflow-cut/out"
os.makedirs(out + "/parameters", exist_ok=True)
for i, p in enumerate(plan["parameters"]):
    try:
        text, _ = slice_parameter(os.environ["DFLOW_P%d" % i], p["type"], index)
    except (IndexError, ValueError) as e:
        sys.exit("sliced input parameter %r of %s: %s; give it a list with an item for every slice"
                 % (p["name"], os.environ.get("DFLOW_STEP", "the step"), e))
    with open(out + "/parameters/" + p["name"], "w") as f:
        f.write(text)
for name in plan["artifacts"]:
    src = root + "/dflow-cut/in/" + name
    if not os.path.exists(src):
        continue  # not given: the slice gets none either
    if os.path.isdir(src):
        merge_stacked(src)
    item = slice_item(read_catalog(src) or [], index) if os.path.isdir(src) else None
    if item is None or item.get("path") is None:
        continue  # as in dflow: a slice past the artifact's items (or given None) gets no artifact
    dst = out + "/artifacts/" + name
    here, there = os.path.join(src, item["path"]), os.path.join(dst, item["path"])
    os.makedirs(os.path.dirname(there), exist_ok=True)
    if os.path.isdir(here):
        shutil.copytree(here, there, symlinks=True)
    else:
        shutil.copy2(here, there)
    write_catalog(dst, [{"index": None, "key": None, "path": item["path"]}])
print("slice %d of %s" % (index, ", ".join([p["name"] for p in plan["parameters"]] + plan["artifacts"])))
"""


def stack_parameter(name: str) -> str:
    """The input parameter of a stacking variant that holds where its output ``name`` stacks."""
    return f"dflow_stack_{name}"


def _digest(*parts: Any) -> str:
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:10]


def _relocate(art: Dict[str, Any], key: str, location: Dict[str, Any]) -> None:
    """Point an output artifact of a rendered template at ``key`` (a prefix, no archive)."""
    for k in _LOCATION_KINDS:
        art.pop(k, None)
    art.update(location)
    art["archive"] = {"none": {}}
    art["optional"] = True


def _steps_in(body: Dict[str, Any]) -> List[Dict[str, Any]]:
    if "dag" in body:
        return list(body["dag"].get("tasks") or [])
    return [s for group in body.get("steps") or [] for s in group]


class SuperOPSlices:
    """The super-OP half of :class:`dflow_argo.manifest.ManifestCompiler` (a mixin)."""

    def _slice_wrapper(self, s: StepSpec, parent: str, target: Any) -> str:
        """The wrapper Steps template the sliced step ``s`` (of template ``parent``) calls; see the module."""
        fan = s.fanout
        assert fan is not None
        name = f"{target.name[:36]}-sliced-{_digest(s.name, parent, target.name, fan.model_dump())}"
        if name in self.extra:
            return name
        self.extra[name] = {}  # taken (a recursion through a sliced step sees it)
        params: List[Dict[str, Any]] = []
        arts: List[Dict[str, Any]] = []
        steps: List[List[Dict[str, Any]]] = []
        cut_params = [p for p in target.inputs_parameters if p.name in fan.input_parameters]
        given = {k for k, a in s.artifacts.items()
                 if a.ref or a.stored is not None or a.from_expression or a.raw is not None or a.items is not None}
        # an artifact the step does not give reaches no slice: nothing to cut
        cut_arts = [a.name for a in target.inputs_artifacts if a.name in fan.input_artifacts and a.name in given]
        if cut_params or cut_arts:
            cut = self._cut_template(name, s.name, cut_params, cut_arts)
            steps.append([prune({
                "name": CUT_STEP,
                "template": cut,
                "arguments": prune({
                    "parameters": [{"name": SLICE_PARAMETER, "value": "{{inputs.parameters.%s}}" % SLICE_PARAMETER}]
                    + [{"name": f"p{i}", "value": "{{inputs.parameters.%s}}" % p.name} for i, p in enumerate(cut_params)],
                    "artifacts": [{"name": a, "from": "{{inputs.artifacts.%s}}" % a} for a in cut_arts],
                }),
            })])
        for p in target.inputs_parameters:
            cut_here = p in cut_params
            value = f"{{{{steps.{CUT_STEP}.outputs.parameters.{p.name}}}}}" if cut_here else f"{{{{inputs.parameters.{p.name}}}}}"
            params.append({"name": p.name, "value": value})
        for a in target.inputs_artifacts:
            ref = f"steps.{CUT_STEP}.outputs.artifacts.{a.name}" if a.name in cut_arts else f"inputs.artifacts.{a.name}"
            arts.append({"name": a.name, "from": "{{%s}}" % ref, "optional": True if a.optional else None})
        stacked = frozenset(fan.gather_artifacts)
        callee = target.name
        marks = []
        if stacked:
            callee = self._stacking_variant(target, stacked)
            for x in sorted(stacked):
                key = "{{inputs.parameters.%s}}/%s/%s{{inputs.parameters.%s}}" % (
                    GROUP_KEY_PARAMETER, x, STACK_PREFIX, SLICE_PARAMETER)
                params.append({"name": stack_parameter(x), "value": key})
                marks.append({"name": f"dflow-stack-{step_name_part(x)}", "template": self._gather_template(),
                              "arguments": {"parameters": [{"name": "key", "value": key}]}})
        steps.append([{"name": RUN_STEP, "template": callee,
                       "arguments": prune({"parameters": params, "artifacts": [prune(a) for a in arts]})}])
        if marks:
            steps.append(marks)
        in_params = [{"name": p.name, **({"value": p.value} if p.value is not None else {})}
                     for p in target.inputs_parameters]
        in_params.append({"name": SLICE_PARAMETER})
        if stacked:
            in_params.append({"name": GROUP_KEY_PARAMETER})
        if s.key is not None:
            in_params.append({"name": KEY_PARAMETER, "value": ""})
        out_params = [prune({"name": p.name, "valueFrom": prune({
            "parameter": "{{steps.%s.outputs.parameters.%s}}" % (RUN_STEP, p.name), "default": p.default})})
            for p in target.outputs_parameters]
        out_arts = []
        for a in target.outputs_artifacts:
            if a.name in stacked:
                out_arts.append({"name": a.name,
                                 "from": "{{steps.dflow-stack-%s.outputs.artifacts.gathered}}" % step_name_part(a.name)})
            else:
                out_arts.append({"name": a.name, "from": "{{steps.%s.outputs.artifacts.%s}}" % (RUN_STEP, a.name),
                                 "optional": True})
        self.extra[name] = prune({
            "name": name,
            "metadata": {"annotations": {STANDS_FOR_ANNOTATION: target.name, SLICE_WRAPPER_ANNOTATION: s.name}},
            "inputs": prune({"parameters": in_params,
                             "artifacts": [prune({"name": a.name, "optional": True if a.optional else None})
                                           for a in target.inputs_artifacts]}),
            "outputs": prune({"parameters": out_params, "artifacts": out_arts}),
            "steps": steps,
        })
        return name

    def _cut_template(self, wrapper: str, step: str, cut_params: List[Any], cut_arts: List[str]) -> str:
        name = f"dflow-cut-slice-{_digest(wrapper)}"
        plan = {"parameters": [{"name": p.name, "type": p.type} for p in cut_params], "artifacts": cut_arts}
        self.extra[name] = {
            "name": name,
            "metadata": {"annotations": {PLUMBING_ANNOTATION: "cut-slice"}},
            "inputs": prune({
                "parameters": [{"name": SLICE_PARAMETER}] + [{"name": f"p{i}"} for i in range(len(cut_params))],
                "artifacts": [{"name": a, "path": f"/tmp/dflow-cut/in/{a}", "optional": True} for a in cut_arts]
                + [{"name": "dflow-pkg", "path": "/tmp/dflow-pkg/dflow",
                    **self.locations.location(self.locations.package_key)}],
            }),
            "outputs": prune({
                "parameters": [{"name": p.name, "valueFrom": {"path": f"/tmp/dflow-cut/out/parameters/{p.name}"}}
                               for p in cut_params],
                "artifacts": [{"name": a, "path": f"/tmp/dflow-cut/out/artifacts/{a}", "optional": True}
                              for a in cut_arts],
            }),
            "script": {
                "image": self.util_image,
                "command": ["python3"],
                "source": CUT_SOURCE,
                "env": [{"name": "DFLOW_SLICE", "value": "{{inputs.parameters.%s}}" % SLICE_PARAMETER},
                        {"name": "DFLOW_STEP", "value": repr(step)},
                        {"name": "DFLOW_CUT", "value": json.dumps(plan)}]
                + [{"name": f"DFLOW_P{i}", "value": "{{inputs.parameters.p%d}}" % i} for i in range(len(cut_params))],
            },
        }
        return name

    # ---------------------------------------------------------------- stacking variants

    def _stacking_variant(self, t: Any, names: FrozenSet[str]) -> str:
        """A copy of the Steps/DAG template ``t`` whose outputs ``names`` stack (see the module)."""
        name = f"{t.name[:36]}-stack-{_digest(t.name, sorted(names))}"
        if name in self.extra:
            return name
        self.extra[name] = {}  # taken: a recursion calls this variant again
        body = copy.deepcopy(self._container_template(t))
        body["name"] = name
        body.setdefault("metadata", {}).setdefault("annotations", {})[STANDS_FOR_ANNOTATION] = t.name
        body.setdefault("inputs", {}).setdefault("parameters", []).extend(
            {"name": stack_parameter(x)} for x in sorted(names))
        where: Dict[Tuple[str, str], str] = {}
        for x in sorted(names):
            for k, pair in enumerate(stack_producers(t, x)):
                key = "{{inputs.parameters.%s}}/%s%d" % (stack_parameter(x), STACK_PREFIX, k)
                if where.get(pair, key) != key:
                    raise ValidationError(
                        f"template {t.name!r}: output {pair[1]!r} of step {pair[0]!r} feeds two sliced outputs "
                        f"{sorted(names)} of a sliced super-OP; on Argo each step output can stack into one only")
                where[pair] = key
        specs = {st.name: st for st in self._steps_of(t)}
        rendered = {st["name"]: st for st in _steps_in(body)}
        text_moves: List[Tuple[str, str]] = []
        for step_name, outs in stacked_of_steps(t, names).items():
            st, out = specs.get(step_name), rendered.get(step_name)
            if st is None or out is None:
                continue
            keys = {a: where[(step_name, a)] for a in outs}
            callee, moves = self._stacking_callee(t, st, keys)
            out["template"] = callee
            args = out.setdefault("arguments", {})
            args.setdefault("parameters", []).extend({"name": stack_parameter(a), "value": keys[a]} for a in sorted(keys))
            text_moves += moves
        if text_moves:  # what the template reads of a moved fan-out output reads it where it now is
            text = json.dumps(body)
            for old, new in text_moves:
                # the prefix itself, or a path below it: not another output whose name begins the same
                text = re.sub(re.escape(json.dumps(old)[1:-1]) + r'(?=["/])', lambda _m, n=new: json.dumps(n)[1:-1], text)
            body = json.loads(text)
        self.extra[name] = body
        return name

    def _stacking_callee(self, parent: Any, st: StepSpec, keys: Dict[str, str]) -> Tuple[str, List[Tuple[str, str]]]:
        """The template step ``st`` of ``parent`` calls so that its outputs ``keys`` stack where given."""
        target = self._template(st.template)
        looped = self._is_fanout(st)
        if self.reuse.get(st.key or "") is not None:
            raise ValidationError(f"step {st.name!r} of {parent.name!r} is reused from an earlier run and feeds a "
                                  "sliced output of a super-OP; on Argo such a step must run again (no reuse)")
        if not isinstance(target, ScriptTemplateSpec):
            if looped or st.fanout is not None:
                raise ValidationError(
                    f"step {st.name!r} of {parent.name!r}: a looped or sliced {target.kind} template feeding a sliced "
                    "output of a super-OP runs on the local backend only; on Argo give it a Python OP's Slices")
            return self._stacking_variant(target, frozenset(keys)), []
        gathered = looped and st.fanout is not None and set(keys) <= set(st.fanout.gather_artifacts)
        if looped and not gathered:
            raise ValidationError(
                f"step {st.name!r} of {parent.name!r}: a loop without Slices gathering {sorted(keys)} feeds a sliced "
                "output of a super-OP; on Argo give the loop Slices(output_artifact=...) for it")
        name = f"{target.name[:36]}-stack-{_digest(target.name, sorted(keys), gathered)}"
        if name not in self.extra:
            body = copy.deepcopy(self._script_template(target))
            if "script" not in body and "container" not in body:
                raise ValidationError(
                    f"step {st.name!r} of {parent.name!r}: template {target.name!r} is rendered by its executor into "
                    "several steps; on Argo it cannot feed a sliced output of a super-OP")
            body["name"] = name
            body.setdefault("metadata", {}).setdefault("annotations", {})[STANDS_FOR_ANNOTATION] = target.name
            body.setdefault("inputs", {}).setdefault("parameters", []).extend(
                {"name": stack_parameter(a)} for a in sorted(keys))
            for art in (body.get("outputs") or {}).get("artifacts") or []:
                if art["name"] in keys:
                    key = "{{inputs.parameters.%s}}" % stack_parameter(art["name"])
                    if gathered:
                        key += "/%s{{inputs.parameters.%s}}" % (STACK_PREFIX, SLICE_PARAMETER)
                    _relocate(art, key, self.locations.location(key))
            self.extra[name] = body
        moves = [(self._gathered_key(parent.name, st.name, a), keys[a]) for a in keys] if gathered else []
        return name, moves
