"""Spec 3.1.9 (Continue on success number/ratio of parallel steps):
``continue_on_num_success`` and ``continue_on_success_ratio``.
"""
from dflow import Step, Workflow, argo_range, config
from dflow.python import OP, PythonOPTemplate

config["mode"] = "debug"


@OP.function
def maybe_fail(i: int) -> {"i": int}:
    if i % 4 == 0:  # items 0 and 4 of 0..5 fail: 4 of 6 succeed
        raise RuntimeError("item %d fails" % i)
    return {"i": i}


def run(name, **kwargs):
    wf = Workflow(name=name)
    wf.add(Step("par", PythonOPTemplate(maybe_fail), parameters={"i": "{{item}}"}, with_param=argo_range(6), **kwargs))
    wf.add(Step("after", PythonOPTemplate(maybe_fail), parameters={"i": 1}))
    wf.submit()
    return wf


def main():
    ok = run("ratio-ok", continue_on_success_ratio=0.6)
    assert ok.query_status() == "Succeeded", ok.query_status()
    pods = ok.query_step(name=r"par\(.*\)", type="Pod")
    assert sorted(p.phase for p in pods) == ["Failed"] * 2 + ["Succeeded"] * 4, [p.phase for p in pods]
    assert ok.query_step(name="after")[0].phase == "Succeeded"

    too_few = run("ratio-bad", continue_on_success_ratio=0.8)
    assert too_few.query_status() == "Failed", too_few.query_status()

    num_ok = run("num-ok", continue_on_num_success=4)
    assert num_ok.query_status() == "Succeeded", num_ok.query_status()
    assert num_ok.query_step(name="after")[0].phase == "Succeeded"

    num_bad = run("num-bad", continue_on_num_success=5)
    assert num_bad.query_status() == "Failed", num_bad.query_status()
    print("test_success_ratio OK")


if __name__ == "__main__":
    main()
