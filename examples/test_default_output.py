"""Spec 3.1.11 (Default value for output parameters): the default is used when
the step is skipped (and when the OP fails to produce the value).
"""
from dflow import OutputParameter, Step, Steps, Workflow, config
from dflow.python import OP, PythonOPTemplate

config["mode"] = "debug"


@OP.function
def produce(x: int) -> {"y": int}:
    return {"y": x * 10}


@OP.function
def consume(y: int) -> {"z": int}:
    return {"z": y + 1}


def main():
    templ = PythonOPTemplate(produce)
    templ.outputs.parameters["y"].default = -1

    wf = Workflow(name="default-output")
    ran = Step("ran", templ, parameters={"x": 2})
    skipped = Step("skipped", templ, parameters={"x": 3}, when="1 > 2")
    wf.add([ran, skipped])
    use = Step("use", PythonOPTemplate(consume), parameters={"y": skipped.outputs.parameters["y"]})
    wf.add(use)
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query_status()
    assert wf.query_step(name="ran")[0].outputs.parameters["y"].value == 20
    s = wf.query_step(name="skipped")[0]
    assert s.phase == "Skipped", s.phase
    assert int(s.outputs.parameters["y"].value) == -1, s.outputs.parameters["y"].value
    assert wf.query_step(name="use")[0].outputs.parameters["z"].value == 0

    # default of a Steps' output parameter when its value_from_expression step is skipped
    steps = Steps(name="inner")
    steps.outputs.parameters["y"] = OutputParameter(default="fallback")
    inner = Step("inner-step", templ, parameters={"x": 1}, when="1 > 2")
    steps.add(inner)
    steps.outputs.parameters["y"].value_from_parameter = inner.outputs.parameters["y"]
    wf2 = Workflow(name="default-steps")
    wf2.add(Step("outer", steps))
    wf2.submit()
    assert wf2.query_status() == "Succeeded", wf2.query_status()
    got = wf2.query_step(name="outer")[0].outputs.parameters["y"].value
    # the skipped inner step yields its own default -1, which the Steps passes on
    assert str(got) == "-1", got

    # without a default on the inner template, the Steps' own default is used
    steps3 = Steps(name="inner3")
    steps3.outputs.parameters["y"] = OutputParameter(default="fallback")
    inner3 = Step("inner3-step", PythonOPTemplate(produce), parameters={"x": 1}, when="1 > 2")
    steps3.add(inner3)
    steps3.outputs.parameters["y"].value_from_parameter = inner3.outputs.parameters["y"]
    wf3 = Workflow(name="default-steps3")
    wf3.add(Step("outer3", steps3))
    wf3.submit()
    assert wf3.query_status() == "Succeeded", wf3.query_status()
    got = wf3.query_step(name="outer3")[0].outputs.parameters["y"].value
    assert got == "fallback", got
    print("test_default_output OK")


if __name__ == "__main__":
    main()
