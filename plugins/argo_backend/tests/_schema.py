"""The strict Argo schema of ``dflow.testing.argo_schema`` (kept under this name for the tests)."""

from dflow.testing.argo_schema import SCHEMA_PATH, WORKFLOW_DEF, schema_errors, strict_validator

__all__ = ["SCHEMA_PATH", "WORKFLOW_DEF", "schema_errors", "strict_validator"]
