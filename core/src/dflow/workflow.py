"""``Workflow``: build, submit and follow a workflow (user guide 1.1.4, 3.1.1)."""

from __future__ import annotations

import json
import re
import sys
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Union

from .arguments import arguments_of, refuse_unknown
from .dag import DAG
from .errors import ValidationError, WorkflowFailedError
from .expressions import INPUT_PARAMETER_REF, STEP_OUTPUT_PARAMETER_REF
from .names import check_template_name
from .op_template import OPTemplate
from .settings import config
from .step import Step
from .steps import Steps

if TYPE_CHECKING:  # pydantic-backed modules are imported where they are used, so that a
    # script defining OPs next to its Workflow can be loaded inside a bare python3 image
    from .argo_objects import ArgoStep
    from .backend import ReusedStep, WorkflowRecord
    from .spec import WorkflowSpec

__all__ = ["Workflow", "query_workflows", "get_backend_for_mode", "backend_factory_for_mode"]


_STEP_OUTPUT_IN_EXPR = re.compile(r"\b(?:steps|tasks)\[\s*'([^']+)'\s*\]\.outputs\.parameters\[\s*'([^']+)'\s*\]")


def backend_factory_for_mode(mode: Optional[str] = None) -> Any:
    """The factory (class) of the backend that ``config["mode"]`` selects (see :mod:`dflow.backend`)."""
    from ._plugin_manager import backend_factory_for_mode as factory

    return factory(mode)


def get_backend_for_mode(mode: Optional[str] = None) -> Any:
    """A new backend of the kind ``config["mode"]`` selects (``debug``, ``default``/``argo``, or a plugin's name)."""
    return backend_factory_for_mode(mode)()


#: Argo's pod garbage collection strategies (``Workflow(pod_gc_strategy=...)``)
POD_GC_STRATEGIES = ("OnPodCompletion", "OnPodSuccess", "OnWorkflowCompletion", "OnWorkflowSuccess")


def cluster_settings(name: str, pod_gc_strategy: Optional[str], image_pull_secrets: Any,
                     artifact_repo_key: Optional[str]) -> Dict[str, Any]:
    """The settings of ``Workflow(...)`` only a cluster applies (the local backend starts no pods): which
    pods are deleted when, the secrets images are pulled with (names, or objects with a ``name``), and
    the key of the artifact repository in the cluster's configuration. Checked here, before any work."""
    if pod_gc_strategy is not None and pod_gc_strategy not in POD_GC_STRATEGIES:
        raise ValidationError(f"workflow {name!r}: pod_gc_strategy {pod_gc_strategy!r} is not one of Argo's "
                              f"strategies: {', '.join(POD_GC_STRATEGIES)}")
    given = [] if image_pull_secrets is None else image_pull_secrets
    secrets = []
    for s in [given] if isinstance(given, str) or hasattr(given, "name") else list(given):
        secret = s if isinstance(s, str) else getattr(s, "name", None)
        if not isinstance(secret, str) or not secret:
            raise ValidationError(f"workflow {name!r}: image_pull_secrets takes the names of Kubernetes secrets "
                                  f"(or objects with a name), got {s!r}")
        secrets.append(secret)
    if artifact_repo_key is not None and (not isinstance(artifact_repo_key, str) or not artifact_repo_key):
        raise ValidationError(f"workflow {name!r}: artifact_repo_key must be a key of the cluster's artifact "
                              f"repositories configuration, got {artifact_repo_key!r}")
    return {"pod_gc_strategy": pod_gc_strategy, "image_pull_secrets": secrets, "artifact_repo_key": artifact_repo_key}


class Workflow:
    """A workflow: an entry ``Steps`` (or ``DAG``) plus settings; submitted to the configured backend."""

    def __init__(
        self,
        name: str = "workflow",
        steps: Optional[Steps] = None,
        dag: Optional[DAG] = None,
        namespace: Optional[str] = None,
        id: Optional[str] = None,
        uid: Optional[str] = None,
        host: Optional[str] = None,
        token: Optional[str] = None,
        k8s_config_file: Optional[str] = None,
        k8s_api_server: Optional[str] = None,
        context: Any = None,
        annotations: Optional[Dict[str, str]] = None,
        labels: Optional[Dict[str, str]] = None,
        parallelism: Optional[int] = None,
        parameters: Optional[Dict[str, Any]] = None,
        artifacts: Optional[Dict[str, Any]] = None,
        on_exit: Any = None,
        pod_gc_strategy: Optional[str] = None,
        image_pull_secrets: Any = None,
        artifact_repo_key: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        refuse_unknown(f"workflow {name!r}", kwargs, arguments_of(Workflow))
        self.cluster = cluster_settings(name, pod_gc_strategy, image_pull_secrets, artifact_repo_key)
        self.id = id
        self.uid = uid
        self.namespace = namespace or config.get("namespace")
        self.host = host
        self.token = token
        self.context = context
        self.annotations = dict(annotations or {})
        self.labels = dict(labels or {})
        self.parallelism = parallelism
        self.parameters = dict(parameters or {})
        self.artifacts = dict(artifacts or {})
        if on_exit is not None and not isinstance(on_exit, OPTemplate):
            raise ValidationError(f"workflow {name!r}: on_exit must be a template (a ShellOPTemplate, PythonOPTemplate, "
                                  f"Steps or DAG) run when the workflow ends, got {type(on_exit).__name__}")
        self.on_exit = on_exit
        self._backend: Any = None
        self._spec: Optional[WorkflowSpec] = None
        self._given_spec: Optional[WorkflowSpec] = None  # from a manifest (from_dict): what compile() gives
        self._name: Optional[str] = None
        if id is not None:
            # as in dflow, nothing is looked up until it is needed (the spec, the name)
            self.steps = steps
            self.dag = dag
            return
        self._name = check_template_name(name, "workflow")
        if steps is not None and dag is not None:
            raise ValidationError(f"workflow {name!r}: give steps=... or dag=..., not both")
        if steps is not None and not isinstance(steps, Steps):
            raise ValidationError(f"workflow {name!r}: steps must be a dflow.Steps, got {type(steps).__name__}")
        if dag is not None and not isinstance(dag, DAG):
            raise ValidationError(f"workflow {name!r}: dag must be a dflow.DAG, got {type(dag).__name__}")
        self.dag = dag
        self.steps = steps if steps is not None else (None if dag is not None else Steps(name=self.name))
        if context is not None and not hasattr(context, "render"):
            raise ValidationError(f"workflow {name!r}: context must have a render(template) method, got {type(context).__name__}")

    @property
    def name(self) -> str:
        """The workflow's name (of a workflow loaded by id: read from its backend on first use)."""
        if self._name is None:
            self._name = self._loaded_spec().name
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        self._name = value

    def _loaded_spec(self) -> "WorkflowSpec":
        if self._spec is None:
            self._spec = self.backend.get_spec(self._require_id())
        return self._spec

    # ------------------------------------------------------------------ building

    def add(self, step: Union[Step, List[Step]]) -> None:
        """Add a step (or parallel steps) to the entry Steps, or tasks to the entry DAG.

        The first thing added to a new workflow decides: a ``Task`` makes its entry a DAG.
        """
        from .step import Task

        if self._given_spec is not None:
            raise ValidationError(f"workflow {self.name!r} was made from a manifest (from_dict/from_yaml/from_json) and "
                                  "takes no more steps; add them in the Python code that built it, and render it again")
        first = step[0] if isinstance(step, (list, tuple)) and step else step
        if self.dag is None and isinstance(first, Task) and self.steps is not None and not self.steps.steps \
                and self.steps.name == self.name:
            self.dag, self.steps = DAG(name=self.name), None
        if self.dag is not None:
            self.dag.add(step)
        else:
            assert self.steps is not None
            self.steps.add(step)

    def __enter__(self) -> "Workflow":
        from .context_syntax import enter

        enter(self)
        return self

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        from .context_syntax import leave

        leave(self)
        if exc_type is None:
            self.submit()

    def entrypoint_template(self) -> Any:
        return self.dag if self.dag is not None else self.steps

    @classmethod
    def from_dict(cls, manifest: Dict[str, Any]) -> "Workflow":
        """A workflow from a manifest this project rendered (``to_dict()``, ``to_yaml()``, ``to_json()``,
        ``dflow render``), to submit again, on any backend: as in dflow, ``Workflow.from_yaml(text).submit()``.

        The manifest carries the workflow's spec (an annotation); one without it (written by hand, by the
        original dflow, or with a spec too large to store) is refused by name.
        """
        from .plugins import get_backend

        spec = get_backend("argo").spec_of(manifest)
        wf = cls(name=spec.name)
        wf._given_spec = spec
        return wf

    @classmethod
    def from_json(cls, text: str) -> "Workflow":
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_yaml(cls, text: str) -> "Workflow":
        import yaml

        return cls.from_dict(yaml.safe_load(text))

    def compile(self) -> WorkflowSpec:
        """The backend-neutral WorkflowSpec of this workflow."""
        from .compiler import compile_workflow
        from .plugins import get_plugin_manager

        if self._given_spec is not None:
            return self._given_spec
        spec = compile_workflow(self)
        get_plugin_manager().hook.workflow_compiled(spec=spec)
        return spec

    def to_dict(self) -> Dict[str, Any]:
        """The manifest of this workflow for the Argo backend (offline: no server is contacted)."""
        from .plugins import get_backend

        spec = self._loaded_spec() if self.id is not None and self.steps is None and self.dag is None else self.compile()
        return get_backend("argo").render(spec)

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    # ------------------------------------------------------------------ running

    @property
    def backend(self) -> Any:
        if self._backend is None:
            self._backend = get_backend_for_mode()
        return self._backend

    def submit(self, reuse_step: Optional[List[Any]] = None, detach: Optional[bool] = None, **kwargs: Any) -> Any:
        """Submit the workflow. On the local backend this runs it to its end unless ``config["detach"]``."""
        from . import runtime

        if runtime.LOADING_OP_SOURCE:
            raise runtime.StopSourceExec()
        if self.id is not None and self._spec is not None and self.steps is None and self.dag is None:
            raise ValidationError(f"workflow {self.id!r} was loaded by id; use resubmit() or retry() to run it again")
        backend = self.backend
        if detach is None:
            detach = bool(config.get("detach"))
        with backend.submitting(detach=detach):  # (the local backend starts its fork server meanwhile)
            spec = self.compile()
            reuse = [_reused(s) for s in (reuse_step or [])]
            self._spec = spec
            self.id = backend.submit(spec, reuse=reuse, detach=detach)
        from .plugins import get_plugin_manager

        get_plugin_manager().hook.workflow_submitted(workflow_id=self.id, backend=backend.name)
        if backend.announced != self.id:  # (a backend that runs it in submit() said it first)
            print(f"Workflow has been submitted (ID: {self.id})", file=sys.stderr)
        if not detach:
            self._report_failure()
        return self

    def _report_failure(self) -> None:
        """After a run that ended badly, say which steps failed and where their logs are."""
        rec = self.backend.get_workflow(self.id)
        if rec.phase in ("Succeeded", "Pending", "Running"):
            return
        lines = [f"Workflow {self.id} ended {rec.phase}: {rec.message or ''}".rstrip()]
        for step in self.backend.list_steps(self.id):
            if step.type == "Pod" and step.phase in ("Failed", "Error"):
                where = f" (log: {step.log_path})" if step.log_path else ""
                lines.append(f"  step {step.display_name}: {step.message or step.phase}{where}")
        print("\n".join(lines[:21]), file=sys.stderr)

    def _require_id(self) -> str:
        if self.id is None:
            raise ValidationError(f"workflow {self.name!r} has not been submitted yet; call wf.submit() first")
        return self.id

    def query(self) -> WorkflowRecord:
        """The workflow's record (phase, message, times), with ``get_step`` as in dflow."""
        from .records import QueriedWorkflow

        rec = QueriedWorkflow(**self.backend.get_workflow(self._require_id()).model_dump())
        rec._workflow = self
        return rec

    def query_status(self) -> str:
        """``Pending``, ``Running``, ``Succeeded``, ``Failed`` or ``Error``."""
        return self.query().phase

    def wait(self, timeout: Optional[float] = None, interval: Optional[float] = None, raise_on_failure: bool = False) -> str:
        """Block until the workflow ends; return its phase."""
        rec = self.backend.wait(self._require_id(), timeout=timeout, interval=interval)
        if raise_on_failure and rec.phase != "Succeeded":
            raise WorkflowFailedError(f"workflow {rec.id} ended {rec.phase}: {rec.message or ''}")
        return rec.phase

    def query_step(
        self,
        name: Union[str, List[str], None] = None,
        key: Union[str, List[str], None] = None,
        phase: Union[str, List[str], None] = None,
        id: Union[str, List[str], None] = None,
        type: Union[str, List[str], None] = None,
        sort_by_generation: bool = False,
        parent_id: Optional[str] = None,
        **kwargs: Any,
    ) -> List[ArgoStep]:
        """Steps matching every filter given: ``name`` is a regex on the step name, the others exact values.

        ``parent_id``: only the steps below that step (a ``Steps``/``DAG`` node), generation by
        generation; ``sort_by_generation``: every step in that order (children before grandchildren),
        as in dflow. Otherwise in the order the backend lists them.
        """
        records = self.backend.list_steps(self._require_id())
        if parent_id is not None or sort_by_generation:
            records = _by_generation(records, parent_id)

        def as_list(v: Any) -> Optional[List[str]]:
            return None if v is None else (list(v) if isinstance(v, (list, tuple, set)) else [v])

        from .argo_objects import ArgoStep

        names, keys, phases, ids, types = map(as_list, (name, key, phase, id, type))
        patterns = [re.compile(n) for n in names] if names else None
        declared = self._declared_types()
        stacks = self._stacks_of_slices(records)
        out = []
        for r in records:
            if types is None and r.type in ("StepGroup", "TaskGroup", "Retry"):
                continue
            if patterns is not None and not any(p.fullmatch(r.name) or p.fullmatch(r.display_name) for p in patterns):
                continue
            if keys is not None and r.key not in keys:
                continue
            if phases is not None and r.phase not in phases:
                continue
            if ids is not None and r.id not in ids:
                continue
            if types is not None and r.type not in types:
                continue
            step = ArgoStep(r, self, declared.get(r.template or ""), not getattr(self.backend, "records_writer_types", True))
            stack = stacks.get(r.parent or "") if r.phase == "Succeeded" else None
            if stack:
                step.read_as_stack(stack)
            out.append(step)
        return out

    def _spec_if_any(self) -> Optional["WorkflowSpec"]:
        """The run's spec, or None for a backend that keeps none (values then stay as recorded)."""
        try:
            return self._loaded_spec()
        except Exception:  # noqa: BLE001
            return None

    def _stacks_of_slices(self, records: List[Any]) -> Dict[str, Dict[str, Any]]:
        from .argo_objects import slices_share_stacks

        spec = self._spec_if_any()
        return slices_share_stacks(spec, records) if spec is not None else {}

    def _declared_types(self) -> Dict[str, Dict[str, Dict[str, Optional[str]]]]:
        """Per template, the declared types of its input and output parameters (from the spec)."""
        spec = self._spec_if_any()
        if spec is None:
            return {}
        by_name = {t.name: t for t in spec.templates}
        callers: Dict[str, List[Any]] = {}  # template -> (calling template, step) of every step that runs it
        for t in spec.templates:
            for s in (t.all_steps() if hasattr(t, "all_steps") else []):
                callers.setdefault(s.template, []).append((t, s))

        def passed_type(caller: Any, s: Any, name: str, depth: int) -> Optional[str]:
            # the type of what a step gives a parameter: a literal's, or the type of what it refers to
            if name in s.parameter_types:
                return s.parameter_types[name]
            ref = (s.parameters.get(name) or "").strip()
            m = INPUT_PARAMETER_REF.match(ref)
            if m:
                return input_type(caller.name, m.group(1), depth + 1)
            m = STEP_OUTPUT_PARAMETER_REF.match(ref)
            steps = {x.name: x for x in caller.all_steps()}
            if m and m.group(2) in steps and steps[m.group(2)].with_param is None \
                    and steps[m.group(2)].with_sequence is None:
                return output_type(steps[m.group(2)].template, m.group(3), depth + 1)
            return None

        def param_of(template: str, kind: str, name: str) -> Any:
            return next((p for p in getattr(by_name.get(template), kind, []) if p.name == name), None)

        def input_type(template: str, name: str, depth: int = 0) -> Optional[str]:
            # an untyped input has the type every caller gives it (when they agree)
            p = param_of(template, "inputs_parameters", name)
            if p is None or depth > 50:
                return None
            if p.type:
                return p.type
            given = {passed_type(c, s, name, depth) for c, s in callers.get(template, [])}
            return given.pop() if len(given) == 1 else None

        def output_type(template: str, name: str, depth: int = 0) -> Optional[str]:
            # an untyped output of a Steps/DAG template that hands on a step's output (or one of its own
            # inputs) has that output's (input's) type
            t = by_name.get(template)
            p = param_of(template, "outputs_parameters", name)
            if p is None or depth > 50:
                return None
            if p.type:
                return p.type
            own_input = INPUT_PARAMETER_REF.match(p.value_from_parameter.strip()) if p.value_from_parameter else None
            if own_input:
                return input_type(template, own_input.group(1), depth + 1)
            if p.value_from_parameter:
                m = STEP_OUTPUT_PARAMETER_REF.match(p.value_from_parameter.strip())
                refs = [m.group(2, 3)] if m else []
            else:  # an expression choosing among step outputs (if_expression): their common type
                text = p.value_from_expression or ""
                refs = _STEP_OUTPUT_IN_EXPR.findall(text.split("?", 1)[1] if "?" in text else text)
            steps = {s.name: s for s in t.all_steps()}
            # a fan-out's output is the list of its items' values
            types = {"list" if steps[a].with_param is not None or steps[a].with_sequence is not None
                     else output_type(steps[a].template, b, depth + 1) for a, b in refs if a in steps}
            types.discard(None)
            return types.pop() if len(types) == 1 else None

        return {t.name: {"inputs": {p.name: input_type(t.name, p.name) for p in t.inputs_parameters},
                         "outputs": {p.name: output_type(t.name, p.name) for p in t.outputs_parameters}}
                for t in spec.templates}

    def query_step_by_key(self, key: Union[str, List[str]], name: Any = None, phase: Any = None, id: Any = None,
                          type: Any = None, **kwargs: Any) -> List[ArgoStep]:
        """The steps of ``key`` (the other filters as in :meth:`query_step`, also given by position, as in dflow)."""
        return self.query_step(key=key, name=name, phase=phase, id=id, type=type, **kwargs)

    def query_keys_of_steps(self) -> List[str]:
        return [s.key for s in self.query_step() if s.key is not None]

    def terminate(self) -> None:
        """End the run now: running steps are stopped, nothing new starts."""
        self.backend.terminate(self._require_id())

    def stop(self) -> None:
        """End the run, letting what the backend runs at the end of a workflow run (Argo's exit handlers)."""
        self.backend.stop(self._require_id())

    def suspend(self) -> None:
        """Start no new step until :meth:`resume`; running steps go on."""
        self.backend.suspend(self._require_id())

    def query_global_outputs(self) -> Any:
        """The outputs the workflow made global (``global_name``), as ``.parameters[name].value`` and
        ``.artifacts[name]``; those not produced (yet) are absent."""
        from .argo_objects import global_outputs

        return global_outputs(self._loaded_spec(), self.backend.list_steps(self._require_id()))

    def resume(self, detach: Optional[bool] = None) -> None:
        """Run a stopped or failed workflow on; steps that succeeded are not run again."""
        if detach is None:
            detach = bool(config.get("detach"))
        self.backend.resume(self._require_id(), detach=detach)

    def resubmit(self, reuse_step: Optional[List[Any]] = None, detach: Optional[bool] = None) -> "Workflow":
        """Run this workflow's spec again as a new workflow (also for one loaded by id).

        With ``reuse_step``, steps whose key matches a reused step take its outputs
        instead of running (user guide 3.1.13). Returns the new workflow.
        """
        spec = self._loaded_spec()
        if detach is None:
            detach = bool(config.get("detach"))
        new_id = self.backend.submit(spec, reuse=[_reused(s) for s in (reuse_step or [])], detach=detach)
        print(f"Workflow has been resubmitted (ID: {new_id})", file=sys.stderr)
        new = Workflow(id=new_id)
        if not detach:
            new._report_failure()
        return new

    def retry(self, detach: Optional[bool] = None, **kwargs: Any) -> None:
        """Run the failed steps of a finished workflow again (the succeeded ones are kept)."""
        self.resume(detach=detach)

    def retry_steps(self, step_ids: List[str]) -> None:
        """The original's ``retry_steps`` (on Argo: given steps of a running workflow run again, its nodes'
        status patched): refused by name, as no backend here can restart one step of a run in flight."""
        raise ValidationError(
            f"workflow {self.id!r}: retry_steps({list(step_ids)!r}), running given steps of a running workflow "
            "again, is not supported; retry() runs the failed steps of a finished run again, and "
            "resubmit(reuse_step=[...]) runs it anew, keeping the outputs of the steps you give"
        )

    def delete(self) -> None:
        self.backend.delete(self._require_id())

    def logs(self, step: Union[str, "ArgoStep"]) -> str:
        sid = step if isinstance(step, str) else step.id
        return self.backend.logs(self._require_id(), sid)

    def __repr__(self) -> str:
        return f"Workflow(name={self.name!r}, id={self.id!r})"


def _reused(step: Any) -> "ReusedStep":
    from .argo_objects import ArgoStep
    from .backend import ParameterValue, ReusedStep

    if not isinstance(step, ArgoStep):
        raise ValidationError(f"reuse_step takes steps returned by query_step, got {type(step).__name__}")
    if not step.key:
        raise ValidationError(f"step {step.displayName!r} has no key; only steps with a key can be reused (Step(key=...))")
    outs = step.reused_outputs()
    return ReusedStep(
        key=step.key,
        outputs_parameters={k: ParameterValue(text=t, type=tp) for k, (t, tp) in outs["parameters"].items()},
        outputs_artifacts=dict(outs["artifacts"]),
    )


def query_workflows(labels: Optional[Dict[str, str]] = None, fields: Optional[List[str]] = None,
                    mode: Optional[str] = None) -> List[WorkflowRecord]:
    """Workflows known to the configured backend, newest first; with ``labels``, those that carry every
    one of them (``Workflow(labels=...)``), as in dflow. Each reads as dflow's ``ArgoWorkflow`` too
    (``w.metadata.name``, ``w.status.phase``, ``w.get_duration()``). ``fields`` (which fields Argo
    Server returns) is accepted and changes nothing: every field is returned."""
    if labels is not None and not isinstance(labels, dict):
        raise ValidationError(f"query_workflows(labels={labels!r}): labels are a dict of label name to value, "
                              "e.g. query_workflows(labels={'project': 'alloys'})")
    backend = get_backend_for_mode(mode)
    if not labels:
        return backend.list_workflows()
    wanted = {str(k): str(v) for k, v in labels.items()}
    # (filtered again here: a backend's own filter may be looser than "carries every label")
    return [r for r in backend.list_labelled_workflows(wanted) if r.carries(wanted)]


def _by_generation(records: List[Any], parent_id: Optional[str]) -> List[Any]:
    """The records below ``parent_id`` (every record when None), children first, then their children and
    so on (dflow's ``sort_by_generation``); by start time within a generation."""
    by_id = {r.id: r for r in records}

    def generation(r: Any) -> Optional[int]:
        g, node = 0, r
        while g <= len(records):
            if parent_id is not None and node.parent == parent_id:
                return g + 1
            if not node.parent or node.parent not in by_id:
                return g if parent_id is None else None
            node = by_id[node.parent]
            g += 1
        return None  # (a cycle in the records: never written)

    keyed = [(g, r.started_at or 0.0, i, r) for i, r in enumerate(records)
             if r.id != parent_id and (g := generation(r)) is not None]
    keyed.sort(key=lambda x: x[:3])
    return [x[3] for x in keyed]
