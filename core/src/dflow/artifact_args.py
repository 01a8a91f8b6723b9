"""The artifact arguments of steps, as the WorkflowSpec records them.

Shared by the compiler and by step records (``ArgoStep.modify_output_artifact``), so
neither imports the other.
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

from . import spec as S
from .artifact import LocalArtifact, S3Artifact
from .errors import ValidationError
from .io import ArtifactSlice, Expression, InputArtifact, OutputArtifact

__all__ = ["artifact_argument", "template_part"]


def artifact_argument(v: Any, where: str) -> S.ArtifactArgument:
    """What the WorkflowSpec records for the artifact ``v`` given to a step (``where`` names it in errors)."""
    if isinstance(v, ArtifactSlice):
        inner = artifact_argument(v.artifact, where)
        sub = v.path if inner.sub_path is None else f"{inner.sub_path}/{v.path}"
        return inner.model_copy(update={"sub_path": sub})
    if isinstance(v, (InputArtifact, OutputArtifact)):
        return S.ArtifactArgument(ref=str(v))
    if isinstance(v, S3Artifact):
        return S.ArtifactArgument(
            stored=S.StoredArtifact(key=v.key, storage=v.storage, bucket=v.bucket_name, archive=v.archive, catalog=v.catalog,
                                    packed=getattr(v, "packed", None), local_path=getattr(v, "local_path", None)),
            sub_path=v.sub_path_value,
        )
    if isinstance(v, LocalArtifact):
        return S.ArtifactArgument(stored=S.StoredArtifact(key=v.local_path, local_path=v.local_path),
                                  sub_path=v.sub_path_value)
    if isinstance(v, Expression):
        return S.ArtifactArgument(from_expression=v.expr)
    if hasattr(v, "key") and hasattr(v, "storage"):  # a step output artifact record from query_step
        return S.ArtifactArgument(stored=S.StoredArtifact(key=v.key, storage=v.storage, catalog=getattr(v, "catalog", None)))
    if isinstance(v, str) and v.startswith("{{"):
        ref, sep, sub = v.partition("}}/")  # dflow's "{{steps.a.outputs.artifacts.x}}/part": a part of the artifact
        if sep and sub:
            return S.ArtifactArgument(ref=ref + "}}", sub_path=sub)
        return S.ArtifactArgument(ref=v)
    if isinstance(v, str):  # as in dflow, a text given as an artifact is a raw artifact: a file holding it
        return S.ArtifactArgument(raw=v)
    # as in dflow, several artifacts given as one (a list; a dict, which the OP gets by key) are merged, in
    # order; an item given as None is no artifact (as ``artifacts={"x": None}`` is), so it is left out, and
    # so is an empty list inside
    if isinstance(v, (list, tuple)):
        return S.ArtifactArgument(items=[artifact_argument(x, f"{where}, item {i}") for i, x in enumerate(v)
                                         if not _nothing(x)])
    if isinstance(v, dict):
        leaves = [(key, x) for key, x in _dict_leaves(v, "", where) if not _nothing(x)]
        return S.ArtifactArgument(items=[artifact_argument(x, f"{where}, key {key!r}") for key, x in leaves],
                                  item_keys=[key for key, _ in leaves])
    raise ValidationError(
        f"{where}: {v!r} is not an artifact; pass upload_artifact(...), another step's "
        "outputs.artifacts[...], or the template's inputs.artifacts[...]"
    )


def _dict_leaves(value: Dict[Any, Any], prefix: str, where: str) -> List[Tuple[str, Any]]:
    """``(key path, artifact)`` of a nested dict given as an artifact (``a/b`` for ``{"a": {"b": ...}}``)."""
    out: List[Tuple[str, Any]] = []
    for k, x in value.items():
        name = str(k)
        if not name or "/" in name or name in (".", ".."):
            raise ValidationError(f"{where}: the key {k!r} of the dict given as the artifact cannot name a "
                                  "folder; use a non-empty key without '/' that is not '.' or '..'")
        key = f"{prefix}/{name}" if prefix else name
        if isinstance(x, dict):
            out.extend(_dict_leaves(x, key, where))
        else:
            out.append((key, x))
    return out


def _nothing(x: Any) -> bool:
    """An item of a list or dict given as an artifact that holds no artifact: None, an empty list."""
    return x is None or (isinstance(x, (list, tuple)) and not x)


def template_part(arg: S.ArtifactArgument, declared: Any) -> S.ArtifactArgument:
    """``arg`` narrowed to the part the template's input takes (``InputArtifact(sub_path=...)``), as dflow's
    steps copy the template's inputs: the template's part wins over the argument's own, as there."""
    part = getattr(declared, "sub_path_value", None)
    if not part or arg.items is not None or arg.raw is not None:
        return arg
    return arg.model_copy(update={"sub_path": str(part)})
