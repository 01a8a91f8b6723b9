"""Spec 3.1.18 (Important note: variable names): a name that breaks the rules
raises a clear error when the object is built; good names are accepted.
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
    Step("My-name1-2", PythonOPTemplate(echo), parameters={"msg": "x"})
    Step("123-NAME", PythonOPTemplate(echo), parameters={"msg": "x"})
    s = Steps(name="ok")
    s.inputs.parameters["my_param_1"] = InputParameter()
    s.inputs.parameters["MY-PARAM-1"] = InputParameter()

    # bad names
    expect_error(lambda: Workflow(name="My_Workflow"), "My_Workflow")
    expect_error(lambda: Workflow(name="a" * 58), "57")
    expect_error(lambda: ShellOPTemplate(name="Bad.Name", script="true"), "Bad.Name")
    expect_error(lambda: Step("my_step", PythonOPTemplate(echo), parameters={"msg": "x"}), "my_step")
    expect_error(lambda: Step("-step", PythonOPTemplate(echo), parameters={"msg": "x"}), "-step")

    def bad_param():
        Steps(name="bad").inputs.parameters["my.param"] = InputParameter()
    expect_error(bad_param, "my.param")

    # keys are dynamic: a bad key is reported when the step runs
    wf = Workflow(name="bad-key")
    wf.add(Step("s", PythonOPTemplate(echo), parameters={"msg": "x"}, key="Bad_Key"))
    try:
        wf.submit()
    except Exception as e:  # noqa: BLE001 - refusing at submit time is fine too
        assert "Bad_Key" in str(e), str(e)
    else:
        assert wf.query_status() in ("Failed", "Error"), wf.query_status()
        msgs = " ".join(str(x.message) for x in wf.query_step(type=["Pod", "Steps"])) + str(wf.query().message)
        assert "Bad_Key" in msgs, msgs
    print("test_names OK")


if __name__ == "__main__":
    main()
