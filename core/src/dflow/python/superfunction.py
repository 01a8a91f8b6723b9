"""``@OP.superfunction``: a function that calls OPs, made into a ``DAG`` (a super-OP), as in dflow.

::

    @OP.superfunction
    def pipeline(msg: str, k: int = 10) -> {"total": int, "copy": Artifact(Path)}:
        a = write(msg=msg)              # @OP.function OPs: each call adds a task to the DAG
        b = count(f=a["out"], k=k)
        return {"total": b["total"], "copy": b["copy"]}

The function runs once, when it is decorated: its inputs are the DAG's inputs (an
``Artifact`` sign an input artifact, anything else an input parameter, with the
function's default as its value), each OP it calls adds a task, and what it returns
names the DAG's outputs, read with the same return annotations as ``@OP.function``
(a dict, a ``TypedDict``, a ``NamedTuple``, ``typing.Tuple[...]`` or one type). The
result is the ``DAG``: a template like any other (``Step(template=pipeline)``), which
may also be called inside a ``with`` block, ``pipeline(msg="hi")`` (or
``pipeline.use(key=...)(...)``), to add a task running it and get its outputs.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Dict

from ..context_syntax import current
from ..dag import DAG
from ..errors import ValidationError
from ..io import InputArtifact, InputParameter, OutputArtifact, OutputParameter
from ..names import sanitize_template_name
from .op import _outputs_of, bind_inputs, function_signs
from .opio import Artifact, Parameter

__all__ = ["FunctionDAG", "make_superfunction"]


class FunctionDAG(DAG):
    """The ``DAG`` an ``@OP.superfunction`` makes: a template that can also be called in a block."""

    _dflow_outputs_form: Any = "dict"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._add_task({}, *args, **kwargs)

    def use(self, **task_kwargs: Any) -> Callable[..., Any]:
        """The DAG with arguments for the task a call adds (``key=...``, ``when=...``, ``executor=...``)."""
        return functools.partial(self._add_task, task_kwargs)

    def _add_task(self, task_kwargs: Dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        from .python_op_template import block_task

        names = list(self.inputs.parameters) + list(self.inputs.artifacts)
        op_in = bind_inputs(self.name, names, args, kwargs)
        block = current()
        if block is None:
            raise ValidationError(
                f"superfunction {self.name!r} is a DAG, which runs as a step of a workflow: call it inside "
                "a `with Workflow(...) as wf:` (or Steps, DAG) block, or give it as a step's template"
            )
        return block_task(block, self.name, self, op_in, task_kwargs, self._dflow_outputs_form)


def make_superfunction(func: Callable[..., Any], **dag_kwargs: Any) -> FunctionDAG:
    """The ``DAG`` of ``func`` (see the module's doc); ``dag_kwargs`` go to ``DAG(...)``."""
    input_sign, output_sign, form = function_signs(func)
    name = dag_kwargs.pop("name", None) or sanitize_template_name(func.__name__)
    dag = FunctionDAG(name=name, **dag_kwargs)
    dag._dflow_outputs_form = form
    dag.__doc__ = func.__doc__
    for n, sign in input_sign.items():
        if isinstance(sign, Artifact):
            dag.inputs.artifacts[n] = InputArtifact(type=sign.type, optional=sign.optional)
        elif isinstance(sign, Parameter):
            kw = {"value": sign.default} if sign.has_default else {}
            dag.inputs.parameters[n] = InputParameter(type=sign.type, **kw)
        else:
            dag.inputs.parameters[n] = InputParameter(type=sign)
    with dag:
        returned = func(**dag.inputs.parameters, **dag.inputs.artifacts)
    outputs = _outputs_of(func, form, returned)
    for n, sign in output_sign.items():
        if n not in outputs:
            raise ValidationError(
                f"superfunction {name!r}: its return annotation names the output {n!r}, which the function "
                f"does not return (it returns {sorted(outputs) or 'no outputs'})"
            )
        value = outputs[n]
        if isinstance(sign, Artifact):
            if not hasattr(value, "_kind") or value._kind != "artifacts":
                raise ValidationError(
                    f"superfunction {name!r}: the output artifact {n!r} must be an artifact of a task or an "
                    f"input of the DAG, the function returns {value!r}"
                )
            dag.outputs.artifacts[n] = OutputArtifact(type=sign.type, _from=value)
        else:
            kw = {"default": sign.default} if isinstance(sign, Parameter) and sign.has_default else {}
            typ = sign.type if isinstance(sign, Parameter) else sign
            if hasattr(value, "_kind"):  # a task's output or an input of the DAG
                dag.outputs.parameters[n] = OutputParameter(type=typ, value_from_parameter=value, **kw)
            else:  # a value the function computed when it was decorated
                dag.outputs.parameters[n] = OutputParameter(type=typ, value=value, **kw)
    return dag
