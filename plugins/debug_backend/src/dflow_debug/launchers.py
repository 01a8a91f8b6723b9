"""Which launcher runs a step, and what a run must be able to cancel later.

A step whose template records no executor, or an executor whose plugin registered no
launcher, runs through the fork server (:class:`~dflow_debug.forkserver.ForkLauncher`);
a step of a named executor runs through the launcher its plugin registered, made once per
run and executor options. Every launched attempt's handle is recorded in
``<workflow dir>/.launched/<node id>.json`` until it ends, so ``dflow terminate`` or a
resume after a killed driver cancels what a dead driver left running.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional, Tuple

from dflow.launcher import LaunchHandle, StepLauncher

from .forkserver import ForkLauncher
from .state import atomic_write

__all__ = ["Launchers", "cancel_leftovers", "launcher_for", "preload_ops"]


def _factory(executor: Optional[Dict[str, Any]]) -> Optional[Any]:
    if not executor or not executor.get("name"):
        return None
    from dflow.plugins import get_executor

    return get_executor(executor["name"]).launcher


def launcher_for(executor: Optional[Dict[str, Any]]) -> StepLauncher:
    """A new launcher for an executor recorded in the spec (``{"name", "options"}``), not opened."""
    factory = _factory(executor)
    if factory is None:
        return ForkLauncher()
    return factory(dict((executor or {}).get("options") or {}))


def preload_ops(spec: Any) -> List[Dict[str, Any]]:
    """The OPs of ``spec`` the fork server may load once: those that need no ``python_packages``
    (those stay visible only to the steps that ask for them)."""
    out = []
    for t in spec.templates:
        op = getattr(t, "python_op", None)
        if op is not None and not op.python_packages:
            out.append({"module": op.module, "qualname": op.qualname, "source": op.source,
                        "source_file": op.source_file})
    return out


class Launchers:
    """The launchers of one run: opened on first use, closed at the end of the run."""

    def __init__(self, wfdir: str, preload: Optional[List[Dict[str, Any]]] = None,
                 default: Optional[ForkLauncher] = None) -> None:
        """``preload``: the OPs the fork server loads once for every attempt (see :class:`ForkLauncher`);
        ``default``: a fork server started already (while the workflow compiled), else one starts now."""
        self.wfdir = wfdir
        self.records_dir = os.path.join(wfdir, ".launched")
        os.makedirs(self.records_dir, exist_ok=True)
        self.default = default if default is not None else ForkLauncher()
        self.default.load(preload or [])  # at once (a server not started yet starts now): it loads them while the run begins
        self._made: Dict[str, StepLauncher] = {}
        self._recorded: set = set()

    def get(self, executor: Optional[Dict[str, Any]]) -> StepLauncher:
        if _factory(executor) is None:
            return self.default
        key = json.dumps(executor, sort_keys=True)
        launcher = self._made.get(key)
        if launcher is None:
            launcher = launcher_for(executor)
            launcher.open(self.wfdir)
            self._made[key] = launcher
        return launcher

    def record(self, node_id: str, executor: Optional[Dict[str, Any]], handle: LaunchHandle) -> None:
        if executor is None:
            # the fork server's attempts need no record: they end with the server, which ends
            # when the driver goes away (killed or not)
            return
        atomic_write(os.path.join(self.records_dir, f"{node_id}.json"),
                     json.dumps({"executor": executor, "handle": handle}))
        self._recorded.add(node_id)

    def forget(self, node_id: str) -> None:
        if node_id not in self._recorded:
            return
        self._recorded.discard(node_id)
        try:
            os.unlink(os.path.join(self.records_dir, f"{node_id}.json"))
        except OSError:
            pass

    def kill_all(self) -> None:
        """Cancel everything still running (the run is being terminated); the fork server ends its attempts."""
        try:
            self.default.close()
        except Exception:  # noqa: BLE001 - keep cancelling the others
            pass
        for _node_id, executor, handle in _records(self.records_dir):
            launcher = self.default if _factory(executor) is None else self._made.get(json.dumps(executor, sort_keys=True))
            try:
                (launcher or launcher_for(executor)).cancel(handle)
            except Exception:  # noqa: BLE001 - keep cancelling the others
                pass

    def close(self) -> None:
        for launcher in list(self._made.values()) + [self.default]:
            try:
                launcher.close()
            except Exception:  # noqa: BLE001
                pass


def _records(records_dir: str) -> List[Tuple[str, Optional[Dict[str, Any]], LaunchHandle]]:
    out = []
    try:
        names = sorted(os.listdir(records_dir))
    except OSError:
        return out
    for name in names:
        if not name.endswith(".json"):
            continue
        try:
            with open(os.path.join(records_dir, name)) as f:
                data = json.load(f)
        except (OSError, ValueError):
            continue
        out.append((name[:-5], data.get("executor"), data.get("handle") or {}))
    return out


def cancel_leftovers(wfdir: str) -> List[str]:
    """Cancel every attempt a dead driver left recorded; return the node ids it cancelled."""
    records_dir = os.path.join(wfdir, ".launched")
    done = []
    for node_id, executor, handle in _records(records_dir):
        try:
            launcher_for(executor).cancel(handle)
        except Exception:  # noqa: BLE001 - a launcher that cannot cancel must not stop the others
            continue
        try:
            os.unlink(os.path.join(records_dir, f"{node_id}.json"))
        except OSError:
            pass
        done.append(node_id)
    return done
