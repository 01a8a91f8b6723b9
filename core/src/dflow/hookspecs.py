"""The kernel's hook specifications: every extension point of dflow, in one place.

Plugins are Python objects (usually modules) carrying ``@hookimpl`` functions
(``from dflow.plugins import hookimpl``). They are found through one entry-point
group per role; the group a plugin is listed in says what it must register:

=====================  ==============================================  ==========================
group                  what the plugin registers                       hook
=====================  ==============================================  ==========================
``dflow.backends``     backends that run a WorkflowSpec                 ``register_backends``
``dflow.storage``      artifact storage clients                         ``register_storage_clients``
``dflow.executors``    executors (a step launcher, a container render)  ``register_executors``
``dflow.contexts``     workflow contexts (executors for every step)     ``register_contexts``
``dflow.commands``     ``dflow`` subcommands                            ``register_commands``
=====================  ==============================================  ==========================

A plugin may implement hooks of several roles (the Argo backend also adds the
``dflow render`` command); a plugin listed in a group that registers nothing of
that group's role is refused at load, naming the plugin. Hooks are called by
pluggy's plugin manager: a function without ``@hookimpl`` is never called, and an
``@hookimpl`` whose name is not a hook below (a misspelling) or whose arguments
are not the hook's is refused at load with the list of hooks. Registration hooks
receive a ``register`` callback rather than returning values, so the kernel owns
validation, aliases and name clashes.

``DFLOW_PLUGINS`` (a comma-separated allow-list of entry-point names) limits what
loads; ``DFLOW_TRACE_HOOKS=1`` prints every hook call to stderr.

OP packages are not plugins: they list their OPs in the ``dflow.ops`` group
(``dflow ops`` shows them), and nothing there is imported unless asked.

Example, in a plugin's ``pyproject.toml``::

    [project.entry-points."dflow.storage"]
    mystore = "mystore.plugin"

and in ``mystore/plugin.py``::

    from dflow.plugins import hookimpl

    @hookimpl
    def register_storage_clients(register):
        register("mystore", MyStorageClient)
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, Callable, Optional, Protocol, Sequence

import pluggy

if TYPE_CHECKING:  # pragma: no cover - types only
    from .backend import Backend
    from .launcher import StepLauncher
    from .spec import ScriptTemplateSpec, WorkflowSpec
    from .storage import StorageClient

PROJECT_NAME = "dflow"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)

__all__ = [
    "PROJECT_NAME",
    "RegisterBackend",
    "RegisterStorageClient",
    "RegisterExecutor",
    "RegisterContext",
    "RegisterCommand",
    "RegisterLegacyModule",
    "LauncherFactory",
    "TemplateRender",
]

#: ``launcher_factory(options)``: a step launcher for the executor options recorded in the spec
LauncherFactory = Callable[[dict], "StepLauncher"]
#: ``render(template, options)``: the spec template a container backend runs instead of ``template``
#: (or a list: a Steps/DAG template of the same name and the script templates it calls)
TemplateRender = Callable[["ScriptTemplateSpec", dict], Any]


class RegisterBackend(Protocol):
    def __call__(self, name: str, factory: Callable[[], "Backend"], aliases: Sequence[str] = ()) -> None: ...


class RegisterStorageClient(Protocol):
    def __call__(self, name: str, factory: Callable[..., "StorageClient"], aliases: Sequence[str] = ()) -> None: ...


class RegisterExecutor(Protocol):
    def __call__(
        self,
        name: str,
        executor_class: type,
        launcher: Optional[LauncherFactory] = None,
        render: Optional[TemplateRender] = None,
        aliases: Sequence[str] = (),
    ) -> None: ...


class RegisterContext(Protocol):
    def __call__(self, name: str, context_class: type, aliases: Sequence[str] = ()) -> None: ...


class RegisterCommand(Protocol):
    def __call__(
        self,
        name: str,
        configure: Callable[[argparse.ArgumentParser], None],
        run: Callable[[argparse.Namespace], Optional[int]],
        help: str = "",
    ) -> None: ...


class RegisterLegacyModule(Protocol):
    def __call__(self, legacy_name: str, module_path: str) -> None: ...


# --------------------------------------------------------------------------- registration


@hookspec
def register_backends(register: RegisterBackend) -> None:
    """Called once per plugin when the plugin manager starts.

    Call ``register(name, factory, aliases=())`` for each backend. ``factory()``
    takes no arguments and returns a :class:`dflow.backend.Backend`. ``name`` is
    what ``config["mode"]`` selects. A backend class says which storage client its
    artifacts go through by default in its ``default_storage`` attribute.
    Return value: ignored.
    """


@hookspec
def register_storage_clients(register: RegisterStorageClient) -> None:
    """Called once per plugin when the plugin manager starts.

    Call ``register(name, factory, aliases=())`` for each storage client.
    ``factory(**options)`` returns a :class:`dflow.storage.StorageClient`; ``options``
    are the keys of ``s3_config`` (``endpoint``, ``access_key``, ``secret_key``,
    ``bucket_name``, ``secure``, ...) and the client takes those it knows.
    ``s3_config["storage_type"]`` selects a client by name. How the client's
    artifacts appear to a cluster backend is its ``artifact_location`` method.
    Return value: ignored.
    """


@hookspec
def register_executors(register: RegisterExecutor) -> None:
    """Called once per plugin when the plugin manager starts.

    Call ``register(name, executor_class, launcher=None, render=None, aliases=())``
    for each executor. ``executor_class`` is the :class:`dflow.executor.Executor`
    subclass users give to ``Step(executor=...)``; its ``name`` attribute must be
    ``name``, and its ``spec_options()`` are what the WorkflowSpec records.

    - ``launcher(options)`` returns a :class:`dflow.launcher.StepLauncher`: the local
      engine launches every step of this executor through it (launch, poll, log,
      cancel, collect). Without one, the local engine runs the step on this machine.
    - ``render(template, options)`` returns the :class:`dflow.spec.ScriptTemplateSpec`
      a container backend (Argo) runs instead of ``template``, for example a pod that
      submits the step to a batch scheduler. Without one, the template runs as it is.
      A step that needs several pods (stage the inputs, hand the job to an operator,
      collect the results) is rendered as a list: a ``StepsTemplateSpec`` (or
      ``DAGTemplateSpec``) with ``template``'s name, inputs and outputs, followed by the
      script templates it calls (new names; a script template's ``resource`` makes a
      Kubernetes resource template).

    Return value: ignored.
    """


@hookspec
def register_contexts(register: RegisterContext) -> None:
    """Called once per plugin when the plugin manager starts.

    Call ``register(name, context_class, aliases=())`` for each workflow context
    class (``Workflow(context=...)``). A context is an executor applied to every
    step that has none of its own. Return value: ignored.
    """


@hookspec
def register_commands(register: RegisterCommand) -> None:
    """Called once per plugin when the plugin manager starts (and by the ``dflow`` command).

    Call ``register(name, configure, run, help="")`` for each ``dflow`` subcommand.
    ``configure(parser)`` adds the subcommand's arguments to its ``argparse`` parser;
    ``run(args)`` carries it out and returns the exit code (``None`` means 0). A name
    that core or another plugin already uses is refused. Return value: ignored.
    """


@hookspec
def register_legacy_modules(register: RegisterLegacyModule) -> None:
    """Called once per plugin when the plugin manager starts.

    Call ``register(legacy_name, module_path)`` to make ``dflow.plugins.<legacy_name>``
    (an import path of the original dflow, like ``dflow.plugins.dispatcher``)
    resolve to ``module_path`` of this plugin. Return value: ignored.
    """


# --------------------------------------------------------------------------- lifecycle


@hookspec
def workflow_compiled(spec: "WorkflowSpec") -> None:
    """Called after a workflow was compiled to ``spec`` (a WorkflowSpec), before submission.

    Plugins may inspect the spec (lint, record it) but must not change it.
    Return value: ignored; an exception stops the submission with nothing submitted.
    """


@hookspec
def workflow_submitted(workflow_id: str, backend: str) -> None:
    """Called after a backend accepted a workflow (``backend`` is its name). Return value: ignored."""


# the plugin manager reads this table: registration hook -> the role it fills
REGISTRATION_HOOKS = {
    "register_backends": "backend",
    "register_storage_clients": "storage",
    "register_executors": "executor",
    "register_contexts": "context",
    "register_commands": "command",
    "register_legacy_modules": "legacy",
}

