"""Compile a :class:`~dflow.spec.WorkflowSpec` into an Argo ``Workflow`` manifest (a plain dict).

Rendering is offline: nothing is uploaded and no server is contacted. What must be in
the artifact repository before the workflow runs (core's ``dflow`` package, the OPs'
``python_packages``, artifacts that are only on this machine) is named by a
content-derived key and listed in :attr:`ManifestCompiler.uploads`;
:meth:`dflow_argo.ArgoBackend.submit` uploads it.

How dflow features map onto Argo (the why is in the plugin README):

* script templates -> ``script`` templates (:mod:`.scripts`); Python OPs run core's step
  runtime through :func:`dflow.container.run_in_container`, with the ``dflow`` package as
  an input artifact at ``/tmp/dflow-pkg/dflow``; a named executor's plugin may render
  the template first;
* artifacts -> the location each storage client gives (:mod:`.locations`), key-only or
  with credentials named by Kubernetes secret, so no credential is written into a manifest;
* transient errors -> ``retryStrategy`` with ``expression: lastRetry.exitCode == '3'``;
* ``continue_on_num_success`` / ``continue_on_success_ratio`` -> the fan-out continues on
  failure and a ``dflow-check-success`` step right after it fails when too few slices
  succeeded (each Python OP pod reports ``dflow_success``) (:mod:`.containers`);
* slices, already lowered by core's compiler -> a plain loop with ``dflow_slice`` per item;
  gathered output parameters are Argo's aggregation of the pods' lists, flattened where
  they are read; gathered output artifacts are parts under one storage prefix
  (``dflow_group_key``) that readers merge;
* keys -> the ``dflow_key`` input parameter of the step, visible in the node's inputs.
"""

from __future__ import annotations

import base64
import zlib
from typing import Any, Dict, List, Optional, Set, Tuple

from dflow.backend import ReusedStep
from dflow.contract import GROUP_KEY_PARAMETER, KEY_PARAMETER, SLICE_PARAMETER
from dflow.errors import ValidationError
from dflow.spec import DAGTemplateSpec, ScriptTemplateSpec, StepSpec, WorkflowSpec
from dflow.storage import StorageClient

from .containers import ContainerTemplates
from .locations import Locations
from .merging import MergedInputs
from .package import Upload
from .reuse import ReuseTemplates
from .scripts import ScriptTemplates
from .superops import SuperOPSlices
from .util import (
    API_VERSION,
    CHECK_TEMPLATE,
    INSTANCE_TEMPLATE,
    SPEC_ANNOTATION,
    SPEC_ANNOTATION_LIMIT,
    WRAPPER_ANNOTATION,
    prune,
)

__all__ = [
    "ManifestCompiler",
    "render_manifest",
    "SPEC_ANNOTATION",
    "WRAPPER_ANNOTATION",
    "KEY_PARAMETER",
    "SLICE_PARAMETER",
    "GROUP_KEY_PARAMETER",
    "CHECK_TEMPLATE",
    "decode_spec_annotation",
]


def decode_spec_annotation(text: str) -> WorkflowSpec:
    """The WorkflowSpec stored in a manifest's :data:`SPEC_ANNOTATION`."""
    return WorkflowSpec.from_json(zlib.decompress(base64.b64decode(text)).decode("utf-8"))


class ManifestCompiler(ScriptTemplates, ContainerTemplates, MergedInputs, ReuseTemplates, SuperOPSlices):
    """Turns one WorkflowSpec into an Argo Workflow manifest.

    ``reuse`` (steps of an earlier run, by key) replaces every step whose key is a
    constant found there by a step that only hands back the recorded outputs.
    ``options`` are ``config`` keys: ``namespace``, ``util_image``,
    ``util_image_pull_policy``, ``workflow_annotations``; ``key_prefix`` prefixes the
    storage keys of shipped packages (``s3_config["repo_prefix"]``); ``client`` is the
    store artifacts go through (default: the configured one).
    """

    def __init__(
        self,
        spec: WorkflowSpec,
        *,
        reuse: Optional[List[ReusedStep]] = None,
        options: Optional[Dict[str, Any]] = None,
        key_prefix: str = "",
        store_spec: bool = True,
        client: Optional[StorageClient] = None,
    ) -> None:
        self.spec = spec
        self.options = dict(options or {})
        self.store_spec = store_spec
        self.reuse = {r.key: r for r in (reuse or [])}
        self.by_name = {t.name: t for t in spec.templates}
        self.locations = Locations(key_prefix, client)
        self.extra: Dict[str, Dict[str, Any]] = {}
        self.keyed: Set[str] = set()
        self.success: Set[str] = set()
        self._scan()

    @property
    def uploads(self) -> Dict[str, Upload]:
        """What must be in the artifact repository before the workflow runs, by key."""
        return self.locations.uploads

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
        return t.all_steps() if t is not None else []

    @staticmethod
    def _is_fanout(step: StepSpec) -> bool:
        return step.with_param is not None or step.with_sequence is not None

    @staticmethod
    def _thresholds(step: StepSpec) -> bool:
        return step.continue_on_num_success is not None or step.continue_on_success_ratio is not None

    @staticmethod
    def _slices(t: Any) -> Any:
        """The slices the step runtime of a Python OP template applies (what its pods read and write)."""
        op = getattr(t, "python_op", None)
        return op.slices if op is not None else None

    def _gathered_artifacts(self, t: Any) -> List[str]:
        sl = self._slices(t)
        return list(sl.output_artifact) if sl is not None else []

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
        self.instanced = self._instanced()

    def _instanced(self) -> Set[str]:
        """The Steps/DAG templates that hold a fan-out gathering artifacts and may run more than once in
        a run (looped, called from several steps, recursive, or inside such a template).

        The slices of a fan-out stack their parts under one storage prefix. A template that
        runs once can name it from the template and step; one that runs more than once needs
        a prefix per instance, or the parts of one instance would land among another's (a
        recursion's rounds, a loop's instances). A pod at its start names one.
        """
        calls: Dict[str, List[Tuple[str, bool]]] = {}  # callee -> [(caller, looped)]
        for t in self.spec.templates:
            for s in self._steps_of(t):
                calls.setdefault(s.template, []).append((t.name, self._is_fanout(s)))

        def reaches(start: str, goal: str) -> bool:
            seen, todo = set(), [start]
            while todo:
                n = todo.pop()
                for s in self._steps_of(self.by_name.get(n)):
                    if s.template == goal:
                        return True
                    if s.template not in seen:
                        seen.add(s.template)
                        todo.append(s.template)
            return False

        multi = {t.name for t in self.spec.templates if reaches(t.name, t.name)}
        changed = True
        while changed:
            changed = False
            for callee, callers in calls.items():
                if callee not in multi and (len(callers) > 1 or any(looped or c in multi for c, looped in callers)):
                    multi.add(callee)
                    changed = True
        return {t.name for t in self.spec.templates if t.name in multi and any(
            s.fanout is not None and s.fanout.gather_artifacts and self._is_fanout(s) for s in self._steps_of(t))}

    def _group_key(self, parent: str, step: str) -> str:
        """The storage prefix under which the slices of fan-out ``step`` of template ``parent`` stack their parts."""
        if parent in self.instanced:
            scope = "tasks" if isinstance(self._template(parent), DAGTemplateSpec) else "steps"
            return "{{%s.%s.outputs.parameters.key}}/%s" % (scope, INSTANCE_TEMPLATE, step)
        return f"{{{{workflow.name}}}}/{parent}/{step}"

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
            if len(packed) <= SPEC_ANNOTATION_LIMIT:
                annotations[SPEC_ANNOTATION] = packed
        metadata["labels"] = dict(spec.labels)
        metadata["annotations"] = annotations
        arguments = prune(
            {
                "parameters": [{"name": k, "value": v} for k, v in spec.parameters.items()],
                "artifacts": [self._artifact_argument(k, a, None) for k, a in spec.artifacts.items()],
            }
        )
        cluster = spec.cluster
        body = prune(
            {
                "entrypoint": spec.entrypoint,
                "onExit": spec.on_exit,
                "arguments": arguments,
                "parallelism": spec.parallelism,
                "podGC": {"strategy": cluster["pod_gc_strategy"]} if cluster.get("pod_gc_strategy") else None,
                "imagePullSecrets": [{"name": n} for n in cluster.get("image_pull_secrets") or []],
                "artifactRepositoryRef": {"key": cluster["artifact_repo_key"]} if cluster.get("artifact_repo_key") else None,
                "templates": templates,
            }
        )
        return {"apiVersion": API_VERSION, "kind": "Workflow", "metadata": prune(metadata), "spec": body}


def render_manifest(spec: WorkflowSpec, **kwargs: Any) -> Dict[str, Any]:
    """The Argo Workflow manifest of ``spec`` (see :class:`ManifestCompiler` for the options)."""
    return ManifestCompiler(spec, **kwargs).render()
