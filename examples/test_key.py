"""Spec 3.1.12 (Key of a step): a key may reference parameters (here the loop
item); ``query_step(key=...)`` returns a singleton list for a unique key.
"""
from dflow import Step, Workflow, argo_range, config
from dflow.python import OP, PythonOPTemplate

config["mode"] = "debug"


@OP.function
def square(x: int) -> {"y": int}:
    return {"y": x * x}


def main():
    wf = Workflow(name="keys")
    first = Step("first", PythonOPTemplate(square), parameters={"x": 7}, key="first-step")
    par = Step("par", PythonOPTemplate(square), parameters={"x": "{{item}}"}, with_param=argo_range(3),
               key="square-{{item}}")
    wf.add([first, par])
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query_status()

    s = wf.query_step(key="first-step")
    assert len(s) == 1 and s[0].outputs.parameters["y"].value == 49, s
    assert s[0].key == "first-step"
    for i in range(3):
        s = wf.query_step(key="square-%d" % i)
        assert len(s) == 1, s
        assert s[0].outputs.parameters["y"].value == i * i
    both = wf.query_step(key=["square-0", "square-2"])
    assert sorted(x.key for x in both) == ["square-0", "square-2"]
    assert sorted(wf.query_keys_of_steps()) == ["first-step", "square-0", "square-1", "square-2"]
    assert wf.query_step(key="no-such-key") == []
    print("test_key OK")


if __name__ == "__main__":
    main()
