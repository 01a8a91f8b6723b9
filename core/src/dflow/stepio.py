"""Inputs and outputs of a Python OP inside a step: from files to values and back.

Standard library only, Python 3.8+: part of the step runtime (see ``docs/runtime-contract.md``).

* :func:`artifact_value` - the value an OP's sign asks for, from an artifact directory;
* :func:`parameter_value` - the value of an input parameter's text for the OP's sign;
* :class:`ArtifactWriter` - collects the paths an OP returns into an output artifact;
* :func:`write_parameters` - writes output parameter files and their types.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import PosixPath, WindowsPath
from typing import Any, Dict, List, Optional, Sequence

from dflow.contract import (
    CATALOG_DIR,
    PICKLE_TYPE_PREFIX,
    carried_pickle_type,
    decode_value,
    encode_value,
    is_pickled,
    json_holds,
    merge_stacked,
    read_catalog,
    slice_dir,
    write_catalog,
)
from dflow.linking import linker_within, place

__all__ = ["artifact_value", "parameter_value", "ArtifactWriter", "write_parameters", "atomic_write", "lists_by_index",
           "with_art_root", "artifact_classes"]


def atomic_write(path: str, text: str) -> None:
    """Replace ``path`` with ``text`` so that a reader sees the old or the new content."""
    tmp = "%s.tmp-%s" % (path, os.urandom(4).hex())
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


# --------------------------------------------------------------------------- artifacts in


def _entries(directory: str) -> List[str]:
    try:
        return sorted(n for n in os.listdir(directory) if n != CATALOG_DIR)
    except OSError:
        return []


def _item_key(it: Dict[str, Any]) -> str:
    return str(it.get("key") if it.get("key") is not None else it.get("index"))


def lists_by_index(value: Any) -> Any:
    """A nested dict whose keys are all indexes (a list a ``NestedDict`` output held) as that list."""
    if not isinstance(value, dict):
        return value
    value = {k: lists_by_index(v) for k, v in value.items()}
    if value and all(str(k).isdigit() for k in value) and sorted(int(k) for k in value) == list(range(len(value))):
        return [value[k] for k in sorted(value, key=int)]
    return value


def _dangling_links(directory: str, names: List[str]) -> List[str]:
    """The links in ``directory`` that name nothing (``copytree``'s own check reads a relative link
    against the process's directory, not the link's)."""
    return [n for n in names if os.path.islink(os.path.join(directory, n)) and not os.path.exists(os.path.join(directory, n))]


def artifact_value(path: Optional[str], tp: Any, optional: bool = False, sub_path: bool = True) -> Any:
    """The value an OP with sign type ``tp`` receives for an artifact at ``path``.

    ``Path`` (and ``str``, which gets the path as text) is the one item of a one-item
    catalog (unless the sign says ``sub_path=False``), else the directory; ``List[...]``
    the items in catalog order; ``Dict`` and ``NestedDict`` the items by key. A gathered
    artifact's parts are merged first.
    """
    import pathlib

    from dflow.python.typecheck import artifact_form, artifact_item_type, is_nested_dict_type

    tp, opt = artifact_form(tp)  # Union[List[Path], HDF5Datasets]: the first form that is made of paths
    optional = optional or opt
    if path is None or (optional and not os.path.exists(path)):
        return None
    is_dir = os.path.isdir(path)
    if is_dir:
        merge_stacked(path)
    items = read_catalog(path) if is_dir else None
    item = artifact_item_type(tp)
    as_text = item is str

    def P(*parts: Optional[str]) -> Any:
        if parts[-1] is None:  # an item with no path (an output returned as None)
            return None
        p = pathlib.Path(*parts)  # type: ignore[arg-type]
        return str(p) if as_text else p

    origin = getattr(tp, "__origin__", None)
    if (is_nested_dict_type(tp) or origin is dict) and items and all(it.get("key") is None for it in items):
        # a list upload given to a dict sign: the value follows the upload (a list), as in dflow
        return [P(path, it["path"]) for it in items]
    if is_nested_dict_type(tp):
        if items is None:
            return {n: P(path, n) for n in _entries(path)} if is_dir else {}
        out: Dict[str, Any] = {}
        for it in items:
            keys = _item_key(it).split("/")
            d = out
            for k in keys[:-1]:
                d = d.setdefault(k, {})
            d[keys[-1]] = P(path, it["path"])
        return {k: lists_by_index(v) for k, v in out.items()}
    if origin in (list, set, frozenset, tuple):
        if items is None:
            values = [P(path, n) for n in _entries(path)] if is_dir else [P(path)]
        else:
            values = [P(path, it["path"]) for it in items]
        return values if origin is list else origin(values)
    if origin is dict:
        if items is None:
            return {n: P(path, n) for n in _entries(path)} if is_dir else {}
        return {_item_key(it): P(path, it["path"]) for it in items}
    if items is not None and len(items) == 1 and sub_path:
        return P(path, items[0]["path"])
    return P(path)


# --------------------------------------------------------------------------- artifact values
# As in dflow, an input artifact reaches a Python OP as a str, Path, list, set or dict of paths
# whose class is a subclass of the plain one with an ``art_root`` attribute: the directory the
# artifact was placed at (``op_in["x"].art_root``). They behave as the plain types otherwise.


class ArtifactStr(str):
    """A ``str`` that names an artifact's path (attributes may be set on it)."""


class ArtifactPosixPath(PosixPath):
    """A ``PosixPath`` of an artifact."""


class ArtifactWindowsPath(WindowsPath):
    """A ``WindowsPath`` of an artifact."""


class ArtifactList(list):
    """A list of an artifact's paths."""


class ArtifactSet(set):
    """A set of an artifact's paths."""


class ArtifactDict(dict):
    """A dict of an artifact's paths."""


#: the artifact variant of each plain type
artifact_classes = {str: ArtifactStr, PosixPath: ArtifactPosixPath, WindowsPath: ArtifactWindowsPath,
                    list: ArtifactList, set: ArtifactSet, dict: ArtifactDict}


def with_art_root(value: Any, root: Optional[str]) -> Any:
    """``value`` as its artifact class, with ``art_root`` set to ``root`` (a value of another type,
    ``None`` included, is returned as it is)."""
    cls = artifact_classes.get(type(value))
    if cls is None or root is None:
        return value
    out = cls(value)
    out.art_root = root
    return out


# --------------------------------------------------------------------------- parameters in


def _wants_pickle(tp: Any, recorded: Optional[str] = None) -> bool:
    """Whether a sign type asks for a value JSON cannot hold (so a pickled value may be read):
    a type JSON has no form for, or the very type the writer recorded for its pickle (a
    ``dict`` that holds objects is written as ``pickle:dict``)."""
    from dflow.python.typecheck import type_name, unwrap_optional

    inner, _ = unwrap_optional(tp)
    name = type_name(inner)
    base = name.split("[", 1)[0]
    if recorded is not None and is_pickled(recorded) and recorded[len("pickle:"):] in (name, base.lower()):
        return True
    return not json_holds(name)


def parameter_value(entry: Any, tp: Any, sliced: bool) -> Any:
    """The value of an input parameter given as ``{"text", "type"}`` for an OP sign type ``tp``.

    ``sliced``: a list of slices (each element decoded for ``tp``). A pickled value is
    unpickled only when its writer recorded it as pickled and ``tp`` asks for a type JSON
    cannot hold. An entry marked ``declared_only`` (its ``type`` is what the template
    declares: a container backend carries the text alone) counts a value in the pickle
    wrapper as recorded pickled unless ``tp`` asks for text, a path or anything.
    """
    from dflow.python.typecheck import check_type, type_name

    if isinstance(entry, dict):
        text, tname = entry.get("text"), entry.get("type")
        if "value" in entry and text is None:
            return entry["value"]
        carried = carried_pickle_type(text, type_name(tp)) if entry.get("declared_only") and not sliced else None
        if carried is not None:  # a backend that carries text only (Argo): the wrapper is the record
            return decode_value(text, carried, allow_pickle=True)
    else:
        text, tname = entry, None
    allow = is_pickled(tname) and _wants_pickle(tp, tname)
    if sliced:
        return decode_value(text, None if tname == "str" else tname, allow_pickle=allow)
    if tp is str:
        return text
    if tname == "str" and tp in (Any, object):
        # as on a cluster, which carries a parameter's text alone and reads it as JSON for any sign but
        # str ("1e3" is 1000.0, "true" True): the same answer here, though this backend knows it was text
        return decode_value(text, None)
    value = decode_value(text, tname, allow_pickle=allow)
    if not check_type(value, tp) and isinstance(text, str) and not is_pickled(tname):
        alt = decode_value(text, None)
        if check_type(alt, tp):
            return alt
    return value


# --------------------------------------------------------------------------- outputs


class ArtifactWriter:
    """Collects the paths of one output artifact into a temporary directory, then renames it into place."""

    def __init__(self, outputs_dir: str, name: str, input_roots: Sequence[str] = ()) -> None:
        """``input_roots``: where the step's input artifacts are; a path below one of them keeps its
        place inside that artifact (as in dflow), not the step's own directories."""
        self.final = os.path.join(outputs_dir, "artifacts", name)
        self.input_roots = [os.path.normpath(r) for r in input_roots if r]
        self.tmp = os.path.join(outputs_dir, "artifacts", ".tmp-%s-%s" % (name, os.urandom(4).hex()))
        self.items: List[Dict[str, Any]] = []
        self.taken: Dict[str, Optional[int]] = {}  # relative path -> the slice that wrote it
        os.makedirs(self.tmp, exist_ok=True)

    def add(self, value: Any, base: str, prefix: str, index: Optional[int], key: Optional[str],
            order: Optional[int] = None, slice_index: Optional[int] = None) -> None:
        src = os.fspath(value)
        if not os.path.isabs(src):
            src = os.path.join(base, src)
        src = os.path.normpath(src)
        if not os.path.lexists(src):
            # as in dflow: the artifact holds nothing for a path the OP named but did not write
            sys.stderr.write("dflow: warning: output artifact %r: the path %s does not exist; it is left out\n" % (
                os.path.basename(self.final), src))
            return
        rel = os.path.relpath(src, base)
        if rel == os.curdir:
            rel = ""
        elif rel.startswith(os.pardir + os.sep) or rel == os.pardir:
            rel = self._inside_input(src)
        if prefix:
            rel = os.path.join(prefix, rel) if rel else prefix
        if rel and slice_index is not None and self.taken.get(rel, slice_index) != slice_index:
            # another slice of this step wrote the same name: keep both (as parts of a fan-out do)
            rel = os.path.join(slice_dir(slice_index), rel)
        dst = os.path.join(self.tmp, rel) if rel else self.tmp
        # a file the step wrote (in its working directory or its inputs) is hard-linked, not copied, as in
        # dflow: nothing writes to it once the step has ended; a file from elsewhere is copied. Links are
        # followed, as in dflow: a link out of the directory (``POSCAR -> ../../POSCAR``) would dangle in
        # the next step (one that dangles already is left out)
        place(src, dst, linker_within([base] + self.input_roots), ignore=_dangling_links)
        if rel:
            self.taken.setdefault(rel, slice_index)
        item: Dict[str, Any] = {"index": index, "key": key, "path": rel.replace(os.sep, "/") or "."}
        if order is not None:
            item["order"] = order
        self.items.append(item)

    def _inside_input(self, src: str) -> str:
        """Where a path outside the working directory goes in the artifact: a file of an input
        artifact at its path inside that artifact (a whole input artifact under its own name),
        anything else at its absolute path."""
        for root in self.input_roots:
            if src == root:
                return os.path.basename(root)
            if src.startswith(root + os.sep):
                return src[len(root) + 1:]
        return src.lstrip(os.sep)

    def add_value(self, value: Any, base: str, prefix: str, slice_index: Optional[int], sliced: bool) -> None:
        """``value``: a path, a list, a dict or a nested dict of paths (``sliced``: this slice's own).
        ``None`` (the whole value, an item, a dict's value) is an item with no path, as in dflow: the
        artifact exists, and a step reading it gets ``None`` in that place."""
        own = slice_index if sliced else None
        if value is None:
            self.items.append({"index": own, "key": None, "path": None})
            return
        if isinstance(value, (list, tuple, set, frozenset)):
            for i, v in enumerate(value):
                if v is None:
                    self.items.append({"index": i, "key": None, "path": None} if own is None
                                      else {"index": own, "key": None, "path": None, "order": i})
                elif own is None:
                    self.add(v, base, prefix, i, None, slice_index=slice_index)
                else:
                    self.add(v, base, prefix, own, None, order=i, slice_index=slice_index)
            return
        if isinstance(value, dict):
            self._add_dict(value, base, prefix, "", own, slice_index)
            return
        self.add(value, base, prefix, own, None, slice_index=slice_index)

    def _add_dict(self, value: Dict[Any, Any], base: str, prefix: str, kp: str, own: Optional[int],
                  slice_index: Optional[int]) -> None:
        for k, v in value.items():
            key = kp + str(k)
            if isinstance(v, (list, tuple)):  # a list in a nested dict: its items by index, as in dflow
                v = dict(enumerate(v))
            if isinstance(v, dict):
                self._add_dict(v, base, prefix, key + "/", own, slice_index)
            elif v is None:
                self.items.append({"index": own, "key": key, "path": None})
            else:
                self.add(v, base, prefix, own, key, slice_index=slice_index)

    def commit(self) -> None:
        write_catalog(self.tmp, self.items)
        if os.path.lexists(self.final):
            shutil.rmtree(self.final)
        os.replace(self.tmp, self.final)

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def write_parameters(outputs_dir: str, values: Dict[str, Any], signed: Optional[Dict[str, str]] = None) -> None:
    """Write each output parameter's text to ``parameters/<name>`` and the type names to ``.types.json``.

    ``signed``: the type names the OP's sign declares; a pickled value is recorded under
    its declared type (an instance of a subclass reads back where the sign's type is asked for).
    """
    pdir = os.path.join(outputs_dir, "parameters")
    os.makedirs(pdir, exist_ok=True)
    types: Dict[str, str] = {}
    for name, value in values.items():
        text, tname = encode_value(value)
        declared = (signed or {}).get(name)
        if declared and is_pickled(tname) and isinstance(value, _sign_class(declared, value)):
            tname = PICKLE_TYPE_PREFIX + declared
        atomic_write(os.path.join(pdir, name), text)
        types[name] = tname
    if types:
        atomic_write(os.path.join(pdir, ".types.json"), json.dumps(types))


def _sign_class(declared: str, value: Any) -> Any:
    """The class named ``declared`` among the classes of ``value`` (itself and its bases), else ``()``."""
    for cls in type(value).__mro__:
        if cls.__name__ == declared:
            return cls
    return ()
