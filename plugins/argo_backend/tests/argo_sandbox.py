"""A small stand-in for Argo's controller and executor, to run compiled manifests without Kubernetes.

It interprets a rendered manifest: ``steps`` and ``dag`` templates (``when``,
``withParam``, ``withSequence``, ``continueOn``, ``dependencies``, Argo's aggregation of
fan-out outputs, ``valueFrom.parameter/expression/default``, ``from``/``fromExpression``
artifacts) and runs every ``script`` template's *own script* in a subprocess following
Argo's executor file contract:

* input artifacts are fetched from the "artifact repository" (a local directory, key =
  relative path) and placed at their declared ``path``; a key naming a ``.tgz`` is
  unpacked in place, as Argo does with tarballs;
* parameters are substituted into ``env`` and ``source`` (``{{inputs.parameters.x}}``,
  ``{{workflow.name}}``, ``{{pod.name}}``, ``{{inputs.artifacts.x.path}}``);
* output parameters are read from ``valueFrom.path`` (trailing whitespace trimmed, as
  Argo does) or take ``valueFrom.default``; output artifacts are read from their
  ``path`` and stored under their ``s3.key`` or a key made per node;
* ``retryStrategy`` (limit, ``lastRetry.exitCode`` expression) makes a ``Retry`` node with one
  ``Pod`` child per attempt, as Argo does;
* ``activeDeadlineSeconds`` kills the pod - all its processes, as Kubernetes ends a container -
  and fails it with Argo's deadline message; terminating the workflow kills the running pods;
* ``$ARGO_PROGRESS_FILE`` is read while the pod runs, into the node's ``progress``.

Every ``/tmp/...`` path a template declares is remapped into the pod's own temporary
directory: Python OP pods get ``DFLOW_SANDBOX_ROOT``; shell scripts have their declared
paths rewritten. Like Argo, it runs the steps of a parallel group, the items of a fan-out
and the ready tasks of a DAG at the same time (within ``parallelism``). It is not Argo: it
knows only what dflow manifests use.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from dflow import expressions as X

# Argo's messages: a pod past its activeDeadlineSeconds, a terminated workflow
DEADLINE_EXCEEDED = "Pod was active on the node longer than the specified deadline"
TERMINATED = "Stopped with strategy 'Terminate'"
# pods running at the same time at most (this machine, not Argo, sets the limit)
MAX_PODS = 32


#: where a path starts in a script: at the start, or after a space, a quote or a delimiter (not inside a path)
_PATH_START = r"(?<![^\s'\"=:(\[{,;|&<>`])"

class PodFailed(Exception):
    pass


def _aggregate(values: List[str]) -> str:
    """Argo's aggregation of a fan-out's output parameter: a JSON list of the parsed values, else of the texts."""
    parsed = []
    for v in values:
        try:
            parsed.append(json.loads(v))
        except ValueError:
            return json.dumps(values)
    return json.dumps(parsed)


class Node:
    def __init__(self, name: str, display: str, template: str, type_: str) -> None:
        self.name, self.display, self.template, self.type = name, display, template, type_
        self.path = display
        self.children: List["Node"] = []
        self.hidden = False  # a Steps fan-out: Argo has no node of its own for it
        self.started = time.time()
        self.finished: Optional[float] = None
        self.phase = "Pending"
        self.pod_dir: Optional[Path] = None  # where a Pod node's pod ran (its log.txt)
        self.parameters: Dict[str, str] = {}
        self.artifacts: Dict[str, str] = {}
        self.inputs: Dict[str, str] = {}
        self.message: Optional[str] = None
        self.progress: Optional[str] = None
        self.attempts = 0
        self.exit_code = 0

    def __repr__(self) -> str:
        return f"Node({self.display!r}, {self.phase}, {self.parameters})"


class Sandbox:
    def __init__(
        self,
        manifest: Dict[str, Any],
        repository: str,
        workdir: str,
        name: str = "sandbox-wf",
        python: Optional[str] = None,
        repositories: Optional[Dict[str, str]] = None,
        previous: Optional["Sandbox"] = None,
    ) -> None:
        self.manifest = manifest
        # Argo's retry: the pods that succeeded in the run retried are kept, with their outputs
        self.kept = {n.path: n for n in (previous.nodes if previous is not None else [])
                     if n.type == "Pod" and n.phase == "Succeeded"}
        # where the objects of each location kind live (s3: ``repository``, Argo's default one)
        self.repos = {k: Path(v) for k, v in (repositories or {}).items()}
        self.templates = {t["name"]: t for t in manifest["spec"]["templates"]}
        self.repo = Path(repository)
        self.work = Path(workdir)
        self.name = name
        self.python = python or sys.executable  # what "python3" runs in the pods
        self.nodes: List[Node] = []
        self.pods = 0
        self.stop = threading.Event()
        self.suspended = threading.Event()  # Argo's suspend: no new pod starts
        self.lock = threading.RLock()
        self.procs: Dict[int, "subprocess.Popen[bytes]"] = {}
        limit = manifest["spec"].get("parallelism")  # Argo's workflow-level limit counts pods
        self.pod_slots = threading.BoundedSemaphore(min(int(limit), MAX_PODS) if limit else MAX_PODS)
        self.tick = 0.05  # how often a running pod's deadline, progress file and termination are checked
        self.root: Optional[Node] = None
        self.created = time.time()
        self.stopping = False  # Argo's stop (not terminate): the exit handler runs all the same
        self.status = "Running"  # {{workflow.status}}: the entry point's phase once it has ended
        self.outcome: Optional[Tuple[str, Optional[str]]] = None  # the run's end when it is not the entry point's
        self.global_params = {
            p["name"]: p.get("value", "") for p in manifest["spec"].get("arguments", {}).get("parameters", [])
        }

    # ---------------------------------------------------------------- the artifact repository

    def _path(self, ref: str) -> Path:
        """The file or folder of an artifact reference: a key of the default repository, or ``kind::key``."""
        kind, sep, key = ref.partition("::")
        if not sep:
            return self.repo / ref
        if kind not in self.repos:
            raise PodFailed(f"no {kind} repository in this sandbox for {key!r}")
        return self.repos[kind] / key

    @staticmethod
    def location_ref(a: Dict[str, Any], resolve: Any = None) -> Optional[str]:
        """The reference of an artifact's location (any kind), its key's placeholders resolved."""
        for kind in ("s3", "gcs", "oss", "azure"):
            loc = a.get(kind)
            if isinstance(loc, dict):
                key = loc.get("key") or loc.get("blob") or ""
                key = X.substitute(key, resolve) if resolve is not None else key
                return key if kind == "s3" else f"{kind}::{key}"
        return None

    def fetch(self, key: str, dst: Path) -> None:
        src = self._path(key)
        if not src.exists():
            raise PodFailed(f"no artifact at key {key!r}")
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_file() and (key.endswith(".tgz") or _is_tarball(src)):  # Argo unpacks what it finds tarred
            tmp = dst.parent / (dst.name + ".untar")
            with tarfile.open(src) as tf:
                tf.extractall(tmp)
            entries = os.listdir(tmp)
            if len(entries) == 1:  # a single top-level entry becomes the artifact itself
                shutil.move(str(tmp / entries[0]), str(dst))
                tmp.rmdir()
            else:
                tmp.rename(dst)
        elif src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            shutil.copy2(src, dst)

    def store(self, src: Path, key: str, merge: bool = False) -> None:
        with self.lock:  # pods of a fan-out may write under one key at the same time
            self._store(src, key, merge)

    def store_tarball(self, src: Path, key: str) -> None:
        """What Argo stores for an output with its default archive: one tarball, its root the path's name."""
        with tempfile.TemporaryDirectory() as tmp:
            tarball = Path(tmp) / "out.tgz"
            with tarfile.open(tarball, "w:gz") as tf:
                tf.add(str(src), arcname=src.name)
            self.store(tarball, key)

    def _store(self, src: Path, key: str, merge: bool) -> None:
        dst = self._path(key)
        if dst.exists() and not merge:
            shutil.rmtree(dst) if dst.is_dir() else dst.unlink()
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            shutil.copy2(src, dst)

    # ---------------------------------------------------------------- running

    def run(self) -> str:
        entry = self.manifest["spec"]["entrypoint"]
        root = self._node(self.name, self.name, entry, self.name, "DAG" if "dag" in self.templates[entry] else "Steps")
        self.root = root
        args = {"parameters": {}, "artifacts": {}}
        for a in self.manifest["spec"].get("arguments", {}).get("artifacts", []):
            args["artifacts"][a["name"]] = self.location_ref(a)
        self.run_template(self.templates[entry], args["parameters"], args["artifacts"], root, self.name)
        root.finished = time.time()
        on_exit = self.manifest["spec"].get("onExit")
        if on_exit and (self.stopping or not self.stop.is_set()):
            if self.stopping:
                root.phase, root.message = "Failed", "Stopped with strategy 'Stop'"
                self.stop.clear()
            # Argo's exit handler: node <workflow>.onExit, after the entry point, whatever its phase; if it
            # fails, a workflow that succeeded ends as it did
            self.status = "Succeeded" if root.phase in ("Skipped", "Omitted") else root.phase
            name = f"{self.name}.onExit"
            node = self._node(name, name, on_exit, name, "DAG" if "dag" in self.templates[on_exit] else "Steps")
            self.run_template(self.templates[on_exit], {}, {}, node, name)
            node.finished = time.time()
            if self.status == "Succeeded" and node.phase in ("Failed", "Error"):
                self.outcome = (node.phase, node.message)
        return self.outcome[0] if self.outcome else root.phase

    def _node(self, name: str, display: str, template: str, path: str, type_: str = "Pod") -> Node:
        n = Node(name, display, template, type_)
        n.path = path
        with self.lock:
            self.nodes.append(n)
        return n

    def _bind_inputs(
        self, t: Dict[str, Any], params: Dict[str, str], arts: Dict[str, Optional[str]]
    ) -> Tuple[Dict[str, str], Dict[str, Optional[str]]]:
        p_out: Dict[str, str] = {}
        for p in t.get("inputs", {}).get("parameters", []):
            if p["name"] in params:
                p_out[p["name"]] = params[p["name"]]
            elif "value" in p:
                p_out[p["name"]] = X.substitute(p["value"], lambda r: self._global(r))
            else:
                raise PodFailed(f"template {t['name']}: input parameter {p['name']} was not supplied")
        a_out: Dict[str, Optional[str]] = {}
        for a in t.get("inputs", {}).get("artifacts", []):
            if a["name"] in arts and arts[a["name"]] is not None:
                a_out[a["name"]] = arts[a["name"]]
            elif self.location_ref(a) is not None:
                a_out[a["name"]] = self.location_ref(a)
            elif a.get("optional") or "raw" in a:  # (an artifact of raw data: the pod writes it)
                a_out[a["name"]] = None
            else:
                raise PodFailed(f"template {t['name']}: input artifact {a['name']} was not supplied")
        return p_out, a_out

    def _global(self, ref: str) -> Any:
        if ref == "workflow.name":
            return self.name
        if ref == "workflow.status":
            return self.status
        if ref == "workflow.duration":
            return f"{time.time() - self.created:f}"
        if ref == "workflow.failures":
            with self.lock:
                failed = [n for n in self.nodes if n.phase in ("Failed", "Error") and not n.hidden]
            return json.dumps([{"displayName": n.display, "message": n.message, "templateName": n.template,
                                "phase": n.phase} for n in failed] or None, separators=(",", ":"))
        if ref.startswith("workflow.parameters."):
            return self.global_params[ref[len("workflow.parameters.") :]]
        raise KeyError(ref)

    def run_template(
        self, t: Dict[str, Any], params: Dict[str, str], arts: Dict[str, Optional[str]], node: Node, path: str
    ) -> None:
        try:
            p_in, a_in = self._bind_inputs(t, params, arts)
        except PodFailed as e:
            node.phase, node.message = "Error", str(e)
            return
        node.inputs = dict(p_in)
        node.phase = "Running"
        if "script" in t:
            self.run_pod(t, p_in, a_in, node, path)
        elif "steps" in t:
            node.type = "Steps"
            self.run_steps(t, p_in, a_in, node, path)
        elif "dag" in t:
            node.type = "DAG"
            self.run_dag(t, p_in, a_in, node, path)
        else:
            raise NotImplementedError(t["name"])
        node.finished = time.time()

    # ---------------------------------------------------------------- pods

    def run_pod(
        self, t: Dict[str, Any], params: Dict[str, str], arts: Dict[str, Optional[str]], node: Node, path: str
    ) -> None:
        retry = t.get("retryStrategy")
        if not retry:
            self._pod(t, params, arts, node)
            return
        # Argo: a Retry node whose children are the attempts, one Pod node each
        node.type = "Retry"
        limit = int(retry.get("limit", 0))
        attempt = 0
        while True:
            if self.stop.is_set():
                node.phase, node.message = "Failed", TERMINATED
                return
            child = self._node(node.name, f"{node.display}({attempt})", t["name"], f"{node.path}({attempt})")
            child.inputs = dict(node.inputs)
            node.children.append(child)
            self._pod(t, params, arts, child)
            attempt += 1
            node.attempts = attempt
            node.parameters, node.artifacts = dict(child.parameters), dict(child.artifacts)
            if child.phase == "Succeeded":
                node.phase = "Succeeded"
                return
            if attempt > limit:
                node.phase, node.message = child.phase, "No more retries left"
                return
            if not self._retry_allowed(retry, child.exit_code, child.message or ""):
                node.phase, node.message = child.phase, "retryStrategy.expression evaluated to false"
                return

    def _pod(self, t: Dict[str, Any], params: Dict[str, str], arts: Dict[str, Optional[str]], node: Node) -> None:
        """One pod: runs the template's script once; the node gets its phase, message and outputs."""
        if self.stop.is_set():
            node.phase, node.message = "Failed", TERMINATED
            return
        with self.lock:
            self.pods += 1
            seq = self.pods
        node.type = "Pod"
        deadline = float(t["activeDeadlineSeconds"]) if "activeDeadlineSeconds" in t else None
        while self.suspended.is_set() and not self.stop.is_set():
            time.sleep(self.tick)
        kept = self.kept.get(node.path)
        if kept is not None:
            node.phase, node.parameters, node.artifacts = "Succeeded", dict(kept.parameters), dict(kept.artifacts)
            node.exit_code, node.pod_dir, node.started, node.finished = 0, kept.pod_dir, kept.started, kept.finished
            return
        pod = self.work / f"pod-{seq}"
        node.pod_dir = pod
        code, message = self._attempt(t, params, arts, node, pod, deadline, seq)
        node.exit_code = code
        self._read_progress(node, pod)
        if code == 0:
            node.phase = "Succeeded"
            return
        node.phase, node.message = "Failed", message
        # Argo still reads output parameters that have a default when a pod fails
        node.parameters = {}
        for p in t.get("outputs", {}).get("parameters", []):
            vf = p.get("valueFrom", {})
            f = pod / vf.get("path", "/nonexistent").lstrip("/")
            if f.is_file():
                node.parameters[p["name"]] = _parameter_text(f)
            elif "default" in vf:
                node.parameters[p["name"]] = vf["default"]

    @staticmethod
    def _progress_file(pod: Path) -> Path:
        return pod / "var" / "run" / "argo" / "progress"

    def _read_progress(self, node: Node, pod: Path) -> None:
        """What Argo's executor does with ``$ARGO_PROGRESS_FILE``: its last ``N/M`` line becomes node.progress."""
        try:
            lines = self._progress_file(pod).read_text().split()
        except OSError:
            return
        if lines and re.fullmatch(r"\d+/\d+", lines[-1]):
            node.progress = lines[-1]

    @staticmethod
    def _kill(proc: "subprocess.Popen[bytes]") -> None:
        """The container goes away: every process of the pod (its process group) is killed."""
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def terminate(self, stop: bool = False) -> None:
        """Argo's terminate: nothing new starts and the running pods are killed; ``stop``: Argo's stop, the
        same, and then the exit handler runs (a stop once stopped, or while the exit handler runs, changes nothing)."""
        if stop and (self.stopping or self.status != "Running"):
            return
        self.stopping = stop
        self.stop.set()
        with self.lock:
            procs = list(self.procs.values())
        for p in procs:
            self._kill(p)

    @staticmethod
    def _retry_allowed(retry: Dict[str, Any], code: int, message: str) -> bool:
        expr = retry.get("expression")
        if not expr:
            return True
        for clause in expr.split("||"):
            clause = clause.strip()
            m = re.fullmatch(r"lastRetry\.exitCode == '(-?\d+)'", clause)
            if m and int(m.group(1)) == code:
                return True
            m = re.fullmatch(r"lastRetry\.message contains '([^']*)'", clause)
            if m and m.group(1) in message:
                return True
        return False

    def _attempt(
        self,
        t: Dict[str, Any],
        params: Dict[str, str],
        arts: Dict[str, Optional[str]],
        node: Node,
        pod: Path,
        deadline: Optional[float],
        seq: int,
    ) -> Tuple[int, str]:
        pod.mkdir(parents=True)
        (pod / "tmp" / "workdir").mkdir(parents=True)
        declared: List[str] = []
        try:
            for a in t.get("inputs", {}).get("artifacts", []):
                key = arts.get(a["name"])
                declared.append(a["path"])
                if key is not None:
                    self.fetch(key, pod / a["path"].lstrip("/"))
                elif not a.get("optional") and not any(k in a for k in ("s3", "oss", "gcs", "azure", "raw")):
                    raise PodFailed(f"input artifact {a['name']!r} was not supplied")  # Argo refuses it so
        except PodFailed as e:
            return 1, str(e)

        def resolve(ref: str) -> Any:
            if ref.startswith("inputs.parameters."):
                return params[ref[len("inputs.parameters.") :]]
            m = re.fullmatch(r"inputs\.artifacts\.([^.]+)\.path", ref)
            if m:
                return next(a["path"] for a in t["inputs"]["artifacts"] if a["name"] == m.group(1))
            if ref == "pod.name":
                return f"{self.name}-{t['name']}-{seq}"
            return self._global(ref)

        for a in t.get("inputs", {}).get("artifacts", []):
            if "raw" in a and arts.get(a["name"]) is None:  # Argo writes an artifact of raw data, filled in
                dst = pod / a["path"].lstrip("/")
                dst.parent.mkdir(parents=True, exist_ok=True)
                dst.write_text(X.substitute(a["raw"].get("data", ""), resolve))
        script = t["script"]
        source = X.substitute(script.get("source", ""), resolve)
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        for e in script.get("env", []):
            env[e["name"]] = X.substitute(e.get("value", ""), resolve)
        env["DFLOW_SANDBOX_ROOT"] = str(pod)
        # Argo's executor sets ARGO_PROGRESS_FILE in every main container and reads it while the pod runs
        progress = self._progress_file(pod)
        progress.parent.mkdir(parents=True)
        env["ARGO_PROGRESS_FILE"] = str(progress)
        is_dflow_pod = source.startswith("P = ")
        if not is_dflow_pod:
            # remap the declared /tmp paths of a plain script into the pod directory
            for p in t.get("outputs", {}).get("parameters", []):
                declared.append(p.get("valueFrom", {}).get("path", ""))
            declared += [a["path"] for a in t.get("outputs", {}).get("artifacts", [])]
            mapping = {d: str(pod / d.lstrip("/")) for d in declared if d}
            for local in mapping.values():
                Path(local).parent.mkdir(parents=True, exist_ok=True)
            by_length = sorted(mapping, key=len, reverse=True)
            declared_only = re.compile("|".join(_PATH_START + re.escape(d) + r"(?![\w.-])" for d in by_length) or "(?!)")
            # a pod's /tmp is its own: what the script names below /tmp, declared or not, is in the pod directory
            # (the backend's own scripts that know the sandbox place theirs below DFLOW_SANDBOX_ROOT themselves)
            own_tmp = "DFLOW_SANDBOX_ROOT" not in script.get("source", "")
            in_pod = re.compile("|".join([_PATH_START + re.escape(d) + r"(?![\w.-])" for d in by_length
                                          if not own_tmp or (d != "/tmp" and not d.startswith("/tmp/"))]
                                         + ([_PATH_START + r"/tmp(?![\w.-])"] if own_tmp else [])) or "(?!)")

            def resolve_in_pod(ref: str) -> Any:
                value = resolve(ref)
                if not isinstance(value, str):
                    return value
                rule = in_pod if re.fullmatch(r"inputs\.artifacts\.([^.]+)\.path", ref) else declared_only
                return rule.sub(lambda m: mapping.get(m.group(0)) or str(pod / "tmp"), value)

            source = X.substitute(in_pod.sub(lambda m: mapping.get(m.group(0)) or str(pod / "tmp"),
                                             script.get("source", "")), resolve_in_pod)
        script_path = pod / "script"
        script_path.write_text(source)
        command = list(script.get("command") or ["python3"])
        if command[0] == "python3":
            command[0] = self.python
        out_path, err_path = pod / "stdout.txt", pod / "stderr.txt"
        timed_out = stopped = False
        with contextlib.ExitStack() as stack:
            if self.pod_slots is not None:
                stack.enter_context(self.pod_slots)
            if self.stop.is_set():
                return -9, TERMINATED
            with open(out_path, "wb") as out, open(err_path, "wb") as err:
                # files, not pipes: a process the script leaves behind cannot hold the pod open;
                # a session of its own: the pod's processes can be killed together, as a container's are
                proc = subprocess.Popen(
                    command + [str(script_path)],
                    cwd=str(pod / "tmp" / "workdir"),
                    env=env,
                    stdout=out,
                    stderr=err,
                    start_new_session=True,
                )
            with self.lock:
                self.procs[seq] = proc
            started = time.monotonic()
            try:
                while True:
                    try:
                        code = proc.wait(timeout=self.tick)
                        break
                    except subprocess.TimeoutExpired:
                        pass
                    self._read_progress(node, pod)
                    if deadline is not None and time.monotonic() - started > deadline:
                        timed_out = True
                    elif self.stop.is_set():
                        stopped = True
                    if timed_out or stopped:
                        self._kill(proc)
                        code = proc.wait()
                        break
            finally:
                self._kill(proc)  # the main process ended: the container, and all it started, ends with it
                with self.lock:
                    self.procs.pop(seq, None)
        stdout, stderr = out_path.read_text(errors="replace"), err_path.read_text(errors="replace")
        (pod / "log.txt").write_text(stdout + stderr)
        if timed_out:
            return -9, DEADLINE_EXCEEDED
        if stopped:
            return -9, TERMINATED
        if code != 0:
            return code, (stderr.strip().splitlines() or [f"exit code {code}"])[-1]
        node.parameters, node.artifacts = {}, {}
        for p in t.get("outputs", {}).get("parameters", []):
            vf = p["valueFrom"]
            f = pod / vf["path"].lstrip("/")
            if f.is_file():
                node.parameters[p["name"]] = _parameter_text(f)
            elif "default" in vf:
                node.parameters[p["name"]] = vf["default"]
            else:
                return 1, f"output parameter {p['name']}: {vf['path']} was not written"
        for a in t.get("outputs", {}).get("artifacts", []):
            src = pod / a["path"].lstrip("/")
            if not src.exists():
                if a.get("optional"):
                    continue
                return 1, f"output artifact {a['name']}: {a['path']} was not written"
            tarred = "archive" not in a  # Argo's default archive: the path, tarred and gzipped, in one object
            if self.location_ref(a) is not None:
                key = self.location_ref(a, resolve)
                self.store_tarball(src, key) if tarred else self.store(src, key, merge=True)
            else:
                key = f"{self.name}/{pod.name}/{a['name']}"
                self.store_tarball(src, key + ".tgz") if tarred else self.store(src, key)
                key += ".tgz" if tarred else ""
            node.artifacts[a["name"]] = key
        return 0, ""

    # ---------------------------------------------------------------- steps and dags

    def _resolver(
        self,
        params: Dict[str, str],
        arts: Dict[str, Optional[str]],
        done: Dict[str, Node],
        scope: str,
        item: Any = None,
        has_item: bool = False,
    ) -> Any:
        def resolve(ref: str) -> Any:
            if ref.startswith("inputs.parameters."):
                return params[ref[len("inputs.parameters.") :]]
            if ref.startswith("inputs.artifacts."):
                return arts[ref[len("inputs.artifacts.") :]]
            if ref == "item" and has_item:
                return item if isinstance(item, str) else X.to_text(item)
            if ref.startswith("item.") and has_item:
                obj = item
                for part in ref.split(".")[1:]:
                    obj = obj[part]
                return obj if isinstance(obj, str) else X.to_text(obj)
            m = re.fullmatch(r"(steps|tasks)\.([^.]+)\.(outputs\.parameters|outputs\.artifacts|status)(?:\.(.+))?", ref)
            if m:
                n = done[m.group(2)]
                if m.group(3) == "status":
                    return n.phase
                table = n.parameters if m.group(3) == "outputs.parameters" else n.artifacts
                return table[m.group(4)]
            return self._global(ref)

        return resolve

    def _items(self, step: Dict[str, Any], resolve: Any) -> Optional[List[Any]]:
        if "withParam" in step:
            return json.loads(X.substitute(step["withParam"], resolve))
        if "withSequence" in step:
            seq = {k: X.substitute(str(v), resolve) for k, v in step["withSequence"].items()}
            start = int(seq.get("start", 0))
            if "count" in seq:
                values = list(range(start, start + int(seq["count"])))
            else:
                end = int(seq.get("end", 0))
                values = list(range(start, end + 1)) if end >= start else list(range(start, end - 1, -1))
            return [seq["format"] % v if "format" in seq else str(v) for v in values]
        return None

    def _call(self, step: Dict[str, Any], resolve: Any, node: Node, path: str) -> None:
        try:
            params = {
                p["name"]: X.substitute(p.get("value", ""), resolve)
                for p in step.get("arguments", {}).get("parameters", [])
            }
            arts: Dict[str, Optional[str]] = {}
            for a in step.get("arguments", {}).get("artifacts", []):
                whole = re.fullmatch(r"\{\{\s*([^{}]+?)\s*\}\}", a.get("from") or "")
                if whole and whole.group(1).startswith("inputs.artifacts.") and resolve(whole.group(1)) is None:
                    key = None  # an optional input this template was not given: the callee gets none either
                elif "from" in a:
                    key = X.substitute(a["from"], resolve)
                elif "fromExpression" in a:
                    key = X.to_text(X.eval_expr(a["fromExpression"], resolve))
                elif "raw" in a:  # Argo writes the text into a file at the input's path
                    key = f"{self.name}/raw/{uuid.uuid4().hex}"
                    self._path(key).parent.mkdir(parents=True, exist_ok=True)
                    self._path(key).write_text(X.substitute(a["raw"].get("data", ""), resolve))
                else:
                    key = self.location_ref(a, resolve)
                if a.get("subPath") and key is not None:
                    key = key.rstrip("/") + "/" + a["subPath"]
                arts[a["name"]] = key
            self.run_template(self.templates[step["template"]], params, arts, node, path)
        except (KeyError, ValueError, PodFailed) as e:
            node.phase, node.message = "Error", f"{type(e).__name__}: {e}"

    def _parallel(self, jobs: List[Callable[[], None]], slots: Optional[threading.Semaphore] = None) -> None:
        """Run ``jobs`` at the same time (as Argo runs the pods of a group or a fan-out), at most ``slots`` at once."""

        def wrap(job: Callable[[], None]) -> Callable[[], None]:
            def run() -> None:
                with slots if slots is not None else contextlib.nullcontext():
                    job()

            return run

        if len(jobs) == 1:
            wrap(jobs[0])()
            return
        errors: List[BaseException] = []

        def guarded(job: Callable[[], None]) -> None:
            try:
                wrap(job)()
            except BaseException as e:  # noqa: BLE001 - re-raised in the caller
                errors.append(e)

        threads = [threading.Thread(target=guarded, args=(j,), daemon=True) for j in jobs]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        if errors:
            raise errors[0]

    def run_step(
        self,
        step: Dict[str, Any],
        resolve_for: Any,
        parent: Node,
        path: str,
        scope: str = "steps",
        slots: Optional[threading.Semaphore] = None,
    ) -> Tuple[Node, Callable[[], None]]:
        """The step's node (created now, in order) and the job that runs it."""
        node = self._node(step["name"], step["name"], step["template"], f"{path}.{step['name']}")
        parent.children.append(node)
        job = lambda: self._run_step(step, resolve_for, node, parent, path, scope, slots)  # noqa: E731
        return node, (lambda: self._hooked(step, resolve_for, node, job)) if step.get("hooks") else job

    def _hooked(self, step: Dict[str, Any], resolve_for: Any, node: Node, job: Callable[[], None]) -> None:
        """Argo's lifecycle hooks of a step: each runs (node ``<step>.hooks.<event>``, below the step's) once its
        expression holds of the step's node, its arguments seeing the step's outputs; the step is done
        when they are, and their phases change nothing else."""
        hooks, fired = step["hooks"], set()
        base = resolve_for(None, False)
        mine = re.compile(r"(?:steps|tasks)\.%s\.(outputs\.parameters|outputs\.artifacts|status)(?:\.(.+))?" % re.escape(step["name"]))

        def resolve(ref: str) -> Any:
            m = mine.fullmatch(ref)
            if not m:
                return base(ref)
            return node.phase if m.group(1) == "status" else (
                node.parameters if m.group(1) == "outputs.parameters" else node.artifacts)[m.group(2)]

        def check() -> None:
            for event, h in hooks.items():
                m = re.fullmatch(r"(?:steps|tasks)\['([^']+)'\]\.status == '(\w+)'", h.get("expression", ""))
                if m is None or m.group(1) != step["name"]:
                    raise ValueError(f"hook {event} of {step['name']}: the stand-in knows dflow's expressions only, "
                                     f"not {h.get('expression')!r}")
                if event not in fired and node.phase == m.group(2):
                    fired.add(event)
                    name = f"{node.path}.hooks.{event}"
                    hook = self._node(name, f"{node.display}.hooks.{event}", h["template"], name)
                    node.children.append(hook)
                    self._call({"template": h["template"], "arguments": h.get("arguments", {})}, resolve, hook, name)
                    hook.finished = hook.finished or time.time()

        done = threading.Event()

        def watch() -> None:  # as Argo's controller, which looks at the node now and then
            while not done.is_set():
                check()
                done.wait(self.tick)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            job()
        finally:
            done.set()
            watcher.join()
        check()

    def _run_step(
        self,
        step: Dict[str, Any],
        resolve_for: Any,
        node: Node,
        parent: Node,
        path: str,
        scope: str,
        slots: Optional[threading.Semaphore],
    ) -> None:
        resolve = resolve_for(None, False)
        # Argo expands a loop before it evaluates ``when``: a condition on the item is each child's own
        per_item = "when" in step and any(k in step for k in ("withItems", "withParam", "withSequence")) and any(
            r == "item" or r.startswith("item.") for r in X.find_refs(step["when"]))
        try:
            skip = "when" in step and not per_item and not X.eval_condition(X.substitute(step["when"], resolve))
            items = None if skip else self._items(step, resolve)
        except (KeyError, ValueError) as e:
            node.phase, node.message = "Error", f"{type(e).__name__}: {e}"
            node.finished = time.time()
            return
        if skip:
            node.phase, node.type = "Skipped", "Skipped"
            node.message = f"when '{step['when']}' evaluated false"
            node.finished = time.time()
            return
        if items is None:
            with slots if slots is not None else contextlib.nullcontext():
                self._call(step, resolve, node, f"{path}.{step['name']}")
            return
        node.type = "StepGroup" if scope == "steps" else "TaskGroup"
        if scope == "steps":
            node.hidden = True
            parent.children.remove(node)
        children = []
        for i, item in enumerate(items):
            child = self._node(step["name"], f"{step['name']}({i}:{X.to_text(item)})", step["template"], "")
            child.path = f"{path}.{child.display}"
            (parent if scope == "steps" else node).children.append(child)
            children.append((i, item, child))
        def run_child(i: int, item: Any, child: Node) -> None:
            resolve_item = resolve_for(item, True)
            if per_item:
                try:
                    keep = X.eval_condition(X.substitute(step["when"], resolve_item))
                except (KeyError, ValueError) as e:
                    child.phase, child.message, child.finished = "Error", f"{type(e).__name__}: {e}", time.time()
                    return
                if not keep:
                    child.phase, child.type = "Skipped", "Skipped"
                    child.message = f"when '{step['when']}' evaluated false"
                    child.finished = time.time()
                    return
            self._call(step, resolve_item, child, f"{path}.{step['name']}({i})")

        self._parallel([(lambda i=i, item=item, child=child: run_child(i, item, child)) for i, item, child in children],
                       slots)
        kids = [c for _, _, c in children]
        ok = [c for c in kids if c.phase in ("Succeeded", "Skipped")]
        tolerated = [c for c in kids if c.phase == "Failed" and step.get("continueOn", {}).get("failed")]
        node.phase = "Succeeded" if len(ok) + len(tolerated) == len(kids) else "Failed"
        names: List[str] = []
        for c in kids:
            names += [k for k in c.parameters if k not in names]
        for k in names:
            vals = [c.parameters[k] for c in kids if k in c.parameters]
            node.parameters[k] = _aggregate(vals)
        # Argo aggregates no artifacts; slices that write parts under one shared prefix have that prefix
        keys: Dict[str, set] = {}
        for c in kids:
            for k, key in c.artifacts.items():
                head, _, last = key.rpartition("/")
                keys.setdefault(k, set()).add(head if last.startswith(".dflow-part-") else key)
        node.artifacts = {k: v.pop() for k, v in keys.items() if len(v) == 1}
        node.finished = time.time()

    def _continue(self, step: Dict[str, Any], n: Node) -> bool:
        if n.phase in ("Succeeded", "Skipped"):
            return True
        co = step.get("continueOn", {})
        return bool((n.phase == "Failed" and co.get("failed")) or (n.phase == "Error" and co.get("error")))

    @staticmethod
    def _slots(t: Dict[str, Any]) -> Optional[threading.Semaphore]:
        return threading.Semaphore(int(t["parallelism"])) if t.get("parallelism") else None

    def run_steps(
        self, t: Dict[str, Any], params: Dict[str, str], arts: Dict[str, Optional[str]], node: Node, path: str
    ) -> None:
        done: Dict[str, Node] = {}
        slots = self._slots(t)
        for g, group in enumerate(t["steps"]):
            if self.stop.is_set():
                node.phase, node.message = "Failed", TERMINATED
                return
            gnode = self._node(f"[{g}]", f"[{g}]", "", f"{path}[{g}]", "StepGroup")
            node.children.append(gnode)
            results = []
            jobs = []
            for step in group:
                rf = lambda item, has, _d=dict(done): self._resolver(params, arts, _d, "steps", item, has)  # noqa: E731
                n, job = self.run_step(step, rf, gnode, f"{path}[{g}]", "steps", slots)
                results.append((step, n))
                jobs.append(job)
            self._parallel(jobs)
            gnode.finished = time.time()
            gnode.phase = "Succeeded" if all(self._continue(st, n) for st, n in results) else "Failed"
            for step, n in results:
                done[step["name"]] = n
            bad = [n for step, n in results if not self._continue(step, n)]
            if bad:
                node.phase, node.message = "Failed", f"child {bad[0].display} {bad[0].phase}: {bad[0].message}"
                return
        self._outputs(t, self._resolver(params, arts, done, "steps"), node)

    def run_dag(
        self, t: Dict[str, Any], params: Dict[str, str], arts: Dict[str, Optional[str]], node: Node, path: str
    ) -> None:
        tasks = {x["name"]: x for x in t["dag"]["tasks"]}
        done: Dict[str, Node] = {}
        started: set = set()
        finished: "queue.Queue[Tuple[str, Node]]" = queue.Queue()
        running = 0
        failed = None
        slots = self._slots(t)
        while len(done) < len(tasks):
            progressed = False
            for name, task in tasks.items():
                if name in started or self.stop.is_set():
                    continue
                deps = task.get("dependencies", [])
                if not all(d in done for d in deps):
                    continue
                started.add(name)
                progressed = True
                if any(not self._continue(tasks[d], done[d]) for d in deps):
                    n = self._node(name, name, task["template"], f"{path}.{name}", "Skipped")
                    n.phase = "Omitted"
                    node.children.append(n)
                    done[name] = n
                    continue
                rf = lambda item, has, _d=dict(done): self._resolver(params, arts, _d, "tasks", item, has)  # noqa: E731
                n, job = self.run_step(task, rf, node, path, "tasks", slots)

                def run(job: Callable[[], None] = job, name: str = name, n: Node = n) -> None:
                    try:
                        job()
                    except Exception as e:  # noqa: BLE001 - the task's error
                        n.phase, n.message = "Error", f"{type(e).__name__}: {e}"
                    finally:
                        finished.put((name, n))

                threading.Thread(target=run, daemon=True).start()
                running += 1
            if progressed:
                continue  # an omitted task may have made others ready
            if running == 0:
                if self.stop.is_set():
                    node.phase, node.message = "Failed", TERMINATED
                    return
                raise RuntimeError("dag cycle")
            name, n = finished.get()
            running -= 1
            done[name] = n
            if not self._continue(tasks[name], n):
                failed = n
        if failed is not None:
            node.phase, node.message = "Failed", f"task {failed.display} {failed.phase}: {failed.message}"
            return
        self._outputs(t, self._resolver(params, arts, done, "tasks"), node)

    def _outputs(self, t: Dict[str, Any], resolve: Any, node: Node) -> None:
        for p in t.get("outputs", {}).get("parameters", []):
            vf = p.get("valueFrom", {})
            try:
                if "parameter" in vf:
                    node.parameters[p["name"]] = X.substitute(vf["parameter"], resolve)
                elif "expression" in vf:
                    node.parameters[p["name"]] = X.to_text(X.eval_expr(vf["expression"], resolve))
            except (KeyError, ValueError):
                if "default" not in vf:
                    node.phase, node.message = "Failed", f"output parameter {p['name']} could not be resolved"
                    return
            if p["name"] not in node.parameters and "default" in vf:
                node.parameters[p["name"]] = vf["default"]
        for a in t.get("outputs", {}).get("artifacts", []):
            try:
                if "from" in a:
                    node.artifacts[a["name"]] = X.substitute(a["from"], resolve)
                elif "fromExpression" in a:
                    node.artifacts[a["name"]] = X.to_text(X.eval_expr(a["fromExpression"], resolve))
            except (KeyError, ValueError):
                if not a.get("optional"):
                    node.phase, node.message = "Failed", f"output artifact {a['name']} could not be resolved"
                    return
        node.phase = "Succeeded"


# ---------------------------------------------------------------- Argo status objects


def _is_tarball(path: Path) -> bool:
    """Whether ``path`` is a gzipped tarball (an output stored with Argo's default archive at a key of its own)."""
    with open(path, "rb") as f:
        if f.read(2) != b"\x1f\x8b":
            return False
    try:
        with tarfile.open(path, "r:gz") as tf:
            return tf.next() is not None
    except (tarfile.TarError, OSError, EOFError):
        return False


def _iso(t: Optional[float]) -> Optional[str]:
    return None if t is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _location_of(name: str, ref: str) -> Dict[str, Any]:
    kind, sep, key = ref.partition("::")
    if not sep:
        return {"name": name, "s3": {"key": ref}}
    return {"name": name, kind: {"blob" if kind == "azure" else "key": key}}


def argo_status(sb: Sandbox, finished: bool = True) -> Dict[str, Any]:
    """``status`` of an Argo Workflow object for what the sandbox ran (node tree as Argo builds it)."""
    ids: Dict[int, str] = {}
    with sb.lock:
        every = list(sb.nodes)
    for i, n in enumerate(every):  # ids stay the same while the run goes on
        if not n.hidden:
            ids[id(n)] = sb.name if n is sb.root else f"{sb.name}-{1000 + i}"
    visible = [n for n in every if not n.hidden]
    nodes: Dict[str, Any] = {}
    for n in visible:
        nid = ids[id(n)]
        entry: Dict[str, Any] = {
            "id": nid,
            "name": n.path,
            "displayName": n.display,
            "type": n.type,
            "phase": n.phase if n.phase != "Pending" else "Running",
            "startedAt": _iso(n.started),
        }
        if n.template:
            entry["templateName"] = n.template
        if n.finished is not None:
            entry["finishedAt"] = _iso(n.finished)
        if n.message:
            entry["message"] = n.message
        if n.progress:
            entry["progress"] = n.progress
        kids = [ids[id(c)] for c in list(n.children) if id(c) in ids]
        if kids:
            entry["children"] = kids
        if n.inputs:
            entry["inputs"] = {"parameters": [{"name": k, "value": v} for k, v in list(n.inputs.items())]}
        outs: Dict[str, Any] = {}
        if n.parameters and n.type != "StepGroup":
            outs["parameters"] = [{"name": k, "value": v} for k, v in list(n.parameters.items())]
        if n.artifacts and n.type not in ("StepGroup", "TaskGroup"):  # Argo aggregates no artifacts
            outs["artifacts"] = [_location_of(k, v) for k, v in list(n.artifacts.items())]
        if outs:
            entry["outputs"] = outs
        nodes[nid] = entry
    root = sb.root
    status: Dict[str, Any] = {
        "phase": (sb.outcome[0] if sb.outcome else root.phase) if root is not None and finished else "Running",
        # as Argo: the entry node's message, or the exit handler's when it failed a run that had succeeded
        "message": (sb.outcome[1] if sb.outcome else root.message if root is not None else None) if finished else None,
        "startedAt": _iso(root.started if root else None),
        "nodes": nodes,
    }
    if finished and root is not None and root.finished is not None:
        status["finishedAt"] = _iso(root.finished)
    return {k: v for k, v in status.items() if v is not None}


def pod_log(sb: Sandbox, pod_name: str) -> Optional[str]:
    """The log of the pod Argo would name ``pod_name`` (``<workflow>-<template>-<node id suffix>``)."""
    suffix = pod_name.rsplit("-", 1)[-1]
    if not suffix.isdigit() or int(suffix) < 1000:
        return None
    with sb.lock:
        every = list(sb.nodes)
    i = int(suffix) - 1000
    if i >= len(every) or every[i].pod_dir is None:
        return None
    log = every[i].pod_dir / "log.txt"
    return log.read_text(errors="replace") if log.exists() else ""


def _parameter_text(f: Path) -> str:
    """An output parameter's file as Argo's executor reads it: one trailing newline dropped, nothing else."""
    text = f.read_bytes().decode("utf-8", errors="replace")
    return text[:-1] if text.endswith("\n") else text
