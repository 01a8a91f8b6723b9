"""``Step`` (an instance of a template inside ``Steps``) and ``Task`` (inside a ``DAG``)."""

from __future__ import annotations

import collections.abc as _abc
import copy
from typing import Any, Dict, List, Optional, Union

from .arguments import arguments_of, refuse_unknown
from .errors import NameRuleError, ValidationError
from .io import Inputs, Outputs
from .names import RULE_KEY, check_key_template, check_step_name

__all__ = ["Step", "Task", "HookStep", "ArgoSequence"]

#: the lifecycle hooks a step takes, and the phase of the step that runs each (Argo's hooks, as dflow renders them)
HOOK_EVENTS = {"success_hook": ("success", "Succeeded"), "running_hook": ("running", "Running"),
               "failure_hook": ("failure", "Failed")}


class ArgoSequence:
    """``with_sequence``: a numeric sequence (start, count or end, printf format)."""

    def __init__(self, start: Any = None, count: Any = None, end: Any = None, format: Optional[str] = None) -> None:
        if count is not None and end is not None:
            raise ValidationError("argo_sequence: give either count or end, not both")
        if count is None and end is None:
            raise ValidationError("argo_sequence: give count (number of items) or end (last number)")
        self.start = start
        self.count = count
        self.end = end
        self.format = format

    def __repr__(self) -> str:
        return f"ArgoSequence(start={self.start!r}, count={self.count!r}, end={self.end!r}, format={self.format!r})"


#: arguments of the original's ``Step`` that mean nothing here, and why
_STEP_INERT = {
    "util_image_pull_policy": "the pull policy of the image of a cluster's helper steps comes from "
                              "config['util_image_pull_policy']",
}


def _hooks(what: str, given: Dict[str, Any]) -> Dict[str, "HookStep"]:
    """The lifecycle hooks of a step, by Argo's event name (``success``, ``running``, ``failure``)."""
    hooks = {}
    for arg, hook in given.items():
        if hook is None:
            continue
        if not isinstance(hook, HookStep):
            raise ValidationError(f"{what}: {arg} must be a HookStep(template, parameters=..., artifacts=...), "
                                  f"got {type(hook).__name__}")
        hooks[HOOK_EVENTS[arg][0]] = hook
    return hooks


class Step:
    """One use of a template, with its arguments (user guide 1.1.3)."""

    _is_task = False

    def __init__(
        self,
        name: str,
        template: Any,
        parameters: Optional[Dict[str, Any]] = None,
        artifacts: Optional[Dict[str, Any]] = None,
        when: Any = None,
        with_param: Any = None,
        continue_on_failed: bool = False,
        continue_on_error: bool = False,
        continue_on_num_success: Optional[int] = None,
        continue_on_success_ratio: Optional[float] = None,
        with_sequence: Optional[ArgoSequence] = None,
        key: Any = None,
        executor: Any = None,
        use_resource: Any = None,
        util_image: Optional[str] = None,
        util_command: Any = None,
        parallelism: Optional[int] = None,
        slices: Any = None,
        timeout: Optional[int] = None,
        retry_on_transient_error: Optional[int] = None,
        timeout_as_transient_error: Optional[bool] = None,
        dependencies: Optional[List[Any]] = None,
        success_hook: Optional["HookStep"] = None,
        running_hook: Optional["HookStep"] = None,
        failure_hook: Optional["HookStep"] = None,
        **kwargs: Any,
    ) -> None:
        what = "task" if self._is_task else "step"
        self.name = check_step_name(name, what)
        refuse_unknown(f"{what} {name!r}", kwargs, arguments_of(type(self)), _STEP_INERT)
        self.hooks = _hooks(f"{what} {name!r}", {"success_hook": success_hook, "running_hook": running_hook,
                                                 "failure_hook": failure_hook})
        if template is None or not hasattr(template, "inputs") or not hasattr(template, "name"):
            raise ValidationError(
                f"{what} {name!r}: template must be an OP template, Steps or DAG, got {type(template).__name__}"
            )
        self.template = template
        self.parameters: Dict[str, Any] = dict(parameters or {})
        self.artifacts: Dict[str, Any] = dict(artifacts or {})
        self.when = when
        if isinstance(with_param, _abc.Iterable) and not isinstance(with_param, (str, bytes, list, tuple, dict)):
            with_param = list(with_param)  # any literal collection of items, as in dflow (range(3) included)
        self.with_param = with_param
        self.with_sequence = with_sequence
        self.continue_on_failed = continue_on_failed
        self.continue_on_error = continue_on_error
        self.continue_on_num_success = continue_on_num_success
        self.continue_on_success_ratio = continue_on_success_ratio
        self.key = key
        self.executor = executor
        self.use_resource = use_resource
        self.util_image = util_image
        self.util_command = util_command
        self.parallelism = parallelism
        self.slices = slices
        self.timeout = timeout
        self.retry_on_transient_error = retry_on_transient_error
        self.timeout_as_transient_error = timeout_as_transient_error
        self.dependencies: List[Any] = list(dependencies or [])
        self._check_arguments()
        # the step's own view of the template's inputs and outputs, attached to the
        # step so that references print as {{steps.NAME.outputs...}}
        self.inputs = Inputs(owner=self)
        self.outputs = Outputs(owner=self)
        for mine, theirs in ((self.inputs.parameters, template.inputs.parameters),
                             (self.inputs.artifacts, template.inputs.artifacts),
                             (self.outputs.parameters, template.outputs.parameters),
                             (self.outputs.artifacts, template.outputs.artifacts)):
            for k, v in theirs.items():
                mine[k] = _unbound_copy(v)
        for k, p in self.inputs.parameters.items():
            if k in self.parameters:
                p.value = self.parameters[k]
                p.has_value = True
        for k, a in self.inputs.artifacts.items():
            a.source = self.artifacts.get(k)
        from .context_syntax import current

        block = current()
        if block is not None and not isinstance(self, HookStep):  # ``with Workflow(...)`` / ``with Steps(...)``
            block.add(self)

    @property
    def _as_step(self) -> "Step":
        return self

    def _check_arguments(self) -> None:
        what = "task" if self._is_task else "step"
        t = self.template
        unknown_p = sorted(set(self.parameters) - set(t.inputs.parameters) - _implicit_parameters(t))
        if unknown_p:
            raise ValidationError(
                f"{what} {self.name!r}: template {t.name!r} has no input parameter(s) {unknown_p}; "
                f"its input parameters are {sorted(t.inputs.parameters)}"
            )
        unknown_a = sorted(set(self.artifacts) - set(t.inputs.artifacts))
        if unknown_a:
            raise ValidationError(
                f"{what} {self.name!r}: template {t.name!r} has no input artifact(s) {unknown_a}; "
                f"its input artifacts are {sorted(t.inputs.artifacts)}"
            )
        if self.with_param is not None and self.with_sequence is not None:
            raise ValidationError(f"{what} {self.name!r}: give with_param or with_sequence, not both")
        if self.continue_on_success_ratio is not None and not 0 <= float(self.continue_on_success_ratio) <= 1:
            raise ValidationError(
                f"{what} {self.name!r}: continue_on_success_ratio must be between 0 and 1, "
                f"got {self.continue_on_success_ratio}"
            )
        if isinstance(self.key, str) and not check_key_template(self.key):
            raise NameRuleError(
                f"{what} {self.name!r}: key {self.key!r} is not allowed: with each {{{{...}}}} placeholder read as "
                f"'a', it must be a {RULE_KEY} (for example 'iter-{{{{item}}}}')"
            )
        if self.timeout is not None and (not isinstance(self.timeout, (int, float)) or self.timeout <= 0):
            raise ValidationError(f"{what} {self.name!r}: timeout must be a positive number of seconds, got {self.timeout!r}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, template={self.template.name!r})"

    def set_parameters(self, parameters: Dict[str, Any]) -> None:
        self.parameters.update(parameters)
        self._check_arguments()

    def set_artifacts(self, artifacts: Dict[str, Any]) -> None:
        self.artifacts.update(artifacts)
        self._check_arguments()


def _unbound_copy(io: Any) -> Any:
    """A shallow copy of a template's parameter or artifact, ready to attach to a step."""
    c = copy.copy(io)
    c._owner = None
    c.name = None
    return c


def _implicit_parameters(template: Any) -> set:
    return set(getattr(template, "_implicit_parameters", ()))


class Task(Step):
    """A step of a ``DAG``; ``dependencies`` adds order beyond the data flow."""

    _is_task = True

    def __init__(self, name: str, template: Any, dependencies: Optional[List[Union["Task", str]]] = None, **kwargs: Any) -> None:
        super().__init__(name, template, dependencies=dependencies, **kwargs)


class HookStep(Step):
    """What a lifecycle event of a step runs (``Step(success_hook=HookStep(template, parameters=...))``):
    its template with its arguments, which may refer to the step's outputs. As in dflow, the event
    (which argument of the step it is given to) decides when it runs, and ``expression`` is set by it."""

    def __init__(self, template: Any, expression: Any = None, name: str = "hook", **kwargs: Any) -> None:
        super().__init__(name, template, **kwargs)
        self.expression = expression
