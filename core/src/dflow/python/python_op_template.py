"""``PythonOPTemplate`` and ``Slices``: a Python OP (class or function) as a script template."""

from __future__ import annotations

import inspect
import os
import sys
from typing import Any, Dict, List, Optional

from ..arguments import arguments_of, refuse_unknown
from ..contract import PYTHON_OP_CALL, PYTHON_OP_HEAD, PYTHON_OP_SCRIPT, SLICE_PARAMETER
from ..errors import ValidationError
from ..io import InputArtifact, InputParameter, OutputArtifact, OutputParameter
from ..names import sanitize_template_name
from ..op_template import PythonScriptOPTemplate
from .op import OP
from .opio import Artifact, BigParameter, Parameter
from .typecheck import type_name

__all__ = ["PythonOPTemplate", "Slices", "upload_packages"]

#: Paths of local Python packages shipped with every Python OP (user guide 3.2.4).
upload_packages: List[str] = []



#: arguments of the original's ``Slices`` that mean nothing here, and why
_SLICES_INERT = {
    "shuffle": "which slices share a group; each slice's outputs are stacked in its place either way",
    "random_seed": "the same",
    "pool_timeout": "a pool of slices in one step ends when its slices end or the step's timeout does",
    "raise_for_group": "a slice that fails fails its group here, as with raise_for_group=True",
}


class Slices:
    """How a fanned-out step slices its inputs and stacks its outputs (user guide 3.2.1)."""

    def __init__(
        self,
        slices: Optional[str] = None,
        input_parameter: Optional[List[str]] = None,
        input_artifact: Optional[List[str]] = None,
        output_parameter: Optional[List[str]] = None,
        output_artifact: Optional[List[str]] = None,
        sub_path: bool = False,
        group_size: Optional[int] = None,
        pool_size: Optional[int] = None,
        register_first_only: bool = False,
        create_dir: bool = False,
        **kwargs: Any,
    ) -> None:
        refuse_unknown("Slices", kwargs, arguments_of(Slices), _SLICES_INERT)
        self.slices = slices
        self.input_parameter = list(input_parameter or [])
        self.input_artifact = list(input_artifact or [])
        self.output_parameter = list(output_parameter or [])
        self.output_artifact = list(output_artifact or [])
        self.sub_path = sub_path
        self.group_size = group_size
        self.pool_size = pool_size
        self.register_first_only = register_first_only
        self.create_dir = create_dir
        for n, v in (("group_size", group_size), ("pool_size", pool_size)):
            if v is not None and (not isinstance(v, int) or v < 1):
                raise ValidationError(f"Slices: {n} must be a positive integer, got {v!r}")

    def __repr__(self) -> str:
        return (f"Slices(input_parameter={self.input_parameter}, input_artifact={self.input_artifact}, "
                f"output_parameter={self.output_parameter}, output_artifact={self.output_artifact}, "
                f"sub_path={self.sub_path})")


#: arguments of the original's ``PythonOPTemplate`` that mean nothing here, and why
_PYTHON_INERT = {
    "upload_dflow": "this project ships its step runtime into pods itself",
    "tmp_root": "a step's files are under /tmp (only that is accepted)",
    "success_tag": "the original's plumbing of grouped slices, which this project does otherwise",
    "create_slice_dir": "the same; a sliced step's own folders come from Slices(create_dir=True)",
    "skip_slice_input": "the same",
}


def _with_scripts(pre: str, post: str) -> str:
    """The script of a Python OP with the original's ``pre_script`` before the OP runs and ``post_script``
    after it succeeded (each formatted with ``tmp_root``, as there: ``{{`` for a brace)."""
    if not pre and not post:
        return PYTHON_OP_SCRIPT
    pre, post = pre.format(tmp_root="/tmp"), post.format(tmp_root="/tmp")
    return ((pre.rstrip("\n") + "\n" if pre else "") + PYTHON_OP_HEAD + "_code = " + PYTHON_OP_CALL
            + "\nif _code:\n    sys.exit(_code)\n" + post)


def _op_class(op: Any) -> type:
    if inspect.isclass(op) and issubclass(op, OP):
        return op
    if isinstance(op, OP):
        return type(op)
    raise ValidationError(
        f"PythonOPTemplate needs an OP class (a subclass of dflow.python.OP, or a function "
        f"decorated with @OP.function), got {op!r}"
    )


class PythonOPTemplate(PythonScriptOPTemplate):
    """A Python OP as a template: inputs and outputs come from the OP's signs."""

    def __init__(
        self,
        op_class: Any,
        image: Optional[str] = None,
        command: Any = None,
        output_artifact_save: Optional[Dict[str, Any]] = None,
        output_artifact_archive: Optional[Dict[str, Any]] = None,
        output_parameter_default: Optional[Dict[str, Any]] = None,
        input_artifact_prefix: Optional[Dict[str, str]] = None,
        input_artifact_slices: Optional[Dict[str, str]] = None,
        input_parameter_slices: Optional[Dict[str, str]] = None,
        output_artifact_slices: Optional[Dict[str, str]] = None,
        output_parameter_slices: Optional[Dict[str, str]] = None,
        output_artifact_global_name: Optional[Dict[str, str]] = None,
        output_parameter_global_name: Optional[Dict[str, str]] = None,
        slices: Optional[Slices] = None,
        python_packages: Optional[List[str]] = None,
        timeout: Optional[int] = None,
        retry_on_transient_error: Optional[int] = None,
        timeout_as_transient_error: bool = False,
        op_kwargs: Optional[Dict[str, Any]] = None,
        name: Optional[str] = None,
        retry_on_error: Optional[int] = None,
        retry_on_failure_and_error: Optional[int] = None,
        pre_script: str = "",
        post_script: str = "",
        **kwargs: Any,
    ) -> None:
        cls = _op_class(op_class)
        for k in [k for k in kwargs if k in _PYTHON_INERT]:
            if k == "tmp_root" and kwargs[k] not in (None, "/tmp"):
                raise ValidationError(f"PythonOPTemplate {cls.__name__!r}: tmp_root={kwargs[k]!r} is not supported: a "
                                      "step's files are under /tmp, in a pod and on this machine alike")
            del kwargs[k]
        self.op_class = cls
        # an OP object built with arguments (as dflow allows) is shipped as it is
        self.op_instance = op_class if isinstance(op_class, OP) and vars(op_class) else None
        if name is None:
            name = sanitize_template_name(cls.__name__)
        self.slices = slices
        self.python_packages = list(python_packages or [])
        self.op_kwargs = dict(op_kwargs or {})
        kwargs.setdefault("script", _with_scripts(pre_script, post_script))
        super().__init__(
            name=name,
            image=image,
            command=command or ["python3"],
            timeout=timeout,
            retry_on_transient_error=retry_on_transient_error,
            timeout_as_transient_error=timeout_as_transient_error,
            **kwargs,
        )
        self.retry_on_error = retry_on_error
        self.retry_on_failure_and_error = retry_on_failure_and_error
        try:
            self.input_sign = cls.get_input_sign()
            self.output_sign = cls.get_output_sign()
        except Exception as e:  # noqa: BLE001 - the OP's own code failed
            raise ValidationError(f"OP {cls.__qualname__}: get_input_sign/get_output_sign failed: {e}") from e
        archive = output_artifact_archive or {}
        saves = output_artifact_save or {}
        defaults = output_parameter_default or {}
        art_globals = output_artifact_global_name or {}
        par_globals = output_parameter_global_name or {}
        for pname, sign in self.input_sign.items():
            if isinstance(sign, Artifact):
                self.inputs.artifacts[pname] = InputArtifact(
                    path=f"/tmp/inputs/artifacts/{pname}", optional=sign.optional, type=sign.type
                )
            else:
                tp = sign.type if isinstance(sign, (Parameter, BigParameter)) else sign
                value_kw = {}
                if isinstance(sign, Parameter) and _has_default(sign):
                    value_kw["value"] = sign.default
                self.inputs.parameters[pname] = InputParameter(
                    type=tp, description=getattr(sign, "description", None), **value_kw
                )
        for pname, sign in self.output_sign.items():
            if isinstance(sign, Artifact):
                arch = archive.get(pname, sign.archive)
                if arch == "default":
                    arch = "tar"
                self.outputs.artifacts[pname] = OutputArtifact(
                    path=f"/tmp/outputs/artifacts/{pname}", archive=arch, type=sign.type,
                    global_name=art_globals.get(pname, getattr(sign, "global_name", None)),
                    optional=sign.optional, save=saves.get(pname, sign.save),
                )
            else:
                tp = sign.type if isinstance(sign, (Parameter, BigParameter)) else sign
                kw: Dict[str, Any] = {}
                if pname in defaults:
                    kw["default"] = defaults[pname]
                elif isinstance(sign, Parameter) and _has_default(sign):
                    kw["default"] = sign.default
                self.outputs.parameters[pname] = OutputParameter(
                    value_from_path=f"/tmp/outputs/parameters/{pname}", type=tp,
                    global_name=par_globals.get(pname, getattr(sign, "global_name", None)), **kw
                )
        self._check_slices()
        if slices is not None and not slices.sub_path:
            self._implicit_parameters = {SLICE_PARAMETER}

    def _check_slices(self) -> None:
        s = self.slices
        if s is None:
            return
        for field, names, table in (
            ("input_parameter", s.input_parameter, self.inputs.parameters),
            ("input_artifact", s.input_artifact, self.inputs.artifacts),
            ("output_parameter", s.output_parameter, self.outputs.parameters),
            ("output_artifact", s.output_artifact, self.outputs.artifacts),
        ):
            missing = [n for n in names if n not in table]
            if missing:
                raise ValidationError(
                    f"PythonOPTemplate {self.name!r}: Slices({field}={names}) names {missing}, "
                    f"which the OP {self.op_class.__qualname__} does not declare as {field.replace('_', ' ')}s "
                    f"(it has {sorted(table)})"
                )

    def sign_fields(self, which: str) -> Dict[str, Dict[str, Any]]:
        """The OP's sign as plain data (for the WorkflowSpec)."""
        sign = self.input_sign if which == "input" else self.output_sign
        out: Dict[str, Dict[str, Any]] = {}
        for k, v in sign.items():
            if isinstance(v, Artifact):
                arch = v.archive if v.archive != "default" else "tar"
                out[k] = {"kind": "artifact", "type": type_name(v.type), "optional": bool(v.optional), "archive": arch}
            elif isinstance(v, BigParameter):
                out[k] = {"kind": "big_parameter", "type": type_name(v.type)}
            elif isinstance(v, Parameter):
                d: Dict[str, Any] = {"kind": "parameter", "type": type_name(v.type),
                                     "description": getattr(v, "description", None)}
                if _has_default(v):
                    from ..runtime import encode_value

                    d["default"] = encode_value(v.default)[0]
                    d["has_default"] = True
                out[k] = d
            else:
                out[k] = {"kind": "parameter", "type": type_name(v)}
        return out

    def op_location(self) -> Dict[str, Optional[str]]:
        """Where the step runtime finds the OP: module, qualname and, for ``__main__``, the OP's source.

        The source of an OP defined in the submitting script holds only what the OP needs
        (see :mod:`dflow.python.opsource`): never the script's other code.
        """
        from .opsource import op_source

        cls = self.op_class
        module = cls.__module__
        source = source_file = None
        if module in ("__main__", "__dflow_main__"):
            mod = sys.modules.get(module)
            source_file = getattr(mod, "__file__", None)
            source_file = os.path.abspath(source_file) if source_file else None
            source = op_source(cls)
            if source is None:
                raise ValidationError(
                    f"OP {cls.__qualname__} is defined in the submitting script, but its source cannot be found "
                    "(was it defined with exec?); define it in a module the steps can import"
                )
        return {"module": module, "qualname": cls.__qualname__, "source": source, "source_file": source_file}


def _has_default(sign: Any) -> bool:
    if hasattr(sign, "has_default"):
        hd = sign.has_default
        return bool(hd() if callable(hd) else hd)
    return getattr(sign, "default", None) is not None


def function_op_task(op_class: Any, op_in: Dict[str, Any], task_kwargs: Dict[str, Any], block: Any) -> Any:
    """A call of an ``@OP.function`` OP inside a ``with`` block: the task (a step inside a ``Steps``)
    that runs it joins the block; its outputs (references) are returned as the function returns
    them: by name, the one output, or a tuple."""
    template = PythonOPTemplate(op_class, **dict(getattr(op_class, "op_kwargs", None) or {}))
    return block_task(block, op_class.__name__, template, op_in, task_kwargs,
                      getattr(op_class, "_dflow_outputs_form", "dict"))


def block_task(block: Any, base: str, template: Any, op_in: Dict[str, Any], task_kwargs: Dict[str, Any],
               form: Any) -> Any:
    """A task (a step, in a ``Steps`` block) of ``template``, given ``op_in`` (the template's artifacts
    and parameters by name), added to ``block``; its outputs in the ``form`` the function returns
    them (see ``dflow.python.op._output_form``).

    The task is named after ``base`` (``add``), numbered from the second of that name in the block
    (``add-2``): the original appends 5 random characters, but a name that is the same in every
    run keeps the manifest the same and lets ``query_step(name="add")`` find it."""
    from dflow.python.op import outputs_as_returned
    from dflow.step import Step, Task
    from dflow.steps import Steps

    arts = {k: v for k, v in op_in.items() if k in template.inputs.artifacts}
    params = {k: v for k, v in op_in.items() if k not in arts}
    container = block.entrypoint_template() if hasattr(block, "entrypoint_template") else block
    taken = container._steps_by_name() if container is not None else {}
    base = name = sanitize_template_name(base)
    # the number to try next for this name (kept on the container: the thousandth call tries once)
    numbers = container.__dict__.setdefault("_next_number", {}) if container is not None else {}
    number = numbers.get(base, 1)
    if number > 1 or name in taken:
        number = max(number, 2)
        name = "%s-%d" % (base, number)
        while name in taken:
            number += 1
            name = "%s-%d" % (base, number)
        numbers[base] = number + 1
    kind = Step if isinstance(block, Steps) else Task  # (a task joins a Workflow's or DAG's block)
    step = kind(name, template=template, parameters=params, artifacts=arts, **task_kwargs)
    return outputs_as_returned(form, {**step.outputs.parameters, **step.outputs.artifacts})
