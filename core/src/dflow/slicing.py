"""``Slices`` lowered once, by the compiler, into a plain fan-out that every backend runs.

The result for a step is its final loop (``with_param``/``with_sequence``, counting
groups when ``group_size`` is set, and worked out from the sliced inputs when the user
gave no loop) and a :class:`~dflow.spec.FanoutSpec` naming what is cut per item and
what is gathered. Loops are written in Argo's expression language, which the local
engine evaluates with the same semantics, so no backend re-derives them.
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, FrozenSet, List, Optional, Tuple

from . import expressions as X
from . import spec as S
from .contract import SLICE_PARAMETER
from .errors import ValidationError

__all__ = ["lower_slices", "list_expression", "stack_producers", "stacked_of_steps"]

_WORKFLOW_REF = re.compile(r"^\{\{\s*workflow\.parameters\.([^.{}\s]+)\s*\}\}$")


def list_expression(text: str) -> Optional[str]:
    """An expression giving the list that the parameter text ``text`` stands for, or None."""
    t = text.strip()
    if t.startswith("{{=") and t.endswith("}}") and t.count("{{") == 1:
        return f"sprig.fromJson({t[3:-2]})"
    m = X.INPUT_PARAMETER_REF.match(t)
    if m:
        return f"sprig.fromJson(inputs.parameters['{m.group(1)}'])"
    m = X.STEP_OUTPUT_PARAMETER_REF.match(t)
    if m:
        return "sprig.fromJson({}['{}'].outputs.parameters['{}'])".format(*m.group(1, 2, 3))
    m = _WORKFLOW_REF.match(t)
    if m:
        return f"sprig.fromJson(workflow.parameters['{m.group(1)}'])"
    return None


def _number_expression(text: str) -> Optional[str]:
    """An expression giving the number that the parameter text ``text`` stands for, or None."""
    t = text.strip()
    if t.startswith("{{=") and t.endswith("}}") and t.count("{{") == 1:
        return f"({t[3:-2]})"
    listed = list_expression(t)  # a reference: its text is the number
    return "asInt(" + listed[len("sprig.fromJson("):-1] + ")" if listed is not None and listed.startswith("sprig.fromJson(") \
        else None


def _positions_are_items(expr: str, with_param: Optional[str], seq: Optional[S.SequenceSpec]) -> bool:
    """Whether the slices expression ``expr`` gives each item of the loop its position (``int('{{item}}')``
    over ``with_sequence(count=..., format="%03d")``, say): then a group's slices are its positions."""
    from .contract import slice_index

    if with_param is not None:
        try:
            items = json.loads(with_param)
        except ValueError:
            return False
        texts = [i if isinstance(i, str) else json.dumps(i) for i in items] if isinstance(items, list) else None
    elif seq is not None and not seq.start and not seq.end:
        fmt = seq.format or "%d"
        try:
            texts = [fmt % i for i in range(100)]  # (a count known at run time: the first hundred)
        except (TypeError, ValueError):
            return False
    else:
        return False
    try:
        return texts is not None and all(slice_index(expr.replace("{{item}}", t)) == i for i, t in enumerate(texts))
    except ValueError:
        return False


def _literal_length(text: str) -> Optional[int]:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return len(value) if isinstance(value, list) else None


def _count_loop(where: str, fanout: S.FanoutSpec, params: Dict[str, str],
                arts: Dict[str, S.ArtifactArgument], artifacts_first: bool = False) -> Tuple[Optional[str], Optional[str]]:
    """``(with_param, count_from)`` listing the items of the sliced inputs when the user gave no loop
    (``artifacts_first``: the items of a sliced artifact, as dflow counts ``sub_path`` slices)."""
    if artifacts_first:
        found = _count_artifact(fanout, arts)
        if found is not None:
            return found
    for name in fanout.input_parameters:
        text = params.get(name)
        if text is None:
            continue
        n = _literal_length(text)
        if n is not None:
            return json.dumps(list(range(n))), None
        expr = list_expression(text)
        if expr is not None:
            return "{{=toJson(sprig.until(len(" + expr + ")))}}", None
        return None, f"parameters.{name}"
    found = _count_artifact(fanout, arts)
    if found is not None:
        return found
    raise ValidationError(
        f"{where}: its Slices name no sliced input parameter or artifact that the step gives, so the number "
        "of slices is unknown; give with_param=... (or with_sequence=...) or slice an input the step passes"
    )


def _count_artifact(fanout: S.FanoutSpec,
                    arts: Dict[str, S.ArtifactArgument]) -> Optional[Tuple[Optional[str], Optional[str]]]:
    """The loop over the items of the first sliced artifact the step gives, or None."""
    for name in fanout.input_artifacts:
        a = arts.get(name)
        if a is None:
            continue
        if a.stored is not None and a.stored.catalog is not None and not a.sub_path:
            return json.dumps(list(range(len(a.stored.catalog)))), None
        return None, f"artifacts.{name}"
    return None


def _group_loop(where: str, with_param: Optional[str], seq: Optional[S.SequenceSpec],
                g: int) -> Tuple[Optional[str], Optional[S.SequenceSpec]]:
    """The loop over groups of ``g`` items of a loop over items."""
    if with_param is not None:
        n = _literal_length(with_param)
        if n is not None:
            return json.dumps(list(range(-(-n // g)))), None
        expr = list_expression(with_param)
        if expr is None:
            raise ValidationError(
                f"{where}: with_param {with_param!r} of a Slices(group_size=...) step must be a list, an "
                "expression or a parameter reference"
            )
        return "{{=toJson(sprig.until(int((len(" + expr + f") + {g - 1}) / {g})))}}}}", None
    if seq is not None and seq.count is not None and str(seq.count).isdigit() and not seq.start and not seq.end:
        return None, seq.model_copy(update={"count": str(-(-int(seq.count) // g))})
    count = _number_expression(str(seq.count)) if seq is not None and seq.count is not None else None
    if seq is not None and count is not None and not seq.start and not seq.end:  # a count known at run time
        return None, seq.model_copy(update={"count": "{{=int((" + count + f" + {g - 1}) / {g})}}}}"})
    raise ValidationError(
        f"{where}: Slices(group_size=...) needs with_param, or with_sequence with a constant count and no start"
    )


def lower_slices(
    where: str,
    slices: S.SlicesSpec,
    params: Dict[str, str],
    arts: Dict[str, S.ArtifactArgument],
    with_param: Optional[str],
    seq: Optional[S.SequenceSpec],
    container: bool = False,
) -> Tuple[Optional[str], Optional[S.SequenceSpec], S.FanoutSpec]:
    """The loop a sliced step runs and its fan-out description; sets ``params[dflow_slice]``.

    ``where`` names the step in error messages; ``params`` and ``arts`` are the step's
    compiled arguments. A ``container`` (a Steps or DAG template) has no ``dflow_slice``
    input: the backend hands each instance its own item of the sliced inputs.
    """
    fanout = S.FanoutSpec(
        group_size=slices.group_size if not slices.sub_path else None,
        sub_path=slices.sub_path,
        input_parameters=list(slices.input_parameter),
        input_artifacts=list(slices.input_artifact),
        gather_parameters=list(slices.output_parameter),
        gather_artifacts=list(slices.output_artifact),
    )
    if with_param is None and seq is None:
        # dflow's sub_path slices of an artifact loop over {"order": i} items: keys read {{item.order}} (a
        # super-OP's slices, sub_path for the backend, take the item as the slice index: plain numbers)
        fanout.ordered = fanout.sub_path and not container and any(
            arts.get(x) is not None for x in fanout.input_artifacts)
        with_param, fanout.count_from = _count_loop(where, fanout, params, arts, artifacts_first=fanout.ordered)
        n = _literal_length(with_param) if with_param is not None else None
        if fanout.ordered and n is not None:
            with_param = json.dumps([{"order": i} for i in range(n)])
        if not container:
            params[SLICE_PARAMETER] = "{{item.order}}" if fanout.ordered else "{{item}}"
    elif not container:
        params[SLICE_PARAMETER] = slices.slices or "{{item}}"
    if fanout.group_size:
        if fanout.count_from is not None:
            raise ValidationError(
                f"{where}: Slices(group_size=...) needs the number of slices when the workflow is compiled; "
                f"give with_param=... (the sliced input {fanout.count_from.split('.', 1)[1]!r} is only known at run time)"
            )
        if slices.slices and slices.slices.replace(" ", "") != "{{item}}" \
                and not _positions_are_items(slices.slices, with_param, seq):  # (then a group takes its positions)
            raise ValidationError(f"{where}: Slices(group_size=...) takes a slices expression only when it gives "
                                  f"each item its position in the loop, as '{{{{item}}}}' or int('{{{{item}}}}') over "
                                  f"a sequence from 0 do; {slices.slices!r} does not")
        if slices.slices and not container:
            params[SLICE_PARAMETER] = "{{item}}"  # the group's number (its slices are the group's positions)
        with_param, seq = _group_loop(where, with_param, seq, int(fanout.group_size))
    return with_param, seq, fanout


# ---------------------------------------------------------------- stacked outputs of sliced super-OPs


def stack_producers(tmpl: Any, name: str) -> List[Tuple[str, str]]:
    """The (step, output artifact) pairs that output artifact ``name`` of a Steps/DAG template
    may come from, in the order the template runs its steps."""
    out = next((a for a in tmpl.outputs_artifacts if a.name == name), None)
    if out is None:
        return []
    refs = X.find_refs(out.from_ or "") + X.find_refs("{{=%s}}" % out.from_expression if out.from_expression else "")
    parts = [r.split(".") for r in refs]
    found = list(dict.fromkeys((p[1], p[4]) for p in parts
                               if len(p) == 5 and p[0] in ("steps", "tasks") and p[2:4] == ["outputs", "artifacts"]))
    order = {s.name: i for i, s in enumerate(tmpl.all_steps())}
    return sorted(found, key=lambda p: order.get(p[0], len(order)))


def stacked_of_steps(tmpl: Any, stacked: FrozenSet[str]) -> Dict[str, FrozenSet[str]]:
    """Which output artifacts of each step of a Steps/DAG template stack, when the template's outputs ``stacked`` do."""
    out: Dict[str, set] = {}
    for name in stacked:
        for step, art in stack_producers(tmpl, name):
            out.setdefault(step, set()).add(art)
    return {k: frozenset(v) for k, v in out.items()}
