"""``ArgoBackend``: runs a WorkflowSpec on Argo Workflows (``config["mode"] = "default"`` or ``"argo"``).

``render`` is offline. Everything else talks to Argo Server's REST API through
:class:`~dflow_argo.client.ArgoClient`, configured by ``config["host"]``,
``config["token"]``, ``config["namespace"]`` and ``config["verify_ssl"]``.
"""

from __future__ import annotations

import calendar
import os
import re
import tempfile
import time
from typing import Any, Dict, List, Optional, Set, Tuple

from dflow.backend import Backend, ParameterValue, ReusedStep, StepRecord, WorkflowRecord
from dflow.contract import KEY_PARAMETER, PART_PREFIX, RESERVED_PARAMETERS, STACK_PREFIX, decode_value, encode_value
from dflow.errors import BackendError, ValidationError
from dflow.settings import config, s3_config
from dflow.spec import StoredArtifact, WorkflowSpec

from .client import ArgoClient
from .manifest import SPEC_ANNOTATION, WRAPPER_ANNOTATION, ManifestCompiler, decode_spec_annotation
from .package import Upload, make_tarball
from .superops import CUT_STEP, PLUMBING_ANNOTATION, RUN_STEP, SLICE_WRAPPER_ANNOTATION, STANDS_FOR_ANNOTATION
from .util import (
    COUNT_TEMPLATE,
    GATHER_TEMPLATE,
    INSTANCE_TEMPLATE,
    REUSE_WRAPPER_ANNOTATION,
    REUSED_TEMPLATE_ANNOTATION,
    SAVED_PREFIX,
)

# Kubernetes' label names (an optional DNS-subdomain prefix and "/", then 1-63 characters) and values
_LABEL_NAME = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                         r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")

__all__ = ["ArgoBackend", "nodes_to_records"]

# artifact location kinds of Argo (the field that holds an artifact's location)
_LOCATION_KINDS = ("s3", "oss", "gcs", "azure", "hdfs", "http", "git", "artifactory", "raw")
_LOOP_CHILD = re.compile(r"^(.+)\((\d+):(.*)\)$")
# how Argo (and Kubernetes) say a pod outlived its template's activeDeadlineSeconds
_DEADLINE = re.compile(r"deadline", re.I)


def _ts(text: Optional[str]) -> Optional[float]:
    if not text:
        return None
    try:
        return float(calendar.timegm(time.strptime(text.replace("Z", "")[:19], "%Y-%m-%dT%H:%M:%S")))
    except ValueError:
        return None


class ArgoBackend(Backend):
    """Argo Workflows through Argo Server. Construction never touches the network."""

    name = "argo"
    records_writer_types = False  # Argo carries a parameter's text only: the records hold declared types

    def __init__(
        self,
        host: Optional[str] = None,
        token: Optional[str] = None,
        namespace: Optional[str] = None,
        verify_ssl: Optional[bool] = None,
    ) -> None:
        self._host, self._token, self._namespace, self._verify = host, token, namespace, verify_ssl
        self._client: Optional[ArgoClient] = None
        self._specs: Dict[str, WorkflowSpec] = {}

    @property
    def client(self) -> ArgoClient:
        if self._client is None:
            self._client = ArgoClient(
                host=self._host or config.get("host"),
                token=self._token if self._token is not None else config.get("token"),
                namespace=self._namespace or config.get("namespace") or "argo",
                verify_ssl=bool(config.get("verify_ssl", True)) if self._verify is None else self._verify,
                headers=config.get("http_headers") or None,
            )
        return self._client

    # ---------------------------------------------------------------- offline

    def compiler(self, spec: WorkflowSpec, reuse: Optional[List[ReusedStep]] = None) -> ManifestCompiler:
        options = {k: config.get(k) for k in ("util_image", "util_image_pull_policy", "workflow_annotations")}
        options["namespace"] = self._namespace or config.get("namespace")
        return ManifestCompiler(spec, reuse=reuse, options=options, key_prefix=s3_config.get("repo_prefix") or "")

    def render(self, spec: WorkflowSpec) -> Dict[str, Any]:
        """The Argo Workflow manifest of ``spec``: nothing uploaded, no server contacted."""
        return self.compiler(spec).render()

    # ---------------------------------------------------------------- submission

    def submit(self, spec: WorkflowSpec, *, reuse: Optional[List[ReusedStep]] = None, detach: bool = False) -> str:
        """Upload the code the pods need, then create the workflow; returns its name (the id).

        Argo runs workflows on its own, so ``detach`` changes nothing: use ``wait``.
        """
        comp = self.compiler(spec, reuse)
        manifest = comp.render()
        self.upload(list(comp.uploads.values()))
        created = self.client.create(manifest)
        name = (created.get("metadata") or {}).get("name")
        if not name:
            raise BackendError(
                f"Argo Server accepted workflow {spec.name!r} but returned no metadata.name: {str(created)[:300]}"
            )
        self._specs[name] = spec
        return name

    def upload(self, uploads: List[Upload]) -> None:
        """Put packages and local artifacts at their keys, skipping those already there (keys are content digests)."""
        if not uploads:
            return
        from dflow.artifact import get_storage_client

        client = get_storage_client()
        for up in uploads:
            try:
                if client.list(up.key):
                    continue
            except Exception:  # noqa: BLE001 - a store without listing: upload again
                pass
            if up.kind == "local-artifact":
                client.upload(up.key, up.local_path)
                continue
            if up.kind == "merged-artifact":  # a list given as one artifact, with uploads in the store among it
                self._upload_merged(client, up)
                continue
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, os.path.basename(up.key))
                with open(path, "wb") as f:
                    f.write(make_tarball(up.local_path))
                client.upload(up.key, path)

    @staticmethod
    def _upload_merged(client: Any, up: Upload) -> None:
        import json
        import shutil

        from dflow.artifact import get_storage_client
        from dflow.spec import ArtifactArgument

        from .locations import merge_items

        payload = json.loads(up.local_path)
        merged = merge_items(ArtifactArgument.model_validate(payload["arg"]), payload["name"],
                             lambda storage: client if storage in (None, "custom") else get_storage_client(storage))
        try:
            client.upload(up.key, merged)
        finally:
            shutil.rmtree(merged, ignore_errors=True)

    # ---------------------------------------------------------------- queries

    def _workflow(self, workflow_id: str) -> Dict[str, Any]:
        return self.client.get(workflow_id)

    def get_workflow(self, workflow_id: str) -> WorkflowRecord:
        return workflow_record(self._workflow(workflow_id), self.client.host)

    def get_spec(self, workflow_id: str) -> WorkflowSpec:
        if workflow_id in self._specs:
            return self._specs[workflow_id]
        wf = self._workflow(workflow_id)
        packed = ((wf.get("metadata") or {}).get("annotations") or {}).get(SPEC_ANNOTATION)
        if not packed:
            raise BackendError(
                f"workflow {workflow_id!r} carries no dflow spec (annotation {SPEC_ANNOTATION}); it was not "
                "submitted by dflow, or its spec was too large to store"
            )
        spec = decode_spec_annotation(packed)
        self._specs[workflow_id] = spec
        return spec

    def spec_of(self, manifest: Dict[str, Any]) -> WorkflowSpec:
        if not isinstance(manifest, dict) or manifest.get("kind") != "Workflow":
            raise ValidationError("Workflow.from_dict takes an Argo Workflow manifest (a dict with kind: Workflow), "
                                  f"got {type(manifest).__name__}" + (f" of kind {manifest.get('kind')!r}"
                                                                     if isinstance(manifest, dict) else ""))
        packed = ((manifest.get("metadata") or {}).get("annotations") or {}).get(SPEC_ANNOTATION)
        if not packed:
            name = (manifest.get("metadata") or {}).get("name") or (manifest.get("metadata") or {}).get("generateName")
            raise ValidationError(
                f"the manifest of workflow {name!r} carries no dflow spec (annotation {SPEC_ANNOTATION}): it was not "
                "rendered by this project's wf.to_dict()/to_yaml()/`dflow render`, or its spec was too large to store; "
                "build the workflow from its Python code instead")
        return decode_spec_annotation(packed)

    def list_steps(self, workflow_id: str) -> List[StepRecord]:
        wf = self._workflow(workflow_id)
        spec = None
        packed = ((wf.get("metadata") or {}).get("annotations") or {}).get(SPEC_ANNOTATION)
        if packed:
            spec = decode_spec_annotation(packed)
        return nodes_to_records(wf, spec)

    def list_workflows(self) -> List[WorkflowRecord]:
        return self._records(self.client.list())

    def list_labelled_workflows(self, labels: Dict[str, str]) -> List[WorkflowRecord]:
        """Argo Server filters them (``listOptions.labelSelector``, as dflow's ``query_workflows``). A
        label a selector cannot state (not a Kubernetes label name or value) is matched on the listing
        instead, as the server would refuse the selector."""
        if not all(_LABEL_NAME.match(k) and _LABEL_VALUE.match(v) for k, v in labels.items()):
            return super().list_labelled_workflows(labels)
        return self._records(self.client.list(",".join(f"{k}={v}" for k, v in sorted(labels.items()))))

    def _records(self, items: List[Dict[str, Any]]) -> List[WorkflowRecord]:
        records = [workflow_record(w, self.client.host) for w in items]
        records.sort(key=lambda r: r.created_at or 0, reverse=True)
        return records

    def logs(self, workflow_id: str, step_id: str) -> str:
        wf = self._workflow(workflow_id)
        for n in ((wf.get("status") or {}).get("nodes") or {}).values():
            if step_id in (n.get("id"), n.get("displayName"), n.get("name")):
                if n.get("type") != "Pod":
                    raise ValidationError(f"step {step_id!r} is a {n.get('type')} node; only Pod steps have logs")
                return self.client.logs(workflow_id, _pod_name(wf, n))
        raise ValidationError(f"workflow {workflow_id!r} has no step {step_id!r} (give a node id or display name)")

    # ---------------------------------------------------------------- control

    def terminate(self, workflow_id: str) -> None:
        self.client.terminate(workflow_id)

    def resume(self, workflow_id: str, detach: bool = False) -> None:
        """A suspended workflow goes on (Argo's resume); a finished one runs its failed steps again, keeping
        the succeeded ones (Argo's retry)."""
        wf = self._workflow(workflow_id)
        if (wf.get("spec") or {}).get("suspend") and (wf.get("status") or {}).get("phase") in ("Running", "Pending"):
            self.client.resume(workflow_id)
        else:
            self.client.retry(workflow_id)

    def stop(self, workflow_id: str) -> None:
        self.client.stop(workflow_id)

    def suspend(self, workflow_id: str) -> None:
        self.client.suspend(workflow_id)

    def resubmit(self, workflow_id: str) -> str:
        """A new run of the same workflow; returns the new id."""
        return (self.client.resubmit(workflow_id).get("metadata") or {}).get("name", "")

    def delete(self, workflow_id: str) -> None:
        self.client.delete(workflow_id)


# ---------------------------------------------------------------- status -> records


def workflow_record(wf: Dict[str, Any], host: Optional[str] = None) -> WorkflowRecord:
    meta = wf.get("metadata") or {}
    status = wf.get("status") or {}
    name = meta.get("name", "")
    base = (meta.get("generateName") or "").rstrip("-") or name
    location = f"{host}/workflows/{meta.get('namespace', '')}/{name}" if host else None
    return WorkflowRecord(
        id=name,
        name=base,
        phase=status.get("phase") or "Pending",
        message=status.get("message"),
        created_at=_ts(meta.get("creationTimestamp")),
        started_at=_ts(status.get("startedAt")),
        finished_at=_ts(status.get("finishedAt")),
        backend="argo",
        location=location,
        progress=status.get("progress"),
        labels={str(k): str(v) for k, v in (meta.get("labels") or {}).items()},
    )


def _pod_name(wf: Dict[str, Any], node: Dict[str, Any]) -> str:
    """Argo's (v2) pod name of a node: ``<workflow>-<template>-<node id suffix>``."""
    wf_name = (wf.get("metadata") or {}).get("name", "")
    template = node.get("templateName")
    nid = node.get("id", "")
    if not template or wf_name == nid:
        return nid
    return f"{wf_name}-{template}-{nid.rsplit('-', 1)[-1]}"


def _types(
    spec: Optional[WorkflowSpec],
) -> Tuple[Dict[str, Dict[str, Optional[str]]], Dict[str, Dict[str, Optional[str]]], Dict[str, Any]]:
    """Declared parameter types per template, and the gathered outputs of each fan-out step's template."""
    ins: Dict[str, Dict[str, Optional[str]]] = {}
    outs: Dict[str, Dict[str, Optional[str]]] = {}
    gathered: Dict[str, Any] = {}
    for t in spec.templates if spec is not None else []:
        ins[t.name] = {p.name: p.type for p in t.inputs_parameters}
        outs[t.name] = {p.name: p.type for p in t.outputs_parameters}
        for s in t.all_steps():
            if s.fanout is not None:
                gathered[s.template] = s.fanout
    return ins, outs, gathered


def _params(items: List[Dict[str, Any]], types: Dict[str, Optional[str]]) -> Dict[str, ParameterValue]:
    out = {}
    for p in items or []:
        if p.get("name") in RESERVED_PARAMETERS:
            continue
        out[p["name"]] = ParameterValue(text=p.get("value"), type=types.get(p["name"]))
    return out


def _artifacts(items: List[Dict[str, Any]]) -> Dict[str, StoredArtifact]:
    """The artifacts of a node, as stored artifacts of the configured store (by their keys)."""
    out = {}
    for a in items or []:
        if a.get("name") in ("main-logs", "dflow-pkg") or str(a.get("name")).startswith(SAVED_PREFIX):
            continue
        loc = next((a[k] for k in _LOCATION_KINDS if isinstance(a.get(k), dict)), None)
        key = (loc or {}).get("key") or (loc or {}).get("blob")
        if not key:
            continue
        out[a["name"]] = StoredArtifact(key=key, bucket=(loc or {}).get("bucket"))
    return out


def nodes_to_records(wf: Dict[str, Any], spec: Optional[WorkflowSpec] = None) -> List[StepRecord]:
    """``status.nodes`` of an Argo Workflow object as dflow step records, in start order.

    A Retry node stands for its step (type ``Pod``, ``attempts`` = its pods); the attempt pods
    become type ``Retry``. Fan-out children of a Steps group get a synthetic ``StepGroup``
    record named after the step, whose outputs gather the children's (slices flattened), as
    the local engine records them.
    """
    nodes: Dict[str, Dict[str, Any]] = (wf.get("status") or {}).get("nodes") or {}
    nodes = _unwrap_reuse(nodes, {
        t["name"] for t in (wf.get("spec") or {}).get("templates") or []
        if REUSE_WRAPPER_ANNOTATION in ((t.get("metadata") or {}).get("annotations") or {})})
    in_types, out_types, slices = _types(spec)
    # a reuse template hands back the outputs of the template it stands for: read them with its types;
    # a template the compiler made in place of another (a sliced super-OP's) is recorded as that one
    stands_for: Dict[str, str] = {}
    reused_of: Dict[str, str] = {}  # reuse template -> the template of the step it hands back
    plumbing_templates = {INSTANCE_TEMPLATE, GATHER_TEMPLATE, COUNT_TEMPLATE}
    slice_wrappers: Set[str] = set()
    for t in (wf.get("spec") or {}).get("templates") or []:
        notes = (t.get("metadata") or {}).get("annotations") or {}
        of = notes.get(REUSED_TEMPLATE_ANNOTATION)
        if of:
            in_types[t["name"]], out_types[t["name"]] = in_types.get(of, {}), out_types.get(of, {})
            reused_of[t["name"]] = of
        if notes.get(STANDS_FOR_ANNOTATION) or notes.get(REUSE_WRAPPER_ANNOTATION):
            stands_for[t["name"]] = notes.get(STANDS_FOR_ANNOTATION) or notes[REUSE_WRAPPER_ANNOTATION]
        if notes.get(PLUMBING_ANNOTATION):
            plumbing_templates.add(t["name"])
        if notes.get(SLICE_WRAPPER_ANNOTATION):
            slice_wrappers.add(t["name"])
    parent_of: Dict[str, str] = {}
    for nid, n in nodes.items():
        for c in n.get("children") or []:
            parent_of.setdefault(c, nid)
    deadlines = {
        t.get("name"): t.get("activeDeadlineSeconds")
        for t in (wf.get("spec") or {}).get("templates") or []
        if t.get("activeDeadlineSeconds") is not None
    }
    # a step skipped by its ``when`` has the declared defaults of its outputs, as on the local backend
    kinds = {t.name: {"script": "Pod", "steps": "Steps", "dag": "DAG"}.get(t.kind, "Pod")
             for t in (spec.templates if spec is not None else [])}
    defaults = {t.name: {p.name: ParameterValue(text=p.default, type=p.type) for p in t.outputs_parameters
                         if p.default is not None} for t in (spec.templates if spec is not None else [])}
    records: Dict[str, StepRecord] = {}
    for nid, n in nodes.items():
        template = n.get("templateName")
        template = stands_for.get(template or "", template)
        ntype = n.get("type", "Pod")
        message = n.get("message")
        parent = parent_of.get(nid)
        if template in reused_of:  # a reused step: recorded as the local engine records it
            ntype, message = kinds.get(reused_of[template], "Pod"), "reused"
        elif ntype == "Retry":
            ntype = "Pod"
        elif ntype == "Pod" and parent is not None and nodes.get(parent, {}).get("type") == "Retry":
            ntype = "Retry"
        display = n.get("displayName") or n.get("name") or nid
        m = _LOOP_CHILD.match(display)
        step_name = m.group(1) if m else display
        inputs = (n.get("inputs") or {}).get("parameters") or []
        cut = _cut_of(nodes, n) if n.get("templateName") in slice_wrappers else {}
        if cut:  # an instance of a sliced super-OP got its slice of the inputs from its cutting pod
            inputs = [cut.get(p.get("name"), p) for p in inputs]
        key = next((p.get("value") for p in inputs if p.get("name") == KEY_PARAMETER and p.get("value")), None)
        outputs = n.get("outputs") or {}
        progress = n.get("progress")
        if n.get("type") == "Retry" and n.get("children"):
            # the Retry node says why retrying stopped; the step's own story is its last attempt's
            last = nodes.get(n["children"][-1]) or {}
            message = last.get("message") or message
            progress = last.get("progress") or progress
        if message and template in deadlines and _DEADLINE.search(message) and n.get("phase") in ("Failed", "Error"):
            message = f"timed out after {deadlines[template]}s ({message})"
        records[nid] = StepRecord(
            id=nid,
            name=step_name,
            display_name=display,
            template=template,
            type=ntype,
            phase=n.get("phase") or "Pending",
            key=key,
            parent=parent,
            children=list(n.get("children") or []),
            started_at=_ts(n.get("startedAt")),
            finished_at=_ts(n.get("finishedAt")),
            message=message,
            attempts=len(n.get("children") or []) if n.get("type") == "Retry" else (1 if ntype == "Pod" else 0),
            progress=progress,
            inputs_parameters=_params(inputs, in_types.get(template or "", {})),
            inputs_artifacts=_artifacts((n.get("inputs") or {}).get("artifacts") or []),
            outputs_parameters=(_params(outputs.get("parameters") or [], out_types.get(template or "", {}))
                                or (dict(defaults.get(template or "", {})) if ntype == "Skipped" else {})),
            outputs_artifacts=_artifacts(outputs.get("artifacts") or []),
        )
    # synthetic groups for fan-outs inside Steps (a DAG has TaskGroup nodes of its own)
    for nid, n in list(nodes.items()):
        if n.get("type") not in ("StepGroup", "TaskGroup"):
            continue
        by_step: Dict[str, List[StepRecord]] = {}
        for c in n.get("children") or []:
            r = records.get(c)
            if r is not None and _LOOP_CHILD.match(r.display_name):
                by_step.setdefault(r.name, []).append(r)
        for step_name, children in by_step.items():
            children.sort(key=lambda r: int(_LOOP_CHILD.match(r.display_name).group(2)))  # type: ignore[union-attr]
            if n.get("type") == "TaskGroup":
                group = records[nid]
                group.name = group.display_name = step_name
            else:
                gid = f"{nid}/{step_name}"
                group = StepRecord(
                    id=gid,
                    name=step_name,
                    display_name=step_name,
                    template=children[0].template,
                    type="StepGroup",
                    phase="Pending",
                    parent=nid,
                    children=[c.id for c in children],
                )
                records[gid] = group
                for c in children:
                    c.parent = gid
            phases = {c.phase for c in children}
            if phases & {"Pending", "Running"}:
                group.phase = "Running"
            elif phases <= {"Succeeded", "Skipped", "Omitted"}:
                group.phase = "Succeeded"
            elif group.phase in ("Pending", "Running") or n.get("type") == "StepGroup":
                group.phase = n.get("phase") or "Failed"
            group.started_at = min((c.started_at for c in children if c.started_at), default=None)
            group.finished_at = max((c.finished_at for c in children if c.finished_at), default=None)
            fan = slices.get(children[0].template or "")
            if fan is not None and fan.group_size:
                for c in children:  # a pod of a group of slices wrote the list of its slices' values
                    for name in fan.gather_parameters:
                        pv = c.outputs_parameters.get(name)
                        if pv is not None and pv.text is not None:
                            c.outputs_parameters[name] = ParameterValue(text=pv.text, type="list")
            group.outputs_parameters = _gather(children, fan)
            # the slices' parts of a gathered artifact lie under one prefix (the manifest's dflow_group_key)
            for name in {k for c in children for k in c.outputs_artifacts}:
                prefixes = {c.outputs_artifacts[name].key.rsplit("/", 1)[0] for c in children
                            if name in c.outputs_artifacts and
                            c.outputs_artifacts[name].key.rsplit("/", 1)[-1].startswith((PART_PREFIX, STACK_PREFIX))}
                if len(prefixes) == 1:
                    group.outputs_artifacts[name] = StoredArtifact(key=prefixes.pop())
    # a wrapper the manifest added around a step (parallelism) is not a step of its own
    wrappers = {
        t.get("name")
        for t in (wf.get("spec") or {}).get("templates") or []
        if WRAPPER_ANNOTATION in ((t.get("metadata") or {}).get("annotations") or {})
    }
    kids: Dict[Optional[str], List[StepRecord]] = {}
    for r in records.values():
        kids.setdefault(r.parent, []).append(r)
    for rid, r in list(records.items()):
        # the node of a slice wrapper's step that runs the instance: the wrapper's node is the instance
        wrapper = nodes.get(parent_of.get(r.parent or "", "")) or {}
        in_wrapper = r.name == RUN_STEP and wrapper.get("templateName") in slice_wrappers
        if in_wrapper or (r.template in wrappers and r.type in ("Steps", "DAG")):
            moved = kids.pop(rid, [])
            for other in moved:
                other.parent = r.parent
            kids.setdefault(r.parent, []).extend(moved)
            del records[rid]
    # nor are the pods the manifest adds as plumbing (naming an instance's storage prefix or a gathered
    # artifact's, counting slices), once they succeeded: one that failed stays, to say why the run failed
    keys = {rid for rid, r in records.items()
            if r.template in plumbing_templates and r.phase in ("Succeeded", "Skipped")}
    for rid in keys:
        del records[rid]
    for r in records.values():
        if keys & set(r.children):
            r.children = [c for c in r.children if c not in keys]
    ordered = sorted(records.values(), key=lambda r: (r.started_at or float("inf"), r.id))
    return ordered


def _unwrap_reuse(nodes: Dict[str, Dict[str, Any]], wrappers: Set[str]) -> Dict[str, Dict[str, Any]]:
    """The nodes with each reuse-or-run wrapper (a step whose key is rendered at run time, see
    ``ContainerTemplates._reuse_or_run``) replaced by the branch it took: the reused step's pod, or the
    step's own node, under the step's name. A wrapper that took no branch yet (or was skipped) stays."""
    if not wrappers:
        return nodes
    out = dict(nodes)
    parent_of = {c: pid for pid, p in nodes.items() for c in p.get("children") or []}
    for nid, n in nodes.items():
        if n.get("templateName") not in wrappers:
            continue
        groups = [g for g in n.get("children") or [] if g in nodes]
        branches = [c for g in groups for c in nodes[g].get("children") or [] if c in nodes]
        taken = [c for c in branches if nodes[c].get("phase") not in ("Skipped", "Omitted")]
        if len(taken) != 1:
            continue
        out[taken[0]] = {**nodes[taken[0]], "name": n.get("name"), "displayName": n.get("displayName")}
        for gone in [nid] + groups + [c for c in branches if c != taken[0]]:
            out.pop(gone, None)
        pid = parent_of.get(nid)
        if pid in out:
            out[pid] = {**out[pid], "children": [taken[0] if c == nid else c for c in out[pid].get("children") or []]}
            parent_of[taken[0]] = pid
    return out


def _cut_of(nodes: Dict[str, Dict[str, Any]], n: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    """The output parameters, by name, of the pod that cut the inputs of ``n``'s instance of a sliced
    super-OP (``dflow-cut``, the first step of its wrapper); empty for any other node."""
    for group in n.get("children") or []:
        for c in (nodes.get(group) or {}).get("children") or []:
            node = nodes.get(c) or {}
            if node.get("displayName") == CUT_STEP:
                return {p.get("name"): p for p in ((node.get("outputs") or {}).get("parameters") or [])}
        break  # the cutting pod runs first, or not at all
    return {}


def _gather(children: List[StepRecord], fanout: Any) -> Dict[str, ParameterValue]:
    """A fan-out's outputs: each parameter as the list of its pods' values (gathered slices concatenated)."""
    sliced = set(fanout.gather_parameters) if fanout is not None else set()
    grouped = bool(fanout is not None and fanout.group_size)
    names: List[str] = []
    for c in children:
        names += [k for k in c.outputs_parameters if k not in names]
    out = {}
    for name in names:
        values: List[Any] = []
        for c in children:
            pv = c.outputs_parameters.get(name)
            if pv is None or pv.text is None:
                continue
            v = decode_value(pv.text, None if name in sliced else pv.type)
            if name in sliced and grouped and isinstance(v, list):
                values.extend(v)
            else:
                values.append(v)
        text, tp = encode_value(values)
        out[name] = ParameterValue(text=text, type=tp)
    return out
