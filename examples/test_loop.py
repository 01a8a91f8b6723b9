"""Spec 3.1.6 (Produce parallel steps using loop): ``with_param`` over a
constant list and over a step's output, ``with_sequence`` with
``argo_sequence`` (start, count, end, format) and ``argo_len``; "{{item}}".
"""
from typing import List

from dflow import InputParameter, OutputParameter, Step, Steps, Workflow, argo_len, argo_range, argo_sequence, config
from dflow.python import OP, PythonOPTemplate

config["mode"] = "debug"


@OP.function
def make_list(n: int) -> {"items": List[str]}:
    return {"items": ["m%d" % i for i in range(n)]}


@OP.function
def echo(msg: str) -> {"msg": str}:
    return {"msg": "<%s>" % msg}



def main():
    wf = Workflow(name="loop")
    # with_param over a constant list
    const = Step("const", PythonOPTemplate(echo), parameters={"msg": "{{item}}"}, with_param=["a", "b", "c"])
    # with_param over argo_range
    rng = Step("rng", PythonOPTemplate(echo), parameters={"msg": "{{item}}"}, with_param=argo_range(2, 5))
    gen = Step("gen", PythonOPTemplate(make_list), parameters={"n": 3})
    wf.add([const, rng, gen])
    # with_param over a step's output
    dyn = Step("dyn", PythonOPTemplate(echo), parameters={"msg": "{{item}}"}, with_param=gen.outputs.parameters["items"])
    # with_sequence: start/count, start/end with format, argo_len of a step output
    seq_count = Step("seq-count", PythonOPTemplate(echo), parameters={"msg": "{{item}}"},
                     with_sequence=argo_sequence(count=3, start=5))
    seq_end = Step("seq-end", PythonOPTemplate(echo), parameters={"msg": "{{item}}"},
                   with_sequence=argo_sequence(start=1, end=3, format="i%03d"))
    seq_len = Step("seq-len", PythonOPTemplate(echo), parameters={"msg": "{{item}}"},
                   with_sequence=argo_sequence(argo_len(gen.outputs.parameters["items"])))
    wf.add([dyn, seq_count, seq_end, seq_len])

    # inside a Steps: with_param from the Steps' input, with_sequence of its length
    steps = Steps(name="fan")
    steps.inputs.parameters["msg_list"] = InputParameter()
    steps.outputs.parameters["msgs"] = OutputParameter()
    by_param = Step("by-param", PythonOPTemplate(echo), parameters={"msg": "{{item}}"},
                    with_param=steps.inputs.parameters["msg_list"])
    by_seq = Step("by-seq", PythonOPTemplate(echo), parameters={"msg": "{{item}}"},
                  with_sequence=argo_sequence(argo_len(steps.inputs.parameters["msg_list"])))
    steps.add([by_param, by_seq])
    steps.outputs.parameters["msgs"].value_from_parameter = by_param.outputs.parameters["msg"]
    wf.add(Step("fan", steps, parameters={"msg_list": ["x", "y"]}))
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query_status()

    def pods(name):
        got = [s for s in wf.query_step(type="Pod") if s.displayName.split("(")[0] == name]
        return sorted(s.outputs.parameters["msg"].value for s in got)

    assert pods("const") == ["<a>", "<b>", "<c>"], pods("const")
    assert pods("rng") == ["<2>", "<3>", "<4>"], pods("rng")
    assert pods("dyn") == ["<m0>", "<m1>", "<m2>"], pods("dyn")
    assert pods("seq-count") == ["<5>", "<6>", "<7>"], pods("seq-count")
    assert pods("seq-end") == ["<i001>", "<i002>", "<i003>"], pods("seq-end")
    assert pods("seq-len") == ["<0>", "<1>", "<2>"], pods("seq-len")
    assert pods("by-param") == ["<x>", "<y>"], pods("by-param")
    assert pods("by-seq") == ["<0>", "<1>"], pods("by-seq")
    # the group of parallel steps
    groups = wf.query_step(name="const", type="StepGroup")
    assert len(groups) == 1 and groups[0].phase == "Succeeded", groups
    fan = wf.query_step(name="fan")[0]
    assert fan.outputs.parameters["msgs"].value == ["<x>", "<y>"], fan.outputs.parameters["msgs"].value
    print("test_loop OK")


if __name__ == "__main__":
    main()
