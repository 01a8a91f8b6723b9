"""The local engine: runs a WorkflowSpec on this machine.

One driver process runs an asyncio program that walks the spec: ``Steps``
groups one after another, their steps together, DAG tasks as soon as their
dependencies are done, fan-outs with a bounded number of children at a time.
Script steps run in forked processes (see :mod:`dflow_debug.pods`). Every
change of a node is appended to ``nodes.jsonl``, so the state is visible to
other processes while the run goes on and a killed driver can be resumed:
nodes that succeeded before are taken as they are (their ids are derived from
their place in the workflow, so they are found again).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import signal
import time
from typing import Any, Dict, List, Optional, Tuple

from dflow import expressions as X
from dflow.artifact import CATALOG_DIR, download_tree, merge_part, read_catalog, upload_tree, write_catalog
from dflow.backend import ParameterValue, ReusedStep, StepRecord
from dflow.names import check_key
from dflow.runtime import EXIT_TRANSIENT, decode_value, encode_value
from dflow.spec import ScriptTemplateSpec, StepSpec, StoredArtifact, WorkflowSpec
from dflow.storage import LocalStorageClient, StorageClient

from .pods import PodRunner
from .state import NodeLog, atomic_write, read_json

PV = Tuple[Optional[str], Optional[str]]  # parameter value: (text, type name)

SLICE_PARAMETER = "dflow_slice"


class StepFailed(Exception):
    """A step could not run (bad reference, missing input): the message says why."""


class Outcome:
    """What a finished node gives to the steps after it."""

    __slots__ = ("phase", "params", "arts", "node_id", "message")

    def __init__(self, phase: str, params: Optional[Dict[str, PV]] = None, arts: Optional[Dict[str, Optional[StoredArtifact]]] = None,
                 node_id: Optional[str] = None, message: Optional[str] = None) -> None:
        self.phase = phase
        self.params = params or {}
        self.arts = arts or {}
        self.node_id = node_id
        self.message = message

    @property
    def ok(self) -> bool:
        return self.phase in ("Succeeded", "Skipped")


class Scope:
    """What references inside one Steps/DAG invocation can see."""

    __slots__ = ("params", "arts", "steps", "item", "has_item", "engine")

    def __init__(self, engine: "Engine", params: Dict[str, PV], arts: Dict[str, Optional[StoredArtifact]]) -> None:
        self.engine = engine
        self.params = params
        self.arts = arts
        self.steps: Dict[str, Outcome] = {}
        self.item: Any = None
        self.has_item = False

    def with_item(self, item: Any) -> "Scope":
        s = Scope(self.engine, self.params, self.arts)
        s.steps = self.steps
        s.item = item
        s.has_item = True
        return s

    # ---------------------------------------------------------------- references

    def lookup(self, ref: str) -> Any:
        """The value of a dotted reference: text for parameters, StoredArtifact for artifacts."""
        parts = ref.split(".")
        head = parts[0]
        if head == "item":
            if not self.has_item:
                raise StepFailed("{{item}} is used outside a with_param/with_sequence step")
            value = self.item
            for p in parts[1:]:
                if isinstance(value, dict) and p in value:
                    value = value[p]
                else:
                    raise StepFailed(f"{{{{{ref}}}}}: the item {self.item!r} has no field {p!r}")
            return value
        if head == "inputs" and len(parts) == 3:
            table = self.params if parts[1] == "parameters" else self.arts if parts[1] == "artifacts" else None
            if table is None or parts[2] not in table:
                raise StepFailed(f"{{{{{ref}}}}} does not name an input of this template")
            v = table[parts[2]]
            return v[0] if parts[1] == "parameters" else v
        if head in ("steps", "tasks") and len(parts) >= 3:
            # step names may contain dots only through bracket access; names here have none
            name = parts[1]
            out = self.steps.get(name)
            if out is None:
                raise StepFailed(f"{{{{{ref}}}}}: step {name!r} has not run (yet) in this template")
            if parts[2] in ("status", "phase"):
                return out.phase
            if parts[2] == "id":
                return out.node_id
            if len(parts) == 5 and parts[2] == "outputs":
                if parts[3] == "parameters":
                    if parts[4] not in out.params or out.params[parts[4]][0] is None:
                        raise StepFailed(
                            f"{{{{{ref}}}}}: step {name!r} ({out.phase}) has no value for output parameter {parts[4]!r}"
                        )
                    return out.params[parts[4]][0]
                if parts[3] == "artifacts":
                    if out.arts.get(parts[4]) is None:
                        raise StepFailed(f"{{{{{ref}}}}}: step {name!r} ({out.phase}) has no output artifact {parts[4]!r}")
                    return out.arts[parts[4]]
        if head == "workflow":
            eng = self.engine
            if parts[1:] == ["name"] or parts[1:] == ["uid"]:
                return eng.workflow_id
            if len(parts) == 3 and parts[1] == "parameters" and parts[2] in eng.spec.parameters:
                return eng.spec.parameters[parts[2]]
        raise StepFailed(f"unknown reference {{{{{ref}}}}}")

    def typed(self, ref: str) -> PV:
        """Like :meth:`lookup` for a parameter, with its type name."""
        parts = ref.split(".")
        if parts[0] == "inputs" and len(parts) == 3 and parts[1] == "parameters":
            self.lookup(ref)
            return self.params[parts[2]]
        if parts[0] in ("steps", "tasks") and len(parts) == 5 and parts[3] == "parameters":
            self.lookup(ref)
            return self.steps[parts[1]].params[parts[4]]
        if parts[0] == "workflow" and len(parts) == 3:
            return self.lookup(ref), self.engine.spec.parameter_types.get(parts[2])
        value = self.lookup(ref)
        if isinstance(value, str):
            return value, "str"
        return encode_value(value)

    def text(self, text: str) -> str:
        return X.substitute(text, self.lookup)

    def param(self, text: str, declared: Optional[str]) -> PV:
        """A parameter's value from step text: a lone reference keeps its source's type."""
        stripped = text.strip()
        if stripped.startswith("{{") and stripped.endswith("}}") and stripped.count("{{") == 1 and not stripped[2:].lstrip().startswith("="):
            return self.typed(stripped[2:-2].strip())
        return self.text(text), declared

    def artifact(self, text: str) -> Optional[StoredArtifact]:
        stripped = text.strip()
        if not (stripped.startswith("{{") and stripped.endswith("}}")):
            raise StepFailed(f"artifact reference {text!r} is not of the form {{{{...}}}}")
        value = self.lookup(stripped[2:-2].strip())
        if value is not None and not isinstance(value, StoredArtifact):
            raise StepFailed(f"{text} is not an artifact")
        return value

    def expression(self, expr: str) -> Any:
        return X.eval_expr(expr, self.lookup)


def _records(params: Dict[str, PV]) -> Dict[str, ParameterValue]:
    """Parameter values as they are recorded on a node."""
    return {k: ParameterValue(text=v[0], type=v[1]) for k, v in params.items()}


def _item_text(item: Any) -> str:
    return item if isinstance(item, str) else json.dumps(item)


def _short_hash(text: str, n: int = 8) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:n]


class Engine:
    """Runs one workflow; lives in the driver process."""

    def __init__(self, wfdir: str, spec: WorkflowSpec, workflow_id: str, settings: Dict[str, Any],
                 reuse: List[ReusedStep], previous: Dict[str, StepRecord], client: Optional[StorageClient] = None) -> None:
        self.wfdir = wfdir
        self.spec = spec
        self.workflow_id = workflow_id
        self.settings = settings
        self.templates = {t.name: t for t in spec.templates}
        self.storage_root = settings["storage_root"]
        self.client: StorageClient = client or LocalStorageClient(self.storage_root)
        self.local_storage = isinstance(self.client, LocalStorageClient) and str(self.client.root) == os.path.realpath(self.storage_root)
        self.storage_name = "local" if self.local_storage else settings.get("storage_name", "custom")
        self.reuse = {r.key: r for r in reuse}
        self.previous = {k: v for k, v in previous.items() if v.phase in ("Succeeded", "Skipped")}
        self.log = NodeLog(os.path.join(wfdir, "nodes.jsonl"))
        self.pods = PodRunner(os.path.join(wfdir, ".pods"))
        self.slots = asyncio.Semaphore(max(1, int(settings.get("workers") or os.cpu_count() or 2)))
        self.used_dirs: Dict[str, str] = {}
        self.taken_dirs: set = set()
        # nodes whose sliced inputs were cut to their own slice by the engine
        self.presliced: Dict[str, int] = {}
        self._catalogs: Dict[Tuple[Optional[str], str], List[Dict[str, Any]]] = {}
        self._decoded: Tuple[Optional[str], Any] = (None, None)
        self.terminating = False

    # ---------------------------------------------------------------- nodes

    def node(self, path: str, name: str, display: str, type_: str, template: Optional[str], parent: Optional[StepRecord],
             key: Optional[str] = None) -> StepRecord:
        node_id = f"{self.workflow_id}-{_short_hash(path, 10)}"
        rec = StepRecord(id=node_id, name=name, display_name=display, template=template, type=type_, phase="Pending",
                         key=key, parent=parent.id if parent else None)
        if parent is not None:
            parent.children.append(node_id)
        return rec

    def save(self, rec: StepRecord) -> None:
        self.log.append(rec)

    def close(self, rec: StepRecord, phase: str, message: Optional[str] = None, at_once: bool = False) -> None:
        """Record that ``rec`` ended with ``phase`` (``at_once``: it ended as it started)."""
        now = time.time()
        rec.phase = phase
        rec.message = message
        rec.finished_at = now
        if at_once:
            rec.started_at = now
        self.save(rec)

    def step_dir(self, rec: StepRecord) -> str:
        if rec.id in self.used_dirs:
            return self.used_dirs[rec.id]
        base = rec.key if rec.key else f"{rec.name}-{rec.id[-5:]}"
        path = os.path.join(self.wfdir, base)
        if path in self.taken_dirs:
            path = os.path.join(self.wfdir, f"{base}-{rec.id[-5:]}")
        self.used_dirs[rec.id] = path
        self.taken_dirs.add(path)
        return path

    def artifact_record(self, directory: str) -> StoredArtifact:
        """Store the directory as an artifact: in place for local storage, else uploaded."""
        rel = os.path.relpath(directory, self.storage_root)
        if self.local_storage:
            return StoredArtifact(key=rel.replace(os.sep, "/"), storage="local", endpoint=self.storage_root)
        key = f"{self.workflow_id}/{os.path.relpath(directory, self.wfdir)}".replace(os.sep, "/")
        upload_tree(self.client, key, directory)
        return StoredArtifact(key=key, storage=self.storage_name)

    # ---------------------------------------------------------------- the run

    async def run(self) -> Tuple[str, Optional[str]]:
        loop = asyncio.get_running_loop()
        main = asyncio.current_task()

        def on_term() -> None:
            self.terminating = True
            self.pods.kill_all()
            if main is not None:
                main.cancel()

        loop.add_signal_handler(signal.SIGTERM, on_term)
        loop.add_signal_handler(signal.SIGINT, on_term)
        entry = self.templates[self.spec.entrypoint]
        params: Dict[str, PV] = {}
        for p in entry.inputs_parameters:
            if p.name in self.spec.parameters:
                params[p.name] = (self.spec.parameters[p.name], self.spec.parameter_types.get(p.name, p.type))
            elif p.value is not None:
                params[p.name] = (p.value, p.type)
        arts: Dict[str, Optional[StoredArtifact]] = {}
        for name, a in self.spec.artifacts.items():
            arts[name] = a.stored
        root = self.node("", self.workflow_id, self.workflow_id, "Steps" if entry.kind == "steps" else "DAG" if entry.kind == "dag" else "Pod",
                         entry.name, None)
        try:
            outcome = await self.run_template(entry, params, arts, root, "")
            phase, message = outcome.phase, outcome.message
        except asyncio.CancelledError:
            phase, message = "Failed", "terminated"
        finally:
            self.pods.kill_all()
            self.pods.close()
        return phase if not self.terminating else "Failed", (message if not self.terminating else "terminated")

    # ---------------------------------------------------------------- templates

    async def run_template(self, tmpl: Any, params: Dict[str, PV], arts: Dict[str, Optional[StoredArtifact]],
                           rec: StepRecord, path: str) -> Outcome:
        prev = self.previous.get(rec.id)
        if prev is not None and prev.phase == "Succeeded":
            return Outcome("Succeeded", {k: (v.text, v.type) for k, v in prev.outputs_parameters.items()},
                           dict(prev.outputs_artifacts), rec.id)
        # a pod is Pending until it gets a slot (run_pod marks it Running then)
        rec.phase = "Pending" if tmpl.kind == "script" else "Running"
        rec.started_at = None if tmpl.kind == "script" else time.time()
        rec.inputs_parameters = _records(params)
        rec.inputs_artifacts = {k: v for k, v in arts.items() if v is not None}
        if tmpl.kind == "script":
            rec.workdir = self.step_dir(rec)
        self.save(rec)
        try:
            if tmpl.kind == "script":
                outcome = await self.run_pod(tmpl, params, arts, rec)
            elif tmpl.kind == "steps":
                outcome = await self.run_steps(tmpl, params, arts, rec, path)
            else:
                outcome = await self.run_dag(tmpl, params, arts, rec, path)
        except asyncio.CancelledError:
            self.close(rec, "Failed", "terminated")
            raise
        except StepFailed as e:
            outcome = Outcome("Failed", message=str(e))
        rec.phase = outcome.phase
        rec.message = outcome.message
        rec.finished_at = time.time()
        rec.outputs_parameters = _records(outcome.params)
        rec.outputs_artifacts = {k: v for k, v in outcome.arts.items() if v is not None}
        self.save(rec)
        if rec.workdir:
            _write_phase_files(rec)
        outcome.node_id = rec.id
        return outcome

    def template_outputs(self, tmpl: Any, scope: Scope, failed: bool) -> Tuple[Dict[str, PV], Dict[str, Optional[StoredArtifact]], List[str]]:
        params: Dict[str, PV] = {}
        arts: Dict[str, Optional[StoredArtifact]] = {}
        problems: List[str] = []
        for p in tmpl.outputs_parameters:
            try:
                if p.value_from_parameter:
                    params[p.name] = scope.param(p.value_from_parameter, p.type)
                elif p.value_from_expression:
                    v = scope.expression(p.value_from_expression)
                    params[p.name] = (v, p.type) if isinstance(v, str) else encode_value(v)
                elif p.value is not None:
                    params[p.name] = scope.param(p.value, p.type)
                else:
                    raise StepFailed(f"output parameter {p.name!r} has no source")
            except (StepFailed, ValueError, KeyError, TypeError) as e:
                if p.default is not None:
                    params[p.name] = (p.default, p.type)
                elif not failed:
                    problems.append(f"output parameter {p.name!r}: {e}")
        for a in tmpl.outputs_artifacts:
            try:
                if a.from_:
                    arts[a.name] = scope.artifact(a.from_)
                elif a.from_expression:
                    v = scope.expression(a.from_expression)
                    arts[a.name] = v if isinstance(v, StoredArtifact) else None
            except (StepFailed, ValueError, KeyError, TypeError) as e:
                if not failed and not a.optional:
                    problems.append(f"output artifact {a.name!r}: {e}")
        return params, arts, problems

    async def run_steps(self, tmpl: Any, params: Dict[str, PV], arts: Dict[str, Optional[StoredArtifact]],
                        rec: StepRecord, path: str) -> Outcome:
        scope = Scope(self, params, arts)
        failed: Optional[str] = None
        for group in tmpl.steps:
            results = await asyncio.gather(*(self.run_step(s, scope, rec, f"{path}/{s.name}", "steps") for s in group))
            for s, out in zip(group, results):
                scope.steps[s.name] = out
                if not out.ok and not (s.continue_on_failed or s.continue_on_error):
                    failed = failed or f"step {s.name!r} {out.phase.lower()}" + (f": {out.message}" if out.message else "")
            if failed:
                break
        p, a, problems = self.template_outputs(tmpl, scope, bool(failed))
        if failed:
            return Outcome("Failed", p, a, message=failed)
        if problems:
            return Outcome("Failed", p, a, message="; ".join(problems))
        return Outcome("Succeeded", p, a)

    async def run_dag(self, tmpl: Any, params: Dict[str, PV], arts: Dict[str, Optional[StoredArtifact]],
                      rec: StepRecord, path: str) -> Outcome:
        scope = Scope(self, params, arts)
        tasks: Dict[str, StepSpec] = {t.name: t for t in tmpl.tasks}
        pending = dict(tasks)
        running: Dict[asyncio.Task, str] = {}
        failed: Optional[str] = None
        while pending or running:
            if not failed:
                for name, t in list(pending.items()):
                    deps = [scope.steps.get(d) for d in t.dependencies]
                    if any(d is None for d in deps):
                        continue
                    del pending[name]
                    blocked = [d for d, o in zip(t.dependencies, deps) if not o.ok and not (tasks[d].continue_on_failed or tasks[d].continue_on_error)]
                    if blocked:
                        om = self.node(f"{path}/{name}", name, name, "Skipped", t.template, rec)
                        om.phase = "Omitted"
                        om.message = f"dependencies {blocked} did not succeed"
                        self.save(om)
                        scope.steps[name] = Outcome("Omitted", node_id=om.id, message=om.message)
                        continue
                    running[asyncio.ensure_future(self.run_step(t, scope, rec, f"{path}/{name}", "tasks"))] = name
            if not running:
                if pending and not failed:
                    # nothing runs and nothing can start (the compiler refuses cycles, so
                    # this is only a safety net): the rest cannot run
                    for name in list(pending):
                        del pending[name]
                        scope.steps[name] = Outcome("Omitted", message="dependencies did not run")
                    continue
                break
            done, _ = await asyncio.wait(list(running), return_when=asyncio.FIRST_COMPLETED)
            for fut in done:
                name = running.pop(fut)
                out = fut.result()
                scope.steps[name] = out
                t = tasks[name]
                if not out.ok and not (t.continue_on_failed or t.continue_on_error):
                    failed = failed or f"task {name!r} {out.phase.lower()}" + (f": {out.message}" if out.message else "")
            if failed:
                pending.clear()
        p, a, problems = self.template_outputs(tmpl, scope, bool(failed))
        if failed:
            return Outcome("Failed", p, a, message=failed)
        if problems:
            return Outcome("Failed", p, a, message="; ".join(problems))
        return Outcome("Succeeded", p, a)

    # ---------------------------------------------------------------- steps

    async def run_step(self, step: StepSpec, scope: Scope, parent: StepRecord, path: str, kind: str) -> Outcome:
        tmpl = self.templates[step.template]
        try:
            if step.when is not None:
                cond = scope.text(step.when)
                if not X.eval_condition(cond):
                    rec = self.node(path, step.name, step.name, "Skipped", tmpl.name, parent)
                    rec.phase = "Skipped"
                    rec.message = f"when {cond!r} was false"
                    rec.started_at = rec.finished_at = time.time()
                    params = {p.name: (p.default, p.type) for p in tmpl.outputs_parameters if p.default is not None}
                    rec.outputs_parameters = _records(params)
                    self.save(rec)
                    return Outcome("Skipped", params, {}, rec.id, rec.message)
            items = self.fanout_items(step, tmpl, scope)
            op_slices = getattr(getattr(tmpl, "python_op", None), "slices", None)
            if items is not None and op_slices is not None and op_slices.group_size and not op_slices.sub_path:
                # Slices(group_size=g): one pod per g slices; pod i runs slices i*g .. i*g+g-1
                items = list(range(-(-len(items) // int(op_slices.group_size))))
        except (StepFailed, ValueError, KeyError, TypeError) as e:
            rec = self.node(path, step.name, step.name, "Pod" if tmpl.kind == "script" else tmpl.kind.capitalize(), tmpl.name, parent)
            self.close(rec, "Failed", str(e), at_once=True)
            return Outcome("Failed", node_id=rec.id, message=str(e))
        if items is None:
            return await self.run_instance(step, tmpl, scope, parent, path, step.name)
        return await self.run_fanout(step, tmpl, scope, parent, path, items, kind)

    def fanout_items(self, step: StepSpec, tmpl: Any, scope: Scope) -> Optional[List[Any]]:
        if step.with_param is not None:
            text = scope.text(step.with_param)
            try:
                items = json.loads(text)
            except ValueError:
                raise StepFailed(f"with_param of step {step.name!r} is not a JSON list: {text[:200]!r}") from None
            if not isinstance(items, list):
                raise StepFailed(f"with_param of step {step.name!r} must be a list, got {type(items).__name__}")
            return items
        if step.with_sequence is not None:
            seq = step.with_sequence
            start = int(scope.text(seq.start)) if seq.start else 0
            if seq.count is not None:
                count = int(scope.text(seq.count))
                values = list(range(start, start + count))
            else:
                end = int(scope.text(seq.end or "0"))
                values = list(range(start, end + 1)) if end >= start else list(range(start, end - 1, -1))
            if seq.format:
                return [seq.format % v for v in values]
            return [str(v) for v in values]
        op = getattr(tmpl, "python_op", None)
        if op is not None and op.slices is not None and op.slices.sub_path:
            return list(range(self.sub_path_count(step, tmpl, scope)))
        return None

    def sub_path_count(self, step: StepSpec, tmpl: Any, scope: Scope) -> int:
        slices = tmpl.python_op.slices
        lengths = []
        for name in slices.input_parameter:
            if name in step.parameters:
                text, tp = scope.param(step.parameters[name], None)
                value = decode_value(text, tp if tp not in (None, "str") else None)
                if not isinstance(value, list):
                    raise StepFailed(f"step {step.name!r}: sliced input parameter {name!r} must be a list, got {text[:100]!r}")
                lengths.append(len(value))
        for name in slices.input_artifact:
            art = self.resolve_artifact(step, name, scope)
            if art is not None:
                lengths.append(len(self.catalog_of(art)))
        if not lengths:
            raise StepFailed(f"step {step.name!r}: Slices(sub_path=True) found no sliced input to count")
        if len(set(lengths)) > 1:
            raise StepFailed(f"step {step.name!r}: sliced inputs have different lengths {lengths}")
        return lengths[0]

    def catalog_of(self, art: StoredArtifact) -> List[Dict[str, Any]]:
        if art.parts:
            items: List[Dict[str, Any]] = []
            for part in art.parts:
                items.extend(self.catalog_of(part))
            return items
        if art.catalog is not None:
            return list(art.catalog)
        if art.storage == "local" or art.storage == "local-path":
            base = art.local_path if art.storage == "local-path" else os.path.join(art.endpoint or self.storage_root, art.key)
            return read_catalog(base)
        return list(self._remote_catalog(art))

    def _remote_catalog(self, art: StoredArtifact) -> List[Dict[str, Any]]:
        """The catalog of an artifact held by a storage client (read once per key)."""
        cache_key = (art.storage, art.key)
        if cache_key not in self._catalogs:
            import tempfile

            client = self.client if art.storage in (None, self.storage_name, "custom") else _client_for_name(art.storage)
            with tempfile.TemporaryDirectory(prefix="dflow-catalog-") as tmp:
                for k in client.list(f"{art.key}/{CATALOG_DIR}/", recursive=True):
                    client.download(k, os.path.join(tmp, CATALOG_DIR, k.rsplit("/", 1)[-1]))
                self._catalogs[cache_key] = read_catalog(tmp)
        return self._catalogs[cache_key]

    def resolve_artifact(self, step: StepSpec, name: str, scope: Scope) -> Optional[StoredArtifact]:
        arg = step.artifacts.get(name)
        if arg is None:
            return None
        if arg.ref:
            art = scope.artifact(arg.ref)
        elif arg.from_expression:
            v = scope.expression(arg.from_expression)
            art = v if isinstance(v, StoredArtifact) else None
        else:
            art = arg.stored
        if art is not None and arg.sub_path:
            sub = scope.text(arg.sub_path)
            art = art.model_copy(update={"sub_path": sub if not art.sub_path else f"{art.sub_path}/{sub}"})
        return art

    async def run_instance(self, step: StepSpec, tmpl: Any, scope: Scope, parent: StepRecord, path: str, display: str,
                           slice_index: Optional[int] = None) -> Outcome:
        type_ = "Pod" if tmpl.kind == "script" else "Steps" if tmpl.kind == "steps" else "DAG"
        try:
            params: Dict[str, PV] = {}
            for p in tmpl.inputs_parameters:
                if p.name in step.parameters:
                    text, tp = scope.param(step.parameters[p.name], step.parameter_types.get(p.name) or p.type)
                    params[p.name] = (text, tp or p.type)
                elif p.value is not None:
                    params[p.name] = (p.value, p.type)
                else:
                    raise StepFailed(f"input parameter {p.name!r} of template {tmpl.name!r} has no value")
            if SLICE_PARAMETER in step.parameters:
                params[SLICE_PARAMETER] = scope.param(step.parameters[SLICE_PARAMETER], None)
            arts: Dict[str, Optional[StoredArtifact]] = {}
            for a in tmpl.inputs_artifacts:
                art = self.resolve_artifact(step, a.name, scope)
                if art is None and not a.optional:
                    raise StepFailed(f"input artifact {a.name!r} of template {tmpl.name!r} is not given")
                arts[a.name] = art
            if slice_index is not None:
                self.slice_sub_path(tmpl, params, arts, slice_index)
            presliced = self.preslice(tmpl, params, arts)
            key = None
            if step.key:
                key = check_key(scope.text(step.key))
        except (StepFailed, ValueError, KeyError, TypeError) as e:
            rec = self.node(path, step.name, display, type_, tmpl.name, parent)
            self.close(rec, "Failed", str(e), at_once=True)
            return Outcome("Failed", node_id=rec.id, message=str(e))
        rec = self.node(path, step.name, display, type_, tmpl.name, parent, key)
        if presliced is not None:
            self.presliced[rec.id] = presliced
        if key is not None and key in self.reuse:
            r = self.reuse[key]
            rec.phase = "Succeeded"
            rec.message = "reused"
            rec.started_at = rec.finished_at = time.time()
            rec.inputs_parameters = _records(params)
            rec.outputs_parameters = dict(r.outputs_parameters)
            rec.outputs_artifacts = dict(r.outputs_artifacts)
            self.save(rec)
            return Outcome("Succeeded", {k: (v.text, v.type) for k, v in r.outputs_parameters.items()},
                           dict(r.outputs_artifacts), rec.id, "reused")
        return await self.run_template(tmpl, params, arts, rec, path)

    def preslice(self, tmpl: Any, params: Dict[str, PV], arts: Dict[str, Optional[StoredArtifact]]) -> Optional[int]:
        """Cut sliced inputs down to this step's own slice, so a slice of a 10,000-way fan-out
        does not copy (and parse) all 10,000 inputs. Returns the slice index, or None."""
        op = getattr(tmpl, "python_op", None)
        slices = op.slices if op is not None else None
        if slices is None or slices.sub_path or slices.group_size or SLICE_PARAMETER not in params:
            return None
        try:
            index = int(json.loads(params[SLICE_PARAMETER][0] or ""))
        except (ValueError, TypeError):
            raise StepFailed(f"slice index {params[SLICE_PARAMETER][0]!r} is not an integer") from None
        self.slice_sub_path(tmpl, params, arts, index)
        return index

    def _decode_list(self, text: Optional[str], tp: Optional[str]) -> Any:
        # every slice of a fan-out sees the same text object: decode it once
        if self._decoded[0] is text:
            return self._decoded[1]
        value = decode_value(text, tp if tp not in (None, "str") else None)
        self._decoded = (text, value)
        return value

    def slice_sub_path(self, tmpl: Any, params: Dict[str, PV], arts: Dict[str, Optional[StoredArtifact]], index: int) -> None:
        slices = tmpl.python_op.slices
        params[SLICE_PARAMETER] = encode_value(index)  # the runtime names per-slice outputs by it
        for name in slices.input_parameter:
            if name in params:
                text, tp = params[name]
                value = self._decode_list(text, tp)
                if not isinstance(value, list):
                    raise StepFailed(f"sliced input parameter {name!r} must be a list, got {str(text)[:100]!r}")
                if index >= len(value):
                    raise StepFailed(f"slice {index} of input parameter {name!r} is out of range (it has {len(value)} items)")
                params[name] = encode_value(value[index])
        for name in slices.input_artifact:
            art = arts.get(name)
            if art is None:
                continue
            items = self.catalog_of(art)
            item = next((c for c in items if c.get("index") == index), None)
            if item is None:
                item = items[index] if index < len(items) else None
            if item is None:
                raise StepFailed(f"sliced input artifact {name!r} has no item {index}")
            part = art
            if art.parts:
                part = next(p for p in art.parts if item in self.catalog_of(p))
            arts[name] = part.model_copy(update={"sub_path": item["path"], "catalog": None, "parts": None})

    async def run_fanout(self, step: StepSpec, tmpl: Any, scope: Scope, parent: StepRecord, path: str,
                         items: List[Any], kind: str) -> Outcome:
        group = self.node(path, step.name, step.name, "StepGroup" if kind == "steps" else "TaskGroup", tmpl.name, parent)
        group.phase = "Running"
        group.started_at = time.time()
        self.save(group)
        limit = step.parallelism or tmpl.parallelism
        sem = asyncio.Semaphore(limit) if limit else None
        sub_path_mode = getattr(getattr(tmpl, "python_op", None), "slices", None) is not None and tmpl.python_op.slices.sub_path

        async def child(i: int, item: Any) -> Outcome:
            display = f"{step.name}({i}:{_item_text(item)[:60]})"
            child_scope = scope.with_item(item)
            if sem is None:
                return await self.run_instance(step, tmpl, child_scope, group, f"{path}({i})", display, i if sub_path_mode else None)
            async with sem:
                return await self.run_instance(step, tmpl, child_scope, group, f"{path}({i})", display, i if sub_path_mode else None)

        try:
            results = await asyncio.gather(*(child(i, it) for i, it in enumerate(items)))
        except asyncio.CancelledError:
            self.close(group, "Failed", "terminated")
            raise
        ok = [r for r in results if r.phase == "Succeeded"]
        n = len(results)
        if step.continue_on_num_success is not None or step.continue_on_success_ratio is not None:
            need_n = step.continue_on_num_success if step.continue_on_num_success is not None else 0
            need_r = step.continue_on_success_ratio if step.continue_on_success_ratio is not None else 0.0
            success = len(ok) >= need_n and (n == 0 or len(ok) / n >= need_r)
        else:
            success = all(r.ok for r in results)
        params, arts = self.gather(tmpl, results, group)
        group.phase = "Succeeded" if success else "Failed"
        failed_count = sum(1 for r in results if not r.ok)
        group.message = None if success and not failed_count else f"{len(ok)}/{n} succeeded"
        group.finished_at = time.time()
        group.outputs_parameters = _records(params)
        group.outputs_artifacts = {k: v for k, v in arts.items() if v is not None}
        self.save(group)
        return Outcome(group.phase, params, arts, group.id, group.message)

    def gather(self, tmpl: Any, results: List[Outcome], group: StepRecord) -> Tuple[Dict[str, PV], Dict[str, Optional[StoredArtifact]]]:
        slices = getattr(getattr(tmpl, "python_op", None), "slices", None)
        sliced_params = set(slices.output_parameter) if slices else set()
        params: Dict[str, PV] = {}
        for p in tmpl.outputs_parameters:
            values: List[Any] = []
            for r in results:
                pv = r.params.get(p.name)
                if pv is None or pv[0] is None:
                    if p.name in sliced_params:
                        values.append(None)
                    continue
                v = decode_value(pv[0], pv[1])
                if p.name in sliced_params and isinstance(v, list):
                    values.extend(v)
                else:
                    values.append(v)
            params[p.name] = encode_value(values)
        arts: Dict[str, Optional[StoredArtifact]] = {}
        for a in tmpl.outputs_artifacts:
            parts = [r.arts[a.name] for r in results if r.arts.get(a.name) is not None]
            if parts:
                arts[a.name] = StoredArtifact(key=f"{self.workflow_id}/{group.id}/{a.name}", storage=self.storage_name,
                                              endpoint=self.storage_root if self.local_storage else None, parts=parts)
        return params, arts

    # ---------------------------------------------------------------- pods

    async def run_pod(self, tmpl: ScriptTemplateSpec, params: Dict[str, PV], arts: Dict[str, Optional[StoredArtifact]],
                      rec: StepRecord) -> Outcome:
        if tmpl.resource is not None:
            raise StepFailed(f"template {tmpl.name!r} is a Kubernetes resource step; the local backend cannot run it")
        sdir = rec.workdir
        assert sdir is not None
        if os.path.isdir(sdir):
            shutil.rmtree(sdir)
        for d in ("inputs/parameters", "inputs/artifacts", "outputs/parameters", "outputs/artifacts", "workdir"):
            os.makedirs(os.path.join(sdir, d), exist_ok=True)
        with open(os.path.join(sdir, "type"), "w") as f:
            f.write("Pod")
        for k, (text, _tp) in params.items():
            with open(os.path.join(sdir, "inputs", "parameters", k), "w") as f:
                f.write(text or "")
        retry = tmpl.retry
        limit = retry.limit if retry else 0
        attempt = 0
        log_path = os.path.join(sdir, "log.txt")
        async with self.slots:
            rec.phase = "Running"
            rec.started_at = time.time()
            self.save(rec)
            local_arts = self.place_inputs(tmpl, arts, sdir)
            while True:
                attempt += 1
                rec.attempts = attempt
                if attempt > 1:
                    self.save(rec)
                    _reset_outputs(sdir)
                    with open(log_path, "a") as f:
                        f.write(f"\n--- attempt {attempt} ---\n")
                if tmpl.python_op is not None:
                    job = self.python_child(tmpl, params, local_arts, sdir, rec)
                else:
                    job = self.script_child(tmpl, params, local_arts, sdir)
                code, timed_out = await self.pods.run(job, log_path, tmpl.timeout)
                if code == 0 and not timed_out:
                    break
                transient = (code == EXIT_TRANSIENT) or (timed_out and bool(retry and retry.timeout_as_transient))
                retryable = retry is not None and (retry.on == "always" or transient)
                if retryable and attempt <= limit:
                    continue
                if timed_out:
                    msg = f"timed out after {tmpl.timeout}s"
                elif code < 0:
                    msg = f"the step process was killed by signal {signal.Signals(-code).name}"
                else:
                    msg = _error_message(sdir, code)
                if attempt > 1:
                    msg += f" (after {attempt} attempts)"
                p, a = self.defaults(tmpl)
                return Outcome("Failed", p, a, message=msg)
        try:
            p, a = self.collect_outputs(tmpl, sdir)
        except StepFailed as e:
            return Outcome("Failed", message=str(e))
        return Outcome("Succeeded", p, a)

    def defaults(self, tmpl: Any) -> Tuple[Dict[str, PV], Dict[str, Optional[StoredArtifact]]]:
        return {p.name: (p.default, p.type) for p in tmpl.outputs_parameters if p.default is not None}, {}

    def place_inputs(self, tmpl: ScriptTemplateSpec, arts: Dict[str, Optional[StoredArtifact]], sdir: str) -> Dict[str, Optional[str]]:
        """Download input artifacts into ``inputs/artifacts/<name>``; return their local paths."""
        out: Dict[str, Optional[str]] = {}
        for a in tmpl.inputs_artifacts:
            art = arts.get(a.name)
            if art is None:
                out[a.name] = None
                continue
            target = os.path.join(sdir, "inputs", "artifacts", a.name)
            self.fetch(art, target)
            out[a.name] = target
        return out

    def fetch(self, art: StoredArtifact, target: str) -> None:
        """Materialize an artifact into the directory ``target`` (parts merged without overwriting)."""
        if art.parts:
            os.makedirs(target, exist_ok=True)
            for i, part in enumerate(art.parts):
                tmp = f"{target}.part{i}"
                self.fetch(part, tmp)
                merge_part(tmp, target, i)
                shutil.rmtree(tmp, ignore_errors=True)
            return
        sub = art.sub_path
        if art.storage == "local-path":
            src = art.local_path or art.key
            src = os.path.join(src, sub) if sub else src
            _copy_into(src, target, keep_name=True)
            if sub:
                write_catalog(target, [{"index": None, "key": None, "path": os.path.basename(sub)}])
            return
        if art.storage == "local" and (art.endpoint or self.local_storage):
            root = art.endpoint or self.storage_root
            src = os.path.join(root, art.key, sub) if sub else os.path.join(root, art.key)
            if not os.path.exists(src):
                raise StepFailed(f"artifact {art.key!r}{'/' + sub if sub else ''} is missing from local storage {root!r}")
            if sub:
                os.makedirs(target, exist_ok=True)
                dst = os.path.join(target, sub)
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                _copy_into(src, dst, keep_name=False)
                write_catalog(target, [{"index": None, "key": None, "path": sub}])
            else:
                _copy_into(src, target, keep_name=False)
            return
        client = self.client if art.storage in (None, self.storage_name, "custom") else _client_for_name(art.storage)
        if sub:
            os.makedirs(target, exist_ok=True)
            keys = client.list(f"{art.key}/{sub}", recursive=True)
            for k in keys:
                rel = k[len(art.key) + 1:]
                client.download(k, os.path.join(target, rel))
            write_catalog(target, [{"index": None, "key": None, "path": sub}])
        else:
            download_tree(client, art.key, target)

    def python_child(self, tmpl: ScriptTemplateSpec, params: Dict[str, PV], local_arts: Dict[str, Optional[str]], sdir: str,
                     rec: StepRecord) -> Any:
        op = tmpl.python_op
        assert op is not None
        slice_index = None
        inputs_p = {k: {"text": v[0], "type": v[1]} for k, v in params.items() if k != SLICE_PARAMETER}
        slices = op.slices
        if slices is not None and SLICE_PARAMETER in params:
            raw = params[SLICE_PARAMETER][0]
            try:
                slice_index = int(json.loads(raw)) if raw is not None else None
            except (ValueError, TypeError):
                raise StepFailed(f"slice index {raw!r} is not an integer") from None
        if rec.id in self.presliced:
            # the engine already cut the inputs to this slice: the runtime takes them as they are
            slice_index = self.presliced[rec.id]
            slices = slices.model_copy(update={"sub_path": True})
        packages = [p.local_path or p.key for p in op.python_packages]
        task = {
            "op": {"module": op.module, "qualname": op.qualname, "source": op.source, "source_file": op.source_file,
                   "op_kwargs": op.op_kwargs},
            "slices": slices.model_dump() if slices is not None else None,
            "slice_index": slice_index,
            "inputs": {"parameters": inputs_p, "artifacts": {k: {"path": v} for k, v in local_arts.items()}},
            "outputs_dir": os.path.join(sdir, "outputs"),
            "workdir": os.path.join(sdir, "workdir"),
            "progress_file": os.path.join(sdir, "progress"),
            "python_paths": [os.path.dirname(p.rstrip("/")) for p in packages],
            "step": {"name": rec.name, "key": rec.key, "workflow": self.workflow_id},
        }
        atomic_write(os.path.join(sdir, "script"), json.dumps(task, indent=1))
        return {"kind": "python", "task": task, "env": dict(tmpl.env)}

    def script_child(self, tmpl: ScriptTemplateSpec, params: Dict[str, PV], local_arts: Dict[str, Optional[str]], sdir: str) -> Any:
        workdir = os.path.join(sdir, "workdir")
        mapping: Dict[str, str] = {}
        for a in tmpl.inputs_artifacts:
            local = local_arts.get(a.name)
            if a.path and local:
                dst = _local_path(workdir, a.path)
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                single = _single_file(local)
                if single:
                    shutil.copy2(single, dst)
                else:
                    shutil.copytree(local, dst, dirs_exist_ok=True)
                mapping[a.path] = dst
        for p in tmpl.outputs_parameters:
            if p.value_from_path:
                mapping[p.value_from_path] = _local_path(workdir, p.value_from_path)
                os.makedirs(os.path.dirname(mapping[p.value_from_path]), exist_ok=True)
        for a in tmpl.outputs_artifacts:
            if a.path:
                mapping[a.path] = _local_path(workdir, a.path)
                os.makedirs(os.path.dirname(mapping[a.path]), exist_ok=True)
        scope = Scope(self, params, {})
        script = X.substitute(tmpl.script, lambda ref: _script_ref(scope, ref, local_arts, mapping, tmpl))
        for src in sorted(mapping, key=len, reverse=True):
            script = script.replace(src, mapping[src])
        script_path = os.path.join(sdir, "script")
        with open(script_path, "w") as f:
            f.write(script)
        atomic_write(os.path.join(sdir, "paths.json"), json.dumps(mapping))
        return {"kind": "exec", "command": list(tmpl.command) + [script_path], "cwd": workdir, "env": dict(tmpl.env)}

    def collect_outputs(self, tmpl: ScriptTemplateSpec, sdir: str) -> Tuple[Dict[str, PV], Dict[str, Optional[StoredArtifact]]]:
        params: Dict[str, PV] = {}
        arts: Dict[str, Optional[StoredArtifact]] = {}
        outdir = os.path.join(sdir, "outputs")
        if tmpl.python_op is not None:
            types = read_json(os.path.join(outdir, "parameters", ".types.json"), {}) or {}
            for p in tmpl.outputs_parameters:
                fp = os.path.join(outdir, "parameters", p.name)
                if os.path.exists(fp):
                    with open(fp) as f:
                        params[p.name] = (f.read(), types.get(p.name, p.type))
                elif p.default is not None:
                    params[p.name] = (p.default, p.type)
                else:
                    raise StepFailed(f"the OP did not write output parameter {p.name!r}")
            for a in tmpl.outputs_artifacts:
                d = os.path.join(outdir, "artifacts", a.name)
                if os.path.exists(d) and os.listdir(d):
                    arts[a.name] = self.artifact_record(d)
                elif not a.optional:
                    arts[a.name] = None
            return params, arts
        mapping = read_json(os.path.join(sdir, "paths.json"), {}) or {}
        for p in tmpl.outputs_parameters:
            fp = mapping.get(p.value_from_path or "")
            if fp and os.path.isfile(fp):
                with open(fp) as f:
                    text = f.read()
                if text.endswith("\n"):
                    text = text[:-1]
                params[p.name] = (text, p.type)
            elif p.default is not None:
                params[p.name] = (p.default, p.type)
            elif p.value is not None:
                params[p.name] = (p.value, p.type)
            else:
                raise StepFailed(f"output parameter {p.name!r}: the script did not write {p.value_from_path}")
        for a in tmpl.outputs_artifacts:
            src = mapping.get(a.path or "")
            if not src or not os.path.exists(src):
                if a.optional:
                    continue
                raise StepFailed(f"output artifact {a.name!r}: the script did not write {a.path}")
            d = os.path.join(outdir, "artifacts", a.name)
            os.makedirs(d, exist_ok=True)
            if os.path.isdir(src):
                shutil.copytree(src, d, dirs_exist_ok=True)
            else:
                base = os.path.basename(src)
                shutil.copy2(src, os.path.join(d, base))
                write_catalog(d, [{"index": None, "key": None, "path": base}])
            arts[a.name] = self.artifact_record(d)
        return params, arts


# ---------------------------------------------------------------- helpers


def _client_for_name(name: str) -> StorageClient:
    from dflow.artifact import get_storage_client

    return get_storage_client(name)


def _script_ref(scope: Scope, ref: str, local_arts: Dict[str, Optional[str]], mapping: Dict[str, str], tmpl: Any) -> str:
    parts = ref.split(".")
    if parts[:2] == ["inputs", "artifacts"] and len(parts) >= 3:
        decl = tmpl.input_artifact(parts[2])
        if decl is not None and decl.path in mapping:
            return mapping[decl.path]
        return local_arts.get(parts[2]) or ""
    if parts[:2] == ["inputs", "parameters"] and len(parts) == 3:
        return scope.params.get(parts[2], ("", None))[0] or ""
    value = scope.lookup(ref)
    return value if isinstance(value, str) else json.dumps(value)


def _local_path(workdir: str, declared: str) -> str:
    return os.path.join(workdir, declared.lstrip("/"))


def _single_file(directory: str) -> Optional[str]:
    """The one file an artifact directory holds (ignoring its catalog), if it holds exactly one."""
    found = None
    for root, dirs, files in os.walk(directory):
        if ".dflow" in dirs:
            dirs.remove(".dflow")
        for fn in files:
            if found is not None:
                return None
            found = os.path.join(root, fn)
        if dirs and found is None and len(dirs) > 1:
            return None
    return found


def _copy_into(src: str, dst: str, keep_name: bool) -> None:
    if os.path.isdir(src):
        shutil.copytree(src, dst, dirs_exist_ok=True)
    else:
        if keep_name:
            os.makedirs(dst, exist_ok=True)
            shutil.copy2(src, os.path.join(dst, os.path.basename(src)))
        else:
            os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
            shutil.copy2(src, dst)


def _reset_outputs(sdir: str) -> None:
    out = os.path.join(sdir, "outputs")
    shutil.rmtree(out, ignore_errors=True)
    for d in ("parameters", "artifacts"):
        os.makedirs(os.path.join(out, d), exist_ok=True)
    err = os.path.join(sdir, "error.json")
    if os.path.exists(err):
        os.unlink(err)


def _error_message(sdir: str, code: int) -> str:
    err = read_json(os.path.join(sdir, "error.json"))
    if err:
        return f"{err.get('type', 'Error')}: {err.get('message', '')}"
    return f"the step exited with code {code}; see {os.path.join(sdir, 'log.txt')}"


def _write_phase_files(rec: StepRecord) -> None:
    assert rec.workdir is not None
    try:
        with open(os.path.join(rec.workdir, "phase"), "w") as f:
            f.write(rec.phase)
    except OSError:
        pass
