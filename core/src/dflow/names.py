"""The variable-name rules of the user guide (3.1.18), enforced when objects are built."""

from __future__ import annotations

import re

from .errors import NameRuleError

__all__ = ["check_template_name", "check_step_name", "check_io_name", "check_key", "check_key_template",
           "check_rendered_key", "sanitize_template_name", "RULE_KEY"]

_RFC1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_STEP = re.compile(r"^[a-zA-Z0-9][-a-zA-Z0-9]*$")
_IO = re.compile(r"^[-_a-zA-Z0-9]+$")

RULE_TEMPLATE = (
    "lowercase RFC 1123 subdomain (must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character), not more than 57 characters long"
)
RULE_STEP = "must consist of alpha-numeric characters or '-', and must start with an alpha-numeric character"
RULE_IO = "must consist of alpha-numeric characters, '_' or '-'"
RULE_KEY = (
    "lowercase RFC 1123 subdomain (must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character)"
)


def check_template_name(name: str, what: str = "OP template") -> str:
    """Workflow and OP template names: the rule of the user guide's table."""
    if not isinstance(name, str) or len(name) > 57 or not _RFC1123_SUBDOMAIN.match(name):
        raise NameRuleError(
            f"{what} name {name!r} is not allowed: it must be a {RULE_TEMPLATE}; "
            f"for example {sanitize_template_name(str(name))!r}"
        )
    return name


def check_step_name(name: str, what: str = "step") -> str:
    if not isinstance(name, str) or not _STEP.match(name):
        raise NameRuleError(f"{what} name {name!r} is not allowed: it {RULE_STEP} (for example 'my-step-1')")
    return name


def check_io_name(name: str, what: str = "parameter") -> str:
    if not isinstance(name, str) or not _IO.match(name):
        raise NameRuleError(f"{what} name {name!r} is not allowed: it {RULE_IO} (for example 'my_param_1')")
    return name


def check_key(key: str) -> str:
    """A key after its references were filled in (keys are dynamic, so this runs at run time)."""
    if not isinstance(key, str) or not _RFC1123_SUBDOMAIN.match(key):
        raise NameRuleError(f"step key {key!r} is not allowed: it must be a {RULE_KEY}")
    return key


_PLACEHOLDER = re.compile(r"\{\{.*?\}\}", re.S)


def check_key_template(key: str) -> bool:
    """Whether a key written in a workflow follows the rule once each ``{{...}}`` is read as ``a`` (as dflow checks it)."""
    return bool(_RFC1123_SUBDOMAIN.match(_PLACEHOLDER.sub("a", key)))


def check_rendered_key(key: str) -> str:
    """A key after its placeholders were filled in, when the workflow runs.

    As in dflow, the rendered text is held to no naming rule: dpgen2 builds keys like
    ``--prep-train`` from an empty id, APEX keys like ``confs/std-fcc--relax--make`` from a
    path. Only an empty key, or one with a NUL character, is refused.
    """
    if not isinstance(key, str) or not key or "\0" in key:
        raise NameRuleError(f"step key {key!r}: a key must be non-empty text without NUL characters")
    return key


def sanitize_template_name(name: str) -> str:
    """A name that follows the template rule, made from any text (``MyOP`` -> ``my-op``)."""
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1-\2", name)
    s = re.sub(r"[^a-z0-9.-]+", "-", s.lower()).strip("-.")
    s = re.sub(r"-{2,}", "-", s)
    return (s or "template")[:57].rstrip("-.")
