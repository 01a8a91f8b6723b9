"""Fan-outs on the local engine: the items of a loop, each item's slice of the inputs, the gathered outputs.

The compiler already lowered ``Slices`` into a plain loop and a
:class:`~dflow.spec.FanoutSpec`; this module runs that. It also cuts the sliced inputs
of each slice down to that slice before the slice runs (also when the template's
``Slices`` leaves that to the step runtime), so a slice of a 10,000-way fan-out neither
copies nor parses the other 9,999 slices' inputs.

Slices on a ``Steps``/``DAG`` template (a super-OP) *stack* their sliced output
artifacts, as in dflow: such an output is what every step it may come from produced
while the slice ran (both branches of an ``if_expression``, and every level of a
recursion of the template), not only the branch that was taken. dpgen2's
``CalyEvoStep`` relies on this: its sliced output holds the files of every round.
"""

from __future__ import annotations

import json
from typing import Any, Dict, FrozenSet, List, Optional, Tuple

from dflow.contract import SLICE_PARAMETER, decode_value, encode_value, slice_index, slice_item
from dflow.slicing import stack_producers, stacked_of_steps
from dflow.spec import FanoutSpec, StepSpec, StoredArtifact

from .refs import PV, Outcome, Scope, StepFailed

__all__ = ["loop_items", "cut_inputs", "take_part", "gather", "slice_index_of", "stacked_of_steps", "stack_outputs"]


def loop_items(step: StepSpec, scope: Scope, count_items: Any) -> Optional[List[Any]]:
    """The items a step fans out over, or None when it does not fan out.

    ``count_items(name)`` counts the items of the step's input artifact ``name`` (for a
    :attr:`FanoutSpec.count_from` that names an artifact).
    """
    if step.with_param is not None:
        text = scope.text(step.with_param)
        try:
            items = json.loads(text)
        except ValueError:
            raise StepFailed(f"with_param of step {step.name!r} is not a JSON list: {text[:200]!r}") from None
        if not isinstance(items, list):
            raise StepFailed(f"with_param of step {step.name!r} must be a list, got {type(items).__name__}")
        return items
    if step.with_sequence is not None:
        seq = step.with_sequence
        start = int(scope.text(seq.start)) if seq.start else 0
        if seq.count is not None:
            values = list(range(start, start + int(scope.text(seq.count))))
        else:
            end = int(scope.text(seq.end or "0"))
            values = list(range(start, end + 1)) if end >= start else list(range(start, end - 1, -1))
        return [seq.format % v for v in values] if seq.format else [str(v) for v in values]
    fan = step.fanout
    if fan is not None and fan.count_from is not None:
        kind, name = fan.count_from.split(".", 1)
        if kind == "parameters":
            text, tp = scope.param(step.parameters[name], None)
            value = decode_value(text, tp if tp not in (None, "str") else None)
            if not isinstance(value, list):
                raise StepFailed(f"step {step.name!r}: sliced input parameter {name!r} must be a list, got {str(text)[:100]!r}")
            return list(range(len(value)))
        n = count_items(name)
        return [{"order": i} for i in range(n)] if fan.ordered else list(range(n))
    return None


class _Decoded:
    """Every slice of a fan-out sees the same text object: decode it once."""

    def __init__(self) -> None:
        self.text: Optional[str] = None
        self.value: Any = None

    def get(self, text: Optional[str], tp: Optional[str]) -> Any:
        if self.text is not text or self.text is None:
            self.value = decode_value(text, tp if tp not in (None, "str") else None)
            self.text = text
        return self.value


_decoded = _Decoded()


def cut_inputs(fan: FanoutSpec, params: Dict[str, PV], arts: Dict[str, Optional[StoredArtifact]], index: int,
               catalog_of: Any) -> None:
    """Cut the sliced inputs in ``params`` and ``arts`` to slice ``index`` (in place)."""
    params[SLICE_PARAMETER] = encode_value(index)  # the runtime names per-slice outputs by it
    for name in fan.input_parameters:
        if name in params:
            text, tp = params[name]
            value = _decoded.get(text, tp)
            if not isinstance(value, list):
                raise StepFailed(f"sliced input parameter {name!r} must be a list, got {str(text)[:100]!r}")
            if index >= len(value):
                raise StepFailed(f"slice {index} of input parameter {name!r} is out of range (it has {len(value)} items)")
            params[name] = encode_value(value[index])
    for name in fan.input_artifacts:
        art = arts.get(name)
        if art is None:
            continue
        items = catalog_of(art)
        item = slice_item(items, index)
        if item is None or item.get("path") is None:  # as in dflow: the slice gets no artifact (an OP may take None)
            arts[name] = None
            continue
        part = art
        if art.parts is not None:
            part = next(p for p in art.parts if item in catalog_of(p))
        arts[name] = part.model_copy(update={"sub_path": item["path"], "catalog": None, "parts": None,
                                                "picked": False})


def take_part(art: StoredArtifact, sub: str) -> StoredArtifact:
    """The part ``sub`` of ``art`` a user took (``.sub_path()``): the step finds it as itself, as Argo places a
    ``subPath`` (a slice's item, :func:`cut_inputs`, keeps its path inside the artifact instead)."""
    return art.model_copy(update={"sub_path": sub if not art.sub_path else f"{art.sub_path}/{sub}", "picked": True})


def slice_index_of(params: Dict[str, PV]) -> int:
    try:
        return slice_index(params[SLICE_PARAMETER][0])
    except ValueError as e:
        raise StepFailed(str(e)) from None


def gather(fan: Optional[FanoutSpec], outputs_parameters: List[Any], outputs_artifacts: List[Any],
           results: List[Outcome]) -> Tuple[Dict[str, PV], Dict[str, List[StoredArtifact]]]:
    """The outputs of a fan-out: each parameter as the list of the items' values (the lists of
    grouped slices concatenated), each artifact as the items' parts in order."""
    sliced = set(fan.gather_parameters) if fan is not None else set()
    grouped = bool(fan is not None and fan.group_size)
    params: Dict[str, PV] = {}
    for p in outputs_parameters:
        values: List[Any] = []
        for r in results:
            pv = r.params.get(p.name)
            if pv is None or pv[0] is None:
                if p.name in sliced:
                    values.append(None)
                continue
            v = decode_value(pv[0], pv[1])
            if p.name in sliced and grouped and isinstance(v, list):
                values.extend(v)
            else:
                values.append(v)
        params[p.name] = encode_value(values)
    arts: Dict[str, List[StoredArtifact]] = {}
    gathered = set(fan.gather_artifacts) if fan is not None else set()
    for a in outputs_artifacts:
        parts = [r.arts[a.name] for r in results if r.arts.get(a.name) is not None]
        if parts or a.name in gathered:  # a gathered output exists even for zero slices: empty
            arts[a.name] = parts  # type: ignore[assignment]
    return params, arts



# ---------------------------------------------------------------- stacked outputs of sliced super-OPs

NOTHING: FrozenSet[str] = frozenset()


def stack_outputs(tmpl: Any, stacked: FrozenSet[str], done: Dict[str, Outcome], key: str,
                  storage: Optional[str]) -> Dict[str, StoredArtifact]:
    """The stacked outputs of a Steps/DAG template: for each name, the outputs of every step it may
    come from that produced it (``done``: the outcomes of the template's steps), as parts in run order."""
    arts: Dict[str, StoredArtifact] = {}
    for name in stacked:
        parts = [done[s].arts[a] for s, a in stack_producers(tmpl, name) if s in done and done[s].arts.get(a) is not None]
        if len(parts) == 1:
            arts[name] = parts[0]
        elif parts:
            arts[name] = StoredArtifact(key=f"{key}/{name}", storage=storage, parts=parts, stacked=True)
    return arts
