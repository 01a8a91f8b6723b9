"""The ``OP`` base class of Python OPs (class OPs and ``@OP.function`` OPs).

Standard library only, Python 3.8+: this file runs inside users' images.
"""

from __future__ import annotations

import functools
import sys
import time
from typing import Any, Callable, Dict, List, Optional

from dflow.python.opio import OPIO, UNSET, Artifact, BigParameter, OPIOSign, Parameter
from dflow.python.typecheck import explain_mismatch, type_name

__all__ = ["OP", "check_inputs", "check_outputs", "set_progress_hook", "SIGN_CHECKED_ATTR"]

#: attribute set on an ``execute`` wrapped by ``OP.exec_sign_check``
SIGN_CHECKED_ATTR = "__dflow_sign_checked__"

# The runtime installs a callable ``hook(current, total)``; ``None`` outside a step.
_progress_hook: Optional[Callable[[Any, Any], None]] = None


def set_progress_hook(hook: Optional[Callable[[Any, Any], None]]) -> None:
    """Install (or remove with ``None``) the function called when progress changes."""
    global _progress_hook
    _progress_hook = hook


def _field_kind(value: Any) -> str:
    if isinstance(value, Artifact):
        return "artifact"
    if isinstance(value, BigParameter):
        return "big parameter"
    return "parameter"


def _artifact_check_type(tp: Any) -> Any:
    """What an artifact value is checked against, as in dflow: a List/Set/Dict sign (whose items
    may be None); other artifact signs (Path, str, NestedDict, HDF5Datasets, unions) are not checked."""
    import typing

    from dflow.python.typecheck import unwrap_optional

    inner, _ = unwrap_optional(tp)
    origin = getattr(inner, "__origin__", None)
    args = getattr(inner, "__args__", None) or ()
    if origin in (list, set, frozenset) and len(args) == 1:
        return typing.List[typing.Optional[args[0]]] if origin is list else typing.Set[typing.Optional[args[0]]]
    if origin is dict and len(args) == 2:
        return typing.Dict[args[0], typing.Optional[args[1]]]
    return None


def _check(op_name: str, sign: Any, values: Any, direction: str) -> OPIO:
    """Check ``values`` against ``sign``; return a new OPIO with defaults filled in.

    As in dflow: a ``None`` value is not checked, and of artifact values only lists,
    sets and dicts are (their items may be ``None``).
    """
    if values is None:
        values = {}
    if not hasattr(values, "keys"):
        raise TypeError("%s: %s must be an OPIO or a dict, found %s" % (op_name, direction, type(values).__name__))
    out = OPIO()
    for name, field in sign.items():
        kind = _field_kind(field)
        if name not in values:
            if isinstance(field, Parameter) and field.has_default:
                out[name] = field.default
                continue
            if isinstance(field, Artifact) and field.optional:
                out[name] = None
                continue
            raise TypeError(
                "%s: %s %s %r is missing (expected %s)"
                % (op_name, direction, kind, name, type_name(field.type if isinstance(field, (Artifact, Parameter)) else field))
            )
        value = values[name]
        out[name] = value
        if value is None:
            continue
        if isinstance(field, Artifact):
            tp = _artifact_check_type(field.type)
            if tp is None:
                continue
        elif isinstance(field, BigParameter):
            continue  # as in dflow, whose users rely on it: a BigParameter's value is not checked
        elif isinstance(field, Parameter):
            tp = field.type
        else:
            tp = field
        reason = explain_mismatch(value, tp)
        if reason is not None:
            raise TypeError("%s: %s %s %r: %s" % (op_name, direction, kind, name, reason))
    extra = [k for k in values.keys() if k not in sign]
    if extra:
        raise TypeError(
            "%s: unexpected %s %s not in the %s sign (which has %s)"
            % (op_name, direction, ", ".join(repr(k) for k in extra), direction, list(sign.keys()))
        )
    return out


def check_inputs(op: Any, op_in: Any) -> OPIO:
    """Check the inputs of ``op`` (an OP class or instance); return them with defaults filled."""
    cls = op if isinstance(op, type) else type(op)
    return _check(cls.__name__, cls.get_input_sign(), op_in, "input")


def check_outputs(op: Any, op_out: Any) -> OPIO:
    """Check the outputs of ``op``; return them as an OPIO with defaults filled."""
    cls = op if isinstance(op, type) else type(op)
    return _check(cls.__name__, cls.get_output_sign(), op_out, "output")


class OP(object):
    """Base class of Python OPs.

    Subclasses define ``get_input_sign``, ``get_output_sign`` (classmethods returning
    an :class:`OPIOSign`) and ``execute(self, op_in) -> OPIO``.
    """

    progress_total = 1
    progress_current = 0
    key: Optional[str] = None
    workflow_name: Optional[str] = None
    step_name: Optional[str] = None
    slices: Optional[Dict[str, Any]] = None
    slice_index: Optional[int] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if (name == "progress_current" or name == "progress_total") and _progress_hook is not None:
            _progress_hook(self.progress_current, self.progress_total)

    @classmethod
    def get_input_sign(cls) -> OPIOSign:
        raise NotImplementedError("%s must define the classmethod get_input_sign()" % cls.__name__)

    @classmethod
    def get_output_sign(cls) -> OPIOSign:
        raise NotImplementedError("%s must define the classmethod get_output_sign()" % cls.__name__)

    def execute(self, op_in: OPIO) -> OPIO:
        raise NotImplementedError("%s must define execute(self, op_in)" % type(self).__name__)

    @classmethod
    def get_opio_info(cls, opio_sign: Any = None) -> Dict[str, str]:
        """``{name: "parameter int" | "artifact List[Path]" ...}`` of a sign (inputs by default)."""
        sign = cls.get_input_sign() if opio_sign is None else opio_sign
        info = {}
        for k, v in sign.items():
            tp = v.type if isinstance(v, (Artifact, Parameter)) else v
            info[k] = "%s %s" % (_field_kind(v), type_name(tp))
        return info

    @staticmethod
    def exec_sign_check(func: Callable[..., Any]) -> Callable[..., Any]:
        """Decorate ``execute`` to check inputs before and outputs after it runs."""
        if getattr(func, SIGN_CHECKED_ATTR, False):
            return func

        @functools.wraps(func)
        def wrapper(self: "OP", op_in: Any) -> OPIO:
            checked_in = check_inputs(self, op_in)
            op_out = func(self, checked_in)
            return check_outputs(self, op_out)

        setattr(wrapper, SIGN_CHECKED_ATTR, True)
        return wrapper

    @staticmethod
    def function(func: Optional[Callable[..., Any]] = None, **kwargs: Any) -> Any:
        """Turn an annotated function into an OP class (``@OP.function`` or ``@OP.function()``)."""
        if func is None:
            return lambda f: _make_function_op(f, **kwargs)
        return _make_function_op(func, **kwargs)

    @staticmethod
    def superfunction(func: Optional[Callable[..., Any]] = None, **kwargs: Any) -> Any:
        """Turn an annotated function that calls OPs into a ``DAG`` (``@OP.superfunction``, or
        ``@OP.superfunction(parallelism=2)`` with arguments for the DAG): see
        :mod:`dflow.python.superfunction`."""
        import importlib  # (the whole of dflow: this is where workflows are built)

        make = importlib.import_module("dflow.python.superfunction").make_superfunction
        if func is None:
            return lambda f: make(f, **kwargs)
        return make(func, **kwargs)


def _eval_annotation(ann: Any, func: Callable[..., Any]) -> Any:
    if isinstance(ann, str):  # ``from __future__ import annotations`` in the user's module
        globalns = getattr(func, "__globals__", {})
        try:
            return eval(ann, globalns, dict(vars(sys.modules["builtins"])))
        except Exception as exc:
            raise TypeError(
                "@OP.function %s: cannot evaluate the annotation %r: %s" % (func.__qualname__, ann, exc)
            ) from None
    return ann


def function_signs(func: Callable[..., Any]) -> Any:
    """The inputs and outputs of an ``@OP.function`` (or ``@OP.superfunction``) from its signature, as
    dflow reads them, and the form its return value takes (see :func:`_output_form`)."""
    import inspect

    sig = inspect.signature(func)
    input_sign = OPIOSign()
    for name, p in sig.parameters.items():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise TypeError("@OP.function %s: *args/**kwargs are not supported (%s)" % (func.__qualname__, name))
        ann = Any if p.annotation is p.empty else _eval_annotation(p.annotation, func)
        if p.default is not p.empty:
            if isinstance(ann, Artifact):
                if p.default is None:
                    ann.optional = True
            elif isinstance(ann, Parameter):
                if not ann.has_default:
                    ann = type(ann)(ann.type, default=p.default, global_name=ann.global_name,
                                    description=ann.description, **ann.extra)
            else:
                ann = Parameter(ann, default=p.default)
        input_sign[name] = ann
    output_sign, form = _output_form(sig.return_annotation, func)
    return input_sign, output_sign, form


def _make_function_op(func: Callable[..., Any], **kwargs: Any) -> type:
    input_sign, output_sign, form = function_signs(func)

    def get_input_sign(cls: type) -> OPIOSign:
        return OPIOSign(input_sign)

    def get_output_sign(cls: type) -> OPIOSign:
        return OPIOSign(output_sign)

    def execute(self: OP, op_in: OPIO) -> OPIO:
        return OPIO(_outputs_of(func, form, func(**{k: op_in[k] for k in op_in})))

    execute.__qualname__ = func.__qualname__ + ".execute"
    ns = {
        "get_input_sign": classmethod(get_input_sign),
        "get_output_sign": classmethod(get_output_sign),
        "execute": OP.exec_sign_check(execute),
        "func": staticmethod(func),
        "__module__": func.__module__,
        "__qualname__": func.__qualname__,
        "__doc__": func.__doc__,
        "_dflow_function_op": True,
        "_dflow_outputs_form": form,
        "op_kwargs": dict(kwargs),
    }
    return _FunctionOP(func.__name__, (OP,), ns)


#: the output of a function annotated with one type (``-> int``), as dflow names it
SINGLE_OUTPUT = "dflow_output"


def _output_form(ret: Any, func: Callable[..., Any]) -> Any:
    """The outputs of an ``@OP.function`` from its return annotation, as dflow reads it, and the
    form of its return value: ``"none"`` (no annotation: no outputs), ``"dict"`` (a dict of
    signs, an ``OPIOSign`` of them or a ``TypedDict``: the function returns a dict), ``"single"`` (one
    type, ``-> int`` or ``-> Artifact(Path)``: the output ``dflow_output``), or a tuple of
    output names (a ``NamedTuple``: its fields; ``typing.Tuple[int, str]``:
    ``dflow_output_0``, ``dflow_output_1``): the function returns a tuple in that order."""
    import inspect

    if ret is inspect.Signature.empty or ret is None:
        return OPIOSign(), "none"
    ret = _eval_annotation(ret, func)
    if isinstance(ret, (dict, OPIOSign)):
        return OPIOSign(ret), "dict"
    if isinstance(ret, type) and issubclass(ret, tuple) and hasattr(ret, "_fields"):  # a NamedTuple
        hints = getattr(ret, "__annotations__", {})
        return OPIOSign({f: hints.get(f, Any) for f in ret._fields}), tuple(ret._fields)
    if isinstance(ret, type) and issubclass(ret, dict) and hasattr(ret, "__annotations__"):  # a TypedDict
        return OPIOSign(ret.__annotations__), "dict"
    if type(ret).__module__ == "typing" and getattr(ret, "__origin__", None) is tuple:  # typing.Tuple[...]
        args = tuple(getattr(ret, "__args__", ()))
        if not args or Ellipsis in args or args == ((),):
            raise TypeError(
                "@OP.function %s: a Tuple return annotation gives one output per item, so it must list "
                "each item's type (Tuple[int, str]), found %r" % (func.__qualname__, ret)
            )
        names = tuple("%s_%d" % (SINGLE_OUTPUT, i) for i in range(len(args)))
        return OPIOSign(dict(zip(names, args))), names
    return OPIOSign({SINGLE_OUTPUT: ret}), "single"


def _outputs_of(func: Callable[..., Any], form: Any, result: Any) -> Dict[str, Any]:
    """What an ``@OP.function`` returned, as its outputs by name (see :func:`_output_form`)."""
    if form == "none":  # as in dflow, a function with no return annotation has no outputs
        return {}
    if form == "single":
        return {SINGLE_OUTPUT: result}
    if form == "dict":
        return {} if result is None else result
    if not isinstance(result, (tuple, list)) or len(result) != len(form):
        raise TypeError(
            "@OP.function %s: its return annotation names %d outputs (%s), so it must return a tuple of "
            "%d values, returned %r" % (func.__qualname__, len(form), ", ".join(form), len(form), result)
        )
    return dict(zip(form, result))


def outputs_as_returned(form: Any, outputs: Dict[str, Any]) -> Any:
    """An ``@OP.function``'s outputs (references, inside a block) in the form its function
    returns them: the dict, the one output, or the tuple."""
    if form == "single":
        return outputs[SINGLE_OUTPUT]
    if isinstance(form, tuple):
        return tuple(outputs[n] for n in form)
    return outputs


class _FunctionOP(type):
    """The class of an ``@OP.function`` OP: calling it with the function's inputs calls the function.

    As in dflow: ``plus1(x=1)`` outside a ``with Workflow(...)`` (``Steps``, ``DAG``) block runs
    the function (through the sign check) and returns its outputs; inside a block it adds a
    task that runs it and returns the task's outputs (references), for the next call's inputs.
    Called with no arguments it makes an OP object, as any OP class does.
    """

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if not args and not kwargs:
            return super().__call__()
        return _call_function_op(cls, cls.get_input_sign(), args, kwargs, {})

    def use(cls, **task_kwargs: Any) -> Callable[..., Any]:
        """The function with arguments for the task a call inside a block adds (``key=...``, ``when=...``)."""
        return functools.partial(_call_function_op_with, cls, task_kwargs)


def _call_function_op_with(cls: Any, task_kwargs: Dict[str, Any], *args: Any, **kwargs: Any) -> Any:
    return _call_function_op(cls, cls.get_input_sign(), args, kwargs, task_kwargs)


def bind_inputs(what: str, names: List[str], args: Any, kwargs: Dict[str, Any]) -> Dict[str, Any]:
    """The inputs of a call ``what(*args, **kwargs)`` by name, ``args`` taken in the order of ``names``."""
    op_in = dict(kwargs)
    if len(args) > len(names):
        raise TypeError("%s() takes %d inputs, %d given" % (what, len(names), len(args)))
    unknown = [k for k in kwargs if k not in names]
    if unknown:
        raise TypeError("%s() has no input %s (its inputs: %s)" % (what, ", ".join(map(repr, unknown)),
                                                                 ", ".join(names) or "none"))
    for k, v in zip(names, args):
        if k in op_in:
            raise TypeError("%s() got multiple values for input %r" % (what, k))
        op_in[k] = v
    return op_in


def _call_function_op(cls: Any, sign: Any, args: Any, kwargs: Dict[str, Any], task_kwargs: Dict[str, Any]) -> Any:
    op_in = bind_inputs(cls.__name__, list(sign), args, kwargs)
    syntax = sys.modules.get("dflow.context_syntax")  # (no block is open where it was never imported)
    block = syntax.current() if syntax is not None else None
    if block is None:  # not building a workflow: run it here
        return super(_FunctionOP, cls).__call__().execute(OPIO(op_in))
    import importlib  # (a workflow is being built: the whole of dflow is there)

    return importlib.import_module("dflow.python.python_op_template").function_op_task(cls, op_in, task_kwargs, block)


class _ProgressWriter(object):
    """Writes ``current/total`` to a file, at most every ``interval`` seconds."""

    def __init__(self, path: str, interval: float = 0.1) -> None:
        self.path = path
        self.interval = interval
        self.last_time = 0.0
        self.pending: Optional[str] = None

    def __call__(self, current: Any, total: Any) -> None:
        text = "%s/%s" % (current, total)
        now = time.monotonic()
        try:
            done = current is not None and total is not None and current >= total
        except TypeError:
            done = False
        if done or now - self.last_time >= self.interval:
            self.last_time = now
            self.pending = None
            self._write(text)
        else:
            self.pending = text

    def flush(self) -> None:
        if self.pending is not None:
            text, self.pending = self.pending, None
            self._write(text)

    def _write(self, text: str) -> None:
        import os

        tmp = "%s.tmp%d" % (self.path, os.getpid())
        try:
            with open(tmp, "w") as f:
                f.write(text)
            os.replace(tmp, self.path)
        except OSError:
            pass


# keep the unused import visible for users of ``from dflow.python.op import UNSET``
_ = UNSET
