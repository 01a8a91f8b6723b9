"""Script templates of an Argo manifest: containers that run a script, or a Python OP through core's runtime.

A Python OP's pod runs :func:`dflow.container.run_in_container` with a payload naming
the OP, its slices and its inputs (see :mod:`dflow_argo.podscript`); core's ``dflow``
package arrives as an input artifact. A template whose executor plugin registered a
render is rendered first: what it returns is what the pod runs.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from dflow.container import PARAMETERS_DIR
from dflow.contract import (
    GROUP_KEY_PARAMETER,
    KEY_PARAMETER,
    PYTHON_OP_SCRIPT,
    SLICE_PARAMETER,
    SUCCESS_PARAMETER,
)
from dflow.errors import ValidationError
from dflow.spec import DAGTemplateSpec, PythonOPSpec, ScriptTemplateSpec, StepsTemplateSpec

from .podscript import PACKAGES_DIR, PKG_DIR, pod_script
from .util import ARTIFACT_IN_SCRIPT, SAVED_PREFIX, default_group_key, part_key
from .util import archive_field as _archive
from .util import input_parameter as _input_parameter
from .util import prune as _prune

__all__ = ["ScriptTemplates"]


class ScriptTemplates:
    """The script-template half of :class:`dflow_argo.manifest.ManifestCompiler` (a mixin)."""

    def _rendered(self, t: ScriptTemplateSpec) -> Any:
        """``t`` as its executor plugin renders it for a container backend (unchanged without one).

        A render returns a script template, or a list: a Steps/DAG template with ``t``'s name
        and interface followed by the script templates it calls (see ``_composite``).
        """
        ex = t.executor
        if ex is None or not ex.name:
            return t
        from dflow.plugins import get_executor

        render = get_executor(ex.name).render
        if render is None:
            return t
        out = render(t.model_copy(deep=True), dict(ex.options))
        if isinstance(out, list) and out and isinstance(out[0], (StepsTemplateSpec, DAGTemplateSpec)) \
                and out[0].name == t.name and all(isinstance(h, ScriptTemplateSpec) for h in out[1:]):
            return out
        if not isinstance(out, ScriptTemplateSpec):
            raise ValidationError(
                f"template {t.name!r}: the render of executor {ex.name!r} returned {type(out).__name__}, "
                "not a ScriptTemplateSpec (or a list: a Steps/DAG template of the same name and the script "
                "templates it calls)"
            )
        return out

    def _composite(self, parts: List[Any]) -> Dict[str, Any]:
        """A render that needs several pods (stage, run, collect): a Steps/DAG template and the templates it calls."""
        main, helpers = parts[0], parts[1:]
        for h in helpers:
            if h.name in self.by_name:
                raise ValidationError(f"template {main.name!r}: its executor's render names a helper template "
                                      f"{h.name!r}, which the workflow already has")
            self.by_name[h.name] = h
        for h in helpers:
            self.extra[h.name] = self._script_template(h)
        return self._container_template(main)

    def _retry(self, t: ScriptTemplateSpec) -> Optional[Dict[str, Any]]:
        r = t.retry
        if r is None or r.limit <= 0:
            return None
        if r.on in ("always", "error"):  # (error: a pod's error, not its failure: Argo's OnError)
            return {"limit": str(r.limit), "retryPolicy": "Always" if r.on == "always" else "OnError"}
        expr = "lastRetry.exitCode == '3'"
        if r.timeout_as_transient:
            # a pod past activeDeadlineSeconds is failed by Kubernetes with a "deadline" message
            expr += " || lastRetry.message contains 'deadline'"
        # IntOrString fields are strings in the schema (Argo accepts both)
        return {"limit": str(r.limit), "retryPolicy": "Always", "expression": expr}

    def _resource_template(self, t: ScriptTemplateSpec) -> Dict[str, Any]:
        """A template that applies a Kubernetes object (``t.resource["manifest"]``) and waits for its conditions.

        An executor's render returns such a template to hand a step to an operator (for
        example a ``SlurmJob`` of the wlm-operator). ``t.resource`` keys: ``action``,
        ``manifest`` (YAML text or a dict), ``success_condition``, ``failure_condition``,
        ``set_owner_reference``, ``merge_strategy``, ``flags``, and ``outputs``: per output
        parameter, ``{"jsonPath": ...}`` or ``{"jqFilter": ...}`` read from the object.
        """
        import yaml

        r = dict(t.resource or {})
        manifest = r["manifest"]
        if not isinstance(manifest, str):
            manifest = yaml.safe_dump(manifest, sort_keys=False)
        outputs = r.get("outputs") or {}
        out_params = []
        for p in t.outputs_parameters:
            vf = dict(outputs.get(p.name) or {})
            if not vf:
                raise ValidationError(
                    f"template {t.name!r}: output parameter {p.name!r} of a resource template needs a jsonPath "
                    "or jqFilter in resource['outputs']"
                )
            if p.default is not None:
                vf["default"] = p.default
            out_params.append(_prune({"name": p.name, "valueFrom": vf, "globalName": p.global_name}))
        resource = _prune({
            "action": r.get("action") or "create",
            "manifest": manifest,
            "successCondition": r.get("success_condition"),
            "failureCondition": r.get("failure_condition"),
            "setOwnerReference": r.get("set_owner_reference"),
            "mergeStrategy": r.get("merge_strategy"),
            "flags": r.get("flags"),
        })
        in_params = [_input_parameter(p) for p in t.inputs_parameters]
        if t.name in self.keyed:
            in_params.append({"name": KEY_PARAMETER, "value": ""})
        return _prune({
            "name": t.name,
            "metadata": _prune({"annotations": dict(t.annotations), "labels": dict(t.labels)}),
            "inputs": _prune({"parameters": in_params}),
            "outputs": _prune({"parameters": out_params}),
            "resource": resource,
            "activeDeadlineSeconds": None if t.timeout is None else str(t.timeout),
            "retryStrategy": self._retry(t),
        })

    def _script_template(self, t: ScriptTemplateSpec) -> Dict[str, Any]:
        t = self._rendered(t)
        if isinstance(t, list):
            return self._composite(t)
        if t.resource is not None and t.resource.get("manifest") is not None:
            return self._resource_template(t)
        op = t.python_op
        in_params: List[Dict[str, Any]] = []
        for p in t.inputs_parameters:
            in_params.append(_input_parameter(p))
        sl = self._slices(t)
        if sl is not None:
            in_params.append({"name": SLICE_PARAMETER})
        gathered = self._gathered_artifacts(t)
        if gathered:
            in_params.append({"name": GROUP_KEY_PARAMETER, "value": default_group_key(t.name)})
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
                # the slices of one fan-out write parts under one prefix (no archive), merged in order by readers
                art.update(self.locations.location(part_key(a.name)))
                art["archive"] = {"none": {}}
                art["optional"] = True
            else:
                arch = _archive(a.archive)
                if arch is not None:
                    art["archive"] = arch
                if not self.locations.outputs_key_only():
                    # not the cluster's default repository: say where the output goes
                    suffix = ".tgz" if arch is None else ""
                    art.update(self.locations.location(f"{{{{workflow.name}}}}/{{{{pod.name}}}}/{a.name}{suffix}"))
            out_arts.append(art)
            if a.save_key:
                # save=[S3Artifact(key=...)]: the same path again, to the key given (placeholders Argo fills in)
                saved = {k: v for k, v in art.items() if k in ("path", "optional")}
                arch = _archive(a.archive)
                out_arts.append({"name": SAVED_PREFIX + a.name, **saved, **({"archive": arch} if arch else {}),
                                 **self.locations.location(a.save_key.strip("/"))})
        env = [{"name": k, "value": v} for k, v in t.env.items()]
        if op is not None:
            source = self._python_op_source(t, op, in_arts, env)
        else:
            # Argo names an input artifact's location {{inputs.artifacts.NAME.path}}
            source = ARTIFACT_IN_SCRIPT.sub(r"{{inputs.artifacts.\1.path}}", t.script)
        k8s = t.k8s
        resources = _prune({"requests": k8s.get("requests"), "limits": k8s.get("limits")})
        script = _prune(
            {
                "image": t.image or self.util_image,
                "imagePullPolicy": k8s.get("image_pull_policy") or self.options.get("util_image_pull_policy"),
                # a Python OP's pod runs its bootstrap with Python; an executor's rewritten script and command
                # (``bash`` and a wrapper, say) are in the bootstrap's payload, which runs them
                "command": ["python3"] if op is not None and t.script not in ("", PYTHON_OP_SCRIPT)
                else (list(t.command) or ["python3"]),
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
            value = f"{{{{inputs.parameters.{p.name}}}}}"
            sign = op.input_sign.get(p.name)
            if sign is not None and sign.kind == "big_parameter":
                # a file (an artifact of raw data), not an environment string, which Linux limits to 128 KiB
                in_arts.append({"name": f"dflow-parameter-{i}", "path": f"{PARAMETERS_DIR}/{i}", "raw": {"data": value}})
            else:
                env.append({"name": f"DFLOW_P{i}", "value": value})
        sl = op.slices
        if sl is not None:
            env.append({"name": "DFLOW_SLICE", "value": f"{{{{inputs.parameters.{SLICE_PARAMETER}}}}}"})
        if t.name in self.keyed:
            env.append({"name": "DFLOW_KEY", "value": f"{{{{inputs.parameters.{KEY_PARAMETER}}}}}"})
        env.append({"name": "DFLOW_WORKFLOW", "value": "{{workflow.name}}"})
        env.append({"name": "DFLOW_STEP", "value": "{{pod.name}}"})
        in_arts.append({"name": "dflow-pkg", "path": f"{PKG_DIR}/dflow",
                        **self.locations.location(self.locations.package_key)})
        python_paths = []
        for i, pkg in enumerate(op.python_packages):
            local = pkg.local_path or pkg.key
            base = local.rstrip("/").rsplit("/", 1)[-1] or "package"
            if pkg.local_path:
                loc = self.locations.location(self.locations.upload(local, "python-package"))
            else:
                loc = self.locations.location(pkg.key, pkg.storage)
            in_arts.append({"name": f"dflow-python-package-{i}", "path": f"{PACKAGES_DIR}/{i}/{base}", **loc})
            python_paths.append(f"{PACKAGES_DIR}/{i}")
        payload = {
            "op": {
                "module": op.module,
                "qualname": op.qualname,
                "source": op.source,
                "source_file": op.source_file,
                "op_kwargs": op.op_kwargs,
                **({"instance": op.instance} if op.instance else {}),
            },
            "slices": op.slices.model_dump(mode="json") if op.slices is not None else None,
            "parameters": params,
            "artifacts": [a.name for a in t.inputs_artifacts],
            "python_paths": python_paths,
            "success_flag": t.name in self.success,
            # an executor's rewritten script runs instead of the step runtime's stub
            "script": None if t.script in ("", PYTHON_OP_SCRIPT) else t.script,
            "command": list(t.command) or ["python3"],
        }
        return pod_script(payload)

    # ---------------------------------------------------------------- steps and dags

