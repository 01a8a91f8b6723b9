"""The contract between a backend and the code inside a step, defined once.

Standard library only, Python 3.8+: the step runtime imports this module inside users'
images, the local engine and the Argo manifest compiler import it on the submitting
side. ``docs/runtime-contract.md`` describes the same things in prose.

* reserved parameter names a backend adds to steps (``dflow_slice``, ``dflow_key``, ...);
* exit codes of a step;
* the value codec: how a parameter value travels as text, and when a pickled value may
  be unpickled;
* the artifact catalog: ``.dflow/catalog*.json`` files that keep the structure (list
  order, dict keys) of an artifact's items;
* the archive object of an uploaded artifact, and safe extraction of archives.
"""

from __future__ import annotations

import base64
import json
import os
import pickle
import shutil
import sys
import tarfile
import uuid
from typing import Any, Dict, List, Optional, Tuple

__all__ = [
    "SLICE_PARAMETER", "KEY_PARAMETER", "GROUP_KEY_PARAMETER", "SUCCESS_PARAMETER",
    "PYTHON_PACKAGES_ARTIFACT", "RESERVED_PARAMETERS", "EXIT_OK", "EXIT_FATAL", "EXIT_TRANSIENT",
    "EXIT_INTERRUPTED", "TASK_ENV", "PYTHON_OP_SCRIPT", "PICKLE_TYPE_PREFIX", "in_pickle_wrapper",
    "json_holds", "carried_pickle_type", "JSON_TYPE_NAMES", "encode_value", "decode_value", "is_pickled",
    "CATALOG_DIR", "ARCHIVE_OBJECT", "read_catalog", "write_catalog", "FILE_CATALOG", "mark_file", "as_file",
    "sorted_items", "slice_dir", "PART_PREFIX", "STACK_PREFIX", "GATHERED_MARKER", "SOURCE_MODULE_NAME",
    "unpickle", "merge_part", "keyed_items", "key_part", "merge_stacked", "slice_item", "slice_parameter",
    "slice_index", "UnsafeArchiveError", "safe_extract",
]

# --------------------------------------------------------------------------- reserved names

#: the slice index (or group index) of a fanned-out step's item
SLICE_PARAMETER = "dflow_slice"
#: a step's key, as the step sees it
KEY_PARAMETER = "dflow_key"
#: the storage prefix the slices of one fan-out write their gathered artifacts under (Argo)
GROUP_KEY_PARAMETER = "dflow_group_key"
#: ``1``/``0``: whether a slice succeeded, for ``continue_on_num_success`` on Argo
SUCCESS_PARAMETER = "dflow_success"
#: the input artifact holding a Python OP's ``python_packages``
PYTHON_PACKAGES_ARTIFACT = "dflow_python_packages"

RESERVED_PARAMETERS = frozenset({SLICE_PARAMETER, KEY_PARAMETER, GROUP_KEY_PARAMETER, SUCCESS_PARAMETER})

# --------------------------------------------------------------------------- exit codes

EXIT_OK = 0
#: FatalError: not retried
EXIT_FATAL = 1
#: TransientError and any other exception (as dflow's script, which exits 1 for both): retried when the
#: template allows it
EXIT_TRANSIENT = 3
#: the step was interrupted (SIGINT)
EXIT_INTERRUPTED = 130

# --------------------------------------------------------------------------- the Python OP script

#: the environment variable naming the task file of a Python OP step (docs/runtime-contract.md)
TASK_ENV = "DFLOW_TASK"

#: the script of a Python OP template: it runs the step runtime on ``$DFLOW_TASK``. An
#: executor may change it (or the command that runs it); a backend that finds it unchanged
#: may call :func:`dflow.runtime.run_task` directly instead of starting ``python3``.
PYTHON_OP_HEAD = (
    "# dflow: run this step's Python OP with the step runtime; the task file is $DFLOW_TASK\n"
    "import os, sys\n"
    "from dflow.runtime import main\n"
)
#: the call that runs the step (its exit code)
PYTHON_OP_CALL = "main([os.environ['DFLOW_TASK']])"
PYTHON_OP_SCRIPT = PYTHON_OP_HEAD + "sys.exit(" + PYTHON_OP_CALL + ")\n"

# --------------------------------------------------------------------------- values

#: the type name of a value that JSON cannot hold: ``pickle:<class name>``
PICKLE_TYPE_PREFIX = "pickle:"
JSON_TYPE_NAMES = frozenset({"int", "float", "bool", "dict", "list", "NoneType", "json"})
_PICKLE_KEY = "__dflow_pickle__"


def encode_value(value: Any) -> Tuple[str, str]:
    """``(text, type_name)`` of a parameter value.

    A ``str`` is itself (``"str"``); ``None``, numbers, booleans, dicts and lists are
    JSON with their type name (``"json"`` for subclasses of those). Anything else is
    pickled: the text is ``{"__dflow_pickle__": "<base64>"}`` and the type name
    ``"pickle:<class name>"``, which is the only thing that lets a reader unpickle it.
    """
    if isinstance(value, str):
        return value, "str"
    tname = type(value).__name__
    if value is None or isinstance(value, (bool, int, float, dict, list)):
        try:
            text = json.dumps(value)
            return text, tname if tname in JSON_TYPE_NAMES else "json"
        except (TypeError, ValueError):
            pass

    data = base64.b64encode(pickle.dumps(value)).decode("ascii")
    return json.dumps({_PICKLE_KEY: data}), PICKLE_TYPE_PREFIX + tname


def is_pickled(type_name: Optional[str]) -> bool:
    """Whether the writer of a value recorded it as pickled."""
    return bool(type_name) and str(type_name).startswith(PICKLE_TYPE_PREFIX)


def _type_base(type_name: Optional[str]) -> str:
    """``List`` of ``Optional[List[int]]``: a declared type's name without ``Optional`` and arguments."""
    name = str(type_name or "Any").strip()
    if name.startswith("Optional[") and name.endswith("]"):
        name = name[len("Optional["):-1]
    return name.split("[", 1)[0]


def json_holds(type_name: Optional[str]) -> bool:
    """Whether values of a declared type (its name as ``SignField.type`` gives it) have a JSON form."""
    return _type_base(type_name) in JSON_TYPE_NAMES | {"str", "Any", "List", "Dict", "None", "Path", "Union"}


def carried_pickle_type(text: Optional[str], type_name: Optional[str]) -> Optional[str]:
    """On a backend that carries parameters as text only (Argo), the ``pickle:<type>`` record of a value
    declared ``type_name``, or None. There the wrapper itself is the record that a value was pickled,
    for any declared type but text, a path or anything (``Any``); a recorded pickle stays as it is."""
    if not type_name or is_pickled(type_name) or not in_pickle_wrapper(text):
        return None
    if _type_base(type_name) in ("str", "Any", "None", "NoneType", "Path"):
        return None
    return PICKLE_TYPE_PREFIX + type_name


def in_pickle_wrapper(text: Optional[str]) -> bool:
    """Whether ``text`` has the form :func:`encode_value` gives a pickled value (and nothing else).

    For a backend that carries parameters as text only (Argo): there the wrapper is the only
    record a value was pickled (see :func:`carried_pickle_type`).
    """
    if not text or not text.startswith("{"):
        return False
    try:
        obj = json.loads(text)
    except ValueError:
        return False
    return isinstance(obj, dict) and set(obj) == {_PICKLE_KEY} and isinstance(obj[_PICKLE_KEY], str)


def decode_value(text: Optional[str], type_name: Optional[str] = None, allow_pickle: bool = False) -> Any:
    """The value ``text`` holds (``type_name`` as :func:`encode_value` wrote it).

    A pickled value is unpickled only when its writer recorded it as pickled **and**
    the caller allows it (``allow_pickle``: the step runtime does, for an OP sign that
    asks for a type JSON cannot hold). Otherwise its JSON wrapper is returned as a
    plain dict: a value shaped like the wrapper that was written as JSON is never
    unpickled.
    """
    if text is None:
        return None
    if type_name == "str":
        return text
    try:
        obj = json.loads(text)
    except (TypeError, ValueError):
        return text
    if allow_pickle and is_pickled(type_name) and isinstance(obj, dict) and set(obj) == {_PICKLE_KEY}:
        return unpickle(base64.b64decode(obj[_PICKLE_KEY]))
    return obj


def unpickle(data: bytes) -> Any:
    """``pickle.loads`` that finds the submitting script's classes on either side (see below).

    Only for data the workflow's own author pickled: unpickling runs code.
    """
    import io

    return _MainAwareUnpickler(io.BytesIO(data)).load()


#: the module a step loads the source of the submitting script's OPs into (see dflow.runtime)
SOURCE_MODULE_NAME = "__dflow_main__"


class _MainAwareUnpickler(pickle.Unpickler):
    """Objects of classes the submitting script defined are ``__main__.X`` in that script and
    ``__dflow_main__.X`` in a step (the module the OP's source is loaded into): each side reads
    the other's."""

    def find_class(self, module: str, name: str) -> Any:
        if module == SOURCE_MODULE_NAME and module not in sys.modules:
            module = "__main__"  # written by a step, read back by the submitting script that defines the class
        elif module == "__main__":
            top = name.split(".")[0]
            main, source = sys.modules.get("__main__"), sys.modules.get(SOURCE_MODULE_NAME)
            if (main is None or not hasattr(main, top)) and source is not None and hasattr(source, top):
                module = SOURCE_MODULE_NAME
        return super().find_class(module, name)


# --------------------------------------------------------------------------- catalogs

#: the folder of an artifact directory that holds its catalog files
CATALOG_DIR = ".dflow"
#: the one object an uploaded ``archive="tar"`` artifact is stored as, in a remote store
ARCHIVE_OBJECT = "dflow-archive.tgz"


def read_catalog(directory: str) -> Optional[List[Dict[str, Any]]]:
    """The items of every catalog file below ``directory``, merged and sorted; None without catalogs.

    An item is ``{"index": int | None, "key": str | None, "path": "relative/path"}``,
    optionally with ``"order"`` (the position in a list one slice returned).
    """
    cat_dir = os.path.join(directory, CATALOG_DIR)
    try:
        names = sorted(n for n in os.listdir(cat_dir) if n.startswith("catalog") and n.endswith(".json"))
    except OSError:
        return None
    items: List[Dict[str, Any]] = []
    for n in names:
        with open(os.path.join(cat_dir, n)) as f:
            data = json.load(f)
        if isinstance(data, dict):
            data = data.get("items", [])
        items.extend(data)
    return sorted_items(items)


def sorted_items(items: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Catalog items by ``(index, order)``; items without an index last, in their given order."""
    def key(it: Dict[str, Any]) -> Tuple[int, Any, Any]:
        idx = it.get("index")
        return (1 if idx is None else 0, idx if idx is not None else 0, it.get("order") or 0)

    return sorted(items, key=key)


#: an artifact that is one file, as a cluster stores a declared path that is a file (a script's output
#: of a file, a file given alone, one object at a key): its catalog, of one item marked "file"
FILE_CATALOG = "catalog-file.json"


def mark_file(directory: str, path: str) -> None:
    """Catalog the artifact at ``directory`` as the one file ``path`` inside it (see :func:`as_file`)."""
    write_catalog(directory, [{"index": None, "key": None, "path": path, "file": True}], name=FILE_CATALOG)


def as_file(directory: str) -> bool:
    """Put the file the artifact placed at ``directory`` is (:func:`mark_file`) in the directory's place.

    A pod finds such an artifact as the file itself at the input's path, named after the input;
    any other artifact (a Python OP's output, an upload, a merge) as a folder. False: nothing done.
    """
    try:
        if os.listdir(os.path.join(directory, CATALOG_DIR)) != [FILE_CATALOG] or os.path.islink(directory):
            return False
    except OSError:  # no catalog: not a file artifact
        return False
    items = read_catalog(directory) or []
    src = os.path.join(directory, items[0]["path"]) if len(items) == 1 and items[0].get("file") else ""
    if not os.path.isfile(src):
        return False
    held = "%s.file-%s" % (directory, uuid.uuid4().hex[:8])
    os.replace(src, held)  # the placed entry (a copy or a link), never the stored file
    shutil.rmtree(directory)
    os.replace(held, directory)
    return True


def write_catalog(directory: str, items: List[Dict[str, Any]], name: Optional[str] = None) -> str:
    """Write ``items`` as a catalog file of ``directory`` (a unique name unless given); return its path.

    The file appears atomically, so a reader never sees half a catalog.
    """
    cat_dir = os.path.join(directory, CATALOG_DIR)
    os.makedirs(cat_dir, exist_ok=True)
    final = os.path.join(cat_dir, name or "catalog-%s.json" % uuid.uuid4().hex)
    tmp = os.path.join(cat_dir, ".tmp-%s" % uuid.uuid4().hex)
    with open(tmp, "w") as f:
        json.dump(items, f)
    os.replace(tmp, final)
    return final


def slice_dir(index: int) -> str:
    """The folder that keeps slice ``index``'s files when slices of one fan-out write the same name."""
    return "slice-%d" % int(index)


#: a gathered artifact stored as one prefix holds each pod's output under ``.dflow-part-<n>``
PART_PREFIX = ".dflow-part-"
#: the same for the stacked outputs of a sliced super-OP: each part (a slice, or what one step of
#: its template wrote, in run order) is itself merged first, then merged in as ``merge_part(stacked=True)``
STACK_PREFIX = ".dflow-stack-"
#: an empty file a container backend may put beside the parts, so the prefix exists with no slice
GATHERED_MARKER = ".dflow-gathered"


def _move_tree(src: str, dst: str) -> None:
    """Move the file or directory ``src`` to ``dst``, merging into a directory that exists."""
    if os.path.isdir(src) and not os.path.islink(src) and os.path.isdir(dst):
        for name in os.listdir(src):
            _move_tree(os.path.join(src, name), os.path.join(dst, name))
        os.rmdir(src)
        return
    os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
    os.replace(src, dst)


def keyed_items(items: Optional[List[Dict[str, Any]]], key: str) -> List[Dict[str, Any]]:
    """The catalog ``items`` of one part of a dict given as an artifact, as the entry ``key``: an item
    with a key goes under it (``key/k``), the others are a list under it (``key/0``, ``key/1``, ...);
    a part without a catalog (None) is one item, its folder, moved to ``key/`` by :func:`key_part`."""
    if items is None:
        return [{"index": None, "key": key, "path": key}]
    return [dict(_in_directory(it), index=None, order=None,
                 key="%s/%s" % (key, it["key"] if it.get("key") is not None else j))
            for j, it in enumerate(items)]


def _in_directory(item: Dict[str, Any]) -> Dict[str, Any]:
    """A catalog item as part of a merged artifact: a folder, so no longer one file (:func:`mark_file`)."""
    return {k: v for k, v in item.items() if k != "file"}


def key_part(directory: str, key: str) -> None:
    """Make the part at ``directory`` the entry ``key`` of a dict given as one artifact, before it is merged.

    As in dflow, the OP then gets ``{key: value}``: the part's items as a list (or a dict, if they
    have keys), or the part's folder when it has no catalog (it is moved under ``key/``).
    """
    items = read_catalog(directory)
    if items is None:
        holder = os.path.join(directory, ".dflow-key-%s" % uuid.uuid4().hex)
        os.makedirs(holder)
        for name in os.listdir(directory):
            if os.path.join(directory, name) != holder:
                os.replace(os.path.join(directory, name), os.path.join(holder, name))
        os.makedirs(os.path.dirname(os.path.join(directory, key)), exist_ok=True)
        os.replace(holder, os.path.join(directory, key))
    else:
        shutil.rmtree(os.path.join(directory, CATALOG_DIR))
    write_catalog(directory, keyed_items(items, key))


def merge_part(src: str, target: str, index: int, stacked: bool = False) -> None:
    """Move part ``index`` of a gathered artifact (the output of one slice, or of one group of slices) into ``target``.

    Parts are merged in order. Each catalog item (a file or a directory a slice returned)
    keeps its path unless an earlier part took that path; then the whole item goes under
    ``slice-<i>/`` (``i``: the slice the item belongs to), so slices that write the same
    name keep every output. The part's catalog is rewritten to match and stored under a
    name that keeps the order of the parts.

    ``stacked``: the parts are what the steps of a sliced super-OP wrote to one output over
    its run (every round of a recursion): a directory an earlier part took is merged
    into, file by file, and only a file an earlier part took goes under ``slice-<i>/``.
    """
    items = [_in_directory(it) for it in read_catalog(src) or []]
    for it in items:
        p = (it.get("path") or "").strip("/")
        if p in ("", "."):
            continue
        here = os.path.join(src, p)
        if not os.path.lexists(here):
            continue  # an earlier item of this part already took it (nested items)
        if os.path.lexists(os.path.join(target, p)):
            if stacked and os.path.isdir(here) and not os.path.islink(here) and os.path.isdir(os.path.join(target, p)):
                continue  # merged file by file below
            p = slice_dir(it["index"] if it.get("index") is not None else index) + "/" + p
            it["path"] = p
        _move_tree(here, os.path.join(target, p))
    # files no catalog item names (and items of the whole directory): file by file
    for root, dirs, files in os.walk(src):
        rel_root = os.path.relpath(root, src)
        if rel_root.split(os.sep)[0] == CATALOG_DIR:
            dirs[:] = []
            continue
        for fn in files:
            rel = os.path.normpath(os.path.join(rel_root, fn))
            dst = os.path.join(target, rel)
            if os.path.lexists(dst):
                dst = os.path.join(target, slice_dir(index), rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            os.replace(os.path.join(root, fn), dst)
    if items:
        write_catalog(target, items, name="catalog-part-%08d.json" % int(index))


def merge_stacked(directory: str) -> bool:
    """Merge the ``.dflow-part-<n>`` (and ``.dflow-stack-<n>``) folders of a gathered artifact into ``directory``.

    Returns whether there was anything to merge. The result is the same as the local
    engine's merge of the slices' outputs, so a gathered artifact looks the same on
    every backend.
    """
    try:
        names = os.listdir(directory)
    except OSError:
        return False
    parts = sorted((i, n) for i, n in ((_part_index(n), n) for n in names) if i is not None)
    marker = os.path.join(directory, GATHERED_MARKER)
    if os.path.isfile(marker) and not os.path.islink(marker):
        os.unlink(marker)
    rank = 0
    for index, name in parts:
        src = os.path.join(directory, name)
        stacked = name.startswith(STACK_PREFIX)
        if stacked:
            # a part of a stack may be a stack itself (a recursion's next round); as the local engine
            # merges the parts that exist, a part is numbered by its place among those that hold something
            merge_stacked(src)
            if not os.listdir(src):
                shutil.rmtree(src, ignore_errors=True)
                continue
            index, rank = rank, rank + 1
        merge_part(src, directory, index, stacked=stacked)
        shutil.rmtree(src, ignore_errors=True)
    return bool(parts)


def _part_index(name: str) -> Optional[int]:
    """The slice of a part folder: its name is the prefix and the step's ``dflow_slice`` text, which
    on Argo is the Slices expression with ``{{item}}`` filled in (``int('0003')``), read as a pod reads it."""
    prefix = next((p for p in (PART_PREFIX, STACK_PREFIX) if name.startswith(p)), None)
    if prefix is None:
        return None
    try:
        return slice_index(name[len(prefix):])
    except ValueError:
        return None


def slice_item(items: List[Dict[str, Any]], index: int) -> Optional[Dict[str, Any]]:
    """The catalog item of slice ``index``: the item whose ``index`` it is; in a catalog whose items
    carry no index, the ``index``-th item. None when there is none (a slice that gave nothing)."""
    indexed = False
    for it in items:
        if it.get("index") == index:
            return it
        indexed = indexed or it.get("index") is not None
    if indexed:
        return None
    return items[index] if 0 <= index < len(items) else None


def slice_parameter(text: Optional[str], type_name: Optional[str], index: int) -> Tuple[str, str]:
    """The text and type of item ``index`` of a list parameter; ``IndexError``/``ValueError`` name the problem."""
    value = decode_value(text, None if type_name == "str" else type_name)
    if not isinstance(value, list):
        raise ValueError("a sliced input parameter must be a list, got %s" % (str(text)[:100],))
    if not 0 <= index < len(value):
        raise IndexError("slice %d is out of range (the list has %d items)" % (index, len(value)))
    return encode_value(value[index])


# --------------------------------------------------------------------------- archives


class UnsafeArchiveError(ValueError):
    """An archive member would land, or point, outside the directory it is extracted into."""


def _inside(root: str, path: str) -> bool:
    return path == root or path.startswith(root + os.sep)


def _member_name(name: str) -> str:
    norm = os.path.normpath(name.replace("\\", "/"))
    return "" if norm == "." else norm


def safe_extract(tf: tarfile.TarFile, directory: str) -> None:
    """Extract ``tf`` into ``directory``, refusing every member that could reach outside it.

    Refused before anything is written: absolute names and ``..`` parts; a member below
    a symbolic link of the archive (``lnk -> /outside`` then ``lnk/x``); a symbolic link
    whose target resolves outside; a hard link to anything but a regular file member
    extracted before it; device files and FIFOs. Nothing of the archive is extracted
    when one member is refused.
    """
    root = os.path.realpath(directory)
    members = tf.getmembers()
    links: Dict[str, str] = {}  # normalized member name -> link target (resolved inside the archive)
    files = set()
    for m in members:
        name = _member_name(m.name)
        if m.name.startswith("/") or os.path.isabs(m.name) or name.split("/")[0] == "..":
            raise UnsafeArchiveError("refusing to extract %r: it is outside the artifact" % m.name)
        parts = name.split("/") if name else []
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in links:
                raise UnsafeArchiveError(
                    "refusing to extract %r: it lies below the symbolic link %r of the same archive"
                    % (m.name, "/".join(parts[:i])))
        target = os.path.realpath(os.path.join(root, name))
        if not _inside(root, target):
            raise UnsafeArchiveError("refusing to extract %r: it points outside the artifact" % m.name)
        if m.issym():
            dest = m.linkname
            resolved = os.path.normpath(os.path.join(root, os.path.dirname(name), dest)) if not os.path.isabs(dest) \
                else os.path.normpath(dest)
            if not _inside(root, resolved):
                raise UnsafeArchiveError(
                    "refusing to extract the symbolic link %r -> %r: it points outside the artifact" % (m.name, dest))
            links[name] = dest
        elif m.islnk():
            dest = _member_name(m.linkname)
            if dest not in files:
                raise UnsafeArchiveError(
                    "refusing to extract the hard link %r -> %r: a hard link may only name a file "
                    "extracted before it from the same archive" % (m.name, m.linkname))
        elif m.isdev() or m.isfifo():
            raise UnsafeArchiveError("refusing to extract %r: device files and FIFOs are not artifact content" % m.name)
        if m.isfile():
            files.add(name)
    for m in members:
        if hasattr(tarfile, "data_filter"):  # Python 3.12+: the standard library checks again
            tf.extract(m, directory, set_attrs=not m.issym(), filter="data")
        else:
            tf.extract(m, directory, set_attrs=not m.issym())


def slice_index(text: Optional[str]) -> int:
    """The slice index a step's ``dflow_slice`` text gives.

    JSON (``3``, ``"3"``), or the small Python expression of a ``Slices("int('{{item}}')")``
    pattern after its placeholders were filled in: integer and string literals, ``int()``,
    ``str()``, ``len()`` and arithmetic. Anything else is refused naming the text.
    """
    import ast

    if str(text).strip().lstrip("-").isdigit():  # also "000002" (a with_sequence format)
        return int(str(text).strip())
    try:
        value = json.loads(text or "")
        if isinstance(value, str):
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    except (TypeError, ValueError):
        pass
    ops = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
           ast.FloorDiv: lambda a, b: a // b, ast.Mod: lambda a, b: a % b}
    calls = {"int": int, "str": str, "len": len}

    def ev(node: Any) -> Any:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, str)):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand)
        if isinstance(node, ast.BinOp) and type(node.op) in ops:
            return ops[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in calls \
                and len(node.args) == 1 and not node.keywords:
            return calls[node.func.id](ev(node.args[0]))
        raise ValueError("not allowed in a slice index")

    try:
        value = ev(ast.parse(str(text).strip(), mode="eval").body)
    except (SyntaxError, ValueError, TypeError, ZeroDivisionError) as e:
        raise ValueError("slice index %r is not an integer or a simple expression giving one (%s)" % (text, e)) from None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("slice index %r gives %r, not an integer" % (text, value))
    return value
