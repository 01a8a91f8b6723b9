"""``DAG``: a template whose tasks run as soon as the tasks they depend on have finished."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from .errors import ValidationError
from .io import Inputs, Outputs
from .op_template import ContainerTemplate
from .step import Task

__all__ = ["DAG"]


class DAG(ContainerTemplate):
    """Tasks with dependencies found from their data flow, plus explicit ``dependencies`` (3.1.4)."""

    def __init__(
        self,
        name: Optional[str] = None,
        inputs: Optional[Inputs] = None,
        outputs: Optional[Outputs] = None,
        tasks: Optional[List[Task]] = None,
        memoize_key: Optional[str] = None,
        annotations: Optional[Dict[str, str]] = None,
        parallelism: Optional[int] = None,
        **kwargs: Any,
    ) -> None:
        self.tasks: List[Task] = []
        super().__init__(name, inputs, outputs, tasks, memoize_key, annotations, parallelism, **kwargs)

    def add(self, task: Any) -> None:
        """Add a task (or a list of tasks)."""
        for t in task if isinstance(task, (list, tuple)) else [task]:
            if not isinstance(t, Task):
                raise ValidationError(
                    f"DAG {self.name!r}: can only add Task objects, got {type(t).__name__}; "
                    "use dflow.Task(...) instead of Step(...) inside a DAG"
                )
            named = self._named(t.name)
            if named is t:  # (a task built inside `with dag:` joined it already)
                continue
            if named is not None:
                raise ValidationError(f"DAG {self.name!r} already has a task called {t.name!r}")
            self._append(t, [t])

    def all_steps(self) -> List[Task]:
        return list(self.tasks)

    def _entries(self) -> List[Task]:
        return self.tasks
