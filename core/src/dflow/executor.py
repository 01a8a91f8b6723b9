"""Executors and Kubernetes resources (user guide 3.1.14, 3.1.17)."""

from __future__ import annotations

import abc
from typing import Any, Dict, Optional

__all__ = ["Executor", "Context", "Resource"]


class Executor:
    """Changes how and where a step runs.

    Two kinds, told apart by ``name``:

    * An executor **without** a ``name`` (dflow's classic kind) is applied when the
      workflow is compiled: ``render`` receives a copy of the step's template (a
      script template or a ``PythonOPTemplate``), may change it in place
      (``command``, ``script``, ``envs``, ``image``, ...) and returns it; what it
      returns is what runs, on every backend.
    * An executor **with** a ``name`` comes from a plugin (``register_executors``).
      The WorkflowSpec records ``name`` and :meth:`spec_options`; the local engine
      launches the step through the plugin's step launcher, and a container backend
      asks the plugin's render for the template to run. ``render`` is not called.

    A workflow ``context`` is an executor applied to every step that has none.
    """

    #: the name the plugin registers this executor under; None for a classic executor
    name: Optional[str] = None

    def render(self, template: Any) -> Any:
        """The template to run instead of ``template`` (classic executors)."""
        return template

    def spec_options(self) -> Dict[str, Any]:
        """What the WorkflowSpec records for a named executor: plain JSON and never a secret.

        Credentials are named (a file, an environment variable, a Kubernetes secret),
        not given by value.
        """
        return {}


class Context(Executor):
    """A workflow context (``Workflow(context=...)``): an executor applied to every step that has none.

    Subclass it and implement ``render`` (a classic context), or give it a ``name`` an
    executor plugin registered.
    """


class Resource(abc.ABC):
    """A step carried out by a Kubernetes resource (a Job, a custom resource).

    Only backends that run on Kubernetes can run such steps; the local backend
    refuses them before the workflow starts.
    """

    action: Optional[str] = None
    success_condition: Optional[str] = None
    failure_condition: Optional[str] = None

    @abc.abstractmethod
    def get_manifest(self, template: Any) -> Any:
        """The manifest (a dict or YAML text) to apply for ``template``."""
