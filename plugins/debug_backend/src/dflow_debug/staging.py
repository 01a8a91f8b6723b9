"""Pod staging: a step's directory made ready to run, and its outputs taken back.

Before an attempt the stager fetches the input artifacts into
``<step dir>/inputs/artifacts/<name>``, writes the input parameters, and prepares what
runs: the step runtime's task for a Python OP, the script with its declared ``/tmp/...``
paths mapped into the step directory for a shell or script template. The result is a
:class:`dflow.launcher.PreparedStep` that any launcher can run. After the attempt it
reads the output parameters and stores the output artifacts.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from typing import Any, Dict, List, Optional, Tuple

from dflow import expressions as X
from dflow.artifact import get_storage_client, place_stored, upload_tree
from dflow.contract import (
    CATALOG_DIR,
    PYTHON_OP_SCRIPT,
    PYTHON_PACKAGES_ARTIFACT,
    SLICE_PARAMETER,
    TASK_ENV,
    as_file,
    key_part,
    keyed_items,
    mark_file,
    merge_part,
    read_catalog,
)
from dflow.contract import slice_index as contract_slice_index
from dflow.launcher import PreparedStep
from dflow.linking import link_or_copy, linker_within, place
from dflow.spec import ScriptTemplateSpec, StoredArtifact
from dflow.storage import StorageClient, local_path_of

from .refs import PV, Scope, StepFailed
from .state import atomic_write, read_json

__all__ = ["Stager", "runtime_root"]


def runtime_root() -> str:
    """The directory that holds core's ``dflow`` package (what a Python OP's script imports)."""
    import dflow

    return os.path.dirname(os.path.dirname(os.path.abspath(dflow.__file__)))


def user_paths() -> List[str]:
    """The submitting process's import path without this interpreter's own library folders.

    A Python OP whose command an executor changed runs in a new interpreter: it finds the
    OP's module where the submitting process found it (the script's folder, a project's
    source folder), as a step forked by the fork server does, but not this interpreter's
    standard library or site-packages, which could belong to another Python version.
    """
    import sysconfig

    own = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix) if p}
    own |= {os.path.realpath(p) for p in sysconfig.get_paths().values() if p}
    out = []
    for p in sys.path:
        real = os.path.realpath(p or os.getcwd())
        if any(real == o or real.startswith(o + os.sep) for o in own) or not os.path.isdir(real):
            continue
        if real not in out:
            out.append(real)
    return out


class Stager:
    """Fetches inputs, prepares attempts and collects outputs for one run."""

    def __init__(self, wfdir: str, workflow_id: str, client: StorageClient, storage_name: str,
                 copy_method: str = "copy") -> None:
        self.wfdir = wfdir
        self.copy_method = copy_method  # how a step gets the files of its inputs (dflow.linking)
        self.workflow_id = workflow_id
        self.client = client
        self.storage_name = storage_name
        self._catalogs: Dict[Tuple[Optional[str], str], List[Dict[str, Any]]] = {}

    # ---------------------------------------------------------------- storage

    def client_for(self, art: StoredArtifact) -> StorageClient:
        if art.storage in (None, self.storage_name, "custom"):
            return self.client
        return get_storage_client(art.storage)

    def store(self, directory: str) -> StoredArtifact:
        """Store an output directory as an artifact: in place when the store is this machine's disk.

        Its key is ``<workflow id>/<path below the workflow directory>``; a store rooted at
        the local engine's work directory already holds it there, so nothing is copied.
        """
        key = f"{self.workflow_id}/{os.path.relpath(directory, self.wfdir)}".replace(os.sep, "/")
        local = local_path_of(self.client, key)
        if local is not None and os.path.realpath(local) == os.path.realpath(directory):
            return StoredArtifact(key=key, storage=self.storage_name, local_path=directory)
        upload_tree(self.client, key, directory)
        # later steps read it back from the store, as they would on a cluster
        return StoredArtifact(key=key, storage=self.storage_name)

    def raw_file(self, text: str, name: str) -> StoredArtifact:
        """A file named ``name`` holding ``text`` (a raw artifact), in the run's directory, as a local artifact."""
        import hashlib

        path = os.path.join(self.wfdir, "raw", hashlib.sha1(text.encode()).hexdigest()[:16], name)
        if not os.path.isfile(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            atomic_write(path, text)
        return StoredArtifact(key=path, local_path=path)

    def catalog_of(self, art: StoredArtifact) -> List[Dict[str, Any]]:
        if art.parts is not None:
            items: List[Dict[str, Any]] = []
            for i, part in enumerate(art.parts):
                found = self.catalog_of(part)
                items.extend(keyed_items(found or None, art.part_keys[i]) if art.part_keys else found)
            return items
        if art.catalog is not None:
            return list(art.catalog)
        if art.local_path and os.path.exists(art.local_path):
            return read_catalog(art.local_path) or []
        cache_key = (art.storage, art.key)
        if cache_key not in self._catalogs:  # read once per key
            import tempfile

            client = self.client_for(art)
            with tempfile.TemporaryDirectory(prefix="dflow-catalog-") as tmp:
                for k in client.list(f"{art.key}/{CATALOG_DIR}/", recursive=True):
                    client.download(k, os.path.join(tmp, CATALOG_DIR, k.rsplit("/", 1)[-1]))
                self._catalogs[cache_key] = read_catalog(tmp) or []
        return self._catalogs[cache_key]

    def fetch(self, art: StoredArtifact, target: str) -> None:
        """Materialize an artifact into the directory ``target`` (parts merged without overwriting)."""
        if art.parts is not None:
            os.makedirs(target, exist_ok=True)
            for i, part in enumerate(art.parts):
                tmp = f"{target}.part{i}"
                self.fetch(part, tmp)
                if art.part_keys:
                    key_part(tmp, art.part_keys[i])
                merge_part(tmp, target, i, stacked=art.stacked)
                shutil.rmtree(tmp, ignore_errors=True)
            return
        place_stored(art, target, lambda: self.client_for(art), StepFailed, self.copy_method)

    # ---------------------------------------------------------------- before an attempt

    def make_dirs(self, sdir: str, params: Dict[str, PV]) -> None:
        if os.path.isdir(sdir):
            shutil.rmtree(sdir)
        os.makedirs(os.path.dirname(sdir), exist_ok=True)
        for d in ("", "inputs", "inputs/parameters", "inputs/artifacts", "outputs", "outputs/parameters",
                  "outputs/artifacts", "workdir"):
            os.mkdir(os.path.join(sdir, d))  # in order: one system call each (makedirs stats every level)
        with open(os.path.join(sdir, "type"), "w") as f:
            f.write("Pod")
        for k, (text, _tp) in params.items():
            with open(os.path.join(sdir, "inputs", "parameters", k), "w") as f:
                f.write(text or "")

    def place_inputs(self, tmpl: ScriptTemplateSpec, arts: Dict[str, Optional[StoredArtifact]], sdir: str) -> Dict[str, Optional[str]]:
        """Fetch input artifacts into ``inputs/artifacts/<name>``; return their local paths."""
        out: Dict[str, Optional[str]] = {}
        for a in tmpl.inputs_artifacts:
            art = arts.get(a.name)
            if art is None:
                out[a.name] = None
                continue
            target = os.path.join(sdir, "inputs", "artifacts", a.name)
            self.fetch(art, target)
            as_file(target)  # an artifact that is one file: that file, named after the input, as in a pod
            out[a.name] = target
        return out

    def prepare(self, tmpl: ScriptTemplateSpec, params: Dict[str, PV], arts: Dict[str, Optional[StoredArtifact]],
                local_arts: Dict[str, Optional[str]], sdir: str, rec: Any, scope: Scope, presliced: Optional[int],
                attempt: int) -> PreparedStep:
        """The attempt as a prepared step (see :mod:`dflow.launcher`)."""
        common = dict(root=sdir, log_path=os.path.join(sdir, "log.txt"), timeout=tmpl.timeout,
                      executor=tmpl.executor.model_dump() if tmpl.executor is not None else None,
                      workflow_id=self.workflow_id, node_id=rec.id, name=rec.name, key=rec.key, attempt=attempt)
        workdir = os.path.join(sdir, "workdir")
        if tmpl.python_op is not None:
            task = self.python_task(tmpl, params, local_arts, sdir, rec, presliced)
            # the attempt's own new files (nothing reads them while they are written): plain writes
            _write(os.path.join(sdir, "task.json"), json.dumps(task, indent=1))
            script = tmpl.script or PYTHON_OP_SCRIPT
            _write(os.path.join(sdir, "script"), script)
            env = _rendered_env(tmpl, scope, local_arts, {})
            env[TASK_ENV] = os.path.join(sdir, "task.json")
            command = list(tmpl.command or ["python3"])
            inline = script == PYTHON_OP_SCRIPT and command in (["python3"], ["python"])
            paths = [runtime_root()] + ([] if inline else user_paths()) + [os.environ.get("PYTHONPATH", "")]
            env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(p for p in paths if p))
            return PreparedStep(command=_resolve(command) + [os.path.join(sdir, "script")], cwd=workdir, env=env,
                                task=task, inline=inline, text_files=["task.json", "script"], **common)
        # an upload keeps its files' relative paths below the declared path (as its tarball does on a
        # cluster), and a folder taken with .sub_path() stays that folder; any other artifact of one file is
        # that file
        folders = {k for k, a in arts.items() if a is not None and (a.catalog is not None or a.picked)}
        mapping = self.map_paths(tmpl, local_arts, workdir, folders)
        os.makedirs(_local_path(workdir, "/tmp"), exist_ok=True)  # (the step's own /tmp, as a pod has one)
        script = X.substitute(_in_step_dir(tmpl.script, mapping, workdir),
                              lambda ref: _script_ref(scope, ref, local_arts, mapping, tmpl, workdir))
        atomic_write(os.path.join(sdir, "script"), script)
        atomic_write(os.path.join(sdir, "paths.json"), json.dumps(mapping))
        return PreparedStep(command=list(tmpl.command) + [os.path.join(sdir, "script")], cwd=workdir,
                            env=_rendered_env(tmpl, scope, local_arts, mapping), text_files=["script", "paths.json"],
                            **common)

    def python_task(self, tmpl: ScriptTemplateSpec, params: Dict[str, PV], local_arts: Dict[str, Optional[str]],
                    sdir: str, rec: Any, presliced: Optional[int]) -> Dict[str, Any]:
        op = tmpl.python_op
        assert op is not None
        slice_index = None
        inputs_p = {k: {"text": v[0], "type": v[1]} for k, v in params.items() if k != SLICE_PARAMETER}
        slices = op.slices
        if slices is not None and SLICE_PARAMETER in params and params[SLICE_PARAMETER][0] is not None:
            try:
                slice_index = contract_slice_index(params[SLICE_PARAMETER][0])
            except ValueError as e:
                raise StepFailed(str(e)) from None
        if presliced is not None:
            # the engine already cut the inputs to this slice: the runtime takes them as they are
            slice_index = presliced
            slices = slices.model_copy(update={"sub_path": True})
        python_paths = self.stage_packages(op.python_packages, sdir)
        return {
            "op": {"module": op.module, "qualname": op.qualname, "source": op.source, "source_file": op.source_file,
                   "op_kwargs": op.op_kwargs, "instance": op.instance},
            "slices": slices.model_dump() if slices is not None else None,
            "slice_index": slice_index,
            "inputs": {"parameters": inputs_p,
                       "artifacts": {k: {"path": v} for k, v in local_arts.items()}},
            "outputs_dir": os.path.join(sdir, "outputs"),
            "workdir": os.path.join(sdir, "workdir"),
            "progress_file": os.path.join(sdir, "progress"),
            "python_paths": python_paths,
            "step": {"name": rec.name, "key": rec.key, "workflow": self.workflow_id},
        }

    @staticmethod
    def stage_packages(packages: List[StoredArtifact], sdir: str) -> List[str]:
        """Each package at ``inputs/artifacts/dflow_python_packages/<i>/<name>`` (a link); the paths to import from."""
        paths = []
        for i, pkg in enumerate(packages):
            src = os.path.abspath((pkg.local_path or pkg.key).rstrip("/"))
            base = os.path.join(sdir, "inputs", "artifacts", PYTHON_PACKAGES_ARTIFACT, str(i))
            os.makedirs(base, exist_ok=True)
            link = os.path.join(base, os.path.basename(src))
            if not os.path.lexists(link):
                os.symlink(src, link)
            paths.append(base)
        return paths

    @staticmethod
    def map_paths(tmpl: ScriptTemplateSpec, local_arts: Dict[str, Optional[str]], workdir: str,
                  folders: Any = ()) -> Dict[str, str]:
        """Declared ``/tmp/...`` paths of a script template -> their place below the step's workdir
        (``folders``: inputs placed as folders even when they hold one file)."""
        mapping: Dict[str, str] = {}
        for a in tmpl.inputs_artifacts:
            local = local_arts.get(a.name)
            if a.path and local:
                dst = _local_path(workdir, a.path)
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                # a file artifact is a file already (place_inputs); a catalogued folder (a Python OP's
                # output, an upload, a merge) stays a folder, as a pod gets it; only an uncatalogued one
                # holding one file is taken for that file
                catalogued = a.name in folders or os.path.isdir(os.path.join(local, CATALOG_DIR))
                single = None if catalogued else _single_file(local)
                # the step's own inputs (copies, unless the copy method links them) at its paths: links
                place(single or local, dst, link_or_copy)
                mapping[a.path] = dst
        for p in tmpl.outputs_parameters:
            if p.value_from_path:
                mapping[p.value_from_path] = _local_path(workdir, p.value_from_path)
                os.makedirs(os.path.dirname(mapping[p.value_from_path]), exist_ok=True)
        for a in tmpl.outputs_artifacts:
            if a.path:
                mapping[a.path] = _local_path(workdir, a.path)
                os.makedirs(os.path.dirname(mapping[a.path]), exist_ok=True)
        return mapping

    # ---------------------------------------------------------------- after an attempt

    def failed_outputs(self, tmpl: ScriptTemplateSpec, sdir: str) -> Dict[str, PV]:
        """A failed step's output parameters: as Argo reads them after a pod ends, whatever its exit code,
        a script's files where it wrote them, else the defaults."""
        params: Dict[str, PV] = {p.name: (p.default, p.type) for p in tmpl.outputs_parameters if p.default is not None}
        if tmpl.python_op is None:
            mapping = read_json(os.path.join(sdir, "paths.json"), {}) or {}
            for p in tmpl.outputs_parameters:
                fp = mapping.get(p.value_from_path or "")
                if fp and os.path.isfile(fp):
                    params[p.name] = (_parameter_file(fp), p.type)
        return params

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
                    arts[a.name] = self.store(d)
                elif not a.optional:
                    arts[a.name] = None
            return params, arts
        mapping = read_json(os.path.join(sdir, "paths.json"), {}) or {}
        for p in tmpl.outputs_parameters:
            fp = mapping.get(p.value_from_path or "")
            if fp and os.path.isfile(fp):
                params[p.name] = (_parameter_file(fp), p.type)
            elif p.default is not None:
                params[p.name] = (p.default, p.type)
            elif p.value is not None:
                params[p.name] = (p.value, p.type)
            else:
                raise StepFailed(f"output parameter {p.name!r}: the script did not write {p.value_from_path}")
        # what the script wrote is linked, not copied (nothing writes to it once the step has ended)
        put = linker_within([os.path.join(sdir, "workdir"), os.path.join(sdir, "inputs")])
        for a in tmpl.outputs_artifacts:
            src = mapping.get(a.path or "")
            if not src or not os.path.exists(src):
                if a.optional:
                    continue
                raise StepFailed(f"output artifact {a.name!r}: the script did not write {a.path}")
            d = os.path.join(outdir, "artifacts", a.name)
            os.makedirs(d, exist_ok=True)
            if os.path.isdir(src):
                place(src, d, put)
            else:
                base = os.path.basename(src)
                place(src, os.path.join(d, base), put)
                mark_file(d, base)  # the artifact is that file, as a cluster stores it
            arts[a.name] = self.store(d)
        return params, arts

    def save_copies(self, tmpl: ScriptTemplateSpec, sdir: str, arts: Dict[str, Optional[StoredArtifact]],
                    scope: Scope) -> None:
        """Store a copy of each output with ``save=[S3Artifact(key=...)]`` at its key, as a cluster's pod does.

        The key's placeholders are filled in from the template's inputs, the workflow and the
        pod's name. Copies merge: the slices of a fan-out may save to one key, each its files.
        """
        for a in tmpl.outputs_artifacts:
            if a.save_key is None or arts.get(a.name) is None:
                continue
            key = scope.text(a.save_key)
            src = os.path.join(sdir, "outputs", "artifacts", a.name)
            try:
                upload_tree(self.client, key.strip("/"), src)
            except Exception as e:  # noqa: BLE001 - a bad key or a store that failed: the step fails, saying so
                raise StepFailed(f"output artifact {a.name!r}: storing its copy at key {key!r} (save) failed: {e}") from e


# ---------------------------------------------------------------- helpers


def _resolve(command: List[str]) -> List[str]:
    """``python3``/``python`` as the interpreter of this run, so steps see the same packages."""
    if command and command[0] in ("python3", "python"):
        return [sys.executable] + command[1:]
    return command


def _in_step_dir(text: str, mapping: Dict[str, str], workdir: str) -> str:
    """A script's paths in the step's own directory, as a pod's ``/tmp`` is its own (and as dflow's
    debug mode maps every ``/tmp``): its declared paths and the folders that hold them, and any other
    path below ``/tmp`` unless it names something on this machine's ``/tmp`` (a file the submitting
    script made there, a project folder), which stays the machine's."""
    local_tmp = _local_path(workdir, "/tmp")
    places = dict(mapping)
    for p in mapping:  # the folders that hold a declared path (dflow-galaxy lists its package folder)
        parent = os.path.dirname(p.rstrip("/"))
        while parent.startswith("/tmp/"):
            places.setdefault(parent, _local_path(workdir, parent))
            parent = os.path.dirname(parent)
    start = r"(?<![\w.~/-])"  # where a path starts (not inside /var/tmp or a name)
    named = [start + re.escape(p) + r"(?![\w.-])" for p in sorted(places, key=len, reverse=True) if p != "/tmp"]
    other = start + r"/tmp(?![\w.-])(?:/(?P<first>[^/\s'\"`;|&<>(){}$*?\[\]]+))?"

    def place(m: Any) -> str:
        found = m.group(0)
        if found in places:
            return places[found]
        first = m.group("first")
        if first and os.path.lexists(os.path.join("/tmp", first)):
            return found  # this machine's
        return local_tmp + (("/" + first) if first else "")

    return re.sub("|".join(named + [other]), place, text)


def _script_ref(scope: Scope, ref: str, local_arts: Dict[str, Optional[str]], mapping: Dict[str, str], tmpl: Any,
                workdir: Optional[str] = None) -> str:
    parts = ref.split(".")
    if parts[:2] == ["inputs", "artifacts"] and len(parts) >= 3:
        decl = tmpl.input_artifact(parts[2])
        if decl is not None and decl.path in mapping:
            return mapping[decl.path]
        return local_arts.get(parts[2]) or ""
    if parts[:2] == ["inputs", "parameters"] and len(parts) == 3:
        value = scope.params.get(parts[2], ("", None))[0] or ""
        return _in_step_dir(value, mapping, workdir) if workdir is not None else value  # (a path it holds, too)
    value = scope.lookup(ref)
    return value if isinstance(value, str) else json.dumps(value)


def _parameter_file(path: str) -> str:
    """An output parameter's value from its file, as Argo reads it: one trailing newline dropped."""
    with open(path, newline="") as f:
        text = f.read()
    return text[:-1] if text.endswith("\n") else text


def _rendered_env(tmpl: Any, scope: Scope, local_arts: Dict[str, Optional[str]], mapping: Dict[str, str]) -> Dict[str, str]:
    """The template's environment variables with their ``{{...}}`` filled in, as Argo fills in a
    container's ``env`` (``{{inputs.parameters.x}}``, ``{{workflow.name}}``)."""
    if not any("{{" in v for v in tmpl.env.values()):
        return dict(tmpl.env)
    return {k: X.substitute(v, lambda ref: _script_ref(scope, ref, local_arts, mapping, tmpl)) for k, v in tmpl.env.items()}


def _local_path(workdir: str, declared: str) -> str:
    return os.path.join(workdir, declared.lstrip("/"))


def _single_file(directory: str) -> Optional[str]:
    """The one file an artifact directory holds (ignoring its catalog), if it holds exactly one."""
    found = None
    for root, dirs, files in os.walk(directory):
        if CATALOG_DIR in dirs:
            dirs.remove(CATALOG_DIR)
        for fn in files:
            if found is not None:
                return None
            found = os.path.join(root, fn)
        if dirs and found is None and len(dirs) > 1:
            return None
    return found


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)
