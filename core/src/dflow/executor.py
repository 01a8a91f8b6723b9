"""Executors and Kubernetes resources (user guide 3.1.14, 3.1.17)."""

from __future__ import annotations

import abc
from typing import Any, Optional

__all__ = ["Executor", "Resource"]


class Executor(abc.ABC):
    """Changes how a script step runs: ``render`` takes a template and returns a new one.

    ``render`` receives a copy of the step's script template, so it may change it
    in place (``template.script = ...``) and return it. A workflow ``context`` is
    an object with the same ``render`` method, applied to every script template.
    """

    @abc.abstractmethod
    def render(self, template: Any) -> Any:
        """The template to run instead of ``template``."""


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
