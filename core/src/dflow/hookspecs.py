"""The kernel's hook specifications: every extension point of dflow, in one place.

Plugins are Python objects (usually modules) carrying ``@hookimpl`` functions.
They are found through one entry-point group per role:

=====================  ==============================================
group                  what the plugin registers
=====================  ==============================================
``dflow.backends``     backends that run a WorkflowSpec (``debug``, ``argo``)
``dflow.storage``      artifact storage clients (``local``, ``s3``, ...)
``dflow.executors``    executors that render script templates
``dflow.contexts``     workflow contexts
=====================  ==============================================

A plugin module may implement hooks of several roles; the group it is listed
in only says why it is loaded. Registration hooks receive a ``register``
callback rather than returning values, so the kernel owns validation and name
clashes. ``DFLOW_PLUGINS`` (a comma-separated allow-list of entry-point names)
limits what loads; ``DFLOW_TRACE_HOOKS=1`` prints every hook call to stderr.

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

from typing import Any, Callable

import pluggy

PROJECT_NAME = "dflow"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)

Register = Callable[..., None]

# --------------------------------------------------------------------------- registration


@hookspec
def register_backends(register: Register) -> None:
    """Called once when the plugin manager starts.

    Call ``register(name, factory, aliases=())`` for each backend. ``factory()``
    takes no arguments and returns an object with the methods of
    :class:`dflow.backend.Backend`. ``name`` is what ``config["mode"]`` selects.
    Return value: ignored.
    """


@hookspec
def register_storage_clients(register: Register) -> None:
    """Called once when the plugin manager starts.

    Call ``register(name, factory, aliases=())`` for each storage client. ``factory(**options)``
    returns a :class:`dflow.storage.StorageClient`; ``options`` come from
    ``s3_config`` (``endpoint``, ``access_key``, ``secret_key``, ``bucket_name``,
    ``secure``, ...) and the client picks those it knows.
    ``s3_config["storage_type"]`` (or ``repo_type``) selects one by name.
    Return value: ignored.
    """


@hookspec
def register_executors(register: Register) -> None:
    """Called once when the plugin manager starts.

    Call ``register(name, executor_class)`` for each executor class, so that
    ``dflow.plugins.<name>`` import paths and ``dflow plugins`` can list it.
    Return value: ignored.
    """


@hookspec
def register_contexts(register: Register) -> None:
    """Called once when the plugin manager starts.

    Call ``register(name, context_class)`` for each workflow context class.
    Return value: ignored.
    """


@hookspec
def register_legacy_modules(register: Register) -> None:
    """Called once when the plugin manager starts.

    Call ``register(legacy_name, module_path)`` to make ``dflow.plugins.<legacy_name>``
    (an import path of the original dflow, like ``dflow.plugins.dispatcher``)
    resolve to ``module_path`` of this plugin. Return value: ignored.
    """


# --------------------------------------------------------------------------- lifecycle


@hookspec
def workflow_compiled(spec: Any) -> None:
    """Called after a workflow was compiled to ``spec`` (a WorkflowSpec), before submission.

    Plugins may inspect the spec (lint, record it) but must not change it.
    Return value: ignored; an exception stops the submission with nothing submitted.
    """


@hookspec
def workflow_submitted(workflow_id: str, backend: str) -> None:
    """Called after a backend accepted a workflow. Return value: ignored."""
