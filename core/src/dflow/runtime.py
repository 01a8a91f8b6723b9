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

if __name__ == "__main__":  # run as a script: its own directory must not shadow the stdlib,
    import sys as _sys  # and the package root (two levels up) must be importable
    from os import path as _p

    _here = _p.dirname(_p.abspath(__file__))
    _sys.path[:] = [x for x in _sys.path if _p.abspath(x or ".") != _here]
    if _p.dirname(_here) not in _sys.path:
        _sys.path.insert(0, _p.dirname(_here))

import json
import os
import sys
import traceback
from typing import Any, Dict, List, Optional, Tuple

from dflow.contract import (
    EXIT_FATAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TRANSIENT,
    PYTHON_OP_SCRIPT,
    SOURCE_MODULE_NAME,
    TASK_ENV,
    decode_value,
    encode_value,
)
from dflow.stepio import ArtifactWriter, artifact_value, atomic_write, parameter_value, with_art_root, write_parameters

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
    "PYTHON_OP_SCRIPT",
    "TASK_ENV",
]

#: True while :func:`load_op_class` executes the source of a ``__main__`` script;
#: ``Workflow.submit`` raises :class:`StopSourceExec` when it sees it.
LOADING_OP_SOURCE = False



class StopSourceExec(BaseException):
    """Raised by ``Workflow.submit()`` (and ``wait()``) while an OP's source is being loaded.

    A ``BaseException`` so that a user's ``except Exception`` around ``submit()``
    does not swallow it.
    """


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
    """Execute the source of OPs of a ``__main__`` script in the module ``__dflow_main__``.

    The sources of several OPs of one script are parts of the same text: they are run in
    one namespace, so each OP keeps its definitions.
    """
    import types

    global LOADING_OP_SOURCE
    mod = sys.modules.get(SOURCE_MODULE_NAME)
    if mod is None or getattr(mod, "__file__", None) != filename:
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


# --------------------------------------------------------------------------- running


def _write_error(outputs_dir: Optional[str], exc: BaseException, tb: str, transient: bool) -> None:
    if not outputs_dir:
        return
    try:
        parent = os.path.dirname(os.path.abspath(outputs_dir))
        os.makedirs(parent, exist_ok=True)
        atomic_write(os.path.join(parent, "error.json"), json.dumps({
            "type": type(exc).__name__,
            "message": str(exc),
            "traceback": tb,
            "transient": transient,
        }))
    except Exception:  # pragma: no cover - best effort
        pass


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


class _Context(object):
    pass


_ENDED_IN = "\0ended-in"  # (the key of a run's result that holds its final directory: no sign has it)


def _run_one(ctx: _Context, op_cls: Any, op_in: Dict[str, Any], index: Optional[int],
             cwd: str) -> Dict[str, Any]:
    """Run the OP once (one slice); return its checked outputs as a dict."""
    from dflow.python.op import SIGN_CHECKED_ATTR, check_inputs, check_outputs
    from dflow.python.opio import OPIO

    os.chdir(cwd)
    if ctx.op_instance:  # the OP object the template was given: a fresh copy per slice
        import base64

        from dflow.contract import unpickle

        op = unpickle(base64.b64decode(ctx.op_instance))
    else:
        # (a function OP's class takes no arguments: called with some, it would call the function)
        op = op_cls() if getattr(op_cls, "_dflow_function_op", False) else op_cls(**ctx.op_kwargs)
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
    result = dict(out.items()) if out is not None else {}
    try:  # relative output paths are relative to where the OP ended (it may have changed directory), as in dflow
        result[_ENDED_IN] = os.getcwd()
    except OSError:  # it ended in a directory it removed
        pass
    return result


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


def _read_inputs(task: Dict[str, Any], in_sign: Any, slicing: bool, sl_in_p: Any, sl_in_a: Any) -> Dict[str, Any]:
    """The OP's input values from the task's parameter texts and artifact paths."""
    from typing import List as _List

    from dflow.python.opio import Artifact
    from dflow.python.typecheck import artifact_item_type

    inputs = task.get("inputs") or {}
    values: Dict[str, Any] = {}
    for name, entry in (inputs.get("parameters") or {}).items():
        field = in_sign.get(name) if hasattr(in_sign, "get") else None
        if field is None or isinstance(field, Artifact):
            continue  # e.g. the engine's own parameters; the sign decides what the OP gets
        values[name] = parameter_value(entry, _field_type(field), slicing and name in sl_in_p)
    for name, entry in (inputs.get("artifacts") or {}).items():
        if name not in in_sign:
            continue
        field = in_sign[name]
        path = entry.get("path") if isinstance(entry, dict) else entry
        optional = bool(getattr(field, "optional", False)) or bool(isinstance(entry, dict) and entry.get("optional"))
        tp = _field_type(field)
        if slicing and name in sl_in_a:  # the list of the slices' items, each of the sign's item type
            value = artifact_value(path, _List[artifact_item_type(tp)], optional)
        else:
            value = artifact_value(path, tp, optional, sub_path=getattr(field, "sub_path", True) is not False)
        values[name] = with_art_root(value, path)  # as in dflow: op_in[name].art_root is where it was placed
    return values


def _item_container(field: Any) -> Any:
    """For the sign (an ``Artifact``) of a sliced input artifact: ``list`` (``set``, ...) when the OP takes its slice's item
    in a collection (``Artifact(List[Path])``: ``[item]``, as when the backend cut the artifact to the
    item, and as in dflow); None when it takes the item itself."""
    from dflow.python.typecheck import artifact_form

    origin = getattr(artifact_form(_field_type(field))[0], "__origin__", None)
    return origin if origin in (list, set, frozenset, tuple) else None


def _plan_runs(values: Dict[str, Any], in_sign: Any, slices: Optional[Dict[str, Any]], slicing: bool,
               slice_index: Optional[int], sl_in: Any) -> List[Tuple[Optional[int], Dict[str, Any]]]:
    """Which slices this step runs, each with its own inputs."""
    if not slicing:
        sub_path = bool(slices and slices.get("sub_path"))
        idx = int(slice_index) if (sub_path and slice_index is not None) else (0 if sub_path else None)
        return [(idx, values)]
    assert slices is not None
    n = _slice_count(values, [k for k in in_sign if k in sl_in])
    group = slices.get("group_size")
    if slice_index is None:
        indices = list(range(n))
    elif group:
        start = int(slice_index) * int(group)
        indices = list(range(start, min(start + int(group), n)))
    else:
        indices = [int(slice_index)]
    from dflow.python.opio import Artifact

    # the sliced artifacts, each with the collection its sign takes the slice's item in (None: the item itself)
    containers = {k: _item_container(in_sign.get(k)) for k in sl_in
                  if hasattr(in_sign, "get") and isinstance(in_sign.get(k), Artifact)}
    runs = []
    for i in indices:
        one = dict(values)
        for k in sl_in:
            if k in one and one[k] is not None:
                if k in containers and isinstance(one[k], list) and i >= len(one[k]):
                    one[k] = None  # as in dflow (and as the engine cuts it): a slice past the items gets no artifact
                    continue
                try:
                    one[k] = one[k][i]
                except (IndexError, KeyError, TypeError):
                    raise IndexError("slice %d of input %r is out of range (it has %s)" % (
                        i, k, len(one[k]) if hasattr(one[k], "__len__") else "no items")) from None
                if containers.get(k) is not None and one[k] is not None:
                    one[k] = containers[k]([one[k]])
                one[k] = with_art_root(one[k], getattr(values[k], "art_root", None))
        runs.append((i, one))
    return runs


def _execute(task: Dict[str, Any], ctx: _Context) -> None:
    from dflow.python.opio import Artifact

    op_cls = load_op_class(task["op"])
    ctx.op_kwargs = task["op"].get("op_kwargs") or {}
    ctx.op_instance = task["op"].get("instance")
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

    values = _read_inputs(task, in_sign, slicing, sl_in_p, sl_in_a)
    workdir = os.getcwd()
    runs = _plan_runs(values, in_sign, slices, slicing, slice_index, sl_in_p | sl_in_a)
    create_dir = bool(slices and slices.get("create_dir"))

    # slices that share this step (group_size, a whole list) each get a folder of their own, as
    # each slice of a fan-out has its own pod: one slice cannot overwrite another's files
    own_dirs = slicing and len(runs) > 1

    def cwd_of(i: Optional[int]) -> str:
        if i is not None and (create_dir or own_dirs):
            d = os.path.join(workdir, ("slice-%d" if create_dir else ".dflow-slice-%d") % i)
            os.makedirs(d, exist_ok=True)
            return d
        return workdir

    results: List[Tuple[Optional[int], Dict[str, Any]]] = []
    pool_size = (slices or {}).get("pool_size")
    if slicing and pool_size and int(pool_size) > 1 and len(runs) > 1:
        results = _run_pool(ctx, op_cls, runs, cwd_of, int(pool_size))
    else:
        for i, one in runs:
            results.append((i, _run_one(ctx, op_cls, one, i, cwd_of(i))))
    os.chdir(workdir)
    if ctx.progress_writer is not None:
        ctx.progress_writer.flush()
    ended_in = {i: r.pop(_ENDED_IN, None) for i, r in results}

    # ---- outputs: a sliced parameter is the slice's value when this step ran one slice of a
    # fan-out, else the list of its slices' values (the backend gathers them in slice order)
    outputs_dir = task["outputs_dir"]
    os.makedirs(os.path.join(outputs_dir, "artifacts"), exist_ok=True)
    input_roots = [os.path.abspath(a["path"]) for a in ((task.get("inputs") or {}).get("artifacts") or {}).values()
                   if isinstance(a, dict) and a.get("path")]
    one_slice = slice_index is not None and not (slices or {}).get("group_size")
    params: Dict[str, Any] = {}
    for name, field in out_sign.items():
        if isinstance(field, Artifact):
            continue
        if slices and name in sl_out_p:
            values = [r.get(name) for _, r in results]
            params[name] = values[0] if one_slice and len(values) == 1 else values
        elif results and name in results[-1][1]:
            params[name] = results[-1][1][name]
    from dflow.python.typecheck import type_name

    signed = {n: type_name(_field_type(f)) for n, f in out_sign.items() if not isinstance(f, Artifact)}
    write_parameters(outputs_dir, params, signed)
    for name, field in out_sign.items():
        if not isinstance(field, Artifact):
            continue
        sliced = bool(slices) and name in sl_out_a
        vals = [(i, r.get(name)) for i, r in results] if sliced else [(None, results[-1][1].get(name))]
        w = ArtifactWriter(outputs_dir, name, input_roots)
        try:
            for i, v in vals:
                if i is not None:
                    base = ended_in.get(i) or (cwd_of(i) if (create_dir or own_dirs) else workdir)
                else:  # an output of the last slice that is not sliced: relative to where that slice ended
                    last = results[-1][0]
                    base = ended_in.get(last) or (cwd_of(last) if own_dirs else workdir)
                prefix = str(i) if (create_dir and i is not None) else ""  # as dflow names them: "<i>/..."
                w.add_value(v, base, prefix, i, sliced)
            w.commit()
        except BaseException:
            w.abort()
            raise


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
    from dflow.python._errors import FatalError

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
            os.makedirs(workdir, exist_ok=True)
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
        # as in dflow, only a FatalError is final: a TransientError and any other exception are retried
        # when the template asks for retries (dflow's script exits 1 for both, and retries exit code 1)
        transient = not isinstance(exc, (FatalError, KeyboardInterrupt))
        sys.stderr.write(tb)
        sys.stderr.flush()
        _write_error(task.get("outputs_dir"), exc, tb, transient)
        if isinstance(exc, KeyboardInterrupt):
            return EXIT_INTERRUPTED
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


def main(argv: Optional[List[str]] = None) -> int:
    """``runtime TASK.json`` (or ``$DFLOW_TASK``): run the task and return its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args and os.environ.get(TASK_ENV):
        args = [os.environ[TASK_ENV]]
    if len(args) != 1:
        sys.stderr.write("usage: python3 -m dflow.runtime TASK.json\n")
        return 2
    with open(args[0]) as f:
        task = json.load(f)
    return run_task(task)


def _script_main() -> None:
    # Run as a script or with -m: hand over to the real ``dflow.runtime`` module so
    # that LOADING_OP_SOURCE / StopSourceExec are the ones ``dflow`` code sees.
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
