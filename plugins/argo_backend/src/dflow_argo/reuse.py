"""Reuse of finished steps (``submit(reuse_step=...)``) in an Argo manifest.

A step whose key is a constant found among the reused steps calls a *reuse template*: a
Steps template whose one step never runs, handing back the recorded parameters and the
recorded artifacts where they are stored (a reused slice of a fan-out that gathers
artifacts is a pod instead, copying its part under the new run's prefix). A step whose
key is rendered at run time calls a *reuse-or-run* wrapper: a branch per reused key it
may render to, taken when it does, and the step itself otherwise (dflow does this with
Argo's memoization cache).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Dict, List, Optional

from dflow.backend import ReusedStep
from dflow.contract import GROUP_KEY_PARAMETER, KEY_PARAMETER, SLICE_PARAMETER
from dflow.spec import ArtifactArgument, ScriptTemplateSpec

from .superops import PLUMBING_ANNOTATION
from .util import (
    REUSE_WRAPPER_ANNOTATION,
    REUSED_KEY_ANNOTATION,
    REUSED_MARK_TEMPLATE,
    REUSED_TEMPLATE_ANNOTATION,
    default_group_key,
    part_key,
    prune,
)

__all__ = ["ReuseTemplates", "reuse_candidates", "REUSE_PASSES"]

#: the arguments of a step that a reuse template takes (the rest only the step's own template needs)
REUSE_PASSES = (KEY_PARAMETER, SLICE_PARAMETER, GROUP_KEY_PARAMETER)


def reuse_candidates(key: str, reuse: Dict[str, ReusedStep]) -> List[ReusedStep]:
    """The reused steps whose keys ``key`` (with placeholders, rendered at run time) may render to (a
    recorded key with a quote or a backslash cannot be compared in Argo's ``when``: such a step runs again)."""
    parts = re.split(r"\{\{.*?\}\}", key)
    pattern = re.compile(".*".join(re.escape(p) for p in parts), re.S)
    return [reuse[k] for k in sorted(reuse) if pattern.fullmatch(k) and not set(k) & set("'\\\"{}")]


def _recorded_text(p: Any, reused: ReusedStep) -> Optional[str]:
    """The text of output parameter ``p`` of a reused step: as recorded, else the template's default."""
    pv = reused.outputs_parameters.get(p.name)
    if pv is not None and pv.text is not None:
        return pv.text
    return p.default if p.default is not None else p.value



class ReuseTemplates:
    """The reuse half of :class:`dflow_argo.manifest.ManifestCompiler` (a mixin)."""

    def _reuse_or_run(
        self, target: Any, callee: str, params: List[Dict[str, Any]], arts: List[Dict[str, Any]],
        candidates: List[ReusedStep],
    ) -> str:
        """A Steps template standing for a step whose key is rendered at run time (dflow does this with
        Argo's memoization, keyed by the rendered key): one branch per reused step the key may render
        to, taken when it does (the step's recorded outputs), and the step itself otherwise. Its
        outputs are the taken branch's. It takes the arguments the step passes, as they are."""
        name = "dflow-reuse-or-run-" + hashlib.sha1(json.dumps(
            [callee, [p["name"] for p in params], [a["name"] for a in arts], [r.key for r in candidates]]
        ).encode()).hexdigest()[:10]
        if name in self.extra:
            return name
        key = "{{inputs.parameters.%s}}" % KEY_PARAMETER
        optional = {a.name for a in target.inputs_artifacts if a.optional}
        group: List[Dict[str, Any]] = [
            {"name": f"reused-{i}", "template": self._reuse_template(target, r),
             "arguments": {"parameters": [{"name": p["name"], "value": "{{inputs.parameters.%s}}" % p["name"]}
                                          for p in params
                                          if p["name"] in REUSE_PASSES]},
             "when": f"'{key}' == '{r.key}'"}
            for i, r in enumerate(candidates)
        ]
        group.append({
            "name": "run",
            "template": callee,
            "arguments": prune({
                "parameters": [{"name": p["name"], "value": "{{inputs.parameters.%s}}" % p["name"]} for p in params],
                "artifacts": [prune({"name": a["name"], "from": "{{inputs.artifacts.%s}}" % a["name"],
                                     "optional": True if a["name"] in optional else None}) for a in arts],
            }),
            "when": " && ".join(f"'{key}' != '{r.key}'" for r in candidates),
        })

        def taken(kind: str, output: str) -> str:
            expr = f"steps['run'].outputs.{kind}['{output}']"
            for i in reversed(range(len(candidates))):
                expr = (f"steps['reused-{i}'].status == 'Succeeded' ? "
                        f"steps['reused-{i}'].outputs.{kind}['{output}'] : ({expr})")
            return expr

        self.extra[name] = prune({
            "name": name,
            "metadata": {"annotations": {REUSE_WRAPPER_ANNOTATION: target.name}},
            "inputs": prune({
                "parameters": [{"name": p["name"]} for p in params],
                "artifacts": [prune({"name": a["name"], "optional": True if a["name"] in optional else None})
                              for a in arts],
            }),
            "outputs": prune({
                "parameters": [{"name": p.name, "valueFrom": prune({"expression": taken("parameters", p.name),
                                                                    "default": p.default})}
                               for p in target.outputs_parameters],
                "artifacts": [{"name": a.name, "fromExpression": taken("artifacts", a.name), "optional": True}
                              for a in target.outputs_artifacts],
            }),
            "steps": [group],
        })
        return name

    def _reuse_template(self, target: Any, reused: ReusedStep) -> str:
        """A Steps template that only hands back the outputs recorded for ``reused.key``: its artifacts where
        they are stored (a gathered artifact keeps its parts), its parameters as recorded. Its one step never
        runs (``when: false``), so no pod starts for it."""
        digest = json.dumps(reused.model_dump(mode="json"), sort_keys=True)
        name = f"dflow-reuse-{hashlib.sha1((target.name + digest).encode()).hexdigest()[:10]}"
        if name in self.extra:
            return name
        if isinstance(target, ScriptTemplateSpec) and self._gathered_artifacts(target):
            return self._reuse_pod(name, target, reused)
        in_params: List[Dict[str, Any]] = [{"name": KEY_PARAMETER, "value": ""}]
        in_arts, out_arts, out_params = [], [], []
        for p in target.outputs_parameters:
            text = _recorded_text(p, reused)
            if text is None:  # nothing recorded and no default: a reader of it fails, as the step's would
                continue
            in_params.append({"name": f"dflow-reused-{p.name}", "value": text})
            out_params.append({"name": p.name, "valueFrom": {"parameter": "{{inputs.parameters.dflow-reused-%s}}" % p.name}})
        for a in target.outputs_artifacts:
            st = reused.outputs_artifacts.get(a.name)
            if st is None:
                continue
            in_arts.append(self.locations.stored(a.name, ArtifactArgument(stored=st)))
            out_arts.append({"name": a.name, "from": "{{inputs.artifacts.%s}}" % a.name})
        self.extra[name] = prune(
            {
                "name": name,
                "metadata": {"annotations": {REUSED_KEY_ANNOTATION: reused.key,
                                             REUSED_TEMPLATE_ANNOTATION: target.name}},
                "inputs": prune({"parameters": in_params, "artifacts": in_arts}),
                "outputs": prune({"parameters": out_params, "artifacts": out_arts}),
                "steps": [[{"name": "reused", "template": self._reused_mark(), "when": "false"}]],
            }
        )
        return name

    def _reuse_pod(self, name: str, target: Any, reused: ReusedStep) -> str:
        """A reused slice of a fan-out that gathers artifacts: the slices of the new run write their parts
        under the new run's prefix, so this pod copies the recorded ones there, as its slice's parts."""
        gathered = set(self._gathered_artifacts(target))
        in_arts, out_arts, out_params = [], [], []
        for p in target.outputs_parameters:
            text = _recorded_text(p, reused)
            vf: Dict[str, Any] = {"path": f"/tmp/dflow-reused/parameters/{p.name}"}
            if text is not None:
                vf["default"] = text  # the file is never written: the default is the value
            out_params.append({"name": p.name, "valueFrom": vf})
        for a in target.outputs_artifacts:
            st = reused.outputs_artifacts.get(a.name)
            path = f"/tmp/dflow-reused/artifacts/{a.name}"
            if st is None:
                continue
            in_arts.append({**self.locations.stored(a.name, ArtifactArgument(stored=st)), "path": path})
            out = {"name": a.name, "path": path}
            if a.name in gathered:  # where the template's own pods write their parts
                out.update(self.locations.location(part_key(a.name)))
                out["archive"] = {"none": {}}
            out_arts.append(out)
        self.extra[name] = prune(
            {
                "name": name,
                "metadata": {"annotations": {REUSED_KEY_ANNOTATION: reused.key,
                                             REUSED_TEMPLATE_ANNOTATION: target.name}},
                "inputs": prune({"parameters": [{"name": KEY_PARAMETER, "value": ""}, {"name": SLICE_PARAMETER},
                                                {"name": GROUP_KEY_PARAMETER,
                                                 "value": default_group_key(target.name)}],
                                 "artifacts": in_arts}),
                "outputs": prune({"parameters": out_params, "artifacts": out_arts}),
                "script": {"image": self.util_image, "command": ["python3"], "source": "print('reused step')\n"},
            }
        )
        return name

    def _reused_mark(self) -> str:
        """The step of a reuse template, which never runs (Argo wants a step in a Steps template)."""
        if REUSED_MARK_TEMPLATE not in self.extra:
            self.extra[REUSED_MARK_TEMPLATE] = {
                "name": REUSED_MARK_TEMPLATE,
                "metadata": {"annotations": {PLUMBING_ANNOTATION: "reused"}},
                "script": {"image": self.util_image, "command": ["python3"], "source": "print('reused step')\n"},
            }
        return REUSED_MARK_TEMPLATE
