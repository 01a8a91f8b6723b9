"""What the server makes of records: values as text, pickles never loaded, secrets masked, folding.

These build :class:`dflow.backend.StepRecord` objects by hand, the shapes every
backend returns, to cover cases a local run does not produce on its own (a value
typed ``pickle``, a launch description with a password, thousands of slices).
"""

from __future__ import annotations

import base64
import json
import pickle

from dflow.backend import StepRecord
from dflow_ui.fold import FOLD_AT, NOTABLE, fold_run, page_children
from dflow_ui.logs import _Lines
from dflow_ui.security import MASK, Redactor
from dflow_ui.views import parameter_view, step_detail

NO_SECRETS = Redactor([])


class Boom:
    """Unpickling this would run code: the server must never do it."""

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (exec, ("raise SystemExit('unpickled!')",))


def _pv(text, type_name):  # type: ignore[no-untyped-def]
    return StepRecord(id="x", name="x", display_name="x", type="Pod", phase="Succeeded",
                      inputs_parameters={"p": {"text": text, "type": type_name}}).inputs_parameters["p"]


def test_pickled_values_are_placeholders_and_never_loaded() -> None:
    data = base64.b64encode(pickle.dumps(Boom())).decode()
    by_contract = parameter_view("p", _pv(json.dumps({"__dflow_pickle__": data}), "Boom"), NO_SECRETS)
    assert by_contract["opaque"] and "pickled Boom" in by_contract["text"] and data not in by_contract["text"]
    by_type = parameter_view("p", _pv(data, "pickle:Fraction"), NO_SECRETS)
    assert by_type["opaque"] and "pickled Fraction" in by_type["text"] and data not in by_type["text"]


def test_values_are_text_and_long_ones_are_cut_with_their_size() -> None:
    v = parameter_view("p", _pv('{"a": [1, 2]}', "dict"), NO_SECRETS)
    assert v["text"] == '{"a": [1, 2]}' and v["type"] == "dict" and not v["opaque"]
    markup = parameter_view("p", _pv("<script>alert(1)</script>", "str"), NO_SECRETS)
    assert markup["text"] == "<script>alert(1)</script>"  # the page puts it in as text
    big = parameter_view("p", _pv("y" * 200_000, "str"), NO_SECRETS)
    assert big["cut"] and big["size"] == 200_000 and len(big["text"]) == 64 * 1024
    assert parameter_view("p", _pv(None, None), NO_SECRETS)["text"] is None


def test_secret_values_and_secret_names_are_masked() -> None:
    redact = Redactor(["hunter2-very-secret", "short", "password", None])
    assert redact.text("pw=hunter2-very-secret;") == f"pw={MASK};"
    # too short or a well-known default: masking it would garble ordinary text
    assert redact.text("short password") == "short password"
    assert parameter_view("api_token", _pv("abc", "str"), redact)["text"] == MASK
    assert parameter_view("note", _pv("key is hunter2-very-secret", "str"), redact)["text"] == f"key is {MASK}"
    rec = StepRecord(id="s", name="s", display_name="s", type="Pod", phase="Running", message="hunter2-very-secret",
                     launch={"executor": "dispatcher", "where": "me@host:/x", "password": "pw", "job": "12"})
    detail = step_detail(rec, redact)
    assert detail["launch"]["password"] == MASK and detail["launch"]["job"] == "12"
    assert detail["executor"] == "dispatcher" and detail["where"] == "me@host:/x"
    assert detail["message"] == MASK


def _fanout(n: int, phases=lambda i: "Succeeded") -> list:  # type: ignore[no-untyped-def]
    recs = [StepRecord(id="root", name="wf", display_name="wf", type="Steps", phase="Running", template="main"),
            StepRecord(id="g", name="sq", display_name="sq", type="StepGroup", phase="Running", parent="root")]
    recs += [StepRecord(id=f"s{i}", name="sq", display_name=f"sq({i})", type="Pod", phase=phases(i), parent="g",
                        message="bad input" if phases(i) == "Failed" else None, started_at=100.0 + i)
             for i in range(n)]
    return recs


def test_ten_thousand_slices_fold_into_one_node_with_counts() -> None:
    phase = {0: "Failed", 1: "Running"}
    recs = _fanout(10_000, lambda i: phase.get(i % 1000, "Succeeded"))
    view = fold_run(recs, None, NO_SECRETS)
    assert set(view.nodes) == {"root", "g"}
    group = view.nodes["g"]["group"]
    assert group["total"] == 10_000 and group["counts"] == {"Failed": 10, "Running": 10, "Succeeded": 9980}
    assert [n["phase"] for n in view.notable["g"]] == ["Failed"] * 10 and len(view.notable["g"]) == NOTABLE
    assert view.failed_total == 10 and view.failed[0]["message"] == "bad input" and not view.failed[0]["visible"]
    assert view.edges == [("root", "g")]
    page = page_children(recs, "g", NO_SECRETS, phase="Running", offset=5, limit=3)
    assert page["total"] == 10 and [r["display"] for r in page["rows"]] == ["sq(5001)", "sq(6001)", "sq(7001)"]


def test_a_small_fan_out_stays_unfolded() -> None:
    view = fold_run(_fanout(FOLD_AT), None, NO_SECRETS)
    assert len(view.nodes) == FOLD_AT + 2 and "group" not in view.nodes["g"]
    assert ("g", "s0") in view.edges


def test_log_text_is_released_by_whole_lines_and_whole_characters() -> None:
    lines = _Lines(Redactor(["hunter2-very-secret"]))
    data = "é line one\nthe key hunter2-very-secret ends\nhalf".encode()
    cut = data.index(b"hunter2") + 4  # a chunk ends inside the secret
    text, n = lines.feed(data[:cut])
    assert text == "é line one\n" and n == len("é line one\n".encode())
    text, n = lines.feed(data[cut:])
    assert text == f"the key {MASK} ends\n"
    # an idle log is flushed, but never in the middle of a character
    tail = "ü".encode()
    text, n = lines.feed(tail[:1], flush=True)
    assert text == "half" and n == 4
    text, n = lines.feed(tail[1:], flush=True)
    assert text == "ü" and n == 2
