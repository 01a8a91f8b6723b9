"""Compile user model objects into a :class:`~dflow.spec.WorkflowSpec`.

Everything a backend needs is decided here, once: template names (identical
templates are emitted once), executor and context rendering, step-level
timeouts and slices, parameter text and types, artifact sources, DAG
dependencies found from the data flow, and validation of every reference, so
bad input is refused before any work starts.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any, Dict, List, Optional, Tuple

from . import spec as S
from .artifact_args import artifact_argument, template_part
from .compile_checks import (
    argument_texts,
    check_acyclic,
    check_exit_handler,
    check_io_refs,
    check_script_refs,
    check_steps_refs,
    check_unique_keys,
    check_unique_names,
    pickled_instance,
    save_key_of,
    task_refs,
)
from .contract import SLICE_PARAMETER, encode_value
from .dag import DAG
from .errors import ValidationError
from .io import Expression, _Bindable
from .op_template import OPTemplate, ScriptOPTemplate
from .slicing import lower_slices
from .step import ArgoSequence, Step
from .steps import Steps

__all__ = ["compile_workflow", "parameter_text", "type_label"]



def type_label(tp: Any) -> Optional[str]:
    """A short name for a parameter type (``int``, ``List[int]``), or None when unknown."""
    if tp is None:
        return None
    try:
        from .python.typecheck import type_name

        return type_name(tp)
    except Exception:  # noqa: BLE001 - display only
        return getattr(tp, "__name__", str(tp))


def parameter_text(value: Any) -> Tuple[str, Optional[str]]:
    """The text of a parameter value and its type name; references print as Argo text.

    A dict or list that holds references is JSON text with each reference spliced in as an
    expression, filled in when the workflow runs (on every backend).
    """
    if isinstance(value, (_Bindable, Expression)):
        return str(value), None
    if isinstance(value, (dict, list)) and _holds_refs(value):
        return _json_with_refs(value), type(value).__name__
    return encode_value(value)


def _holds_refs(value: Any) -> bool:
    if isinstance(value, (_Bindable, Expression)):
        return True
    if isinstance(value, dict):
        return any(_holds_refs(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_holds_refs(v) for v in value)
    return False


def _json_with_refs(value: Any) -> str:
    splices: List[str] = []

    def mark(obj: Any) -> Any:
        if isinstance(obj, Expression):
            splices.append("{{=toJson(%s)}}" % obj.expr)  # a computed value: as JSON
        elif isinstance(obj, _Bindable):
            if getattr(obj, "type", None) is str:
                splices.append("{{=toJson(%s)}}" % obj.expr)  # text: a JSON string, quotes escaped
            else:
                splices.append(str(obj))  # the parameter's text is the JSON of its value
        elif isinstance(obj, dict):
            return {str(k): mark(v) for k, v in obj.items()}
        elif isinstance(obj, (list, tuple)):
            return [mark(v) for v in obj]
        else:
            return obj
        return f"\u0000dflow-splice-{len(splices) - 1}\u0000"

    text = json.dumps(mark(value))
    for i, splice in enumerate(splices):
        text = text.replace(json.dumps(f"\u0000dflow-splice-{i}\u0000"), splice)
    return text


class _Compiler:
    def __init__(self, context: Any = None) -> None:
        self.context = context
        self.templates: Dict[str, S.TemplateSpec] = {}
        self.by_object: Dict[int, str] = {}
        self.by_content: Dict[str, str] = {}
        self._keep: List[Any] = []  # keep derived templates alive so ids stay unique

    # ------------------------------------------------------------------ naming

    def _unique(self, base: str) -> str:
        name, i = base, 1
        while name in self.templates:
            i += 1
            suffix = f"-{i}"
            name = base[: 57 - len(suffix)].rstrip("-.") + suffix
        return name

    def template(self, t: Any) -> str:
        """The spec name of template ``t``, compiling it on first sight."""
        if id(t) in self.by_object:
            return self.by_object[id(t)]
        if isinstance(t, (Steps, DAG)):
            name = self._unique(t.name)
            self.by_object[id(t)] = name
            self._keep.append(t)
            # reserve the name so recursive references resolve to it
            self.templates[name] = S.StepsTemplateSpec(name=name)
            self.templates[name] = self._compile_container(t, name)
            return name
        if isinstance(t, ScriptOPTemplate):
            rendered = t
            own = getattr(t, "_executor_spec", None)
            if self.context is not None and own is None:
                # as in dflow, a workflow's context renders the steps that have no executor of their own
                rendered = _apply_executor(self.context, copy.deepcopy(t), f"workflow context of template {t.name!r}")
            body = self._compile_script(rendered, "x")
            check_script_refs(body, f"template {t.name!r}")
            digest = hashlib.sha1(
                json.dumps(body.model_dump(mode="json", exclude={"name"}), sort_keys=True).encode()
            ).hexdigest()
            content_key = f"{t.name}:{digest}"
            if content_key in self.by_content:
                name = self.by_content[content_key]
            else:
                name = self._unique(t.name)
                body.name = name
                self.templates[name] = body
                self.by_content[content_key] = name
            self.by_object[id(t)] = name
            self._keep.append(t)
            return name
        if isinstance(t, OPTemplate):
            raise ValidationError(f"template {t.name!r} of type {type(t).__name__} cannot be compiled")
        raise ValidationError(f"{t!r} is not an OP template, Steps or DAG")

    # ------------------------------------------------------------------ script templates

    def _compile_script(self, t: ScriptOPTemplate, name: str) -> S.ScriptTemplateSpec:
        from .python.python_op_template import PythonOPTemplate

        inputs_p = []
        for k, p in t.inputs.parameters.items():
            text = None
            if p.has_value:  # a default of None is a value ("null"), as in dflow: the OP gets None
                text = parameter_text(p.value)[0]
            inputs_p.append(S.InputParameterSpec(name=k, value=text, type=type_label(p.type), description=p.description))
        inputs_a = [
            S.InputArtifactSpec(name=k, path=a.path or f"/tmp/inputs/artifacts/{k}", optional=a.optional,
                                sub_path=a.sub_path_value, archive=_archive(a.archive))
            for k, a in t.inputs.artifacts.items()
        ]
        outputs_p = []
        for k, p in t.outputs.parameters.items():
            outputs_p.append(S.OutputParameterSpec(
                name=k, type=type_label(p.type),
                default=parameter_text(p.default)[0] if p.has_default and p.default is not None else None,
                value=parameter_text(p.value)[0] if p.has_value and p.value is not None else None,
                value_from_path=p.value_from_path,
                value_from_parameter=str(p.value_from_parameter) if p.value_from_parameter is not None else None,
                value_from_expression=_expr_text(p.value_from_expression),
                global_name=p.global_name, description=p.description,
            ))
        outputs_a = [
            S.OutputArtifactSpec(name=k, path=a.path or f"/tmp/outputs/artifacts/{k}", archive=_archive(a.archive),
                                 global_name=a.global_name, optional=getattr(a, "optional", False),
                                 save_key=save_key_of(t, k, a))
            for k, a in t.outputs.artifacts.items()
        ]
        retry_settings = t.retry_settings()
        retry = S.RetrySpec(**retry_settings) if retry_settings else None
        k8s: Dict[str, Any] = {}
        for attr in ("node_selector", "tolerations", "affinity", "requests", "limits", "image_pull_policy",
                     "volumes", "mounts", "pvcs", "init_containers", "sidecars"):
            v = getattr(t, attr, None)
            if v:
                k8s[attr] = _plain(v)
        python_op = None
        if isinstance(t, PythonOPTemplate):
            from .python.python_op_template import upload_packages

            loc = t.op_location()
            slices = None
            if t.slices is not None:
                s = t.slices
                slices = S.SlicesSpec(
                    slices=s.slices, input_parameter=s.input_parameter, input_artifact=s.input_artifact,
                    output_parameter=s.output_parameter, output_artifact=s.output_artifact, sub_path=s.sub_path,
                    group_size=s.group_size, pool_size=s.pool_size, create_dir=s.create_dir,
                    register_first_only=s.register_first_only,
                )
            packages = [S.StoredArtifact(key=p, local_path=p)
                        for p in list(dict.fromkeys(list(t.python_packages) + list(upload_packages)))]
            python_op = S.PythonOPSpec(
                module=loc["module"], qualname=loc["qualname"], source=loc["source"], source_file=loc["source_file"],
                input_sign={k: S.SignField(**v) for k, v in t.sign_fields("input").items()},
                output_sign={k: S.SignField(**v) for k, v in t.sign_fields("output").items()},
                slices=slices, python_packages=packages, op_kwargs=t.op_kwargs,
                instance=pickled_instance(t, name),
            )
        resource = None
        if getattr(t, "resource", None) is not None:
            resource = {"kind": type(t.resource).__name__, "action": getattr(t.resource, "action", None)}
        return S.ScriptTemplateSpec(
            name=name, image=t.image, command=list(t.command), script=t.script,
            env=dict(t.envs), inputs_parameters=inputs_p, inputs_artifacts=inputs_a,
            outputs_parameters=outputs_p, outputs_artifacts=outputs_a,
            timeout=int(t.timeout) if t.timeout else None, retry=retry, python_op=python_op, k8s=k8s,
            annotations=dict(t.annotations), labels=dict(t.labels), resource=resource,
            executor=getattr(t, "_executor_spec", None),
        )

    # ------------------------------------------------------------------ steps and dags

    def _compile_container(self, t: Any, name: str) -> Any:
        is_dag = isinstance(t, DAG)
        common = dict(
            name=name,
            inputs_parameters=[
                S.InputParameterSpec(
                    name=k, type=type_label(p.type), description=p.description,
                    # a default of None is a value ("null"), as for a script template's inputs
                    value=parameter_text(p.value)[0] if p.has_value else None,
                )
                for k, p in t.inputs.parameters.items()
            ],
            inputs_artifacts=[S.InputArtifactSpec(name=k, optional=a.optional) for k, a in t.inputs.artifacts.items()],
            outputs_parameters=[
                S.OutputParameterSpec(
                    name=k, type=type_label(p.type),
                    default=parameter_text(p.default)[0] if p.has_default and p.default is not None else None,
                    value=parameter_text(p.value)[0] if p.has_value and p.value is not None else None,
                    value_from_parameter=str(p.value_from_parameter) if p.value_from_parameter is not None else None,
                    value_from_expression=_expr_text(p.value_from_expression),
                    global_name=p.global_name,
                )
                for k, p in t.outputs.parameters.items()
            ],
            outputs_artifacts=[
                S.OutputArtifactSpec(
                    name=k, from_=str(a._from) if a._from is not None else None,
                    from_expression=_expr_text(a.from_expression), global_name=a.global_name,
                )
                for k, a in t.outputs.artifacts.items()
            ],
            parallelism=t.parallelism,
            annotations=dict(t.annotations),
        )
        if is_dag:
            tasks = [self._compile_step(s, t, "tasks") for s in t.tasks]
            names = check_unique_names(f"DAG {t.name!r}", "task", [s.name for s in tasks])
            for task in tasks:
                unknown = [d for d in task.dependencies if d not in names]
                if unknown:
                    raise ValidationError(f"DAG {t.name!r}: task {task.name!r} depends on {unknown}, which are not tasks of this DAG")
            check_acyclic(t.name, tasks)
            spec = S.DAGTemplateSpec(tasks=tasks, **common)
        else:
            groups = [[self._compile_step(s, t, "steps") for s in g] for g in t.steps]
            check_unique_names(f"Steps {t.name!r}", "step", [s.name for g in groups for s in g])
            spec = S.StepsTemplateSpec(steps=groups, **common)
            check_steps_refs(t.name, groups)
        check_io_refs(t, spec)
        return spec

    def _derive(self, step: Step) -> Any:
        """The template a step really runs: with the step's timeout, retries, slices and executor."""
        t = step.template
        changes = {}
        if step.timeout is not None:
            changes["timeout"] = step.timeout
        if step.retry_on_transient_error is not None:
            changes["retry_on_transient_error"] = step.retry_on_transient_error
        if step.timeout_as_transient_error is not None:
            changes["timeout_as_transient_error"] = step.timeout_as_transient_error
        if step.slices is not None and isinstance(t, ScriptOPTemplate):
            changes["slices"] = step.slices
        # artifacts={"x": None}: this step gives no x, and its template takes x as optional (as in dflow)
        unset = [k for k, v in step.artifacts.items() if v is None and k in t.inputs.artifacts
                 and not t.inputs.artifacts[k].optional]
        if not changes and step.executor is None and not unset:
            return t
        if unset and not isinstance(t, ScriptOPTemplate):
            derived = copy.deepcopy(t)
            for k in unset:
                derived.inputs.artifacts[k].optional = True
            for k, v in changes.items():
                setattr(derived, k, v)
            return derived
        if not isinstance(t, ScriptOPTemplate):
            if step.executor is not None:
                raise ValidationError(
                    f"step {step.name!r}: an executor applies to script and Python OP templates, "
                    f"not to {type(t).__name__} {t.name!r}"
                )
            derived = copy.copy(t)
            for k, v in changes.items():
                setattr(derived, k, v)
            return derived
        derived = copy.deepcopy(t)
        for k, v in changes.items():
            setattr(derived, k, v)
        for k in unset:
            derived.inputs.artifacts[k].optional = True
        if "slices" in changes:
            if not hasattr(derived, "_check_slices"):
                raise ValidationError(f"step {step.name!r}: slices apply to Python OP templates only")
            derived._check_slices()
            if not step.slices.sub_path:
                derived._implicit_parameters = {SLICE_PARAMETER}
        if step.executor is not None:
            derived = _apply_executor(step.executor, derived, f"step {step.name!r}")
        return derived

    def _compile_step(self, step: Step, parent: Any, scope: str) -> S.StepSpec:
        derived = self._derive(step)
        tname = self.template(derived)
        params: Dict[str, str] = {}
        ptypes: Dict[str, str] = {}
        for k, v in step.parameters.items():
            text, tp = parameter_text(v)
            params[k] = text
            if tp is not None:
                ptypes[k] = tp
        tmpl = step.template
        _check_literals(step, derived)
        for k, p in tmpl.inputs.parameters.items():
            if k not in params and not p.has_value and not getattr(p, "optional", False):
                raise ValidationError(
                    f"step {step.name!r}: input parameter {k!r} of template {tmpl.name!r} has no value and no default; "
                    f"give it in parameters={{{k!r}: ...}}"
                )
        arts: Dict[str, S.ArtifactArgument] = {}
        for k, v in step.artifacts.items():
            if v is None:
                continue
            arts[k] = artifact_argument(v, f"step {step.name!r}, artifact {k!r}")
        for k, a in tmpl.inputs.artifacts.items():
            if k not in arts and a.source is not None:  # the template's default artifact for it, as in dflow
                arts[k] = artifact_argument(a.source, f"template {tmpl.name!r}, input artifact {k!r} (its source)")
            if k in arts:
                arts[k] = template_part(arts[k], a)
            if k not in arts and not a.optional and a.source is None and k not in step.artifacts:
                raise ValidationError(
                    f"step {step.name!r}: input artifact {k!r} of template {tmpl.name!r} is not given; "
                    f"pass it in artifacts={{{k!r}: ...}} or mark it optional "
                    f"(template.inputs.artifacts[{k!r}].optional = True)"
                )
        with_param = None
        if step.with_param is not None:
            wp = step.with_param
            if isinstance(wp, (list, tuple)):
                with_param = json.dumps(list(wp))
            else:
                with_param = str(wp)
        seq = None
        if step.with_sequence is not None:
            s = step.with_sequence
            if not isinstance(s, ArgoSequence):
                raise ValidationError(f"step {step.name!r}: with_sequence must come from argo_sequence(...), got {s!r}")
            seq = S.SequenceSpec(
                start=None if s.start is None else _seq_text(s.start),
                count=None if s.count is None else _seq_text(s.count),
                end=None if s.end is None else _seq_text(s.end),
                format=s.format,
            )
        fanout = None
        slices = self.templates[tname].python_op.slices if isinstance(self.templates.get(tname), S.ScriptTemplateSpec) \
            and self.templates[tname].python_op is not None else None
        if slices is not None:
            with_param, seq, fanout = lower_slices(f"step {step.name!r}", slices, params, arts, with_param, seq)
        elif step.slices is not None and not isinstance(derived, ScriptOPTemplate):
            # slices on a Steps/DAG template (a super-OP): each instance gets its own item of the sliced inputs
            with_param, seq, fanout = lower_slices(f"step {step.name!r}", _slices_spec(step.slices, derived, step.name),
                                                   params, arts, with_param, seq, container=True)
            if not step.slices.sub_path:  # the item (or the Slices expression) is the slice index, as in dflow
                fanout.index = step.slices.slices or "{{item}}"
        deps: List[str] = []
        if scope == "tasks":
            for d in step.dependencies:
                deps.append(d if isinstance(d, str) else d.name)
            texts = list(params.values()) + argument_texts(arts.values())
            texts += ["" if step.when is None else str(step.when), with_param or "", "" if step.key is None else str(step.key)]
            if seq is not None:
                texts += [seq.start or "", seq.count or "", seq.end or ""]
            for text in texts:
                for d in task_refs(text):
                    if d != step.name and d not in deps:
                        deps.append(d)
        return S.StepSpec(
            name=step.name, template=tname, parameters=params, parameter_types=ptypes, artifacts=arts,
            when=None if step.when is None else str(step.when), with_param=with_param, with_sequence=seq,
            key=None if step.key is None else str(step.key),
            continue_on_failed=bool(step.continue_on_failed), continue_on_error=bool(step.continue_on_error),
            continue_on_num_success=step.continue_on_num_success,
            continue_on_success_ratio=step.continue_on_success_ratio,
            dependencies=deps, parallelism=step.parallelism, fanout=fanout,
            hooks={e: self._compile_step(h, parent, "steps").model_copy(update={"name": f"{step.name}.hooks.{e}"})
                   for e, h in step.hooks.items()},
        )


def _slices_spec(slices: Any, template: Any, step: str) -> S.SlicesSpec:
    """The ``Slices`` of a step whose template is a Steps or DAG, checked against that template."""
    for field, names, table in (("input_parameter", slices.input_parameter, template.inputs.parameters),
                                ("input_artifact", slices.input_artifact, template.inputs.artifacts),
                                ("output_parameter", slices.output_parameter, template.outputs.parameters),
                                ("output_artifact", slices.output_artifact, template.outputs.artifacts)):
        missing = [n for n in names if n not in table]
        if missing:
            raise ValidationError(f"step {step!r}: Slices({field}={names}) names {missing}, which "
                                  f"{type(template).__name__} {template.name!r} does not have (it has {sorted(table)})")
    if slices.group_size or slices.pool_size:
        raise ValidationError(f"step {step!r}: group_size and pool_size apply to slices of a Python OP, "
                              f"not of {type(template).__name__} {template.name!r}")
    return S.SlicesSpec(slices=slices.slices, input_parameter=list(slices.input_parameter),
                        input_artifact=list(slices.input_artifact), output_parameter=list(slices.output_parameter),
                        output_artifact=list(slices.output_artifact), sub_path=True)


def _literal(value: Any) -> bool:
    """A value written in the workflow (not a reference or an expression computed when it runs)."""
    if isinstance(value, (_Bindable, Expression)):
        return False
    return not (isinstance(value, str) and "{{" in value)


def _check_literals(step: Step, template: Any) -> None:
    """Literal values that can never work are refused now, not when the step runs."""
    from .python.typecheck import check_type, explain_mismatch

    what = "task" if step._is_task else "step"
    wp = step.with_param
    if wp is not None and _literal(wp):
        items = wp
        if isinstance(wp, str):
            try:
                items = json.loads(wp)
            except ValueError:
                items = wp
        if not isinstance(items, (list, tuple)):
            raise ValidationError(
                f"{what} {step.name!r}: with_param must be a list (or a reference or expression giving one), "
                f"got {type(items).__name__} {str(wp)[:80]!r}"
            )
    sign = getattr(template, "input_sign", None)
    if sign is None:
        return
    slices = getattr(template, "slices", None)
    sliced = set(slices.input_parameter) if slices is not None and not slices.sub_path else set()
    sub_sliced = set(slices.input_parameter) if slices is not None and slices.sub_path else set()
    for name, value in step.parameters.items():
        field = sign.get(name) if hasattr(sign, "get") else None
        if field is None or not _literal(value) or getattr(field, "kind", "") in ("artifact", "big_parameter"):
            continue  # (as in dflow, a BigParameter's value is not checked)
        tp = getattr(field, "type", field)
        if name in sliced | sub_sliced:
            if not isinstance(value, (list, tuple)):
                raise ValidationError(
                    f"{what} {step.name!r}: input parameter {name!r} is sliced (Slices(input_parameter=...)), so it "
                    f"must be a list, got {type(value).__name__} {str(value)[:80]!r}"
                )
            values = list(value)
        else:
            values = [value]
        for v in values:
            if v is None or check_type(v, tp):  # None: not checked, as the OP's own check skips it
                continue
            if isinstance(v, str):  # text that decodes to the type is taken when the step runs
                try:
                    if check_type(json.loads(v), tp):
                        continue
                except ValueError:
                    pass
            raise ValidationError(
                f"{what} {step.name!r}: input parameter {name!r} of OP {template.op_class.__qualname__}: "
                f"{explain_mismatch(v, tp)}"
            )


def _apply_executor(executor: Any, template: Any, where: str) -> Any:
    """``template`` (a copy) with ``executor`` applied: recorded for a named executor, rendered for a classic one."""
    name = getattr(executor, "name", None)
    if not hasattr(executor, "render"):
        raise ValidationError(f"{where}: the executor must be a dflow.Executor (with render), got {type(executor).__name__}")
    if name:
        from ._plugin_manager import get_executor

        get_executor(name)  # an executor whose plugin is not installed is refused here, naming the distribution
        options = executor.spec_options() if hasattr(executor, "spec_options") else {}
        try:
            json.dumps(options)
        except (TypeError, ValueError) as e:
            raise ValidationError(f"{where}: {type(executor).__name__}.spec_options() must be plain JSON: {e}") from None
        template._executor_spec = S.ExecutorSpec(name=name, kind=type(executor).__name__, options=options)
        return template
    rendered = executor.render(template)
    if rendered is None:
        raise ValidationError(f"{where}: {type(executor).__name__}.render returned None; it must return a template")
    rendered._executor_spec = S.ExecutorSpec(kind=type(executor).__name__)
    return rendered


def _seq_text(v: Any) -> str:
    return str(v) if not isinstance(v, (int, float)) else str(int(v))


def _archive(a: Any) -> Optional[str]:
    if a == "default":
        from .settings import config

        return config.get("archive_mode", "tar")
    return a


def _expr_text(v: Any) -> Optional[str]:
    if v is None:
        return None
    if isinstance(v, Expression):
        return v.expr
    if isinstance(v, _Bindable):
        return v.expr
    return str(v)


def _plain(v: Any) -> Any:
    try:
        json.dumps(v)
        return v
    except TypeError:
        if isinstance(v, (list, tuple)):
            return [_plain(x) for x in v]
        if isinstance(v, dict):
            return {str(k): _plain(x) for k, x in v.items()}
        if hasattr(v, "to_dict"):
            return _plain(v.to_dict())
        return repr(v)


def compile_workflow(workflow: Any) -> S.WorkflowSpec:
    """The WorkflowSpec of a ``Workflow``: every template it reaches, compiled once."""
    c = _Compiler(context=workflow.context)
    entry = workflow.entrypoint_template()
    entry_name = c.template(entry)
    exit_name = check_exit_handler(c.templates[c.template(workflow.on_exit)]) if workflow.on_exit is not None else None
    params: Dict[str, str] = {}
    ptypes: Dict[str, str] = {}
    for k, v in (workflow.parameters or {}).items():
        text, tp = parameter_text(v)
        params[k] = text
        if tp:
            ptypes[k] = tp
    arts = {k: artifact_argument(v, f"workflow artifact {k!r}") for k, v in (workflow.artifacts or {}).items()}
    check_unique_keys(list(c.templates.values()))
    spec = S.WorkflowSpec(
        name=workflow.name, entrypoint=entry_name, on_exit=exit_name, templates=list(c.templates.values()), parameters=params,
        parameter_types=ptypes, artifacts=arts, parallelism=workflow.parallelism, labels=dict(workflow.labels or {}),
        annotations=dict(workflow.annotations or {}), cluster=dict(getattr(workflow, "cluster", None) or {}),
        context=type(workflow.context).__name__ if workflow.context is not None else None,
    )
    return spec
