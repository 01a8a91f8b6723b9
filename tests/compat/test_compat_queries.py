"""What queries return, read the way code copied from dflow's own command line reads them.

APEX's ``apex list``, ``apex get`` and ``apex getsteps`` are copies of the original's CLI:
they read ``query_workflows(labels)`` and ``wf.query()`` as Argo objects
(``w.metadata.creationTimestamp``, ``w.status.phase``, ``w.get_duration()``), call
``step.get_duration()`` and pass ``query_step_by_key``'s filters by position
(``docs/compat-report.md``, C53).
"""

import datetime
import re

import pytest

from dflow import Step, Workflow, query_workflows
from dflow.errors import ValidationError
from dflow.python import OP, PythonOPTemplate

ARGO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@OP.function
def plus_one(n: int) -> {"n": int}:
    return {"n": n + 1}


def _run(name: str, labels=None) -> Workflow:
    wf = Workflow(name, labels=labels)
    wf.add(Step("one", PythonOPTemplate(plus_one), parameters={"n": 1}, key="one-key"))
    wf.add(Step("two", PythonOPTemplate(plus_one), parameters={"n": 2}, key="two-key"))
    wf.submit()
    assert wf.wait() == "Succeeded"
    return wf


def test_a_queried_workflow_reads_as_dflows_argo_workflow(local_run):
    wf = _run("shape")
    info = wf.query()
    assert (info.status.phase, info["status"]["phase"], info.metadata.name, info.uid) == ("Succeeded", "Succeeded", wf.id, wf.id)
    for stamp in (info.metadata.creationTimestamp, info.status.startedAt, info.status.finishedAt):
        assert ARGO_TIME.match(stamp), stamp
    assert info.status.startedAt <= info.status.finishedAt
    took = info.get_duration()
    assert isinstance(took, datetime.timedelta) and datetime.timedelta(0) < took < datetime.timedelta(minutes=5)
    assert info.status.message is None and info.status.get("estimatedDuration") is None


def test_a_queried_step_has_its_duration(local_run):
    wf = _run("durations")
    [step] = wf.query_step(key="one-key")
    took = step.get_duration()
    assert isinstance(took, datetime.timedelta) and took > datetime.timedelta(0)
    assert abs(took.total_seconds() - step.duration) < 1e-5


def test_query_step_by_key_takes_its_filters_by_position(local_run):
    wf = _run("by-key")
    # apex getsteps -k: wf.query_step_by_key(key, name, phase, id, type)
    assert [s.key for s in wf.query_step_by_key(["one-key", "two-key"], None, "Succeeded", None, "Pod")] == ["one-key", "two-key"]
    assert wf.query_step_by_key("one-key", "two") == []
    assert wf.query_step_by_key("one-key", None, "Failed") == []


def test_query_workflows_keeps_those_with_the_labels_given(local_run):
    tagged = _run("tagged", labels={"project": "alloys", "stage": "relax"})
    other = _run("other", labels={"project": "oxides"})
    plain = _run("plain")
    assert {w.id for w in query_workflows()} == {tagged.id, other.id, plain.id}
    # by position, as dflow's query_workflows(labels, fields)
    [found] = query_workflows({"project": "alloys"}, ["metadata", "items.status.phase"])
    assert found.id == tagged.id and found.metadata.labels == {"project": "alloys", "stage": "relax"}
    assert [w.id for w in query_workflows(labels={"project": "alloys", "stage": "eos"})] == []
    # what apex list reads of each
    for w in query_workflows(labels={"project": "oxides"}):
        assert (w.metadata.name, w.status.phase) == (other.id, "Succeeded")
        assert ARGO_TIME.match(w.metadata.creationTimestamp) and w.get_duration() > datetime.timedelta(0)


def test_labels_that_are_not_a_dict_are_refused_saying_what_to_give(local_run):
    with pytest.raises(ValidationError, match=r"labels are a dict of label name to value.*'project': 'alloys'"):
        query_workflows("project=alloys")
