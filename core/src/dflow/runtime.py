"""The step runtime: runs one Python OP step from a JSON task file.

Standard library only, Python 3.8+: this file runs inside users' images (see
``docs/runtime-contract.md``). It may import only ``dflow.errors``,
``dflow.expressions`` and ``dflow.python.{opio,op,typecheck,_errors}``.

Entry points
------------
* ``python3 -m dflow.runtime TASK.json`` or ``python3 .../dflow/runtime.py TASK.json``
* :func:`run_task` ``(task: dict) -> int`` - the exit code; never raises
* :func:`load_op_class` ``(op_spec: dict) -> type``
* :func:`encode_value` ``(value) -> (text, type_name)`` / :func:`decode_value` ``(text, type_name)``
"""

from __future__ import annotations

if __name__ == "__main__":  # run as a script: its own directory must not shadow the stdlib
    import sys as _sys
    from os import path as _p

    _here = _p.dirname(_p.abspath(__file__))
    _sys.path[:] = [x for x in _sys.path if _p.abspath(x or ".") != _here]

import json
import os
import shutil
import sys
import traceback
from typing import Any, Dict, List, Optional, Tuple

__all__ = [
    "LOADING_OP_SOURCE",
    "StopSourceExec",
    "encode_value",
    "decode_value",
    "load_op_class",
    "artifact_value",
    "run_task",
    "main",
    "EXIT_OK",
    "EXIT_FATAL",
    "EXIT_TRANSIENT",
]

EXIT_OK = 0
EXIT_FATAL = 1
EXIT_TRANSIENT = 3

#: True while :func:`load_op_class` executes the source of a ``__main__`` script;
#: ``Workflow.submit`` raises :class:`StopSourceExec` when it sees it.
LOADING_OP_SOURCE = False

SOURCE_MODULE_NAME = "__dflow_main__"


class StopSourceExec(BaseException):
    """Raised by ``Workflow.submit()`` (and ``wait()``) while an OP's source is being loaded.

    A ``BaseException`` so that a user's ``except Exception`` around ``submit()``
    does not swallow it.
    """


# --------------------------------------------------------------------------- parameter text

_JSON_TYPES = {"int", "float", "bool", "dict", "list", "NoneType", "json"}
_PICKLE_KEY = "__dflow_pickle__"


def encode_value(value: Any) -> Tuple[str, str]:
    """``(text, type_name)`` of a parameter value (see the contract, "Parameter text")."""
    if isinstance(value, str):
        return value, "str"
    tname = type(value).__name__
    if value is None or isinstance(value, (bool, int, float, dict, list)):
        try:
            text = json.dumps(value)
            if tname not in _JSON_TYPES:
                tname = "json"
            return text, tname
        except (TypeError, ValueError):
            pass
    import base64
    import pickle

    data = base64.b64encode(pickle.dumps(value)).decode("ascii")
    return json.dumps({_PICKLE_KEY: data}), tname


def _unpickle(obj: Any) -> Any:
    if isinstance(obj, dict) and len(obj) == 1 and _PICKLE_KEY in obj:
        import base64
        import pickle

        return pickle.loads(base64.b64decode(obj[_PICKLE_KEY]))
    return obj


def decode_value(text: Optional[str], type_name: Optional[str] = None) -> Any:
    """The value ``text`` holds; ``type_name`` as written by :func:`encode_value`."""
    if text is None:
        return None
    if type_name == "str":
        return text
    try:
        obj = json.loads(text)
    except (TypeError, ValueError):
        return text
    return _unpickle(obj)


# --------------------------------------------------------------------------- loading the OP


def _walk(obj: Any, qualname: str) -> Any:
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _has(obj: Any, qualname: str) -> bool:
    try:
        _walk(obj, qualname)
        return True
    except AttributeError:
        return False


def _exec_source(source: str, filename: str, qualname: str) -> Any:
    """Execute the text of a ``__main__`` script as the module ``__dflow_main__``."""
    import types

    global LOADING_OP_SOURCE
    mod = types.ModuleType(SOURCE_MODULE_NAME)
    mod.__file__ = filename
    sys.modules[SOURCE_MODULE_NAME] = mod
    code = compile(source, filename, "exec")
    LOADING_OP_SOURCE = True
    try:
        exec(code, mod.__dict__)
    except (StopSourceExec, SystemExit):
        pass
    except BaseException:
        if not _has(mod, qualname):
            raise
        # the OP was defined before the failure (e.g. an import the image lacks)
        sys.stderr.write(
            "dflow runtime: warning: the script %s failed after defining %s; using it:\n%s"
            % (filename, qualname, traceback.format_exc())
        )
    finally:
        LOADING_OP_SOURCE = False
    return mod


def load_op_class(op_spec: Dict[str, Any]) -> Any:
    """The OP class named by ``op_spec`` (``module``, ``qualname``, ``source``, ``source_file``)."""
    module = op_spec.get("module") or "__main__"
    qualname = op_spec["qualname"]
    source = op_spec.get("source")
    source_file = op_spec.get("source_file")
    if module in ("__main__", SOURCE_MODULE_NAME):
        for name in ("__main__", SOURCE_MODULE_NAME):
            mod = sys.modules.get(name)
            if mod is not None and _has(mod, qualname):
                return _walk(mod, qualname)
        if source is None and source_file:
            with open(source_file) as f:
                source = f.read()
        if source is None:
            raise ImportError(
                "cannot load OP %s from the __main__ script: the task carries no source or source_file" % qualname
            )
        mod = _exec_source(source, source_file or "<dflow-op-source>", qualname)
        try:
            return _walk(mod, qualname)
        except AttributeError:
            raise ImportError("the source of the __main__ script does not define %s" % qualname) from None
    import importlib

    try:
        mod = importlib.import_module(module)
    except ImportError:
        if source is None and not source_file:
            raise
        if source is None:
            with open(source_file) as f:
                source = f.read()
        mod = _exec_source(source, source_file or "<dflow-op-source>", qualname)
    try:
        return _walk(mod, qualname)
    except AttributeError:
        raise ImportError("module %s has no OP %s" % (module, qualname)) from None


# --------------------------------------------------------------------------- artifacts in


def _read_catalog(directory: str) -> Optional[List[Dict[str, Any]]]:
    cat_dir = os.path.join(directory, ".dflow")
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
    return items


def _sorted_items(items: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    def key(it: Dict[str, Any]) -> Tuple[int, Any, Any]:
        idx = it.get("index")
        return (1 if idx is None else 0, idx if idx is not None else 0, it.get("order") or 0)

    return sorted(items, key=key)


def _entries(directory: str) -> List[str]:
    try:
        return sorted(n for n in os.listdir(directory) if n != ".dflow")
    except OSError:
        return []


def artifact_value(path: Optional[str], tp: Any, optional: bool = False) -> Any:
    """The value an OP with sign type ``tp`` receives for an artifact at ``path``."""
    import pathlib

    from dflow.python.typecheck import is_nested_dict_type, unwrap_optional

    tp, opt = unwrap_optional(tp)
    optional = optional or opt
    if path is None or (optional and not os.path.exists(path)):
        return None
    Path = pathlib.Path
    is_dir = os.path.isdir(path)
    items = _read_catalog(path) if is_dir else None
    origin = getattr(tp, "__origin__", None)
    if is_nested_dict_type(tp):
        if items is None:
            return {n: Path(path, n) for n in _entries(path)} if is_dir else {}
        out: Dict[str, Any] = {}
        for it in _sorted_items(items):
            parts = str(it.get("key") if it.get("key") is not None else it.get("index")).split("/")
            d = out
            for p in parts[:-1]:
                d = d.setdefault(p, {})
            d[parts[-1]] = Path(path, it["path"])
        return out
    if origin is list:
        if items is None:
            return [Path(path, n) for n in _entries(path)] if is_dir else [Path(path)]
        return [Path(path, it["path"]) for it in _sorted_items(items)]
    if origin is dict:
        if items is None:
            return {n: Path(path, n) for n in _entries(path)} if is_dir else {}
        return {str(it.get("key") if it.get("key") is not None else it.get("index")): Path(path, it["path"])
                for it in _sorted_items(items)}
    if items is not None and len(items) == 1:
        return Path(path, items[0]["path"])
    return Path(path)


# --------------------------------------------------------------------------- writing


def _atomic_write(path: str, text: str) -> None:
    tmp = "%s.tmp-%s" % (path, os.urandom(4).hex())
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _makedirs(path: str) -> None:
    os.makedirs(path, exist_ok=True)


class _ArtifactWriter(object):
    """Collects the paths of one output artifact into a temporary directory."""

    def __init__(self, outputs_dir: str, name: str) -> None:
        self.final = os.path.join(outputs_dir, "artifacts", name)
        self.tmp = os.path.join(outputs_dir, "artifacts", ".tmp-%s-%s" % (name, os.urandom(4).hex()))
        self.items: List[Dict[str, Any]] = []
        _makedirs(self.tmp)

    def add(self, value: Any, base: str, prefix: str, index: Optional[int], key: Optional[str],
            order: Optional[int] = None) -> None:
        src = os.fspath(value)
        if not os.path.isabs(src):
            src = os.path.join(base, src)
        src = os.path.normpath(src)
        if not os.path.lexists(src):
            raise FileNotFoundError("output artifact %r: the path %s does not exist" % (
                os.path.basename(self.final), src))
        rel = os.path.relpath(src, base)
        if rel == os.curdir:
            rel = ""
        elif rel.startswith(os.pardir + os.sep) or rel == os.pardir:
            rel = src.lstrip(os.sep)
        if prefix:
            rel = os.path.join(prefix, rel) if rel else prefix
        dst = os.path.join(self.tmp, rel) if rel else self.tmp
        if os.path.isdir(src):
            shutil.copytree(src, dst, symlinks=True, dirs_exist_ok=True)
        else:
            _makedirs(os.path.dirname(dst) or ".")
            shutil.copy2(src, dst)
        item: Dict[str, Any] = {"index": index, "key": key, "path": rel or "."}
        if order is not None:
            item["order"] = order
        self.items.append(item)

    def add_value(self, value: Any, base: str, prefix: str, slice_index: Optional[int]) -> None:
        """``value``: a path, a list, a dict or a nested dict of paths."""
        if value is None:
            return
        if isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                if slice_index is None:
                    self.add(v, base, prefix, i, None)
                else:
                    self.add(v, base, prefix, slice_index, None, order=i)
            return
        if isinstance(value, dict):
            self._add_dict(value, base, prefix, "", slice_index)
            return
        self.add(value, base, prefix, slice_index, None)

    def _add_dict(self, value: Dict[Any, Any], base: str, prefix: str, kp: str,
                  slice_index: Optional[int]) -> None:
        for k, v in value.items():
            key = kp + str(k)
            if isinstance(v, dict):
                self._add_dict(v, base, prefix, key + "/", slice_index)
            elif v is not None:
                self.add(v, base, prefix, slice_index, key)

    def commit(self) -> None:
        cat_dir = os.path.join(self.tmp, ".dflow")
        _makedirs(cat_dir)
        with open(os.path.join(cat_dir, "catalog-%s.json" % os.urandom(8).hex()), "w") as f:
            json.dump(self.items, f)
        if os.path.lexists(self.final):
            shutil.rmtree(self.final)
        os.replace(self.tmp, self.final)

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def _write_error(outputs_dir: Optional[str], exc: BaseException, tb: str, transient: bool) -> None:
    if not outputs_dir:
        return
    try:
        parent = os.path.dirname(os.path.abspath(outputs_dir))
        _makedirs(parent)
        _atomic_write(os.path.join(parent, "error.json"), json.dumps({
            "type": type(exc).__name__,
            "message": str(exc),
            "traceback": tb,
            "transient": transient,
        }))
    except Exception:  # pragma: no cover - best effort
        pass


# --------------------------------------------------------------------------- running


class _SliceFailure(Exception):
    """A slice run in a worker process failed; carries the worker's traceback."""

    def __init__(self, exc: BaseException, tb: str) -> None:
        Exception.__init__(self, str(exc))
        self.exc = exc
        self.tb = tb


def _field_type(field: Any) -> Any:
    from dflow.python.opio import Artifact, Parameter

    if isinstance(field, (Artifact, Parameter)):
        return field.type
    return field


def _decode_param(entry: Any, tp: Any, sliced: bool) -> Any:
    from dflow.python.typecheck import check_type

    if isinstance(entry, dict):
        text, tname = entry.get("text"), entry.get("type")
        if "value" in entry and text is None:
            return entry["value"]
    else:
        text, tname = entry, None
    if sliced:
        value = decode_value(text, None if tname == "str" else tname)
        return value
    if tp is str:
        return text
    value = decode_value(text, tname)
    if not check_type(value, tp) and isinstance(text, str):
        alt = decode_value(text, None)
        if check_type(alt, tp):
            return alt
    return value


class _Context(object):
    pass


def _run_one(ctx: _Context, op_cls: Any, op_in: Dict[str, Any], index: Optional[int],
             cwd: str) -> Dict[str, Any]:
    """Run the OP once (one slice); return its checked outputs as a dict."""
    from dflow.python.op import SIGN_CHECKED_ATTR, check_inputs, check_outputs
    from dflow.python.opio import OPIO

    os.chdir(cwd)
    op = op_cls(**ctx.op_kwargs)
    step = ctx.step
    op.key = step.get("key")
    op.workflow_name = step.get("workflow")
    op.step_name = step.get("name")
    op.slices = ctx.slices
    op.slice_index = index
    checked = getattr(op_cls.execute, SIGN_CHECKED_ATTR, False)
    opio = OPIO(op_in)
    if not checked:
        opio = check_inputs(op_cls, opio)
    out = op.execute(opio)
    if not checked:
        out = check_outputs(op_cls, out)
    return dict(out.items()) if out is not None else {}


def _pool_worker(args: Tuple[Any, ...]) -> Tuple[str, Any, str]:
    ctx, op_cls, op_in, index, cwd = args
    try:
        return ("ok", _run_one(ctx, op_cls, op_in, index, cwd), "")
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        tb = traceback.format_exc()
        try:
            import pickle

            pickle.dumps(exc)
        except Exception:
            exc = RuntimeError("%s: %s" % (type(exc).__name__, exc))
        return ("err", exc, tb)


def _slice_count(inputs: Dict[str, Any], names: List[str]) -> int:
    for n in names:
        v = inputs.get(n)
        if isinstance(v, (list, tuple)):
            return len(v)
    return 0


def _execute(task: Dict[str, Any], ctx: _Context) -> None:
    from dflow.python import op as op_module
    from dflow.python.opio import Artifact

    op_cls = load_op_class(task["op"])
    ctx.op_kwargs = task["op"].get("op_kwargs") or {}
    in_sign = op_cls.get_input_sign()
    out_sign = op_cls.get_output_sign()
    slices = task.get("slices") or None
    ctx.slices = slices
    slice_index = task.get("slice_index")
    sub_path = bool(slices and slices.get("sub_path"))
    sl_in_p = set((slices or {}).get("input_parameter") or [])
    sl_in_a = set((slices or {}).get("input_artifact") or [])
    sl_out_p = set((slices or {}).get("output_parameter") or [])
    sl_out_a = set((slices or {}).get("output_artifact") or [])
    slicing = bool(slices) and not sub_path

    # ---- inputs
    inputs = task.get("inputs") or {}
    params = inputs.get("parameters") or {}
    arts = inputs.get("artifacts") or {}
    values: Dict[str, Any] = {}
    for name, entry in params.items():
        if name not in in_sign:
            continue  # e.g. the engine's own parameters; the sign decides what the OP gets
        field = in_sign[name]
        if isinstance(field, Artifact):
            continue
        values[name] = _decode_param(entry, _field_type(field), slicing and name in sl_in_p)
    for name, entry in arts.items():
        if name not in in_sign:
            continue
        field = in_sign[name]
        path = entry.get("path") if isinstance(entry, dict) else entry
        optional = bool(getattr(field, "optional", False))
        tp = _field_type(field)
        if slicing and name in sl_in_a:
            import pathlib
            from typing import List as _List

            values[name] = artifact_value(path, _List[pathlib.Path], optional)
        else:
            values[name] = artifact_value(path, tp, optional)

    workdir = os.getcwd()

    # ---- which slices
    if slicing:
        n = _slice_count(values, [k for k in in_sign if k in sl_in_p or k in sl_in_a])
        group = slices.get("group_size")
        if slice_index is None:
            indices = list(range(n))
        elif group:
            start = int(slice_index) * int(group)
            indices = list(range(start, min(start + int(group), n)))
        else:
            indices = [int(slice_index)]
        runs = []
        for i in indices:
            one = dict(values)
            for k in sl_in_p | sl_in_a:
                if k in one and one[k] is not None:
                    try:
                        one[k] = one[k][i]
                    except (IndexError, KeyError, TypeError):
                        raise IndexError("slice %d of input %r is out of range (it has %s)" % (
                            i, k, len(one[k]) if hasattr(one[k], "__len__") else "no items")) from None
            runs.append((i, one))
    else:
        idx = int(slice_index) if (sub_path and slice_index is not None) else (0 if sub_path else None)
        runs = [(idx, values)]

    create_dir = bool(slices and slices.get("create_dir"))

    def cwd_of(i: Optional[int]) -> str:
        if create_dir and i is not None:
            d = os.path.join(workdir, "slice-%d" % i)
            _makedirs(d)
            return d
        return workdir

    # ---- run
    results: List[Tuple[Optional[int], Dict[str, Any]]] = []
    pool_size = (slices or {}).get("pool_size")
    if slicing and pool_size and int(pool_size) > 1 and len(runs) > 1:
        results = _run_pool(ctx, op_cls, runs, cwd_of, int(pool_size))
    else:
        for i, one in runs:
            results.append((i, _run_one(ctx, op_cls, one, i, cwd_of(i))))
    os.chdir(workdir)
    writer = ctx.progress_writer
    if writer is not None:
        writer.flush()

    # ---- outputs
    outputs_dir = task["outputs_dir"]
    pdir = os.path.join(outputs_dir, "parameters")
    _makedirs(pdir)
    _makedirs(os.path.join(outputs_dir, "artifacts"))
    types: Dict[str, str] = {}
    sliced_outputs = bool(slices)
    for name, field in out_sign.items():
        if isinstance(field, Artifact):
            continue
        if sliced_outputs and name in sl_out_p:
            text, tname = encode_value([r[name] for _, r in results])
        else:
            if not results or name not in results[-1][1]:
                continue
            text, tname = encode_value(results[-1][1][name])
        _atomic_write(os.path.join(pdir, name), text)
        types[name] = tname
    if types:
        tpath = os.path.join(pdir, ".types.json")
        _atomic_write(tpath, json.dumps(types))
    for name, field in out_sign.items():
        if not isinstance(field, Artifact):
            continue
        sliced = sliced_outputs and name in sl_out_a
        vals = [(i, r.get(name)) for i, r in results] if sliced else [(None, results[-1][1].get(name))]
        if all(v is None for _, v in vals):
            continue
        w = _ArtifactWriter(outputs_dir, name)
        try:
            for i, v in vals:
                base = cwd_of(i) if create_dir else workdir
                prefix = ("slice-%d" % i) if (create_dir and i is not None) else ""
                w.add_value(v, base, prefix, i if sliced else None)
            w.commit()
        except BaseException:
            w.abort()
            raise
    _ = op_module


def _run_pool(ctx: _Context, op_cls: Any, runs: List[Tuple[Optional[int], Dict[str, Any]]],
              cwd_of: Any, pool_size: int) -> List[Tuple[Optional[int], Dict[str, Any]]]:
    try:
        import multiprocessing

        mp = multiprocessing.get_context("fork")
    except (ValueError, ImportError):
        mp = None
    if mp is None:
        return [(i, _run_one(ctx, op_cls, one, i, cwd_of(i))) for i, one in runs]
    jobs = [(ctx, op_cls, one, i, cwd_of(i)) for i, one in runs]
    from dflow.python import op as op_module

    hook = op_module._progress_hook
    op_module.set_progress_hook(None)  # workers must not race on the progress file
    try:
        with mp.Pool(min(pool_size, len(jobs))) as pool:
            answers = pool.map(_pool_worker, jobs, chunksize=1)
    finally:
        op_module.set_progress_hook(hook)
    out = []
    for (i, _one), (status, payload, tb) in zip(runs, answers):
        if status != "ok":
            raise _SliceFailure(payload, tb)
        out.append((i, payload))
    return out


def _absolute_paths(task: Dict[str, Any]) -> Dict[str, Any]:
    """A copy of ``task`` whose paths do not depend on the current directory."""
    task = dict(task)
    for k in ("outputs_dir", "workdir", "progress_file"):
        if task.get(k):
            task[k] = os.path.abspath(task[k])
    inputs = dict(task.get("inputs") or {})
    arts = {}
    for name, entry in (inputs.get("artifacts") or {}).items():
        if isinstance(entry, dict):
            entry = dict(entry)
            if entry.get("path"):
                entry["path"] = os.path.abspath(entry["path"])
        elif isinstance(entry, str):
            entry = {"path": os.path.abspath(entry)}
        arts[name] = entry
    inputs["artifacts"] = arts
    task["inputs"] = inputs
    return task


def run_task(task: Dict[str, Any]) -> int:
    """Run one step described by ``task`` (the contract's task dict); return the exit code."""
    from dflow.python._errors import FatalError, TransientError

    old_cwd = None
    try:
        old_cwd = os.getcwd()
    except OSError:
        pass
    old_path = list(sys.path)
    ctx = _Context()
    ctx.step = task.get("step") or {}
    ctx.progress_writer = None
    op_module = None
    try:
        task = _absolute_paths(task)
        workdir = task.get("workdir")
        if workdir:
            _makedirs(workdir)
            os.chdir(workdir)
        for p in reversed(task.get("python_paths") or []):
            if p not in sys.path:
                sys.path.insert(0, p)
        from dflow.python import op as op_module

        pf = task.get("progress_file")
        if pf:
            ctx.progress_writer = op_module._ProgressWriter(pf)
            op_module.set_progress_hook(ctx.progress_writer)
        _execute(task, ctx)
        return EXIT_OK
    except BaseException as exc:  # noqa: BLE001 - everything becomes an exit code
        tb = traceback.format_exc()
        if isinstance(exc, _SliceFailure):
            tb = exc.tb + "\n(in a pool worker)\n" + tb
            exc = exc.exc
        transient = isinstance(exc, TransientError)
        sys.stderr.write(tb)
        sys.stderr.flush()
        _write_error(task.get("outputs_dir"), exc, tb, transient)
        if isinstance(exc, KeyboardInterrupt):
            return 130
        return EXIT_TRANSIENT if transient else EXIT_FATAL
    finally:
        if op_module is not None:
            op_module.set_progress_hook(None)
        if old_cwd is not None:
            try:
                os.chdir(old_cwd)
            except OSError:
                pass
        sys.path[:] = old_path
        _ = FatalError


def main(argv: Optional[List[str]] = None) -> int:
    """``runtime TASK.json``: run the task and return its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        sys.stderr.write("usage: python3 -m dflow.runtime TASK.json\n")
        return 2
    with open(args[0]) as f:
        task = json.load(f)
    return run_task(task)


def _script_main() -> None:
    # Run as a script or with -m: hand over to the real ``dflow.runtime`` module so
    # that LOADING_OP_SOURCE / StopSourceExec are the ones ``dflow`` code sees.
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        import importlib

        real = importlib.import_module("dflow.runtime")
    except Exception:
        real = None
    code = real.main(sys.argv[1:]) if real is not None else main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(code)


if __name__ == "__main__":
    _script_main()
