"""Signs and values of Python OP inputs and outputs.

Standard library only, Python 3.8+: this file runs inside users' images.

* :class:`OPIOSign` - ordered mapping ``name -> type | Artifact | Parameter | BigParameter``
* :class:`OPIO` - ordered mapping ``name -> value`` passed to / returned by ``execute``
* :class:`Artifact`, :class:`Parameter`, :class:`BigParameter`
* :data:`NestedDict` - ``NestedDict[Path]``
"""

from __future__ import annotations

import json
import pathlib
import typing
from collections.abc import MutableMapping
from typing import Any, Dict, Iterator, Optional

from dflow.python.typecheck import NestedDict, is_nested_dict_type, type_name, unwrap_optional

__all__ = [
    "OPIOSign",
    "OPIO",
    "Artifact",
    "Parameter",
    "BigParameter",
    "NestedDict",
    "HDF5Datasets",
    "HDF5Dataset",
    "UNSET",
    "sign_field",
    "sign_fields",
]


class _Unset(object):
    """Marks a parameter without a default value."""

    _instance = None

    def __new__(cls) -> "_Unset":
        if cls._instance is None:
            cls._instance = object.__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "UNSET"


UNSET = _Unset()


class _OPIOBase(MutableMapping):
    """A dict-like mapping keeping insertion order."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._data: Dict[str, Any] = dict(*args, **kwargs)

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._data[key] = value

    def __delitem__(self, key: str) -> None:
        del self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __repr__(self) -> str:
        return "%s(%r)" % (type(self).__name__, self._data)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _OPIOBase):
            return self._data == other._data
        if isinstance(other, dict):
            return self._data == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def copy(self) -> Any:
        return type(self)(self._data)

    def to_dict(self) -> Dict[str, Any]:
        return dict(self._data)


class OPIOSign(_OPIOBase):
    """The sign of an OP's inputs or outputs: ``name -> type`` or ``Artifact(...)``."""


class OPIO(_OPIOBase):
    """The inputs passed to ``execute`` or the outputs it returns."""


# --------------------------------------------------------------------------- artifact


class HDF5Datasets(object):
    """The sign type of an artifact held as datasets of HDF5 files (``Artifact(HDF5Datasets)``,
    or ``Artifact(Union[List[Path], HDF5Datasets])``); reading and writing them needs ``h5py``."""


class HDF5Dataset(object):
    """One dataset of an HDF5 file: what an OP receives for an item of an ``HDF5Datasets`` artifact."""

    def __init__(self, file: Any, key: str) -> None:
        self.file = file
        self.key = key

    @property
    def dataset(self) -> Any:
        return self.file[self.key]

    def __deepcopy__(self, memo: Any = None) -> "HDF5Dataset":
        return self

    def is_none(self) -> bool:
        return self.dataset.attrs.get("type") == "null"

    def get_data(self) -> Any:
        """The stored value: text, bytes, a number or an array (None for a null item)."""
        if self.is_none():
            return None
        data = self.dataset[()]
        dtype = self.dataset.attrs.get("dtype")
        if dtype == "utf-8":
            return data.decode("utf-8") if isinstance(data, bytes) else data
        if dtype == "binary":
            return data.tobytes()
        return data

    def recover(self) -> Any:
        """The item as the OP gave it: a file or a directory (rewritten under the current directory), or data."""
        kind = self.dataset.attrs.get("type")
        if kind == "file":
            path = pathlib.Path(str(self.dataset.attrs["path"]).lstrip("/"))
            path.parent.mkdir(parents=True, exist_ok=True)
            data = self.get_data()
            (path.write_text if isinstance(data, str) else path.write_bytes)(data)  # type: ignore[operator]
            return path
        if kind == "dir":
            import io
            import tarfile

            with tarfile.open(fileobj=io.BytesIO(self.get_data()), mode="r:gz") as tf:
                from dflow.contract import safe_extract

                safe_extract(tf, ".")
            return pathlib.Path(str(self.dataset.attrs["path"]).lstrip("/"))
        return self.get_data()


def _leaf_ok(tp: Any) -> bool:
    return tp is str or (isinstance(tp, type) and issubclass(tp, pathlib.PurePath))


def _allowed_artifact_type(tp: Any) -> bool:
    """The artifact sign types of dflow: str, Path, Set/List of them, Dict[str, str|Path],
    NestedDict[str|Path], each also in a Union with HDF5Datasets, HDF5Datasets, and Optional[...] of any."""
    inner, _ = unwrap_optional(tp)
    if inner is HDF5Datasets or _leaf_ok(inner):
        return True
    args = getattr(inner, "__args__", None) or ()
    if type(inner).__name__ == "UnionType" or getattr(inner, "__origin__", None) is typing.Union:
        rest = [a for a in args if a is not HDF5Datasets]
        return len(rest) < len(args) and len(rest) == 1 and _allowed_artifact_type(rest[0])
    if is_nested_dict_type(inner):
        return _leaf_ok((getattr(inner, "__args__", None) or (pathlib.Path,))[0])
    origin = getattr(inner, "__origin__", None)
    if origin in (list, typing.List, set, typing.Set) and len(args) == 1:
        return _leaf_ok(args[0])
    if origin in (dict, typing.Dict) and len(args) == 2:
        return args[0] is str and _leaf_ok(args[1])
    return False


_ALLOWED_TEXT = ("str, Path, List[str|Path], Set[str|Path], Dict[str, str|Path], NestedDict[str|Path], "
                 "HDF5Datasets, Union[one of them, HDF5Datasets], or Optional[...] of one of them")


class Artifact(object):
    """An artifact field of a sign: files passed as paths.

    ``type`` is one of ``Path``, ``List[Path]``, ``Dict[str, Path]``,
    ``NestedDict[Path]`` or ``Optional[...]`` of one of them (which makes it optional).
    """

    def __init__(
        self,
        type: Any,
        archive: Optional[str] = "default",
        save: Optional[Any] = None,
        optional: bool = False,
        global_name: Optional[str] = None,
        sub_path: bool = True,
        **kwargs: Any,
    ) -> None:
        if not _allowed_artifact_type(type):
            raise TypeError(
                "Artifact type %s is not allowed; use one of %s" % (type_name(type), _ALLOWED_TEXT)
            )
        inner, is_opt = unwrap_optional(type)
        self.type = type
        self.item_type = inner
        self.archive = archive
        self.save = save
        self.optional = bool(optional or is_opt)
        self.global_name = global_name
        self.sub_path = sub_path
        self.extra = dict(kwargs)

    def __repr__(self) -> str:
        parts = [type_name(self.type)]
        if self.optional:
            parts.append("optional=True")
        if self.archive != "default":
            parts.append("archive=%r" % (self.archive,))
        if self.global_name:
            parts.append("global_name=%r" % (self.global_name,))
        return "Artifact(%s)" % ", ".join(parts)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Artifact):
            return NotImplemented
        return (self.type, self.archive, self.optional, self.global_name, self.sub_path) == (
            other.type, other.archive, other.optional, other.global_name, other.sub_path)

    __hash__ = None  # type: ignore[assignment]


class Parameter(object):
    """A parameter field of a sign with extra settings: a global name, a default, a description.

    As in dflow, the second positional argument is ``global_name`` and ``default`` is a
    keyword; ``hasattr(sign, "default")`` is true only when a default was given.
    """

    kind = "parameter"

    def __init__(
        self,
        type: Any,
        global_name: Optional[str] = None,
        default: Any = UNSET,
        description: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        self.type = type
        self._default = default
        self.global_name = global_name
        self.description = description
        self.extra = dict(kwargs)
        for k, v in kwargs.items():
            setattr(self, k, v)

    @property
    def default(self) -> Any:
        if self._default is UNSET:
            raise AttributeError("%s has no default" % self)
        return self._default

    @default.setter
    def default(self, value: Any) -> None:
        self._default = value

    @property
    def has_default(self) -> bool:
        return self._default is not UNSET

    def __repr__(self) -> str:
        parts = [type_name(self.type)]
        if self.has_default:
            parts.append("default=%r" % (self._default,))
        if self.global_name:
            parts.append("global_name=%r" % (self.global_name,))
        return "%s(%s)" % (type(self).__name__, ", ".join(parts))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Parameter):
            return NotImplemented
        return (type(self), self.type, self._default, self.global_name) == (
            type(other), other.type, other._default, other.global_name)

    __hash__ = None  # type: ignore[assignment]


class BigParameter(Parameter):
    """A parameter whose value is too large for a workflow parameter; stored like an artifact."""

    kind = "big_parameter"


# --------------------------------------------------------------------------- sign description


def _default_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def sign_field(value: Any) -> Dict[str, Any]:
    """A plain dict with the fields of ``dflow.spec.SignField`` describing one sign entry."""
    if isinstance(value, Artifact):
        archive = value.archive
        return {"kind": "artifact", "type": type_name(value.type), "optional": value.optional,
                "archive": archive, "default": None, "has_default": False, "description": None}
    if isinstance(value, Parameter):
        return {"kind": value.kind, "type": type_name(value.type), "optional": False,
                "archive": None,
                "default": _default_text(value._default) if value.has_default else None,
                "has_default": value.has_default, "description": value.description}
    return {"kind": "parameter", "type": type_name(value), "optional": False, "archive": None,
            "default": None, "has_default": False, "description": None}


def sign_fields(sign: Any) -> Dict[str, Dict[str, Any]]:
    """``{name: sign_field(value)}`` for a whole sign, in its order."""
    return {k: sign_field(v) for k, v in sign.items()}
