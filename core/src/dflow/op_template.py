"""OP templates: the building blocks that run something.

``ShellOPTemplate`` and ``PythonScriptOPTemplate`` run a script in a container
image (on the local backend: on this machine). Python OPs are compiled into a
script template too (see :mod:`dflow.python.python_op_template`).
"""

from __future__ import annotations

import copy
import itertools
from typing import Any, Dict, List, Optional

from .arguments import arguments_of, refuse_unknown
from .errors import ValidationError
from .io import Inputs, Outputs
from .names import check_template_name, sanitize_template_name

__all__ = ["OPTemplate", "ContainerTemplate", "ScriptOPTemplate", "ShellOPTemplate", "PythonScriptOPTemplate"]

_counter = itertools.count()


class OPTemplate:
    """What every template has: a name, inputs and outputs, retries and a timeout."""

    def __init__(
        self,
        name: Optional[str] = None,
        inputs: Optional[Inputs] = None,
        outputs: Optional[Outputs] = None,
        memoize_key: Optional[str] = None,
        annotations: Optional[Dict[str, str]] = None,
        labels: Optional[Dict[str, str]] = None,
        timeout: Optional[int] = None,
        retry_on_transient_error: Optional[int] = None,
        retry_on_failure: Optional[int] = None,
        timeout_as_transient_error: bool = False,
        parallelism: Optional[int] = None,
    ) -> None:
        if name is None:
            name = sanitize_template_name(type(self).__name__) + f"-{next(_counter)}"
        elif isinstance(name, str):
            name = name.lower()  # as dflow does with a name the user gives
        self.name = check_template_name(name)
        self.inputs = inputs if inputs is not None else Inputs()
        self.outputs = outputs if outputs is not None else Outputs()
        self.inputs._attach(self)
        self.outputs._attach(self)
        self.memoize_key = memoize_key
        self.annotations = dict(annotations or {})
        self.labels = dict(labels or {})
        self.timeout = timeout
        self.retry_on_transient_error = retry_on_transient_error
        self.retry_on_failure = retry_on_failure
        self.timeout_as_transient_error = timeout_as_transient_error
        self.parallelism = parallelism

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

    def retry_settings(self) -> Optional[Dict[str, Any]]:
        """The retries of this template, as the spec's ``RetrySpec`` takes them (None: none): after any
        failure (``retry_on_failure``, ``retry_on_failure_and_error``), after an error (``retry_on_error``:
        the step was lost, on this machine killed by a signal it did not ask for), or after a
        ``TransientError`` (and a timeout with ``timeout_as_transient_error``)."""
        timeout = bool(self.timeout_as_transient_error)
        for attr, on in (("retry_on_failure", "always"), ("retry_on_failure_and_error", "always"),
                         ("retry_on_error", "error")):
            if getattr(self, attr, None):
                return {"limit": int(getattr(self, attr)), "on": on, "timeout_as_transient": timeout}
        if self.retry_on_transient_error or timeout:
            return {"limit": int(self.retry_on_transient_error or 0), "on": "transient", "timeout_as_transient": timeout}
        return None

    def copy(self) -> "OPTemplate":
        """A deep copy (with its inputs and outputs attached to the copy)."""
        return copy.deepcopy(self)


class ContainerTemplate(OPTemplate):
    """A template made of other steps: the common part of ``Steps`` and ``DAG``."""

    def __init__(
        self,
        name: Optional[str] = None,
        inputs: Optional[Inputs] = None,
        outputs: Optional[Outputs] = None,
        items: Optional[List[Any]] = None,
        memoize_key: Optional[str] = None,
        annotations: Optional[Dict[str, str]] = None,
        parallelism: Optional[int] = None,
        **kwargs: Any,
    ) -> None:
        refuse_unknown(f"{type(self).__name__} {name!r}", kwargs, arguments_of(type(self)))
        super().__init__(name=name, inputs=inputs, outputs=outputs, memoize_key=memoize_key,
                         annotations=annotations, parallelism=parallelism)
        for item in items or []:
            self.add(item)

    def __enter__(self) -> "ContainerTemplate":
        from .context_syntax import enter

        enter(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        from .context_syntax import leave

        leave(self)

    def add(self, item: Any) -> None:  # pragma: no cover - each container defines it
        raise NotImplementedError

    def all_steps(self) -> List[Any]:  # pragma: no cover
        raise NotImplementedError

    def _entries(self) -> List[Any]:  # pragma: no cover - each container defines it
        """The list ``add`` appends to: of tasks, or of groups (lists) of steps."""
        raise NotImplementedError

    def _listed(self) -> List[Any]:
        """Its steps (or tasks), in order (not ``all_steps()``: a subclass may use that name)."""
        return [s for e in self._entries() for s in (e if isinstance(e, (list, tuple)) else [e])]

    def _steps_by_name(self) -> Dict[str, Any]:
        """Its steps (or tasks) by name, kept as they are added, so that adding the n-th costs no scan of
        the ones before it (20,000 tasks are added in a second, not in minutes). Made again from the list
        whenever its length is not the one last seen (it was changed by hand; the compiler checks the
        names again in any case)."""
        index = self.__dict__.get("_by_name")
        if index is None or self.__dict__.get("_by_name_length") != len(self._entries()):
            index = {}
            for s in self._listed():
                index.setdefault(s.name, s)
            self.__dict__["_by_name"], self.__dict__["_by_name_length"] = index, len(self._entries())
        return index

    def _named(self, name: str) -> Any:
        """The step (or task) called ``name``, or None; one renamed since it was added is looked up again."""
        found = self._steps_by_name().get(name)
        if found is not None and found.name != name:
            self.__dict__["_by_name"] = None
            found = self._steps_by_name().get(name)
        return found

    def _append(self, entry: Any, steps: List[Any]) -> None:
        """Append ``entry`` (a task, or a group of steps) to the list; the index takes ``steps``."""
        index = self._steps_by_name()
        self._entries().append(entry)
        for s in steps:
            index.setdefault(s.name, s)
        self.__dict__["_by_name_length"] = len(self._entries())


class ScriptOPTemplate(OPTemplate):
    """A script run by ``command`` inside ``image``."""

    default_command: List[str] = ["sh"]

    def __init__(
        self,
        name: Optional[str] = None,
        inputs: Optional[Inputs] = None,
        outputs: Optional[Outputs] = None,
        image: Optional[str] = None,
        command: Any = None,
        script: Optional[str] = None,
        volumes: Optional[List[Any]] = None,
        mounts: Optional[List[Any]] = None,
        init_progress: str = "0/1",
        timeout: Optional[int] = None,
        retry_on_transient_error: Optional[int] = None,
        timeout_as_transient_error: bool = False,
        memoize_key: Optional[str] = None,
        key: Optional[str] = None,
        pvcs: Optional[List[Any]] = None,
        image_pull_policy: Optional[str] = None,
        annotations: Optional[Dict[str, str]] = None,
        labels: Optional[Dict[str, str]] = None,
        node_selector: Optional[Dict[str, str]] = None,
        tolerations: Optional[List[Any]] = None,
        affinity: Any = None,
        requests: Optional[Dict[str, str]] = None,
        limits: Optional[Dict[str, str]] = None,
        envs: Optional[Dict[str, Any]] = None,
        init_containers: Optional[List[Any]] = None,
        sidecars: Optional[List[Any]] = None,
        resource: Any = None,
        retry_on_failure: Optional[int] = None,
        **kwargs: Any,
    ) -> None:
        what = f"{type(self).__name__} {name!r}"
        if kwargs.get("retry_strategy") is not None:
            raise ValidationError(f"{what}: retry_strategy (an Argo RetryStrategy object) is not taken; give "
                                  "retry_on_failure=N, or retry_on_transient_error=N for TransientError only")
        refuse_unknown(what, kwargs, arguments_of(type(self)),
                       {"retry_strategy": "", "script_rendered": "the original's own mark"})
        super().__init__(
            name=name,
            inputs=inputs,
            outputs=outputs,
            memoize_key=memoize_key,
            annotations=annotations,
            labels=labels,
            timeout=timeout,
            retry_on_transient_error=retry_on_transient_error,
            retry_on_failure=retry_on_failure,
            timeout_as_transient_error=timeout_as_transient_error,
        )
        self.image = image
        if command is None:
            command = list(self.default_command)
        elif isinstance(command, str):
            command = [command]
        self.command = list(command)
        self.script = script or ""
        self.volumes = volumes or []
        self.mounts = mounts or []
        self.init_progress = init_progress
        self.key = key
        self.pvcs = pvcs or []
        self.image_pull_policy = image_pull_policy
        self.node_selector = node_selector
        self.tolerations = tolerations
        self.affinity = affinity
        self.requests = requests
        self.limits = limits
        self.envs = {k: str(v) for k, v in (envs or {}).items()}
        self.init_containers = init_containers
        self.sidecars = sidecars
        self.resource = resource


class ShellOPTemplate(ScriptOPTemplate):
    """A shell script template (``sh`` runs ``script``)."""

    default_command = ["sh"]


class PythonScriptOPTemplate(ScriptOPTemplate):
    """A Python script template (``python3`` runs ``script``)."""

    default_command = ["python3"]
