"""Steps and DAG templates of an Argo manifest, with what dflow adds around steps.

Around a step the compiler may add: a ``dflow-check-success`` step after a fan-out
with ``continue_on_num_success``/``continue_on_success_ratio``; a wrapper Steps template
that carries a fan-out's own ``parallelism``; a reuse template or a reuse-or-run wrapper
in place of a reused step (made in :mod:`dflow_argo.reuse`); and rewritten references, so that the outputs
of a skipped step read as their declared defaults and gathered slice outputs read as
one flat list.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

from dflow.compile_checks import with_items
from dflow.contract import (
    GATHERED_MARKER,
    GROUP_KEY_PARAMETER,
    KEY_PARAMETER,
    SLICE_PARAMETER,
    SUCCESS_PARAMETER,
)
from dflow.errors import ValidationError
from dflow.spec import ArtifactArgument, DAGTemplateSpec, ScriptTemplateSpec, StepSpec

from .reuse import REUSE_PASSES, reuse_candidates
from .util import (
    CHECK_SOURCE,
    CHECK_TEMPLATE,
    COUNT_SOURCE,
    COUNT_TEMPLATE,
    EXPR_PARAM_REF,
    GATHER_TEMPLATE,
    INSTANCE_TEMPLATE,
    OUTER_IN_EXPR,
    STEP_ART_REF,
    STEP_PARAM_REF,
    WRAPPER_ANNOTATION,
    input_parameter,
    or_default,
    prune,
    step_name_part,
)

__all__ = ["ContainerTemplates"]


def _gathered_ref(ref: Optional[str], gathered: Dict[str, List[str]]) -> Optional[Tuple[str, str]]:
    """(fan-out step, artifact) when ``ref`` names a gathered output artifact of a fan-out here."""
    m = STEP_ART_REF.match(ref or "")
    return (m.group(2), m.group(3)) if m and m.group(3) in gathered.get(m.group(2), []) else None


def _gathered_name(step: str, artifact: str) -> str:
    return f"{step}-gathered-{step_name_part(artifact)}"


#: the phase of a step in which each lifecycle hook runs
_HOOK_PHASE = {"success": "Succeeded", "running": "Running", "failure": "Failed"}

class ContainerTemplates:
    """The Steps/DAG half of :class:`dflow_argo.manifest.ManifestCompiler` (a mixin)."""

    def _container_template(self, t: Any) -> Dict[str, Any]:
        is_dag = isinstance(t, DAGTemplateSpec)
        scope = "tasks" if is_dag else "steps"
        steps = self._steps_of(t)
        flatten = self._flattened_outputs(steps)
        gathered = {s.name: list(s.fanout.gather_artifacts) for s in steps if s.fanout is not None and s.fanout.gather_artifacts}

        skipped = self._skipped_defaults(steps)

        def rewrite(text: Optional[str]) -> Optional[str]:
            if text is None or not (flatten or skipped):
                return text

            def in_expr(m: "re.Match[str]") -> str:
                pair = (m.group(2), m.group(3))
                if pair in flatten:
                    return f"toJson(flatten(fromJSON({m.group(0)})))"
                if pair in skipped:
                    return or_default(m.group(1), m.group(2), m.group(0), skipped[pair])
                return m.group(0)

            def sub(m: "re.Match[str]") -> str:
                pair = (m.group(2), m.group(3))
                ref = "{}['{}'].outputs.parameters['{}']".format(*m.group(1, 2, 3))
                if pair in flatten:
                    return "{{=toJson(flatten(fromJSON(%s)))}}" % ref
                if pair in skipped:
                    return "{{=%s}}" % or_default(m.group(1), m.group(2), ref, skipped[pair])
                return m.group(0)

            return STEP_PARAM_REF.sub(sub, EXPR_PARAM_REF.sub(in_expr, text))

        in_params = [input_parameter(p) for p in t.inputs_parameters]
        if t.name in self.keyed:
            in_params.append({"name": KEY_PARAMETER, "value": ""})
        in_arts = [prune({"name": a.name, "optional": True if a.optional else None}) for a in t.inputs_artifacts]
        out_params = []
        for p in t.outputs_parameters:
            vf: Dict[str, Any] = {}
            if p.value_from_parameter is not None:
                vf["parameter"] = rewrite(p.value_from_parameter)
            elif p.value_from_expression is not None:
                vf["expression"] = p.value_from_expression
            elif p.value is not None:
                vf["expression"] = json.dumps(p.value)
            if p.default is not None:
                vf["default"] = p.default
            out_params.append(
                prune({"name": p.name, "valueFrom": vf, "globalName": p.global_name, "description": p.description})
            )
        # a gathered artifact returned by the template: a pod after the fan-out names its prefix
        returned: Dict[str, List[str]] = {}
        out_arts = []
        for a in t.outputs_artifacts:
            art: Dict[str, Any] = {"name": a.name}
            g = _gathered_ref(a.from_, gathered)
            if g:
                returned.setdefault(g[0], [])
                if g[1] not in returned[g[0]]:
                    returned[g[0]].append(g[1])
                art["from"] = "{{%s.%s.outputs.artifacts.gathered}}" % (scope, _gathered_name(*g))
            elif a.from_ is not None:
                art["from"] = a.from_
            elif a.from_expression is not None:
                art["fromExpression"] = a.from_expression
            if a.global_name:
                art["globalName"] = a.global_name
            if a.optional:
                art["optional"] = True
            out_arts.append(art)
        # the prefix of a gathered artifact that a step here reads, or the template returns, must exist
        # even when no slice ran (an empty fan-out reads as an empty artifact): a pod after the fan-out
        # names it with a marker file
        marked: Dict[str, List[str]] = {k: list(v) for k, v in returned.items()}
        for s in steps:
            for a in with_items(s.artifacts.values()):
                g = _gathered_ref(a.ref, gathered)
                if g and g[1] not in marked.get(g[0], []):
                    marked.setdefault(g[0], []).append(g[1])

        def gkey_of(ref: Optional[str]) -> Optional[str]:
            g = _gathered_ref(ref, gathered)
            return self._gathered_key(t.name, *g) if g else None

        body: Dict[str, Any] = {
            "name": t.name,
            "metadata": prune({"annotations": dict(t.annotations), "labels": dict(t.labels)}),
            "inputs": prune({"parameters": in_params, "artifacts": in_arts}),
            "outputs": prune({"parameters": out_params, "artifacts": out_arts}),
            "parallelism": t.parallelism,
        }
        if is_dag:
            tasks: List[Dict[str, Any]] = []
            checks: Dict[str, str] = {}
            markers: Dict[str, List[str]] = {}
            for s in t.tasks:
                s, merges = self._merged(s, scope, rewrite, gathered, gkey_of)
                for m in merges:
                    m["dependencies"] = list(s.dependencies)
                    tasks.append(m)
                if merges:
                    s = s.model_copy(update={"dependencies": list(s.dependencies) + [m["name"] for m in merges]})
                s, count = self._counted(s, t.name, scope, rewrite, gathered)
                if count is not None:
                    count["dependencies"] = list(s.dependencies)
                    tasks.append(count)
                    s = s.model_copy(update={"dependencies": list(s.dependencies) + [count["name"]]})
                tasks.append(self._step(s, t.name, scope, rewrite, gathered))
                if self._needs_check(s):
                    check = self._check_step(s, scope)
                    check["dependencies"] = [s.name]
                    tasks.append(check)
                    checks[s.name] = check["name"]
                for name in marked.get(s.name, []):
                    g = self._gathered_step(s, t.name, name, rewrite)
                    g["dependencies"] = [s.name]
                    tasks.append(g)
                    markers.setdefault(s.name, []).append(g["name"])
            if checks or markers:
                helpers = set(checks.values()) | {n for names in markers.values() for n in names}
                for task in tasks:
                    deps = task.get("dependencies")
                    if deps and task["name"] not in helpers:
                        task["dependencies"] = (deps + [checks[d] for d in deps if d in checks]
                                                + [n for d in deps for n in markers.get(d, [])])
            if t.name in self.instanced:
                for task in tasks:  # every task comes after the pod naming this instance's prefix
                    task.setdefault("dependencies", [INSTANCE_TEMPLATE])
                tasks.insert(0, self._instance_key_step())
            body["dag"] = {"tasks": tasks}
        else:
            groups: List[List[Dict[str, Any]]] = []
            for g in t.steps:
                merged = [self._merged(s, scope, rewrite, gathered, gkey_of) for s in g]
                merge_group = [m for _, ms in merged for m in ms]
                if merge_group:
                    groups.append(merge_group)
                counted = [self._counted(s, t.name, scope, rewrite, gathered) for s, _ in merged]
                count_group = [c for _, c in counted if c is not None]
                if count_group:
                    groups.append(count_group)
                g = [s for s, _ in counted]
                groups.append([self._step(s, t.name, scope, rewrite, gathered) for s in g])
                after = [self._check_step(s, scope) for s in g if self._needs_check(s)]
                after += [self._gathered_step(s, t.name, n, rewrite) for s in g for n in marked.get(s.name, [])]
                if after:
                    groups.append(after)
            if t.name in self.instanced:
                groups.insert(0, [self._instance_key_step()])
            body["steps"] = groups
        return prune(body)

    def _skipped_defaults(self, steps: Iterable[StepSpec]) -> Dict[Tuple[str, str], str]:
        """(step, parameter) -> default, for the outputs of conditional steps that declare a default.

        A step skipped by its ``when`` has no outputs in Argo: a later reference to one would
        not resolve. dflow promises the declared default instead, so such references read
        ``status == 'Skipped' ? default : output``.
        """
        out: Dict[Tuple[str, str], str] = {}
        for s in steps:
            if not s.when or self._is_fanout(s):
                continue
            target = self._template(s.template)
            for p in target.outputs_parameters:
                default = p.default
                if default is None and isinstance(target, ScriptTemplateSpec):
                    default = p.value
                if default is not None:
                    out[(s.name, p.name)] = default
        return out

    def _flattened_outputs(self, steps: Iterable[StepSpec]) -> Set[Tuple[str, str]]:
        """(step, parameter) pairs whose fan-out aggregate is a list of lists (grouped slices: a list per pod)."""
        out: Set[Tuple[str, str]] = set()
        for s in steps:
            if s.fanout is not None and s.fanout.group_size and self._is_fanout(s):
                out |= {(s.name, p) for p in s.fanout.gather_parameters}
        return out

    def _needs_check(self, s: StepSpec) -> bool:
        return self._thresholds(s) and self._is_fanout(s) and self._template(s.template).name in self.success

    def _check_step(self, s: StepSpec, scope: str) -> Dict[str, Any]:
        if CHECK_TEMPLATE not in self.extra:
            names = ["checked", "items", "sequence", "succeeded", "min_num", "min_ratio"]
            self.extra[CHECK_TEMPLATE] = {
                "name": CHECK_TEMPLATE,
                "inputs": {
                    "parameters": [{"name": n, "value": ""} if n != "succeeded" else {"name": n} for n in names]
                },
                "script": {
                    "image": self.util_image,
                    "command": ["python3"],
                    "source": CHECK_SOURCE,
                    "env": [{"name": "DFLOW_" + n.upper(), "value": f"{{{{inputs.parameters.{n}}}}}"} for n in names],
                },
            }
        seq = s.with_sequence.model_dump(exclude_none=True) if s.with_sequence is not None else None
        params = [
            {"name": "checked", "value": s.name},
            {"name": "items", "value": s.with_param or ""},
            {"name": "sequence", "value": json.dumps(seq) if seq else ""},
            {"name": "succeeded", "value": f"{{{{{scope}.{s.name}.outputs.parameters.{SUCCESS_PARAMETER}}}}}"},
            {"name": "min_num", "value": str(s.continue_on_num_success or 0)},
            {"name": "min_ratio", "value": str(s.continue_on_success_ratio or 0)},
        ]
        step: Dict[str, Any] = {
            "name": f"{s.name}-check-success",
            "template": CHECK_TEMPLATE,
            "arguments": {"parameters": params},
        }
        if s.when:
            step["when"] = s.when
        return step

    def _counted(
        self, s: StepSpec, parent: str, scope: str, rewrite: Any, gathered: Dict[str, List[str]]
    ) -> Tuple[StepSpec, Optional[Dict[str, Any]]]:
        """A step whose number of slices is known only at run time, and the step that counts them.

        The counting pod reads the sliced input parameter, or the catalog of the sliced
        input artifact (fetched whole: Argo cannot fetch only its catalog when the
        artifact is stacked from a fan-out's parts), and writes the list of slice indices
        the fan-out then loops over.
        """
        fan = s.fanout
        if fan is None or fan.count_from is None:
            return s, None
        kind, name = fan.count_from.split(".", 1)
        if COUNT_TEMPLATE not in self.extra:
            self.extra[COUNT_TEMPLATE] = {
                "name": COUNT_TEMPLATE,
                "inputs": {
                    "parameters": [{"name": n, "value": ""} for n in ("name", "kind", "value", "ordered")],
                    "artifacts": [
                        {"name": "in", "path": "/tmp/dflow-count/in", "optional": True},
                        {"name": "dflow-pkg", "path": "/tmp/dflow-pkg/dflow",
                         **self.locations.location(self.locations.package_key)},
                    ],
                },
                "outputs": {"parameters": [{"name": "items", "valueFrom": {"path": "/tmp/dflow-count/items"}}]},
                "script": {
                    "image": self.util_image,
                    "command": ["python3"],
                    "source": COUNT_SOURCE,
                    "env": [{"name": "DFLOW_" + n.upper(), "value": "{{inputs.parameters.%s}}" % n}
                            for n in ("name", "kind", "value", "ordered")],
                },
            }
        params = [{"name": "name", "value": f"{s.name}.{name}"}, {"name": "kind", "value": kind}]
        if fan.ordered:
            params.append({"name": "ordered", "value": "1"})
        arts: List[Dict[str, Any]] = []
        if kind == "parameters":
            params.append({"name": "value", "value": rewrite(s.parameters[name])})
        else:
            a = s.artifacts[name]
            gkey = None
            g = _gathered_ref(a.ref, gathered)
            if g:
                gkey = self._gathered_key(parent, *g)
            arts.append(self._artifact_argument("in", a, gkey))
        count = prune({
            "name": f"{s.name}-count-slices",
            "template": COUNT_TEMPLATE,
            "arguments": prune({"parameters": params, "artifacts": arts}),
            "when": rewrite(s.when),
        })
        loop = "{{%s.%s.outputs.parameters.items}}" % (scope, count["name"])
        counted = s.model_copy(update={"with_param": loop, "fanout": fan.model_copy(update={"count_from": None})})
        return counted, count

    def _instance_key_step(self) -> Dict[str, Any]:
        """The first step of an instance of a template that may run more than once: a pod naming the
        storage prefix of this instance (its own pod name), under which its fan-outs stack their parts."""
        if INSTANCE_TEMPLATE not in self.extra:
            self.extra[INSTANCE_TEMPLATE] = {
                "name": INSTANCE_TEMPLATE,
                "outputs": {"parameters": [{"name": "key", "valueFrom": {"path": "/tmp/dflow-instance-key"}}]},
                "script": {
                    "image": self.util_image,
                    "command": ["python3"],
                    "source": "open('/tmp/dflow-instance-key', 'w').write('{{workflow.name}}/{{pod.name}}')\n",
                },
            }
        return {"name": INSTANCE_TEMPLATE, "template": INSTANCE_TEMPLATE}

    def _gathered_step(self, s: StepSpec, parent: str, name: str, rewrite: Any) -> Dict[str, Any]:
        """The step naming the prefix under which fan-out ``s`` stacks the parts of its output ``name``.

        Its output artifact is that prefix itself (no archive; the pod adds only an empty
        marker file, so the prefix exists when no slice ran); a reader fetches every part
        under it and merges them, as it does for a gathered input.
        """
        return prune({
            "name": _gathered_name(s.name, name),
            "template": self._gather_template(),
            "arguments": {"parameters": [{"name": "key", "value": self._gathered_key(parent, s.name, name)}]},
            "when": rewrite(s.when),
        })

    def _gathered_key(self, parent: str, step: str, artifact: str) -> str:
        """The storage prefix under which fan-out ``step`` of template ``parent`` stacks its output ``artifact``."""
        return f"{self._group_key(parent, step)}/{artifact}"

    def _gather_template(self) -> str:
        if GATHER_TEMPLATE not in self.extra:
            self.extra[GATHER_TEMPLATE] = {
                "name": GATHER_TEMPLATE,
                "inputs": {"parameters": [{"name": "key"}]},
                "outputs": {
                    "artifacts": [
                        {"name": "gathered", "path": "/tmp/dflow-gathered", "archive": {"none": {}},
                         **self.locations.location("{{inputs.parameters.key}}")}
                    ]
                },
                "script": {
                    "image": self.util_image,
                    "command": ["python3"],
                    "source": "import os\nos.makedirs('/tmp/dflow-gathered', exist_ok=True)\n"
                              f"open(os.path.join('/tmp/dflow-gathered', {GATHERED_MARKER!r}), 'w').close()\n",
                },
            }
        return GATHER_TEMPLATE

    def _artifact_argument(self, name: str, a: ArtifactArgument, gathered_key: Optional[str]) -> Dict[str, Any]:
        if a.stored is not None:
            return self.locations.stored(name, a)
        if a.raw is not None:  # a text given as the artifact: Argo writes a file holding it
            return {"name": name, "raw": {"data": a.raw}}
        if a.items is not None:
            return self.locations.merged(name, a)
        if gathered_key is not None:
            key = gathered_key + ("/" + a.sub_path.strip("/") if a.sub_path else "")
            return {"name": name, **self.locations.location(key)}
        out = {"name": name}
        if a.ref is not None:
            out["from"] = a.ref
        elif a.from_expression is not None:
            out["fromExpression"] = a.from_expression
        else:
            raise ValidationError(f"artifact {name!r} has no source (no reference, stored artifact or expression)")
        if a.sub_path:
            out["subPath"] = a.sub_path
        return out

    def _step(
        self, s: StepSpec, parent: str, scope: str, rewrite: Any, gathered: Dict[str, List[str]]
    ) -> Dict[str, Any]:
        target = self._template(s.template)
        template_name = target.name
        reused = self.reuse.get(s.key) if s.key is not None and "{{" not in s.key else None
        params: List[Dict[str, Any]] = []
        declared = {p.name for p in target.inputs_parameters}
        for k, v in s.parameters.items():
            # a fan-out's slice and gathering prefix pass on to what a composite render's Steps template calls
            if k in declared or k in (SLICE_PARAMETER, GROUP_KEY_PARAMETER):
                params.append({"name": k, "value": rewrite(v)})
        fanout = s.with_param is not None or s.with_sequence is not None
        if s.fanout is not None and not isinstance(target, ScriptTemplateSpec):
            # slices on a Steps/DAG template (a super-OP): a wrapper cuts each instance's inputs and stacks
            # its sliced outputs (see .superops); the slice index is the item, as in dflow
            template_name = self._slice_wrapper(s, parent, target)
            params.append({"name": SLICE_PARAMETER, "value": s.fanout.index or "{{item}}"})
        if s.fanout is not None and s.fanout.gather_artifacts and fanout:
            params.append({"name": GROUP_KEY_PARAMETER, "value": self._group_key(parent, s.name)})
        if s.key is not None:
            params.append({"name": KEY_PARAMETER, "value": s.key})
        arts = []
        for k, a in s.artifacts.items():
            gkey = None
            g = _gathered_ref(a.ref, gathered)
            if g:
                gkey = self._gathered_key(parent, *g)
            arts.append(self._artifact_argument(k, a, gkey))
        if reused is not None:
            template_name = self._reuse_template(target, reused)
            params = [p for p in params if p["name"] in REUSE_PASSES]
            arts = []
        elif s.key is not None and "{{" in s.key:
            candidates = reuse_candidates(s.key, self.reuse)
            if candidates:
                template_name = self._reuse_or_run(target, template_name, params, arts, candidates)
        continue_on = prune(
            {
                "failed": True if (s.continue_on_failed or self._thresholds(s)) else None,
                "error": True if s.continue_on_error else None,
            }
        )
        seq = None
        if s.with_sequence is not None:
            seq = prune(s.with_sequence.model_dump(exclude_none=True))
        with_param = rewrite(s.with_param)
        out = {
            "name": s.name,
            "template": template_name,
            "arguments": prune({"parameters": params, "artifacts": arts}),
            "when": rewrite(s.when),
            "withParam": with_param,
            "withSequence": seq,
            "continueOn": continue_on,
        }
        out = prune(out)
        if s.hooks:  # Argo's lifecycle hooks, with the expressions dflow gives them
            out["hooks"] = {e: self._hook(h, f"{scope}['{s.name}'].status == '{_HOOK_PHASE[e]}'", parent, rewrite, gathered)
                            for e, h in s.hooks.items()}
        if s.parallelism and ("withParam" in out or "withSequence" in out) and reused is None:
            out = self._limit_parallelism(out, s, target)
        if scope == "tasks" and s.dependencies:
            out["dependencies"] = list(s.dependencies)
        return out

    def _hook(self, h: StepSpec, expression: str, parent: str, rewrite: Any, gathered: Dict[str, List[str]]) -> Dict[str, Any]:
        step = self._step(h, parent, "steps", rewrite, gathered)
        return prune({"template": step["template"], "arguments": step.get("arguments"), "expression": expression})

    def _limit_parallelism(self, out: Dict[str, Any], s: StepSpec, target: Any) -> Dict[str, Any]:
        """A fan-out with its own ``parallelism``: the loop moves into a wrapper Steps template.

        Argo limits parallelism per template, so the wrapper holds only this loop. Everything
        the loop's arguments read from the calling template is lifted into wrapper inputs
        (``dflow_ref_<i>``); ``{{item}}`` is resolved inside the wrapper, where the loop runs.
        """
        lifted: Dict[str, str] = {}

        def name_for(outer: str) -> str:
            if outer not in lifted:
                lifted[outer] = f"dflow_ref_{len(lifted)}"
            return lifted[outer]

        def lift_expr(expr: str) -> str:
            def sub(m: "re.Match[str]") -> str:
                return "inputs.parameters['%s']" % name_for("{{=%s}}" % m.group(0))

            return OUTER_IN_EXPR.sub(sub, expr)

        def lift(text: str) -> str:
            def sub(m: "re.Match[str]") -> str:
                inner = m.group(1).strip()
                if inner.startswith("="):
                    return "{{=" + lift_expr(inner[1:]) + "}}"
                if inner == "item" or inner.startswith("item.") or inner.startswith("workflow."):
                    return m.group(0)
                return "{{inputs.parameters.%s}}" % name_for(m.group(0))

            return re.sub(r"\{\{(.*?)\}\}", sub, text, flags=re.S)

        args = out.get("arguments", {})
        inner_params = [{"name": p["name"], "value": lift(p["value"])} for p in args.get("parameters", [])]
        inner_arts = [
            {"name": a["name"], "from": "{{inputs.artifacts.%s}}" % a["name"]} for a in args.get("artifacts", [])
        ]
        inner: Dict[str, Any] = {"name": s.name, "template": out["template"]}
        if "withParam" in out:
            inner["withParam"] = lift(out["withParam"])
        if "withSequence" in out:
            inner["withSequence"] = {k: lift(str(v)) if k != "format" else v for k, v in out["withSequence"].items()}
        inner["arguments"] = prune({"parameters": inner_params, "artifacts": inner_arts})
        if "continueOn" in out:
            inner["continueOn"] = out["continueOn"]
        inner = prune(inner)
        out_params = [
            {"name": p.name, "valueFrom": {"parameter": "{{steps.%s.outputs.parameters.%s}}" % (s.name, p.name)}}
            for p in target.outputs_parameters
        ]
        if target.name in self.success:
            out_params.append(
                {
                    "name": SUCCESS_PARAMETER,
                    "valueFrom": {"parameter": "{{steps.%s.outputs.parameters.%s}}" % (s.name, SUCCESS_PARAMETER)},
                }
            )
        body = {
            "inputs": prune(
                {
                    "parameters": [{"name": n} for n in lifted.values()],
                    "artifacts": [{"name": a["name"]} for a in args.get("artifacts", [])],
                }
            ),
            "outputs": prune({"parameters": out_params}),
            "parallelism": int(s.parallelism or 0),
            "steps": [[inner]],
        }
        digest = hashlib.sha1(json.dumps(body, sort_keys=True).encode()).hexdigest()[:8]
        name = f"{out['template'][:40]}-par{s.parallelism}-{digest}"
        body["metadata"] = {"annotations": {WRAPPER_ANNOTATION: "parallelism"}}
        self.extra.setdefault(name, prune({"name": name, **body}))
        wrapper = {
            "name": s.name,
            "template": name,
            "arguments": prune(
                {
                    "parameters": [{"name": n, "value": outer} for outer, n in lifted.items()],
                    "artifacts": args.get("artifacts", []),
                }
            ),
            "when": out.get("when"),
            "continueOn": out.get("continueOn"),
            "hooks": out.get("hooks"),  # (the wrapper's node is the step's: its hooks' expressions hold of it)
        }
        return prune(wrapper)
