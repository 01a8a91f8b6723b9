"""Compile a :class:`~dflow.spec.WorkflowSpec` into an Argo ``Workflow`` manifest (a plain dict).

Rendering is offline: nothing is uploaded and no server is contacted. What must be in
the artifact repository before the workflow runs (core's ``dflow`` package, the OPs'
``python_packages``, local-path artifacts) is named by a content-derived key and listed
in :attr:`ManifestCompiler.uploads`; :meth:`dflow_argo.ArgoBackend.submit` uploads it.

How dflow features map onto Argo (the why is in the plugin README):

* script templates -> ``script`` templates; Python OPs run core's step runtime through
  the bootstrap of :mod:`dflow_argo.podscript`, with the ``dflow`` package as an input
  artifact at ``/tmp/dflow-pkg/dflow``;
* artifacts -> ``s3: {key: ...}`` only: bucket, endpoint and credentials come from the
  cluster's artifact repository, so no credential is ever written into a manifest;
* transient errors -> ``retryStrategy`` with ``expression: lastRetry.exitCode == '3'``
  (the runtime's exit code for TransientError);
* ``continue_on_num_success`` / ``continue_on_success_ratio`` -> the fan-out continues on
  failure and a ``dflow-check-success`` step right after it fails when too few slices
  succeeded (each Python OP pod reports ``dflow_success``);
* slices -> one pod per slice (``dflow_slice`` = ``{{item}}``); sliced output parameters
  are gathered by Argo's aggregation of fan-out outputs; sliced output artifacts of all
  slices are written under one storage prefix (``dflow_group_key``) that later steps read;
* keys -> the ``dflow_key`` input parameter of the step, visible in the node's inputs.
"""

from __future__ import annotations

import base64
import json
import re
import zlib
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

from dflow.artifact import ARCHIVE_OBJECT
from dflow.backend import ReusedStep
from dflow.errors import ValidationError
from dflow.spec import (
    ArtifactArgument,
    DAGTemplateSpec,
    PythonOPSpec,
    ScriptTemplateSpec,
    StepSpec,
    StepsTemplateSpec,
    WorkflowSpec,
)

from .package import Upload, dflow_package, package_key
from .podscript import PACKAGES_DIR, PKG_DIR, SUCCESS_PARAMETER, pod_script

__all__ = [
    "ManifestCompiler",
    "render_manifest",
    "SPEC_ANNOTATION",
    "KEY_PARAMETER",
    "SLICE_PARAMETER",
    "GROUP_KEY_PARAMETER",
    "CHECK_TEMPLATE",
    "decode_spec_annotation",
]

API_VERSION = "argoproj.io/v1alpha1"
SPEC_ANNOTATION = "workflows.dflow.io/spec"
# marks templates the backend adds around a step (not shown as steps of their own)
WRAPPER_ANNOTATION = "workflows.dflow.io/wrapper"
KEY_PARAMETER = "dflow_key"
SLICE_PARAMETER = "dflow_slice"
GROUP_KEY_PARAMETER = "dflow_group_key"
CHECK_TEMPLATE = "dflow-check-success"
# kubernetes refuses annotations above 256 kB in total; keep room for the user's own
_SPEC_ANNOTATION_LIMIT = 200_000

_STEP_PARAM_REF = re.compile(r"\{\{\s*(steps|tasks)\.([^.{}\s]+)\.outputs\.parameters\.([^.{}\s]+)\s*\}\}")
_EXPR_PARAM_REF = re.compile(r"\b(steps|tasks)\[\s*'([^']+)'\s*\]\.outputs\.parameters\[\s*'([^']+)'\s*\]")
# what an expression reads from the template it is written in (lifted into a wrapper's inputs)
_OUTER_IN_EXPR = re.compile(r"\b(?:(?:steps|tasks)\[\s*'[^']+'\s*\]|inputs)(?:\.[A-Za-z_][\w-]*|\[\s*'[^']+'\s*\])+")
_ARTIFACT_IN_SCRIPT = re.compile(r"\{\{\s*inputs\.artifacts\.([^.{}\s]+)\s*\}\}")
_STEP_ART_REF = re.compile(r"^\{\{\s*(steps|tasks)\.([^.{}\s]+)\.outputs\.artifacts\.([^.{}\s]+)\s*\}\}$")

_CHECK_SOURCE = r"""
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


def _archive(archive: Optional[str]) -> Optional[Dict[str, Any]]:
    if archive in ("tar", "default"):
        return None  # Argo's default: tar + gzip
    if archive is None or archive == "none":
        return {"none": {}}
    if archive == "zip":
        return {"zip": {}}
    raise ValidationError(f"artifact archive {archive!r} is not supported by Argo; use 'tar' or None")


def _prune(d: Dict[str, Any]) -> Dict[str, Any]:
    """``d`` without empty values (Argo omits them; smaller manifests)."""
    return {k: v for k, v in d.items() if v not in (None, {}, [], "")}


_INPUT_REF = re.compile(r"^\{\{\s*inputs\.parameters\.([^.{}\s]+)\s*\}\}$")
_OUTPUT_REF = re.compile(r"^\{\{\s*(steps|tasks)\.([^.{}\s]+)\.outputs\.parameters\.([^.{}\s]+)\s*\}\}$")


def _as_expression(text: str) -> Optional[str]:
    """An expression giving the list that the loop text ``text`` stands for, or None."""
    t = text.strip()
    if t.startswith("{{=") and t.endswith("}}"):
        return f"sprig.fromJson({t[3:-2]})"
    m = _INPUT_REF.match(t)
    if m:
        return f"sprig.fromJson(inputs.parameters['{m.group(1)}'])"
    m = _OUTPUT_REF.match(t)
    if m:
        return "sprig.fromJson({}['{}'].outputs.parameters['{}'])".format(*m.group(1, 2, 3))
    return None


def _grouped_loop(
    step: str, with_param: Optional[str], seq: Optional[Dict[str, Any]], g: int
) -> Tuple[Optional[str], Optional[Dict[str, Any]]]:
    if with_param is not None:
        try:
            n = len(json.loads(with_param))
            return json.dumps(list(range(-(-n // g)))), seq
        except ValueError:
            pass
        expr = _as_expression(with_param)
        if expr is None:
            raise ValidationError(
                f"step {step!r}: with_param {with_param!r} of a Slices(group_size=...) step must be "
                "a list, an expression or an output parameter reference"
            )
        return "{{=toJson(sprig.until(int((len(" + expr + f") + {g - 1}) / {g})))}}}}", seq
    if seq is not None and "count" in seq and str(seq["count"]).isdigit():
        seq = dict(seq, count=str(-(-int(seq["count"]) // g)))
        return with_param, seq
    raise ValidationError(
        f"step {step!r}: Slices(group_size=...) needs with_param, or with_sequence with a constant count"
    )


def _or_default(scope: str, step: str, ref: str, default: str) -> str:
    """An expression: the output ``ref`` of ``step``, or ``default`` when the step was skipped."""
    literal = "'" + default.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return f"({scope}['{step}'].status == 'Skipped' ? {literal} : {ref})"


def _input_parameter(p: Any) -> Dict[str, Any]:
    out: Dict[str, Any] = {"name": p.name}
    if p.value is not None:
        out["value"] = p.value  # "" is a real default
    if p.description:
        out["description"] = p.description
    return out


def decode_spec_annotation(text: str) -> WorkflowSpec:
    """The WorkflowSpec stored in a manifest's :data:`SPEC_ANNOTATION`."""
    return WorkflowSpec.from_json(zlib.decompress(base64.b64decode(text)).decode("utf-8"))


class ManifestCompiler:
    """Turns one WorkflowSpec into an Argo Workflow manifest.

    ``reuse`` (steps of an earlier run, by key) replaces every step whose key is a
    constant found there by a step that only hands back the recorded outputs.
    ``options`` are ``config`` keys: ``namespace``, ``util_image``,
    ``util_image_pull_policy``, ``workflow_annotations``; ``key_prefix`` prefixes the
    storage keys of shipped packages (``s3_config["repo_prefix"]``).
    """

    def __init__(
        self,
        spec: WorkflowSpec,
        *,
        reuse: Optional[List[ReusedStep]] = None,
        options: Optional[Dict[str, Any]] = None,
        key_prefix: str = "",
        store_spec: bool = True,
    ) -> None:
        self.spec = spec
        self.options = dict(options or {})
        self.key_prefix = key_prefix
        self.store_spec = store_spec
        self.reuse = {r.key: r for r in (reuse or [])}
        self.by_name = {t.name: t for t in spec.templates}
        self.uploads: Dict[str, Upload] = {}
        self.extra: Dict[str, Dict[str, Any]] = {}
        self.keyed: Set[str] = set()
        self.success: Set[str] = set()
        self._pkg_key: Optional[str] = None
        self._scan()

    # ---------------------------------------------------------------- helpers

    @property
    def util_image(self) -> str:
        return self.options.get("util_image") or "python:3.8"

    def _template(self, name: str) -> Any:
        t = self.by_name.get(name)
        if t is None:
            raise ValidationError(
                f"workflow {self.spec.name!r}: a step uses template {name!r}, which the spec does not define"
            )
        return t

    @staticmethod
    def _steps_of(t: Any) -> List[StepSpec]:
        if isinstance(t, StepsTemplateSpec):
            return [s for g in t.steps for s in g]
        if isinstance(t, DAGTemplateSpec):
            return list(t.tasks)
        return []

    def _is_fanout(self, step: StepSpec) -> bool:
        if step.with_param is not None or step.with_sequence is not None:
            return True
        sl = self._slices(self.by_name.get(step.template))
        return sl is not None and sl.sub_path  # sub-path slices fan out over their items

    @staticmethod
    def _thresholds(step: StepSpec) -> bool:
        return step.continue_on_num_success is not None or step.continue_on_success_ratio is not None

    @staticmethod
    def _slices(t: Any) -> Any:
        op = getattr(t, "python_op", None)
        return op.slices if op is not None else None

    def _scan(self) -> None:
        for t in self.spec.templates:
            for s in self._steps_of(t):
                target = self._template(s.template)
                if s.key is not None:
                    self.keyed.add(target.name)
                if self._thresholds(s) and self._is_fanout(s):
                    if getattr(target, "python_op", None) is None:
                        raise ValidationError(
                            f"step {s.name!r}: continue_on_num_success/continue_on_success_ratio on the Argo "
                            f"backend need a Python OP template (its pods report their success); "
                            f"{target.kind} template {target.name!r} is not one - wrap the script in a Python OP "
                            "or use continue_on_failed"
                        )
                    self.success.add(target.name)

    def _gathered_artifacts(self, t: Any) -> List[str]:
        sl = self._slices(t)
        if sl is None:
            return []
        return list(sl.output_artifact)

    def _group_key(self, parent: str, step: str) -> str:
        return f"{{{{workflow.name}}}}/{parent}/{step}"

    def _upload(self, local_path: str, kind: str) -> str:
        key = package_key(local_path, self.key_prefix)
        self.uploads.setdefault(key, Upload(key, local_path, kind))
        return key

    @property
    def package_key(self) -> str:
        if self._pkg_key is None:
            self._pkg_key = self._upload(dflow_package(), "dflow-package")
        return self._pkg_key

    def _stored_artifact(self, name: str, arg: ArtifactArgument) -> Dict[str, Any]:
        st = arg.stored
        assert st is not None
        if st.storage == "local-path":
            key = self._upload(st.local_path or st.key, "local-artifact")
        else:
            key = st.key
        sub = "/".join(x.strip("/") for x in (st.sub_path, arg.sub_path) if x)
        if st.archive == "tar" and st.storage == "s3" and not sub and not key.endswith(".tgz"):
            # upload_artifact() stores one tarball under the key on S3: Argo unpacks it in place
            key = key.rstrip("/") + "/" + ARCHIVE_OBJECT
        if sub:
            key = key.rstrip("/") + "/" + sub
        return {"name": name, "s3": {"key": key}}

    # ---------------------------------------------------------------- top level

    def render(self) -> Dict[str, Any]:
        spec = self.spec
        templates = []
        for t in spec.templates:
            if isinstance(t, ScriptTemplateSpec):
                templates.append(self._script_template(t))
            else:
                templates.append(self._container_template(t))
        templates.extend(self.extra.values())
        metadata: Dict[str, Any] = {}
        if spec.generate_name:
            metadata["generateName"] = spec.name + "-"
        else:
            metadata["name"] = spec.name
        if self.options.get("namespace"):
            metadata["namespace"] = self.options["namespace"]
        annotations = dict(self.options.get("workflow_annotations") or {})
        annotations.update(spec.annotations)
        if self.store_spec:
            packed = base64.b64encode(zlib.compress(spec.to_json().encode("utf-8"), 9)).decode("ascii")
            if len(packed) <= _SPEC_ANNOTATION_LIMIT:
                annotations[SPEC_ANNOTATION] = packed
        metadata["labels"] = dict(spec.labels)
        metadata["annotations"] = annotations
        arguments = _prune(
            {
                "parameters": [{"name": k, "value": v} for k, v in spec.parameters.items()],
                "artifacts": [self._artifact_argument(k, a, None) for k, a in spec.artifacts.items()],
            }
        )
        body = _prune(
            {
                "entrypoint": spec.entrypoint,
                "arguments": arguments,
                "parallelism": spec.parallelism,
                "templates": templates,
            }
        )
        return {"apiVersion": API_VERSION, "kind": "Workflow", "metadata": _prune(metadata), "spec": body}

    # ---------------------------------------------------------------- script templates

    def _retry(self, t: ScriptTemplateSpec) -> Optional[Dict[str, Any]]:
        r = t.retry
        if r is None or r.limit <= 0:
            return None
        if r.on == "always":
            return {"limit": str(r.limit), "retryPolicy": "Always"}
        expr = "lastRetry.exitCode == '3'"
        if r.timeout_as_transient:
            # a pod past activeDeadlineSeconds is failed by Kubernetes with a "deadline" message
            expr += " || lastRetry.message contains 'deadline'"
        # IntOrString fields are strings in the schema (Argo accepts both)
        return {"limit": str(r.limit), "retryPolicy": "Always", "expression": expr}

    def _script_template(self, t: ScriptTemplateSpec) -> Dict[str, Any]:
        op = t.python_op
        in_params: List[Dict[str, Any]] = []
        for p in t.inputs_parameters:
            in_params.append(_input_parameter(p))
        sl = self._slices(t)
        if sl is not None:
            in_params.append({"name": SLICE_PARAMETER})
        gathered = self._gathered_artifacts(t)
        if gathered:
            in_params.append({"name": GROUP_KEY_PARAMETER, "value": f"{{{{workflow.name}}}}/{t.name}"})
        if t.name in self.keyed:
            in_params.append({"name": KEY_PARAMETER, "value": ""})
        in_arts: List[Dict[str, Any]] = []
        for a in t.inputs_artifacts:
            in_arts.append(
                _prune(
                    {
                        "name": a.name,
                        "path": a.path or f"/tmp/inputs/artifacts/{a.name}",
                        "optional": True if a.optional else None,
                    }
                )
            )
        out_params: List[Dict[str, Any]] = []
        for p in t.outputs_parameters:
            vf = _prune({"path": p.value_from_path or f"/tmp/outputs/parameters/{p.name}"})
            default = p.default if p.default is not None else p.value
            if default is None and sl is not None and p.name in sl.output_parameter:
                # a failed slice keeps its place in the gathered list (as the local engine does)
                default = "null"
            if default is not None:
                vf["default"] = default
            out_params.append(
                _prune({"name": p.name, "valueFrom": vf, "globalName": p.global_name, "description": p.description})
            )
        if t.name in self.success:
            out_params.append(
                {
                    "name": SUCCESS_PARAMETER,
                    "valueFrom": {"path": f"/tmp/outputs/parameters/{SUCCESS_PARAMETER}", "default": "0"},
                }
            )
        out_arts: List[Dict[str, Any]] = []
        for a in t.outputs_artifacts:
            art = _prune(
                {
                    "name": a.name,
                    "path": a.path or f"/tmp/outputs/artifacts/{a.name}",
                    "optional": True if a.optional else None,
                    "globalName": a.global_name,
                }
            )
            if a.name in gathered:
                # all slices of one fan-out write under one prefix; no archive, so it merges
                art["s3"] = {"key": f"{{{{inputs.parameters.{GROUP_KEY_PARAMETER}}}}}/{a.name}"}
                art["archive"] = {"none": {}}
                art["optional"] = True
            else:
                arch = _archive(a.archive)
                if arch is not None:
                    art["archive"] = arch
            out_arts.append(art)
        env = [{"name": k, "value": v} for k, v in t.env.items()]
        if op is not None:
            source = self._python_op_source(t, op, in_arts, env)
        else:
            # Argo names an input artifact's location {{inputs.artifacts.NAME.path}}
            source = _ARTIFACT_IN_SCRIPT.sub(r"{{inputs.artifacts.\1.path}}", t.script)
        k8s = t.k8s
        resources = _prune({"requests": k8s.get("requests"), "limits": k8s.get("limits")})
        script = _prune(
            {
                "image": t.image or self.util_image,
                "imagePullPolicy": k8s.get("image_pull_policy") or self.options.get("util_image_pull_policy"),
                "command": list(t.command) or ["python3"],
                "source": source,
                "env": env,
                "resources": resources,
                "volumeMounts": k8s.get("mounts"),
            }
        )
        script.setdefault("source", "")
        metadata = _prune({"annotations": dict(t.annotations), "labels": dict(t.labels)})
        return _prune(
            {
                "name": t.name,
                "metadata": metadata,
                "inputs": _prune({"parameters": in_params, "artifacts": in_arts}),
                "outputs": _prune({"parameters": out_params, "artifacts": out_arts}),
                "script": script,
                "activeDeadlineSeconds": None if t.timeout is None else str(t.timeout),
                "retryStrategy": self._retry(t),
                "parallelism": t.parallelism,
                "nodeSelector": k8s.get("node_selector"),
                "tolerations": k8s.get("tolerations"),
                "affinity": k8s.get("affinity"),
                "volumes": k8s.get("volumes"),
                "initContainers": k8s.get("init_containers"),
                "sidecars": k8s.get("sidecars"),
            }
        )

    def _python_op_source(
        self, t: ScriptTemplateSpec, op: PythonOPSpec, in_arts: List[Dict[str, Any]], env: List[Dict[str, Any]]
    ) -> str:
        params: List[Tuple[str, Optional[str]]] = []
        for i, p in enumerate(t.inputs_parameters):
            params.append((p.name, p.type))
            env.append({"name": f"DFLOW_P{i}", "value": f"{{{{inputs.parameters.{p.name}}}}}"})
        sl = op.slices
        if sl is not None:
            env.append({"name": "DFLOW_SLICE", "value": f"{{{{inputs.parameters.{SLICE_PARAMETER}}}}}"})
        if t.name in self.keyed:
            env.append({"name": "DFLOW_KEY", "value": f"{{{{inputs.parameters.{KEY_PARAMETER}}}}}"})
        env.append({"name": "DFLOW_WORKFLOW", "value": "{{workflow.name}}"})
        env.append({"name": "DFLOW_STEP", "value": "{{pod.name}}"})
        in_arts.append({"name": "dflow-pkg", "path": f"{PKG_DIR}/dflow", "s3": {"key": self.package_key}})
        python_paths = []
        for i, pkg in enumerate(op.python_packages):
            local = pkg.local_path or pkg.key
            base = local.rstrip("/").rsplit("/", 1)[-1] or "package"
            if pkg.storage == "local-path" or pkg.local_path:
                key = self._upload(local, "python-package")
            else:
                key = pkg.key
            in_arts.append(
                {"name": f"dflow-python-package-{i}", "path": f"{PACKAGES_DIR}/{i}/{base}", "s3": {"key": key}}
            )
            python_paths.append(f"{PACKAGES_DIR}/{i}")
        payload = {
            "op": {
                "module": op.module,
                "qualname": op.qualname,
                "source": op.source,
                "source_file": op.source_file,
                "op_kwargs": op.op_kwargs,
            },
            "slices": op.slices.model_dump(mode="json") if op.slices is not None else None,
            "parameters": params,
            "artifacts": [a.name for a in t.inputs_artifacts],
            "python_paths": python_paths,
            "pkg_dir": PKG_DIR,
            "success_flag": t.name in self.success,
        }
        return pod_script(payload)

    # ---------------------------------------------------------------- steps and dags

    def _container_template(self, t: Any) -> Dict[str, Any]:
        is_dag = isinstance(t, DAGTemplateSpec)
        scope = "tasks" if is_dag else "steps"
        steps = self._steps_of(t)
        flatten = self._flattened_outputs(steps)
        gathered = {s.name: self._gathered_artifacts(self._template(s.template)) for s in steps}
        gathered = {k: v for k, v in gathered.items() if v}

        skipped = self._skipped_defaults(steps)

        def rewrite(text: Optional[str]) -> Optional[str]:
            if text is None or not (flatten or skipped):
                return text

            def in_expr(m: "re.Match[str]") -> str:
                pair = (m.group(2), m.group(3))
                if pair in flatten:
                    return f"toJson(flatten(fromJSON({m.group(0)})))"
                if pair in skipped:
                    return _or_default(m.group(1), m.group(2), m.group(0), skipped[pair])
                return m.group(0)

            def sub(m: "re.Match[str]") -> str:
                pair = (m.group(2), m.group(3))
                ref = "{}['{}'].outputs.parameters['{}']".format(*m.group(1, 2, 3))
                if pair in flatten:
                    return "{{=toJson(flatten(fromJSON(%s)))}}" % ref
                if pair in skipped:
                    return "{{=%s}}" % _or_default(m.group(1), m.group(2), ref, skipped[pair])
                return m.group(0)

            return _STEP_PARAM_REF.sub(sub, _EXPR_PARAM_REF.sub(in_expr, text))

        in_params = [_input_parameter(p) for p in t.inputs_parameters]
        if t.name in self.keyed:
            in_params.append({"name": KEY_PARAMETER, "value": ""})
        in_arts = [_prune({"name": a.name, "optional": True if a.optional else None}) for a in t.inputs_artifacts]
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
                _prune({"name": p.name, "valueFrom": vf, "globalName": p.global_name, "description": p.description})
            )
        out_arts = []
        for a in t.outputs_artifacts:
            art: Dict[str, Any] = {"name": a.name}
            m = _STEP_ART_REF.match(a.from_ or "")
            if m and m.group(3) in gathered.get(m.group(2), []):
                raise ValidationError(
                    f"{t.kind} {t.name!r}: output artifact {a.name!r} comes from the sliced output "
                    f"{m.group(3)!r} of fan-out step {m.group(2)!r}; the Argo backend cannot return a gathered "
                    "artifact from a Steps/DAG template yet - pass it to a step inside the template instead"
                )
            if a.from_ is not None:
                art["from"] = a.from_
            elif a.from_expression is not None:
                art["fromExpression"] = a.from_expression
            if a.global_name:
                art["globalName"] = a.global_name
            if a.optional:
                art["optional"] = True
            out_arts.append(art)
        body: Dict[str, Any] = {
            "name": t.name,
            "metadata": _prune({"annotations": dict(t.annotations), "labels": dict(t.labels)}),
            "inputs": _prune({"parameters": in_params, "artifacts": in_arts}),
            "outputs": _prune({"parameters": out_params, "artifacts": out_arts}),
            "parallelism": t.parallelism,
        }
        if is_dag:
            tasks: List[Dict[str, Any]] = []
            checks: Dict[str, str] = {}
            for s in t.tasks:
                tasks.append(self._step(s, t.name, scope, rewrite, gathered))
                if self._needs_check(s):
                    check = self._check_step(s, scope)
                    check["dependencies"] = [s.name]
                    tasks.append(check)
                    checks[s.name] = check["name"]
            if checks:
                for task in tasks:
                    deps = task.get("dependencies")
                    if deps and task["name"] not in checks.values():
                        task["dependencies"] = deps + [checks[d] for d in deps if d in checks]
            body["dag"] = {"tasks": tasks}
        else:
            groups: List[List[Dict[str, Any]]] = []
            for g in t.steps:
                groups.append([self._step(s, t.name, scope, rewrite, gathered) for s in g])
                check_group = [self._check_step(s, scope) for s in g if self._needs_check(s)]
                if check_group:
                    groups.append(check_group)
            body["steps"] = groups
        return _prune(body)

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
        """(step, parameter) pairs whose fan-out aggregate is a list of lists (slices with group_size)."""
        out: Set[Tuple[str, str]] = set()
        for s in steps:
            sl = self._slices(self._template(s.template))
            if sl is not None and not sl.sub_path and sl.group_size and self._is_fanout(s):
                out |= {(s.name, p) for p in sl.output_parameter}
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
                    "source": _CHECK_SOURCE,
                    "env": [{"name": "DFLOW_" + n.upper(), "value": f"{{{{inputs.parameters.{n}}}}}"} for n in names],
                },
            }
        seq = s.with_sequence.model_dump(exclude_none=True) if s.with_sequence is not None else None
        params = [
            {"name": "checked", "value": s.name},
            {"name": "items", "value": s.with_param or self._implicit_items(s)},
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

    def _artifact_argument(self, name: str, a: ArtifactArgument, gathered_key: Optional[str]) -> Dict[str, Any]:
        if a.stored is not None:
            return self._stored_artifact(name, a)
        if gathered_key is not None:
            out: Dict[str, Any] = {"name": name, "s3": {"key": gathered_key}}
            if a.sub_path:
                out["s3"]["key"] += "/" + a.sub_path.strip("/")
            return out
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
            if k in declared or k == SLICE_PARAMETER:
                params.append({"name": k, "value": rewrite(v)})
        sl = self._slices(target)
        fanout = s.with_param is not None or s.with_sequence is not None
        if sl is not None and sl.sub_path and not fanout:
            # sub-path slices fan out over the items of the sliced inputs; each pod takes its own
            s = s.model_copy(update={"with_param": self._sub_path_items(s, sl)})
            params.append({"name": SLICE_PARAMETER, "value": "{{item}}"})
            fanout = True
        if self._gathered_artifacts(target) and fanout:
            params.append({"name": GROUP_KEY_PARAMETER, "value": self._group_key(parent, s.name)})
        if s.key is not None:
            params.append({"name": KEY_PARAMETER, "value": s.key})
        arts = []
        for k, a in s.artifacts.items():
            gkey = None
            m = _STEP_ART_REF.match(a.ref or "")
            if m and m.group(3) in gathered.get(m.group(2), []):
                gkey = f"{self._group_key(parent, m.group(2))}/{m.group(3)}"
            arts.append(self._artifact_argument(k, a, gkey))
        if reused is not None:
            template_name = self._reuse_template(target, reused)
            params = [p for p in params if p["name"] == KEY_PARAMETER]
            arts = []
        continue_on = _prune(
            {
                "failed": True if (s.continue_on_failed or self._thresholds(s)) else None,
                "error": True if s.continue_on_error else None,
            }
        )
        seq = None
        if s.with_sequence is not None:
            seq = _prune(s.with_sequence.model_dump(exclude_none=True))
        with_param = rewrite(s.with_param)
        sl = self._slices(target)
        if sl is not None and sl.group_size and not sl.sub_path:
            # the loop lists slices; one pod runs group_size of them, so it iterates over groups
            with_param, seq = _grouped_loop(s.name, with_param, seq, int(sl.group_size))
        out = {
            "name": s.name,
            "template": template_name,
            "arguments": _prune({"parameters": params, "artifacts": arts}),
            "when": rewrite(s.when),
            "withParam": with_param,
            "withSequence": seq,
            "continueOn": continue_on,
        }
        out = _prune(out)
        if s.parallelism and ("withParam" in out or "withSequence" in out) and reused is None:
            out = self._limit_parallelism(out, s, target)
        if scope == "tasks" and s.dependencies:
            out["dependencies"] = list(s.dependencies)
        return out

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

            return _OUTER_IN_EXPR.sub(sub, expr)

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
        inner["arguments"] = _prune({"parameters": inner_params, "artifacts": inner_arts})
        if "continueOn" in out:
            inner["continueOn"] = out["continueOn"]
        inner = _prune(inner)
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
            "inputs": _prune(
                {
                    "parameters": [{"name": n} for n in lifted.values()],
                    "artifacts": [{"name": a["name"]} for a in args.get("artifacts", [])],
                }
            ),
            "outputs": _prune({"parameters": out_params}),
            "parallelism": int(s.parallelism or 0),
            "steps": [[inner]],
        }
        import hashlib

        digest = hashlib.sha1(json.dumps(body, sort_keys=True).encode()).hexdigest()[:8]
        name = f"{out['template'][:40]}-par{s.parallelism}-{digest}"
        body["metadata"] = {"annotations": {WRAPPER_ANNOTATION: "parallelism"}}
        self.extra.setdefault(name, _prune({"name": name, **body}))
        wrapper = {
            "name": s.name,
            "template": name,
            "arguments": _prune(
                {
                    "parameters": [{"name": n, "value": outer} for outer, n in lifted.items()],
                    "artifacts": args.get("artifacts", []),
                }
            ),
            "when": out.get("when"),
            "continueOn": out.get("continueOn"),
        }
        return _prune(wrapper)

    def _implicit_items(self, s: StepSpec) -> str:
        sl = self._slices(self._template(s.template))
        if s.with_sequence is None and sl is not None and sl.sub_path:
            return self._sub_path_items(s, sl)
        return ""

    def _sub_path_items(self, s: StepSpec, sl: Any) -> str:
        for name in sl.input_parameter:
            text = s.parameters.get(name)
            if text is None:
                continue
            try:
                return json.dumps(list(range(len(json.loads(text)))))
            except ValueError:
                expr = _as_expression(text)
                if expr is not None:
                    return f"{{{{=toJson(sprig.until(len({expr})))}}}}"
        for name in sl.input_artifact:
            a = s.artifacts.get(name)
            if a is not None and a.stored is not None and a.stored.catalog:
                return json.dumps(list(range(len(a.stored.catalog))))
        raise ValidationError(
            f"step {s.name!r}: Slices(sub_path=True) on Argo counts the slices from a sliced input parameter "
            "(a list, an input or another step's output) or an uploaded artifact; give with_param=... otherwise"
        )

    def _reuse_template(self, target: Any, reused: ReusedStep) -> str:
        """A pod that only hands back the outputs recorded for ``reused.key``."""
        digest = json.dumps(reused.model_dump(mode="json"), sort_keys=True)
        import hashlib

        name = f"dflow-reuse-{hashlib.sha1((target.name + digest).encode()).hexdigest()[:10]}"
        if name in self.extra:
            return name
        in_arts, out_arts, out_params = [], [], []
        for p in target.outputs_parameters:
            pv = reused.outputs_parameters.get(p.name)
            text = (
                pv.text if pv is not None and pv.text is not None else (p.default if p.default is not None else p.value)
            )
            vf: Dict[str, Any] = {"path": f"/tmp/dflow-reused/parameters/{p.name}"}
            if text is not None:
                vf["default"] = text  # the file is never written: the default is the value
            out_params.append({"name": p.name, "valueFrom": vf})
        for a in target.outputs_artifacts:
            st = reused.outputs_artifacts.get(a.name)
            path = f"/tmp/dflow-reused/artifacts/{a.name}"
            if st is None:
                continue
            in_arts.append({"name": a.name, "path": path, "s3": {"key": st.key}})
            out_arts.append({"name": a.name, "path": path})
        self.extra[name] = _prune(
            {
                "name": name,
                "metadata": {"annotations": {"workflows.dflow.io/reused-key": reused.key}},
                "inputs": _prune({"parameters": [{"name": KEY_PARAMETER, "value": ""}], "artifacts": in_arts}),
                "outputs": _prune({"parameters": out_params, "artifacts": out_arts}),
                "script": {"image": self.util_image, "command": ["python3"], "source": "print('reused step')\n"},
            }
        )
        return name


def render_manifest(spec: WorkflowSpec, **kwargs: Any) -> Dict[str, Any]:
    """The Argo Workflow manifest of ``spec`` (see :class:`ManifestCompiler` for the options)."""
    return ManifestCompiler(spec, **kwargs).render()
