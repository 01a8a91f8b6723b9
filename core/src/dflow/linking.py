"""Putting files in place without copying their data where nothing can tell the difference.

A step's output is the file the step wrote: once the step has ended nothing writes to it
again, so the output artifact can be a *hard link* of it (as dflow's runtime makes it),
and a step that returns a file of several gigabytes costs no copy. Only a file inside
the step's own directories is linked: a file from elsewhere on the machine (a user's
data, named by its absolute path) is copied, so that changing it later does not change
the artifact.

Where a step's inputs come from is set by ``config["debug_copy_method"]`` (dflow's key),
for the local engine:

``"copy"`` (the default here)
    every step gets its own copy of each input file, as a pod on a cluster does: a step
    that changes an input file in place changes nothing another step sees;
``"link"``
    hard links where the file system allows them (else copies): no data is copied, and
    a step that changes an input file in place changes it for every step linked to it;
``"symlink"``
    symbolic links to the artifact's files (dflow's default in its debug mode), with the
    same caveat.

A link that the file system refuses (another device, no hard links, too many links)
falls back to a copy.
"""

from __future__ import annotations

import os
import shutil
from typing import Callable, Optional, Sequence, Union

from dflow.errors import ValidationError

__all__ = ["COPY_METHODS", "check_copy_method", "copy_file", "link_or_copy", "symlink_or_copy", "place", "linker_within"]

COPY_METHODS = ("copy", "link", "symlink")


def check_copy_method(method: Optional[str]) -> str:
    """``method`` if it is one of :data:`COPY_METHODS` (None: ``"copy"``), else a ValidationError saying what to set."""
    if method is None:
        return "copy"
    if method not in COPY_METHODS:
        raise ValidationError(f"config['debug_copy_method'] = {method!r} is not a copy method the local engine knows: "
                              f"set it to one of {', '.join(map(repr, COPY_METHODS))} (or DFLOW_DEBUG_COPY_METHOD)")
    return method


def _make_way(src: str, dst: str) -> bool:
    """Before ``src`` is put at ``dst``: True if ``dst`` already is the file ``src`` names (an output
    that lists a folder and a file inside it puts that file twice); else a file (or link) at
    ``dst`` is removed, so that nothing is written through a link into another step's file."""
    if not os.path.lexists(dst) or (os.path.isdir(dst) and not os.path.islink(dst)):
        return False
    try:
        if os.path.samefile(src, dst):
            return True
    except OSError:  # (a link at dst that names nothing)
        pass
    os.unlink(dst)
    return False


def copy_file(src: str, dst: str) -> str:
    """``dst`` as a copy of the file ``src`` (with its times and mode)."""
    if not _make_way(src, dst):
        shutil.copy2(src, dst)
    return dst


def _link_or_copy(make_link: Callable[[str, str], None], src: str, dst: str) -> str:
    """``dst`` as ``make_link(the file src names, dst)``, else, if the file system refuses it, a copy."""
    if not _make_way(src, dst):
        try:
            make_link(os.path.realpath(src), dst)
        except OSError:
            shutil.copy2(src, dst)
    return dst


def link_or_copy(src: str, dst: str) -> str:
    """``dst`` as a hard link of the file ``src`` (a link is followed: the file it names is linked),
    else, if the file system refuses the link, a copy (with its times and mode)."""
    return _link_or_copy(os.link, src, dst)


def symlink_or_copy(src: str, dst: str) -> str:
    """``dst`` as a symbolic link to the file ``src`` names (absolute), else a copy."""
    return _link_or_copy(os.symlink, src, dst)


_FUNCTIONS = {"copy": copy_file, "link": link_or_copy, "symlink": symlink_or_copy}


def place(src: str, dst: str, method: Union[str, Callable[[str, str], str]] = "copy",
          ignore: Optional[Callable] = None) -> None:
    """Put the file or directory ``src`` at ``dst`` (a directory merges into one that exists),
    each file by ``method`` (one of :data:`COPY_METHODS` or a function of ``(src, dst)``)."""
    func = method if callable(method) else _FUNCTIONS[method]
    if os.path.isdir(src):
        shutil.copytree(src, dst, copy_function=func, ignore=ignore, dirs_exist_ok=True)
    else:
        os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
        func(src, dst)


def linker_within(roots: Sequence[str]) -> Callable[[str, str], str]:
    """A copy function that hard-links a file lying inside one of ``roots`` (after following links)
    and copies any other file."""
    real_roots = [os.path.realpath(r) for r in roots if r]

    def put(src: str, dst: str) -> str:
        real = os.path.realpath(src)
        if any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in real_roots):
            return link_or_copy(real, dst)
        return copy_file(src, dst)

    return put
