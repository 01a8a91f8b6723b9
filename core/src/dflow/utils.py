"""``dflow.utils``: helpers dflow users import (the original's module of the same name).

Standard library only. Loops (``argo_range``, ...) live in :mod:`dflow.loops`, artifact
helpers (``catalog_of_artifact``, ``copy_artifact``, ...) in :mod:`dflow.artifact_utils`;
both are re-exported here.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import shlex
import shutil
import string
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

from ._exports import lazy_exports

_LAZY = {
    "argo_range": "loops", "argo_len": "loops", "argo_sequence": "loops", "argo_enumerate": "loops",
    "argo_sum": "loops", "argo_concat": "loops",
    "upload_artifact": "artifact", "download_artifact": "artifact",
    "copy_artifact": "artifact_utils", "catalog_of_artifact": "artifact_utils",
    "path_list_of_artifact": "artifact_utils", "path_object_of_artifact": "artifact_utils",
    "get_key": "artifact_utils", "set_key": "artifact_utils", "upload_s3": "artifact_utils",
    "download_s3": "artifact_utils", "copy_s3": "artifact_utils", "StorageClient": "storage",
    "append_item": "artifact_utils", "convert_dflow_list": "artifact_utils",
    "catalog_of_local_artifact": "artifact_utils", "assemble_path_object_from_catalog": "artifact_utils",
    "assemble_path_object": "artifact_utils", "remove_empty_dir_tag": "artifact_utils",
    "MinioClient": "plugin:minio",
    **{n: "_legacy_utils" for n in ("ArtifactStr", "ArtifactPosixPath", "ArtifactWindowsPath", "ArtifactList",
                                    "ArtifactSet", "ArtifactDict", "artifact_classes", "Variable",
                                    "evalable_repr", "ProcessPoolExecutor")},
}


__all__ = [
    "flatten", "dict2list", "expand", "randstr", "set_directory", "run_command", "get_md5",
    "force_move", "merge_dir", "try_link", "link", "copy_file", "linktree", "force_link",
    "subclass_or_none", "find_subclass",
] + sorted(_LAZY)


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, base="dflow")


# --------------------------------------------------------------------------- nested data


def flatten(d: Union[list, dict]) -> Dict[str, Any]:
    """``{"a": {"b": 1}, "c": [2]}`` -> ``{"a.b": 1, "c.0": 2}``: leaves by dotted path."""
    flat: Dict[str, Any] = {}

    def walk(obj: Any, prefix: str) -> None:
        items = obj.items() if isinstance(obj, dict) else enumerate(obj)
        for k, v in items:
            key = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, (list, dict)):
                walk(v, key)
            else:
                flat[key] = v

    walk(d, "")
    return flat


def dict2list(d: Dict[str, Any]) -> Union[list, dict]:
    """A dict whose keys are all integers (as text or numbers) as a list (recursively); else the dict."""
    for k, v in list(d.items()):
        if isinstance(v, dict):
            d[k] = dict2list(v)
    try:
        indexes = {int(k): v for k, v in d.items()}
    except (TypeError, ValueError):
        return d
    out: List[Any] = [None] * (max(indexes) + 1 if indexes else 0)
    for i, v in indexes.items():
        out[i] = v
    return out


def expand(d: Dict[str, Any]) -> Union[list, dict]:
    """The inverse of :func:`flatten`: dotted keys become nested dicts (and lists where keys are indexes)."""
    out: Dict[str, Any] = {}
    for key, value in d.items():
        parts = str(key).split(".")
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return dict2list(out)


def randstr(length: int = 5) -> str:
    """Random lowercase letters and digits."""
    return "".join(random.SystemRandom().choices(string.digits + string.ascii_lowercase, k=length))


# --------------------------------------------------------------------------- files and processes


@contextlib.contextmanager
def set_directory(dirname: Union[str, os.PathLike], mkdir: bool = False) -> Iterator[Path]:
    """Change into ``dirname`` (made first with ``mkdir``) for the ``with`` block; yields its absolute path."""
    previous = os.getcwd()
    path = Path(dirname).resolve()
    if mkdir:
        path.mkdir(parents=True, exist_ok=True)
    os.chdir(path)
    try:
        yield path
    finally:
        os.chdir(previous)


def run_command(
    cmd: Union[List[Any], str],
    raise_error: bool = True,
    input: Optional[str] = None,
    try_bash: bool = False,
    login: bool = True,
    interactive: bool = True,
    shell: bool = False,
    print_oe: bool = False,
    stdout: Any = None,
    stderr: Any = None,
    **kwargs: Any,
) -> Tuple[int, str, str]:
    """Run ``cmd``; return ``(exit code, stdout, stderr)``.

    A string command is split on white space unless ``shell``. ``try_bash`` runs it with
    ``bash -lc`` (``-c`` unless ``login`` and ``interactive``) where bash exists, else
    with ``sh``. ``print_oe`` (or a ``stdout``/``stderr`` stream) echoes the output as it
    comes. With ``raise_error`` a non-zero exit raises ``AssertionError`` naming the
    command and its stderr.
    """
    if print_oe:
        stdout, stderr = sys.stdout, sys.stderr
    if isinstance(cmd, str):
        args: Any = [cmd] if shell else cmd.split()
    else:
        args = [str(x) for x in cmd]
    if try_bash:
        text = " ".join(args)
        flag = "-lc" if (login and interactive) else "-c"
        args = f"if command -v bash >/dev/null 2>&1; then bash {flag} {shlex.quote(text)}; else {text}; fi"
        shell = True
    elif shell and isinstance(args, list):
        args = " ".join(args)
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            shell=shell, **kwargs)
    if stdout is None and stderr is None:
        out_b, err_b = proc.communicate(input.encode() if input is not None else None)
        out, err = out_b.decode(errors="replace"), err_b.decode(errors="replace")
    else:
        out, err = _stream(proc, input, stdout, stderr)
    code = proc.returncode
    if raise_error:
        assert code == 0, f"Command {args} failed (exit code {code}):\n{err}"
    return code, out, err


def _stream(proc: "subprocess.Popen[bytes]", input: Optional[str], stdout: Any, stderr: Any) -> Tuple[str, str]:
    import selectors

    if input is not None and proc.stdin is not None:
        proc.stdin.write(input.encode())
    if proc.stdin is not None:
        proc.stdin.close()
    got = {proc.stdout: [], proc.stderr: []}
    echo = {proc.stdout: stdout, proc.stderr: stderr}
    sel = selectors.DefaultSelector()
    for f in got:
        sel.register(f, selectors.EVENT_READ)
    open_ = len(got)
    while open_:
        for key, _ in sel.select():
            line = key.fileobj.readline()
            if not line:
                sel.unregister(key.fileobj)
                open_ -= 1
                continue
            text = line.decode(errors="replace")
            got[key.fileobj].append(text)
            if echo[key.fileobj] is not None:
                echo[key.fileobj].write(text)
                echo[key.fileobj].flush()
    proc.wait()
    return "".join(got[proc.stdout]), "".join(got[proc.stderr])


def get_md5(path: Union[str, os.PathLike]) -> str:
    """The MD5 hex digest of a file's content."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def force_move(src: str, dst: str) -> None:
    """Move ``src`` to ``dst``, replacing what is there."""
    if os.path.lexists(dst):
        shutil.rmtree(dst) if os.path.isdir(dst) and not os.path.islink(dst) else os.remove(dst)
    shutil.move(src, dst)


def merge_dir(src: str, dst: str, func: Any = force_move) -> None:
    """Move (``func``) every file of ``src`` into ``dst``, keeping the tree; files win over directories."""
    for name in os.listdir(src):
        s, d = os.path.join(src, name), os.path.join(dst, name)
        if os.path.isdir(s):
            if os.path.isfile(d):
                os.remove(d)
            os.makedirs(d, exist_ok=True)
            merge_dir(s, d, func)
        elif os.path.isfile(s):
            if os.path.isdir(d):
                shutil.rmtree(d)
            func(s, d)


def link(src: str, dst: str) -> None:
    """A hard link of ``src`` (following symbolic links) at ``dst``."""
    os.link(os.path.realpath(src), dst)


def try_link(src: str, dst: str) -> None:
    """A hard link where the file system allows one, else a copy."""
    try:
        if os.path.isfile(dst):
            os.remove(dst)
        link(src, dst)
    except OSError:
        shutil.copy(src, dst)


def copy_file(src: str, dst: str, func: Any = try_link) -> None:
    """Copy a file or a directory tree to ``dst`` (files by ``func``: a hard link where possible)."""
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    if os.path.isdir(src):
        try:
            shutil.copytree(src, dst, copy_function=func)
        except FileExistsError:
            pass
    elif os.path.isfile(src):
        func(src, dst)
    else:
        raise FileNotFoundError(f"File {src} not found")


def linktree(src: str, dst: str, func: Any = os.symlink) -> None:
    """``dst`` as a tree of links to the files of ``src``."""
    shutil.copytree(src, dst, copy_function=func, dirs_exist_ok=True)


def force_link(src: str, dst: str, func: Any = os.symlink) -> None:
    """A link of ``src`` at ``dst``, replacing what is there."""
    if os.path.islink(dst) or os.path.isfile(dst):
        os.remove(dst)
    elif os.path.isdir(dst):
        shutil.rmtree(dst)
    func(src, dst)


def subclass_or_none(m: Any, cls: type) -> Optional[type]:
    """``m`` (or its class) when it is a proper subclass of ``cls``, else None."""
    import inspect

    if inspect.isclass(m) and issubclass(m, cls) and m is not cls:
        return m
    if isinstance(m, cls) and type(m) is not cls:
        return type(m)
    return None


def find_subclass(pkg: Any, cls: type) -> List[type]:
    """The proper subclasses of ``cls`` defined in the module or package ``pkg`` (and its modules)."""
    import importlib
    import inspect
    import pkgutil

    found: List[type] = []
    modules = [pkg]
    if hasattr(pkg, "__path__"):
        for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
            modules.append(importlib.import_module(info.name))
    for mod in modules:
        for _n, obj in inspect.getmembers(mod):
            sub = subclass_or_none(obj, cls)
            if sub is not None and sub not in found:
                found.append(sub)
    return found
