"""The on-disk state of a local workflow: written atomically, readable from any process.

Layout (user guide 3.1.19)::

    <workdir>/<workflow id>/
        status            phase of the workflow (text)
        workflow.json     the WorkflowRecord plus driver pid and settings
        spec.json         the WorkflowSpec it runs
        nodes.jsonl       one StepRecord per line, appended on every change (last one wins)
        <step dir>/       per step: type, phase, inputs/, outputs/, log.txt, script, workdir/

Every file is replaced by rename, and ``nodes.jsonl`` only grows by whole-line
appends, so a reader never sees a torn record and a killed driver loses nothing
it had written; a trailing partial line (a kill in the middle of an append) is
ignored.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Dict, Iterator, List, Optional

from dflow.backend import StepRecord

__all__ = ["atomic_write", "read_json", "NodeLog", "read_nodes"]


def atomic_write(path: str, data: str) -> None:
    """Replace ``path`` with ``data`` so that readers see the old or the new content, never a mix."""
    d = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=d)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def read_json(path: str, default: Any = None) -> Any:
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return default


class NodeLog:
    """Appends node records to ``nodes.jsonl`` (one ``write`` per record, opened with O_APPEND)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        # a driver killed in the middle of an append leaves a partial last line:
        # start on a fresh line so the next record is whole
        try:
            size = os.path.getsize(path)
            if size:
                with open(path, "rb") as f:
                    f.seek(size - 1)
                    if f.read(1) != b"\n":
                        os.write(self.fd, b"\n")
        except OSError:
            pass

    def append(self, record: StepRecord) -> None:
        line = record.model_dump_json(exclude_defaults=True) + "\n"
        data = line.encode()
        written = os.write(self.fd, data)
        while written < len(data):  # pragma: no cover - only on a full disk or a signal
            written += os.write(self.fd, data[written:])

    def close(self) -> None:
        os.close(self.fd)


def _lines(path: str) -> Iterator[str]:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return
    for raw in data.split(b"\n"):
        if raw:
            yield raw.decode("utf-8", "replace")


def read_nodes(path: str) -> Dict[str, StepRecord]:
    """The latest record of every node, in first-seen order.

    Only the newest line of a node is parsed; if that line is torn (a driver killed in
    the middle of an append), the node's previous record is used instead.
    """
    lines: Dict[str, List[str]] = {}
    for line in _lines(path):
        # cheap id extraction: records are dumped with "id" first
        if not line.startswith('{"id":"'):
            continue
        end = line.find('"', 7)
        if end < 0:
            continue
        lines.setdefault(line[7:end], []).append(line)
    out: Dict[str, StepRecord] = {}
    for node_id, versions in lines.items():
        for line in reversed(versions):
            try:
                out[node_id] = StepRecord.model_validate_json(line)
                break
            except ValueError:
                continue
    return out


def list_files(directory: str) -> List[str]:
    try:
        return sorted(os.listdir(directory))
    except FileNotFoundError:
        return []


def read_text(path: str) -> Optional[str]:
    try:
        with open(path) as f:
            return f.read()
    except (FileNotFoundError, NotADirectoryError):
        return None
