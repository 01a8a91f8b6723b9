"""A list or dict given as one artifact whose items include other steps' outputs, on Argo.

dflow merges such a list (a dict: by key) into the step's input. When every item is a text
or an upload, :meth:`dflow_argo.locations.Locations.merged` merges them on the submitting
machine. An item that is another step's output exists only once that step has run, so the
compiler adds a pod before the step (``<step>-merge-<input>``, a template of the compiler's
own plumbing): Argo fetches each item into it, core's merge (the local engine's) puts them
together, and the step reads the pod's output instead.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Tuple

from dflow.compile_checks import with_items
from dflow.errors import ValidationError
from dflow.spec import ArtifactArgument, StepSpec

from .superops import PLUMBING_ANNOTATION
from .util import MERGE_SOURCE, MERGE_TEMPLATE, prune, step_name_part

__all__ = ["MergedInputs", "needs_merge_pod"]

_BASE = "/tmp/dflow-merge"


def needs_merge_pod(a: ArtifactArgument) -> bool:
    """Whether some item (at any depth) of a list or dict given as an artifact is a reference or an expression."""
    return any(x.ref or x.from_expression for x in with_items(a.items or []))


class MergedInputs:
    """The merging pods of :class:`dflow_argo.manifest.ManifestCompiler` (a mixin)."""

    def _merged(self, s: StepSpec, scope: str, rewrite: Any, gathered: Dict[str, List[str]],
                gathered_key: Any) -> Tuple[StepSpec, List[Dict[str, Any]]]:
        """The step ``s`` reading each list or dict input that holds other steps' outputs from a merging pod,
        and those pods (to run before it, with its dependencies and its ``when``)."""
        pods: List[Dict[str, Any]] = []
        arts = dict(s.artifacts)
        for name, a in s.artifacts.items():
            if a.items is None or not needs_merge_pod(a):
                continue
            parts: List[Dict[str, Any]] = []
            layout = self._merge_layout(a, name, parts, gathered_key)
            pod = prune({
                "name": f"{s.name}-merge-{step_name_part(name)}",
                "template": self._merge_template(len(parts)),
                "arguments": {"parameters": [{"name": "name", "value": name},
                                             {"name": "layout", "value": json.dumps(layout, sort_keys=True)}],
                              "artifacts": parts},
                "when": rewrite(s.when),
            })
            pods.append(pod)
            arts[name] = ArtifactArgument(ref="{{%s.%s.outputs.artifacts.merged}}" % (scope, pod["name"]))
        if not pods:
            return s, pods
        return s.model_copy(update={"artifacts": arts}), pods

    def _merge_layout(self, a: ArtifactArgument, name: str, parts: List[Dict[str, Any]],
                      gathered_key: Any) -> Dict[str, Any]:
        """The tree of ``a``'s items for the merging pod; each leaf becomes the next part argument."""
        items: List[Any] = []
        for x in a.items or []:
            if x.items is not None:
                items.append(self._merge_layout(x, name, parts, gathered_key))
                continue
            arg_name = f"part-{len(parts)}"
            texts = " ".join(t for t in (x.ref, x.from_expression, x.sub_path) if t)
            if "{{item" in texts:
                raise ValidationError(
                    f"artifact {name!r}: an item of the list or dict given as the artifact uses {{{{item}}}}; on Argo "
                    "the items are merged once, before the fan-out, so slice the input with Slices instead")
            if x.ref or x.from_expression:
                arg = self._artifact_argument(arg_name, x, gathered_key(x.ref))
            elif x.raw is not None:
                arg = {"name": arg_name, "raw": {"data": x.raw}}
            else:  # an upload: placed as the local engine places it, on this machine or at submission
                arg = dict(self.locations.merged(name, ArtifactArgument(items=[x])), name=arg_name)
            parts.append(arg)
            items.append(len(parts) - 1)
        return {"items": items, **({"keys": list(a.item_keys)} if a.item_keys else {})}  # (an empty list stays)

    def _merge_template(self, n: int) -> str:
        name = f"{MERGE_TEMPLATE}-{n}"
        if name not in self.extra:
            out: Dict[str, Any] = {"name": "merged", "path": f"{_BASE}/out"}
            if not self.locations.outputs_key_only():  # not the cluster's default repository: where it goes
                out.update(self.locations.location("{{workflow.name}}/{{pod.name}}/merged"))
            self.extra[name] = {
                "name": name,
                "metadata": {"annotations": {PLUMBING_ANNOTATION: "merge"}},
                "inputs": {
                    "parameters": [{"name": "name"}, {"name": "layout"}],
                    "artifacts": [{"name": f"part-{i}", "path": f"{_BASE}/parts/{i}", "optional": True}
                                  for i in range(n)] + [
                        {"name": "dflow-pkg", "path": "/tmp/dflow-pkg/dflow",
                         **self.locations.location(self.locations.package_key)}],
                },
                "outputs": {"artifacts": [out]},
                "script": {
                    "image": self.util_image,
                    "command": ["python3"],
                    "source": MERGE_SOURCE,
                    "env": [{"name": "DFLOW_NAME", "value": "{{inputs.parameters.name}}"},
                            {"name": "DFLOW_LAYOUT", "value": "{{inputs.parameters.layout}}"}],
                },
            }
        return name
