"""Spec 3.1.18 (Important note: variable names): a name that breaks the rules
raises a clear error when the object is built; good names are accepted.

As in dflow, a template name the user gives is lower-cased before it is checked, and a
key is checked when the step is built (each ``{{...}}`` read as ``a``); the text a key
has when the workflow runs is held to no rule.
"""
from dflow import InputParameter, ShellOPTemplate, Step, Steps, Workflow, config
from dflow.python import OP, PythonOPTemplate

config["mode"] = "debug"


@OP.function
def echo(msg: str) -> {"msg": str}:
    return {"msg": msg}


def expect_error(fn, *words):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - any dflow error type is fine, the message matters
        text = str(e)
        for w in words:
            assert w in text, "error message %r does not mention %r" % (text, w)
        return e
    raise AssertionError("no error raised for a bad name (expected one mentioning %r)" % (words,))


def main():
    # good names from the table
    Workflow(name="my-name")
    ShellOPTemplate(name="my-name", script="true")
    assert ShellOPTemplate(name="Hello", script="true").name == "hello"
    Step("My-name1-2", PythonOPTemplate(echo), parameters={"msg": "x"})
    Step("123-NAME", PythonOPTemplate(echo), parameters={"msg": "x"})
    s = Steps(name="ok")
    s.inputs.parameters["my_param_1"] = InputParameter()
    s.inputs.parameters["MY-PARAM-1"] = InputParameter()

    # bad names
    expect_error(lambda: Workflow(name="My_Workflow"), "My_Workflow")
    expect_error(lambda: Workflow(name="a" * 58), "57")
    expect_error(lambda: ShellOPTemplate(name="Bad_Name", script="true"), "bad_name")
    expect_error(lambda: Step("my_step", PythonOPTemplate(echo), parameters={"msg": "x"}), "my_step")
    expect_error(lambda: Step("-step", PythonOPTemplate(echo), parameters={"msg": "x"}), "-step")

    def bad_param():
        Steps(name="bad").inputs.parameters["my.param"] = InputParameter()
    expect_error(bad_param, "my.param")

    # keys: a key written in the workflow is checked when the step is built
    expect_error(lambda: Step("s", PythonOPTemplate(echo), parameters={"msg": "x"}, key="Bad_Key"), "Bad_Key")
    Step("s", PythonOPTemplate(echo), parameters={"msg": "x"}, key="iter-{{item}}")
    # ...and the text it has when the workflow runs is held to no rule (an empty id gives "--echo")
    loop = Steps(name="keyed")
    loop.inputs.parameters["id"] = InputParameter(value="")
    loop.add(Step("s", PythonOPTemplate(echo), parameters={"msg": "x"},
                  key="%s--echo" % loop.inputs.parameters["id"]))
    wf = Workflow(name="keys", steps=loop)
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query().message
    assert [s.key for s in wf.query_step(name="s")] == ["--echo"]
    print("test_names OK")


if __name__ == "__main__":
    main()
