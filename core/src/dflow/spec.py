"""WorkflowSpec: the backend-neutral, JSON-serializable form of a workflow.

User model objects (``Workflow``, ``Steps``, ``DAG``, OP templates) are compiled
once into a :class:`WorkflowSpec` by :func:`dflow.compiler.compile_workflow`. A
backend sees only this spec, never the user's live objects.

Conventions shared by every backend
-----------------------------------
* **Parameter values are text**, as Argo holds them. A ``str`` value is stored
  as itself; any other value as JSON. The ``type`` field names the Python type
  the value had (``"int"``, ``"dict"``, ...), so a reader can give the same type
  back (see :func:`dflow.runtime.decode_value`).
* **References use Argo's template syntax** inside text:
  ``{{inputs.parameters.NAME}}``, ``{{inputs.artifacts.NAME}}``,
  ``{{steps.STEP.outputs.parameters.NAME}}``,
  ``{{steps.STEP.outputs.artifacts.NAME}}`` (``tasks.`` inside a DAG),
  ``{{item}}`` / ``{{item.FIELD}}`` in a fan-out, ``{{workflow.name}}``,
  ``{{workflow.parameters.NAME}}`` and whole expressions ``{{=EXPR}}`` in
  Argo's expression language (``asInt(...)``, ``sprig.fromJson(...)``,
  ``steps['a-b'].outputs.parameters['x']``, ``c ? x : y``).
* ``when`` conditions are govaluate text after substitution, as in Argo.
"""

from __future__ import annotations

from typing import Annotated, Any, Dict, List, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field

SPEC_VERSION = 1

__all__ = [
    "SPEC_VERSION",
    "InputParameterSpec",
    "InputArtifactSpec",
    "OutputParameterSpec",
    "OutputArtifactSpec",
    "StoredArtifact",
    "ArtifactArgument",
    "SequenceSpec",
    "StepSpec",
    "FanoutSpec",
    "SlicesSpec",
    "SignField",
    "PythonOPSpec",
    "RetrySpec",
    "ExecutorSpec",
    "ScriptTemplateSpec",
    "StepsTemplateSpec",
    "DAGTemplateSpec",
    "TemplateSpec",
    "WorkflowSpec",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# --------------------------------------------------------------------------- inputs / outputs


class InputParameterSpec(_Model):
    """An input parameter of a template. ``value`` is the default used when the step gives none."""

    name: str
    value: Optional[str] = None
    type: Optional[str] = None
    description: Optional[str] = None


class InputArtifactSpec(_Model):
    """An input artifact of a template, placed at ``path`` for script templates."""

    name: str
    path: Optional[str] = None
    optional: bool = False
    sub_path: Optional[str] = None
    archive: Optional[str] = "tar"


class OutputParameterSpec(_Model):
    """An output parameter: read from a file, taken from a step, or computed.

    Exactly one of ``value_from_path``, ``value_from_parameter``,
    ``value_from_expression`` is usually set; ``default`` is used when the
    source is missing, the expression fails or the producing step was skipped.
    """

    name: str
    type: Optional[str] = None
    default: Optional[str] = None
    value: Optional[str] = None
    value_from_path: Optional[str] = None
    value_from_parameter: Optional[str] = None
    value_from_expression: Optional[str] = None
    global_name: Optional[str] = None
    description: Optional[str] = None


class OutputArtifactSpec(_Model):
    """An output artifact: a path the script writes, or a step's artifact (``from_``)."""

    name: str
    path: Optional[str] = None
    from_: Optional[str] = Field(default=None, alias="from")
    from_expression: Optional[str] = None
    archive: Optional[str] = "tar"
    global_name: Optional[str] = None
    optional: bool = False
    #: ``save=[S3Artifact(key=...)]``: a copy of the output also goes to this key of the configured
    #: store when the step ends (placeholders: the template's input parameters, workflow name, pod name)
    save_key: Optional[str] = None


# --------------------------------------------------------------------------- artifact arguments


class StoredArtifact(_Model):
    """An artifact that already sits in storage (an upload, or a reused step's output).

    ``key`` is the storage key (a prefix holding the files). ``storage`` names the
    storage plugin (``"local"``, ``"s3"``, ...) or is ``None`` for the configured one.
    ``catalog`` lists the items of a list/dict upload in order, each with its path
    relative to the key, so an OP receiving ``List[Path]`` gets the same order back.
    ``local_path`` is set when the files are on the machine that made the record (a
    ``LocalArtifact``, an output of a local run): readers there copy them directly, and a
    cluster backend uploads them. ``parts`` are the outputs of the slices of a fan-out,
    stacked in order (see :func:`dflow.contract.merge_part`), or with ``stacked`` the
    outputs of the steps of a sliced super-OP.
    """

    key: str
    storage: Optional[str] = None
    bucket: Optional[str] = None
    endpoint: Optional[str] = None
    archive: Optional[str] = None
    catalog: Optional[List[Dict[str, Any]]] = None
    local_path: Optional[str] = None
    sub_path: Optional[str] = None
    #: ``sub_path`` is a part the user took (``.sub_path()``): the step finds that file or folder itself at
    #: the input's path, as Argo places a ``subPath``; otherwise (a slice's item) the part keeps its path
    #: inside the artifact
    picked: bool = False
    parts: Optional[List["StoredArtifact"]] = None
    #: a dict given as the artifact: the key of each part (its items take that key, see
    #: :func:`dflow.contract.key_part`), so the OP gets the parts by key
    part_keys: Optional[List[str]] = None
    #: the parts are what the steps of a sliced super-OP wrote to one output over its run: directories merge
    stacked: bool = False
    #: the one object below ``key`` that holds the files as a tarball (``upload_artifact`` to a remote store)
    packed: Optional[str] = None


class ArtifactArgument(_Model):
    """The source of an input artifact of a step: a reference or a stored artifact."""

    ref: Optional[str] = None
    stored: Optional[StoredArtifact] = None
    sub_path: Optional[str] = None
    from_expression: Optional[str] = None
    #: a text given as the artifact (dflow's raw artifact): the step gets a file holding it
    raw: Optional[str] = None
    #: a list given as the artifact: the step gets the items merged, in order, as the parts of one
    items: Optional[List["ArtifactArgument"]] = None
    #: a dict given as the artifact: the key path of each of ``items`` (``a/b`` for nested dicts)
    item_keys: Optional[List[str]] = None


class SequenceSpec(_Model):
    """``with_sequence``: each field is text that may hold references."""

    start: Optional[str] = None
    count: Optional[str] = None
    end: Optional[str] = None
    format: Optional[str] = None


# --------------------------------------------------------------------------- steps


class FanoutSpec(_Model):
    """A step that fans out over slices of its inputs: ``Slices`` lowered by the compiler.

    The step's loop (``with_param``/``with_sequence``) already lists what one pod runs:
    a slice, or a group of ``group_size`` slices; its ``dflow_slice`` parameter gives
    that slice's (group's) index. A backend runs a plain fan-out and:

    * with ``sub_path``, hands each pod only its own item of ``input_parameters`` (item
      ``i`` of the list) and of ``input_artifacts`` (catalog item ``i``); otherwise the
      pod's step runtime cuts them itself;
    * gathers ``gather_parameters`` into one list in index order (a pod of one slice
      writes its value, a pod of a group the list of its slices' values, which are
      concatenated) and stacks ``gather_artifacts`` (each pod's output is a part).

    ``count_from`` (``"parameters.NAME"`` or ``"artifacts.NAME"``) is set when the number
    of items could not be written as a loop at compile time: the backend counts the items
    of that input when the step runs.

    ``index`` is set for slices on a Steps/DAG template (a super-OP, which has no
    ``dflow_slice`` input): the text that, with the loop's item filled in, gives an
    instance's slice index (``{{item}}``, or the ``Slices("...")`` expression), as in
    dflow. So ``with_param=[2, 4]`` cuts items 2 and 4 of the sliced inputs, on every
    backend. None with ``sub_path`` slices: an instance takes the item at its position.

    ``ordered``: the loop the compiler worked out for ``sub_path`` slices of an artifact
    lists ``{"order": i}`` items, as dflow's do (so ``{{item.order}}`` is the slice, in
    keys and parameters); a backend that counts the items (``count_from``) lists them so.
    """

    group_size: Optional[int] = None
    sub_path: bool = False
    input_parameters: List[str] = Field(default_factory=list)
    input_artifacts: List[str] = Field(default_factory=list)
    gather_parameters: List[str] = Field(default_factory=list)
    gather_artifacts: List[str] = Field(default_factory=list)
    count_from: Optional[str] = None
    index: Optional[str] = None
    ordered: bool = False


class StepSpec(_Model):
    """A step of a ``steps`` template, or a task of a ``dag`` template."""

    name: str
    template: str
    parameters: Dict[str, str] = Field(default_factory=dict)
    parameter_types: Dict[str, str] = Field(default_factory=dict)
    artifacts: Dict[str, ArtifactArgument] = Field(default_factory=dict)
    when: Optional[str] = None
    with_param: Optional[str] = None
    with_sequence: Optional[SequenceSpec] = None
    key: Optional[str] = None
    continue_on_failed: bool = False
    continue_on_error: bool = False
    continue_on_num_success: Optional[int] = None
    continue_on_success_ratio: Optional[float] = None
    dependencies: List[str] = Field(default_factory=list)
    parallelism: Optional[int] = None
    fanout: Optional[FanoutSpec] = None
    #: lifecycle hooks by event (``success``, ``running``, ``failure``): steps named ``<step>.hooks.<event>``,
    #: run when the step is in that phase (Argo's hooks); the step's dependents wait for them
    hooks: Dict[str, "StepSpec"] = Field(default_factory=dict)


# --------------------------------------------------------------------------- templates


class RetrySpec(_Model):
    """Retries of a script template: ``limit`` more attempts on the listed failures.

    ``on`` is ``"transient"`` (TransientError, exit code 3 by the runtime's contract,
    and timeouts when ``timeout_as_transient`` is set), ``"always"`` (any failure) or
    ``"error"`` (the step was lost: a pod's error on a cluster, a signal on this machine).
    """

    limit: int
    on: Literal["transient", "always", "error"] = "transient"
    timeout_as_transient: bool = False


class ExecutorSpec(_Model):
    """The executor of a script template: who launches it (local engine) or renders it (Argo).

    ``name`` is the executor plugin's name (``dispatcher``, ``slurm``, ...) for a named
    executor, whose ``options`` (plain JSON, never a secret) the plugin's launcher and
    render receive; ``None`` for a classic executor, already applied by its ``render``
    at compile time and recorded (``kind``: its class) for display only.
    """

    name: Optional[str] = None
    kind: str = ""
    options: Dict[str, Any] = Field(default_factory=dict)


class SignField(_Model):
    """One field of a Python OP's input or output sign, for display and compilation."""

    kind: Literal["parameter", "artifact", "big_parameter"]
    type: str
    optional: bool = False
    archive: Optional[str] = "tar"
    default: Optional[str] = None
    has_default: bool = False
    description: Optional[str] = None


class SlicesSpec(_Model):
    """``Slices`` of a Python OP template (user guide 3.2.1)."""

    slices: Optional[str] = None
    input_parameter: List[str] = Field(default_factory=list)
    input_artifact: List[str] = Field(default_factory=list)
    output_parameter: List[str] = Field(default_factory=list)
    output_artifact: List[str] = Field(default_factory=list)
    sub_path: bool = False
    group_size: Optional[int] = None
    pool_size: Optional[int] = None
    create_dir: bool = False
    register_first_only: bool = False


class PythonOPSpec(_Model):
    """How the step runtime finds and calls a Python OP.

    ``module`` and ``qualname`` locate the OP class (``@OP.function`` OPs are
    classes too). ``source`` holds the text of the defining module when it is the
    submitting script (``__main__``), so the OP can be rebuilt where that script
    is not importable.
    """

    module: str
    qualname: str
    source: Optional[str] = None
    source_file: Optional[str] = None
    input_sign: Dict[str, SignField] = Field(default_factory=dict)
    output_sign: Dict[str, SignField] = Field(default_factory=dict)
    slices: Optional[SlicesSpec] = None
    python_packages: List[StoredArtifact] = Field(default_factory=list)
    op_kwargs: Dict[str, Any] = Field(default_factory=dict)
    #: the OP object the template was given (``PythonOPTemplate(MyOP(a, b))``), pickled and
    #: base64-encoded; each slice calls a fresh copy of it instead of ``MyOP(**op_kwargs)``
    instance: Optional[str] = None


class _TemplateBase(_Model):
    name: str
    inputs_parameters: List[InputParameterSpec] = Field(default_factory=list)
    inputs_artifacts: List[InputArtifactSpec] = Field(default_factory=list)
    outputs_parameters: List[OutputParameterSpec] = Field(default_factory=list)
    outputs_artifacts: List[OutputArtifactSpec] = Field(default_factory=list)
    timeout: Optional[int] = None
    retry: Optional[RetrySpec] = None
    parallelism: Optional[int] = None
    annotations: Dict[str, str] = Field(default_factory=dict)
    labels: Dict[str, str] = Field(default_factory=dict)

    def input_parameter(self, name: str) -> Optional[InputParameterSpec]:
        return next((p for p in self.inputs_parameters if p.name == name), None)

    def input_artifact(self, name: str) -> Optional[InputArtifactSpec]:
        return next((a for a in self.inputs_artifacts if a.name == name), None)

    def all_steps(self) -> List["StepSpec"]:
        """The steps of a Steps template (group after group) or the tasks of a DAG; none for a script."""
        return []


class ScriptTemplateSpec(_TemplateBase):
    """A container step: a script run by ``command`` in ``image``.

    ``python_op`` is set for Python OP templates; the script then calls the step
    runtime. ``k8s`` carries Kubernetes-only settings (node selector, volumes,
    resources, ...) that a local backend ignores.
    """

    kind: Literal["script"] = "script"
    image: Optional[str] = None
    command: List[str] = Field(default_factory=lambda: ["python3"])
    script: str = ""
    env: Dict[str, str] = Field(default_factory=dict)
    python_op: Optional[PythonOPSpec] = None
    k8s: Dict[str, Any] = Field(default_factory=dict)
    executor: Optional[ExecutorSpec] = None
    resource: Optional[Dict[str, Any]] = None


class StepsTemplateSpec(_TemplateBase):
    """A ``Steps`` template: groups run one after another, steps of a group in parallel."""

    kind: Literal["steps"] = "steps"
    steps: List[List[StepSpec]] = Field(default_factory=list)

    def all_steps(self) -> List[StepSpec]:
        return [s for group in self.steps for s in group]


class DAGTemplateSpec(_TemplateBase):
    """A ``DAG`` template: tasks run as soon as their dependencies finished."""

    kind: Literal["dag"] = "dag"
    tasks: List[StepSpec] = Field(default_factory=list)

    def all_steps(self) -> List[StepSpec]:
        return list(self.tasks)


TemplateSpec = Annotated[
    Union[ScriptTemplateSpec, StepsTemplateSpec, DAGTemplateSpec], Field(discriminator="kind")
]


class WorkflowSpec(_Model):
    """A whole workflow: its templates, its entry point and its arguments."""

    version: int = SPEC_VERSION
    name: str
    generate_name: bool = True
    entrypoint: str
    #: the exit handler: a template run once the entry point has ended, whatever its phase (Argo's ``onExit``)
    on_exit: Optional[str] = None
    templates: List[TemplateSpec] = Field(default_factory=list)
    parameters: Dict[str, str] = Field(default_factory=dict)
    parameter_types: Dict[str, str] = Field(default_factory=dict)
    artifacts: Dict[str, ArtifactArgument] = Field(default_factory=dict)
    parallelism: Optional[int] = None
    labels: Dict[str, str] = Field(default_factory=dict)
    annotations: Dict[str, str] = Field(default_factory=dict)
    context: Optional[str] = None
    storage: Optional[Dict[str, Any]] = None
    #: settings only a cluster applies: ``pod_gc_strategy``, ``image_pull_secrets``, ``artifact_repo_key``
    cluster: Dict[str, Any] = Field(default_factory=dict)

    def template(self, name: str) -> TemplateSpec:
        """The template called ``name``; ``KeyError`` names the known ones when missing."""
        for t in self.templates:
            if t.name == name:
                return t
        raise KeyError(f"workflow {self.name!r} has no template {name!r}; it has {[t.name for t in self.templates]}")

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_none=False, indent=1)

    @classmethod
    def from_json(cls, text: str) -> "WorkflowSpec":
        return cls.model_validate_json(text)
