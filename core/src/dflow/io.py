"""Inputs and outputs of templates and steps, and the references between them.

A reference prints as Argo template text (``{{inputs.parameters.msg}}``), which is
how the original dflow lets users write ``when="%s < %s" % (a, b)`` or
``key="iter-%s" % p``. Comparisons and arithmetic on references build
:class:`Expression` objects in Argo's expression language.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Dict, Iterator, Optional

from .arguments import arguments_of, refuse_unknown
from .errors import UnknownNameError, ValidationError
from .names import check_io_name

__all__ = [
    "Expression",
    "InputParameter",
    "InputArtifact",
    "OutputParameter",
    "OutputArtifact",
    "Inputs",
    "Outputs",
    "if_expression",
    "IfExpression",
    "AutonamedDict",
    "to_expr",
]

_UNSET = object()


def _expr_key(name: str) -> str:
    return "'" + name.replace("\\", "\\\\").replace("'", "\\'") + "'"


def to_expr(value: Any) -> str:
    """The expression-language text of a Python value or a reference."""
    if isinstance(value, _Referable):
        return value.expr
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return _expr_key(value)
    if value is None:
        return "nil"
    return _expr_key(json.dumps(value))


def _num(value: Any) -> str:
    # parameters are text wherever the workflow runs (Argo included): convert references;
    # only the result of arithmetic is a number already
    if isinstance(value, _Referable) and not (isinstance(value, Expression) and value._numeric):
        return f"asFloat({value.expr})"
    return to_expr(value)


class _Referable:
    """Operators shared by references and expressions."""

    _numeric = False
    __hash__ = object.__hash__

    @property
    def expr(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def _bin(self, op: str, other: Any, numeric: bool = True, reverse: bool = False) -> "Expression":
        a, b = (_num(self), _num(other)) if numeric else (to_expr(self), to_expr(other))
        if reverse:
            a, b = b, a
        return Expression(f"({a} {op} {b})", numeric=op in "+-*/%")

    def __lt__(self, other: Any) -> "Expression":
        return self._bin("<", other)

    def __le__(self, other: Any) -> "Expression":
        return self._bin("<=", other)

    def __gt__(self, other: Any) -> "Expression":
        return self._bin(">", other)

    def __ge__(self, other: Any) -> "Expression":
        return self._bin(">=", other)

    def _bool_test(self, other: bool, negate: bool) -> "Expression":
        # a parameter is text wherever the workflow runs: a bool reads "true" (JSON) or "True" (Python's str)
        a = to_expr(self)
        test = f"({a} == 'true' || {a} == 'True')" if other else f"({a} == 'false' || {a} == 'False')"
        return Expression(f"!{test}" if negate else test)

    def _unbound(self) -> bool:
        return "name" in self.__dict__ and self.name is None

    def __eq__(self, other: Any) -> Any:  # type: ignore[override]
        if self._unbound():  # not yet a reference to anything: it equals itself only (it is not an expression)
            return NotImplemented
        if isinstance(other, bool):
            return self._bool_test(other, negate=False)
        if isinstance(other, (_Referable, int, float, str)):
            numeric = isinstance(other, (int, float)) or getattr(other, "_numeric", False)
            return self._bin("==", other, numeric=numeric)
        return NotImplemented

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        if self._unbound():
            return NotImplemented
        if isinstance(other, bool):
            return self._bool_test(other, negate=True)
        if isinstance(other, (_Referable, int, float, str)):
            numeric = isinstance(other, (int, float)) or getattr(other, "_numeric", False)
            return self._bin("!=", other, numeric=numeric)
        return NotImplemented

    def __add__(self, other: Any) -> "Expression":
        return self._bin("+", other)

    def __radd__(self, other: Any) -> "Expression":
        return self._bin("+", other, reverse=True)

    def __sub__(self, other: Any) -> "Expression":
        return self._bin("-", other)

    def __rsub__(self, other: Any) -> "Expression":
        return self._bin("-", other, reverse=True)

    def __mul__(self, other: Any) -> "Expression":
        return self._bin("*", other)

    def __rmul__(self, other: Any) -> "Expression":
        return self._bin("*", other, reverse=True)

    def __truediv__(self, other: Any) -> "Expression":
        return self._bin("/", other)

    def __mod__(self, other: Any) -> "Expression":
        return self._bin("%", other)

    def __getitem__(self, key: Any) -> "Expression":
        """``ref["key"]`` (or ``ref[0]``): an item of a dict or list parameter, taken when the workflow runs.

        A missing key gives ``None``, as in Argo's expressions.
        """
        if isinstance(key, bool) or not isinstance(key, (str, int)):
            raise TypeError(f"{self!s}[...] takes a str or int key, got {type(key).__name__}")
        return Expression(f"{self._value_expr()}[{to_expr(key)}]")

    def _value_expr(self) -> str:
        """The expression of this reference's value: a parameter's text parsed as JSON."""
        return f"sprig.fromJson({self.expr})"

    def __neg__(self) -> "Expression":
        return Expression(f"(-{_num(self)})", numeric=True)

    def __and__(self, other: Any) -> "Expression":
        return Expression(f"({to_expr(self)} && {to_expr(other)})")

    def __or__(self, other: Any) -> "Expression":
        return Expression(f"({to_expr(self)} || {to_expr(other)})")

    def __invert__(self) -> "Expression":
        return Expression(f"(!{to_expr(self)})")

    def __bool__(self) -> bool:
        raise TypeError(
            f"{self!s} is evaluated when the workflow runs, not in Python; "
            "use it in when=..., if_expression(...) or as a step parameter instead of in an if statement"
        )


class Expression(_Referable):
    """An expression in Argo's expression language, printed as ``{{=...}}``."""

    def __init__(self, expr: str, numeric: bool = False) -> None:
        self._expr = expr
        self._numeric = numeric

    def _value_expr(self) -> str:
        return self._expr  # already a value, not text

    @property
    def expr(self) -> str:
        return self._expr

    def __str__(self) -> str:
        return "{{=" + self._expr + "}}"

    def __repr__(self) -> str:
        return f"Expression({self._expr!r})"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


class IfExpression(Expression):
    """``_then`` when a condition holds, else ``_else``: what :func:`if_expression` returns."""


def if_expression(_if: Any, _then: Any, _else: Any) -> Expression:
    """``_then`` when the condition holds, else ``_else`` (user guide 3.1.5).

    For output artifacts, ``_then`` and ``_else`` are artifact references and the
    result is stored in ``from_expression``.
    """
    if isinstance(_if, (InputParameter, OutputParameter)):  # a parameter is text: "true" holds, as in dflow
        cond = f"{_if.expr} == 'true'"
    else:
        cond = _if.expr if isinstance(_if, _Referable) else _condition_text(_if)
    return IfExpression(f"({cond} ? {to_expr(_then)} : {to_expr(_else)})")


def _condition_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    raise ValidationError(f"if_expression: _if must be a comparison of parameters or a string, got {value!r}")


# --------------------------------------------------------------------------- template-level I/O


class _Bindable(_Referable):
    name: Optional[str]
    _owner: Any = None
    _kind = "parameters"
    _io = "inputs"

    def _bind(self, owner: Any, name: str) -> None:
        if self.name is not None and self.name != name:
            # the same object under a second name: keep the first binding's copy
            pass
        self.name = name
        self._owner = owner

    @property
    def _scope(self) -> str:
        owner = self._owner
        step = getattr(owner, "_as_step", None)
        if step is not None:
            prefix = "tasks" if getattr(step, "_is_task", False) else "steps"
            return f"{prefix}.{step.name}."
        return ""

    @property
    def ref(self) -> str:
        """The reference text without braces: ``inputs.parameters.msg``."""
        self._check_bound()
        return f"{self._scope}{self._io}.{self._kind}.{self.name}"

    @property
    def expr(self) -> str:
        self._check_bound()
        owner = getattr(self._owner, "_as_step", None)
        head = ""
        if owner is not None:
            prefix = "tasks" if getattr(owner, "_is_task", False) else "steps"
            head = f"{prefix}[{_expr_key(owner.name)}]."
        return f"{head}{self._io}.{self._kind}[{_expr_key(self.name)}]"

    def _check_bound(self) -> None:
        if self.name is None:
            raise ValidationError(
                f"{type(self).__name__} is not attached to a template or step yet; "
                "add it to an Inputs/Outputs (or a template's inputs) before referring to it"
            )

    def __str__(self) -> str:
        return "{{" + self.ref + "}}"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})" if self.name else f"{type(self).__name__}()"

    def __deepcopy__(self, memo: Dict[int, Any]) -> Any:
        new = copy.copy(self)
        memo[id(self)] = new
        for k, v in self.__dict__.items():
            if k == "_owner":
                continue
            setattr(new, k, copy.deepcopy(v, memo))
        new._owner = memo.get(id(self._owner), self._owner)
        return new


class InputParameter(_Bindable):
    """An input parameter of a template; ``value`` is its default."""

    _kind = "parameters"
    _io = "inputs"

    def __init__(
        self,
        name: Optional[str] = None,
        type: Any = None,
        value: Any = _UNSET,
        description: Optional[str] = None,
        optional: bool = False,
        **kwargs: Any,
    ) -> None:
        if name is not None:
            check_io_name(name, "input parameter")
        self.name = name
        self.type = type
        self.value = None if value is _UNSET else value
        self.has_value = value is not _UNSET
        self.description = description
        self.optional = optional
        self.save_as_artifact = kwargs.get("save_as_artifact", False)

    def __setattr__(self, key: str, value: Any) -> None:
        object.__setattr__(self, key, value)
        if key == "value":  # a default given later (template.inputs.parameters["x"].value = 1), as dflow takes it
            object.__setattr__(self, "has_value", True)

    @property
    def _numeric(self) -> bool:  # type: ignore[override]
        return self.type in (int, float)


class InputArtifact(_Bindable):
    """An input artifact of a template, placed at ``path`` for script templates."""

    _kind = "artifacts"
    _io = "inputs"

    def __init__(
        self,
        path: Optional[str] = None,
        name: Optional[str] = None,
        optional: bool = False,
        type: Any = None,
        source: Any = None,
        mode: Optional[int] = None,
        sub_path: Optional[str] = None,
        archive: Any = "default",
        **kwargs: Any,
    ) -> None:
        if name is not None:
            check_io_name(name, "input artifact")
        self.path = path
        self.name = name
        self.optional = optional
        self.type = type
        self.source = source
        self.mode = mode
        self.sub_path_value = sub_path
        self.archive = archive

    def sub_path(self, path: str) -> "ArtifactSlice":
        """This artifact, narrowed to ``path`` inside it."""
        return ArtifactSlice(self, path)


class OutputParameter(_Bindable):
    """An output parameter of a template: from a file, a step's output, or an expression."""

    _kind = "parameters"
    _io = "outputs"

    def __init__(
        self,
        value_from_path: Optional[str] = None,
        value_from_parameter: Any = None,
        name: Optional[str] = None,
        type: Any = None,
        default: Any = _UNSET,
        global_name: Optional[str] = None,
        value_from_expression: Any = None,
        save_as_artifact: bool = False,
        description: Optional[str] = None,
        value: Any = _UNSET,
        **kwargs: Any,
    ) -> None:
        if name is not None:
            check_io_name(name, "output parameter")
        self.value_from_path = value_from_path
        self.value_from_parameter = value_from_parameter
        self.value_from_expression = value_from_expression
        self.name = name
        self.type = type
        self.default = None if default is _UNSET else default
        self.has_default = default is not _UNSET
        self.global_name = global_name
        self.save_as_artifact = save_as_artifact
        self.description = description
        self.value = None if value is _UNSET else value
        self.has_value = value is not _UNSET

    def __setattr__(self, key: str, value: Any) -> None:
        object.__setattr__(self, key, value)
        if key == "default":
            object.__setattr__(self, "has_default", True)

    @property
    def _numeric(self) -> bool:  # type: ignore[override]
        return self.type in (int, float)


class OutputArtifact(_Bindable):
    """An output artifact of a template: a path the script writes, or a step's artifact."""

    _kind = "artifacts"
    _io = "outputs"

    def __init__(
        self,
        path: Optional[str] = None,
        _from: Any = None,
        name: Optional[str] = None,
        type: Any = None,
        save: Any = None,
        archive: Any = "default",
        global_name: Optional[str] = None,
        from_expression: Any = None,
        optional: bool = False,
        **kwargs: Any,
    ) -> None:
        refuse_unknown(f"OutputArtifact {name or path!r}", kwargs, arguments_of(OutputArtifact),
                       {"step": "", "template": "", "step_id": ""})  # (the original's own links)
        if name is not None:
            check_io_name(name, "output artifact")
        self.path = path
        self._from = _from
        self.name = name
        self.type = type
        # where a copy of the output is also stored (dflow's list; one item may be given alone)
        self.save = [] if save is None else list(save) if isinstance(save, (list, tuple)) else [save]
        self.archive = archive
        self.global_name = global_name
        self.from_expression = from_expression
        self.optional = optional

    def sub_path(self, path: str) -> "ArtifactSlice":
        return ArtifactSlice(self, path)

    def pvc(self, size: str = "1Gi", storage_class: Optional[str] = None, access_modes: Any = None) -> Any:
        """dflow's artifacts passed through a shared volume while both steps run: not supported here."""
        raise ValidationError(
            f"output artifact {self.name!r}: .pvc() (an artifact read through a shared volume while its "
            "producer still runs) is not supported; pass the artifact itself and let the reading step run "
            "after the producing one"
        )


class ArtifactSlice:
    """An artifact narrowed to a path inside it (``art.sub_path("a/b")``)."""

    def __init__(self, artifact: Any, path: str) -> None:
        self.artifact = artifact
        self.path = str(path)

    def sub_path(self, path: str) -> "ArtifactSlice":
        """Narrowed further: ``art.sub_path("a").sub_path("b")`` is ``art.sub_path("a/b")``, as in dflow."""
        return ArtifactSlice(self.artifact, f"{self.path}/{path}")

    def __repr__(self) -> str:
        return f"ArtifactSlice({self.artifact!r}, {self.path!r})"


# --------------------------------------------------------------------------- containers


class _IODict(dict):  # type: ignore[type-arg]
    """A dict that attaches every value to its owner and name on insertion."""

    def __init__(self, owner: Any, what: str, expected: type, items: Optional[Dict[str, Any]] = None) -> None:
        super().__init__()
        self._owner = owner
        self._what = what
        self._expected = expected
        for k, v in (items or {}).items():
            self[k] = v

    def __setitem__(self, name: str, value: Any) -> None:
        check_io_name(name, self._what)
        if not isinstance(value, self._expected):
            raise ValidationError(
                f"{self._what} {name!r} must be a {self._expected.__name__}, got {type(value).__name__}: {value!r}"
            )
        value._bind(self._owner, name)
        super().__setitem__(name, value)

    def __missing__(self, name: str) -> Any:
        owner = self._owner
        step = getattr(owner, "_as_step", None)
        if step is not None:
            where = f"{'task' if getattr(step, '_is_task', False) else 'step'} {step.name!r} (template {step.template.name!r})"
        else:
            where = f"{type(owner).__name__} {getattr(owner, 'name', None)!r}"
        have = sorted(self)
        raise UnknownNameError(
            f"{where} has no {self._what} {name!r}; its {self._what}s are {have if have else 'none'}"
        )

    def __deepcopy__(self, memo: Dict[int, Any]) -> "_IODict":
        owner = memo.get(id(self._owner), self._owner)
        new = _IODict.__new__(_IODict)
        dict.__init__(new)
        memo[id(self)] = new
        new._owner = owner
        new._what = self._what
        new._expected = self._expected
        for k, v in self.items():
            dict.__setitem__(new, k, copy.deepcopy(v, memo))
        return new

    def __reduce__(self) -> Any:  # pragma: no cover - not pickled in practice
        return (dict, (dict(self),))


#: the dict of a template's parameters or artifacts that names what is put in it (the original's name)
AutonamedDict = _IODict


class _IOSet:
    """Parameters and artifacts of one side (inputs or outputs) of a template or step."""

    _param_class: type = InputParameter
    _artifact_class: type = InputArtifact
    _side = "input"

    def __init__(self, parameters: Optional[Dict[str, Any]] = None,
                 artifacts: Optional[Dict[str, Any]] = None, owner: Any = None) -> None:
        self._owner = owner if owner is not None else self
        self.parameters = _IODict(self._owner, f"{self._side} parameter", self._param_class, parameters)
        self.artifacts = _IODict(self._owner, f"{self._side} artifact", self._artifact_class, artifacts)

    def _attach(self, owner: Any) -> None:
        self._owner = owner
        for d in (self.parameters, self.artifacts):
            d._owner = owner
            for k, v in d.items():
                v._bind(owner, k)

    def __iter__(self) -> Iterator[str]:
        yield from self.parameters
        yield from self.artifacts

    def __repr__(self) -> str:
        return f"{type(self).__name__}(parameters={list(self.parameters)}, artifacts={list(self.artifacts)})"


class Inputs(_IOSet):
    """Input parameters and artifacts of a template."""

    _param_class = InputParameter
    _artifact_class = InputArtifact
    _side = "input"


class Outputs(_IOSet):
    """Output parameters and artifacts of a template."""

    _param_class = OutputParameter
    _artifact_class = OutputArtifact
    _side = "output"
