"""One exception hierarchy for the whole framework.

Every message names the thing (workflow, step, template, parameter, OP field),
what was expected, what was found and, where there is one, the fix.
"""

from __future__ import annotations

__all__ = [
    "DflowError",
    "ValidationError",
    "NameRuleError",
    "PluginNotFoundError",
    "PluginError",
    "StorageError",
    "WorkflowNotFoundError",
    "WorkflowFailedError",
    "BackendError",
    "UnknownNameError",
]


class DflowError(Exception):
    """Base class of every error raised by dflow itself."""


class ValidationError(DflowError, ValueError, RuntimeError):
    """Bad input refused before any work starts.

    Also a ``RuntimeError``: the original dflow raises that for bad input, and code built on it
    catches it so."""


class UnknownArgumentError(ValidationError, TypeError):
    """A keyword argument a constructor does not take; also a ``TypeError``, as Python (and the
    original dflow) raise for one."""


class NameRuleError(ValidationError):
    """A name breaks one of the variable-name rules of the user guide (3.1.18)."""


class PluginNotFoundError(DflowError, LookupError):
    """A backend, storage client, executor or context that is not installed was selected."""


class PluginError(DflowError, RuntimeError):
    """An installed plugin is broken: a misspelt hook, a hook with the wrong arguments, a missing registration."""


class StorageError(DflowError, IOError):
    """An artifact could not be stored or fetched."""


class WorkflowNotFoundError(DflowError, LookupError):
    """No workflow with the given id exists in the selected backend."""


class WorkflowFailedError(DflowError, RuntimeError):
    """Raised by ``Workflow.wait(raise_on_failure=True)`` when the run did not succeed."""


class BackendError(DflowError, RuntimeError):
    """A backend could not carry out a request (server unreachable, bad answer)."""


class UnknownNameError(ValidationError, KeyError):
    """A parameter or artifact asked for by a name that the step or template does not have.

    Also a ``KeyError``, so code that catches ``KeyError`` on ``outputs.parameters[...]``
    keeps working.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""
