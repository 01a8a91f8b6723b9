"""Spec 3.2.3 (Progress): an OP sets ``progress_total`` and
``progress_current``; the progress can be followed while the step runs and
is reported at the end.
"""
import time

from dflow import Step, Workflow, config
from dflow.python import OP, OPIO, OPIOSign, PythonOPTemplate

config["mode"] = "debug"


class Progress(OP):
    progress_total = 100

    @classmethod
    def get_input_sign(cls):
        return OPIOSign({"n": int})

    @classmethod
    def get_output_sign(cls):
        return OPIOSign({"n": int})

    @OP.exec_sign_check
    def execute(self, op_in):
        for i in range(10):
            time.sleep(0.15)
            self.progress_current = 10 * (i + 1)
        return OPIO({"n": op_in["n"]})


def main():
    config["detach"] = True
    try:
        wf = Workflow(name="progress")
        wf.add(Step("progress", PythonOPTemplate(Progress), parameters={"n": 1}))
        wf.submit()
        seen = set()
        deadline = time.time() + 60
        while wf.query_status() in ("Pending", "Running") and time.time() < deadline:
            for s in wf.query_step(name="progress"):
                if s.progress:
                    seen.add(s.progress)
            time.sleep(0.05)
    finally:
        config["detach"] = False
    assert wf.query_status() == "Succeeded", wf.query_status()
    step = wf.query_step(name="progress")[0]
    assert step.progress == "100/100", step.progress
    partial = {p for p in seen if p != "100/100"}
    assert partial, "no intermediate progress was observed while the step ran: %s" % seen
    assert all(p.endswith("/100") for p in seen), seen
    print("test_progress OK", sorted(seen, key=lambda p: int(p.split("/")[0])))


if __name__ == "__main__":
    main()
