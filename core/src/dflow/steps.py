"""``Steps``: a template made of groups of steps, run in order (groups) and in parallel (inside a group)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Union

from .errors import ValidationError
from .io import Inputs, Outputs
from .op_template import ContainerTemplate
from .step import Step

__all__ = ["Steps"]


class Steps(ContainerTemplate):
    """A sub-workflow: ``[[s00, s01], [s10]]`` runs s00 and s01 together, then s10 (3.1.3)."""

    def __init__(
        self,
        name: Optional[str] = None,
        inputs: Optional[Inputs] = None,
        outputs: Optional[Outputs] = None,
        steps: Optional[List[Union[Step, List[Step]]]] = None,
        memoize_key: Optional[str] = None,
        annotations: Optional[Dict[str, str]] = None,
        parallelism: Optional[int] = None,
        **kwargs: Any,
    ) -> None:
        self.steps: List[List[Step]] = []
        super().__init__(name, inputs, outputs, steps, memoize_key, annotations, parallelism, **kwargs)

    def add(self, step: Union[Step, List[Step]]) -> None:
        """Add a step, or a list of steps that run in parallel."""
        group = list(step) if isinstance(step, (list, tuple)) else [step]
        if not group:
            raise ValidationError(f"Steps {self.name!r}: cannot add an empty group of steps")
        in_group: Dict[str, Step] = {}
        for s in group:
            if not isinstance(s, Step):
                raise ValidationError(f"Steps {self.name!r}: can only add Step objects, got {type(s).__name__}")
            named = self._named(s.name)
            if named is None:
                named = in_group.setdefault(s.name, s)
            if named is not s:
                raise ValidationError(
                    f"Steps {self.name!r} already has a step called {s.name!r}; step names must be unique in a Steps"
                )
        self._append(group, group)

    def all_steps(self) -> List[Step]:
        return [s for g in self.steps for s in g]

    def _entries(self) -> List[List[Step]]:
        return self.steps
