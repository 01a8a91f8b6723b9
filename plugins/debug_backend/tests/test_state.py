"""The on-disk state helpers: torn records are skipped, atomic writes never tear."""

import json
import os
import threading

from dflow.backend import StepRecord
from dflow_debug.state import NodeLog, atomic_write, read_nodes


def test_a_torn_last_record_falls_back_to_the_previous_one(tmp_path):
    path = str(tmp_path / "nodes.jsonl")
    log = NodeLog(path)
    rec = StepRecord(id="w-1", name="a", display_name="a", type="Pod", phase="Running")
    log.append(rec)
    rec.phase = "Succeeded"
    line = rec.model_dump_json(exclude_defaults=True)
    os.write(log.fd, line[: len(line) // 2].encode())  # a driver killed mid-append
    log.close()
    assert read_nodes(path)["w-1"].phase == "Running"
    # the next writer starts on a fresh line, so its record is whole
    log = NodeLog(path)
    log.append(rec)
    log.close()
    assert read_nodes(path)["w-1"].phase == "Succeeded"


def test_atomic_write_is_never_seen_half_written(tmp_path):
    path = str(tmp_path / "state.json")
    atomic_write(path, json.dumps({"n": 0, "pad": "x" * 100000}))
    stop = threading.Event()
    bad = []

    def reader():
        while not stop.is_set():
            with open(path) as f:
                try:
                    json.load(f)
                except ValueError as e:
                    bad.append(e)

    t = threading.Thread(target=reader)
    t.start()
    for i in range(300):
        atomic_write(path, json.dumps({"n": i, "pad": "x" * 100000}))
    stop.set()
    t.join()
    assert bad == []
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".tmp-")]
