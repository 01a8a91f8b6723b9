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

A parameter value longer than :data:`INLINE_LIMIT` is written once, to
``values/<sha1 of the text>``, and node records name it by its digest, so a 1 MB
parameter given to every slice of a fan-out costs 1 MB, not 1 MB per state change of
every slice: ``nodes.jsonl`` grows with the number of steps, not with the bytes of
their values.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional

if TYPE_CHECKING:  # (a pydantic model: imported where records are read)
    from dflow.backend import StepRecord

__all__ = ["atomic_write", "read_json", "NodeLog", "read_nodes", "STATE_NAMES", "INLINE_LIMIT", "SUSPENDED"]

#: present while the run is suspended: no new step starts
SUSPENDED = "suspended"

#: names in a workflow directory that belong to the run's state (no step directory takes them)
STATE_NAMES = frozenset({"status", "workflow.json", "spec.json", "nodes.jsonl", "reuse.json", "values",
                         "driver.log", ".pods", ".launched", "suspended"})
#: parameter texts longer than this are stored once under ``values/`` and referred to by digest
INLINE_LIMIT = 1024
_PARAM_FIELDS = ("inputs_parameters", "outputs_parameters")


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
        self.values_dir = os.path.join(os.path.dirname(path), "values")
        self._stored: set = set()
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

    def _intern(self, text: str) -> str:
        digest = hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()
        if digest not in self._stored:
            path = os.path.join(self.values_dir, digest)
            if not os.path.exists(path):
                os.makedirs(self.values_dir, exist_ok=True)
                atomic_write(path, text)
            self._stored.add(digest)
        return digest

    def append(self, record: StepRecord) -> None:
        big = any(v.text is not None and len(v.text) > INLINE_LIMIT
                  for f in _PARAM_FIELDS for v in getattr(record, f).values())
        if not big:
            line = record.model_dump_json(exclude_defaults=True) + "\n"
        else:
            data_ = record.model_dump(mode="json", exclude_defaults=True)
            for f in _PARAM_FIELDS:
                for v in (data_.get(f) or {}).values():
                    if v.get("text") is not None and len(v["text"]) > INLINE_LIMIT:
                        v["ref"] = self._intern(v.pop("text"))
            line = json.dumps(data_, separators=(",", ":"), ensure_ascii=False) + "\n"
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
    from dflow.backend import StepRecord

    out: Dict[str, StepRecord] = {}
    values: Dict[str, Optional[str]] = {}
    values_dir = os.path.join(os.path.dirname(path), "values")
    for node_id, versions in lines.items():
        for line in reversed(versions):
            try:
                if '"ref":"' in line:
                    out[node_id] = StepRecord.model_validate(_resolve_refs(json.loads(line), values_dir, values))
                else:
                    out[node_id] = StepRecord.model_validate_json(line)
                break
            except ValueError:
                continue
    return out


def _resolve_refs(data: Dict[str, Any], values_dir: str, cache: Dict[str, Optional[str]]) -> Dict[str, Any]:
    """A record whose interned parameter values are read back (each value file once per read)."""
    for f in _PARAM_FIELDS:
        for v in (data.get(f) or {}).values():
            ref = v.pop("ref", None)
            if ref is not None:
                if ref not in cache:
                    cache[ref] = read_text(os.path.join(values_dir, ref))
                v["text"] = cache[ref]
    return data


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
