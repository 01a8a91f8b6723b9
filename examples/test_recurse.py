"""Spec 3.1.3 (Steps, recursion) and 3.1.5 (``when``): a Steps that uses itself
as the template of one of its steps, stopping when the counter reaches a limit.
"""
from dflow import InputParameter, OutputParameter, Step, Steps, Workflow, config
from dflow.python import OP, OPIO, OPIOSign, PythonOPTemplate

config["mode"] = "debug"


class Plus1(OP):
    @classmethod
    def get_input_sign(cls):
        return OPIOSign({"iter": int})

    @classmethod
    def get_output_sign(cls):
        return OPIOSign({"iter": int})

    @OP.exec_sign_check
    def execute(self, op_in):
        return OPIO({"iter": op_in["iter"] + 1})


def main():
    steps = Steps(name="iter")
    steps.inputs.parameters["iter"] = InputParameter(value=0)
    steps.inputs.parameters["limit"] = InputParameter(value=3)
    steps.outputs.parameters["iter"] = OutputParameter()
    add = Step("add", PythonOPTemplate(Plus1), parameters={"iter": steps.inputs.parameters["iter"]},
               key="add-{{inputs.parameters.iter}}")
    steps.add(add)
    nxt = Step("next", steps, parameters={"iter": add.outputs.parameters["iter"],
                                          "limit": steps.inputs.parameters["limit"]},
               when="%s < %s" % (add.outputs.parameters["iter"], steps.inputs.parameters["limit"]))
    steps.add(nxt)
    steps.outputs.parameters["iter"].value_from_parameter = add.outputs.parameters["iter"]

    wf = Workflow("recurse")
    top = Step("iter-0", steps, parameters={"iter": 0, "limit": 3})
    wf.add(top)
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query_status()

    adds = wf.query_step(name="add")
    assert len(adds) == 3, adds
    assert sorted(s.outputs.parameters["iter"].value for s in adds) == [1, 2, 3]
    # keys may reference parameters: one key per iteration
    for i in range(3):
        s = wf.query_step(key="add-%d" % i)
        assert len(s) == 1 and s[0].outputs.parameters["iter"].value == i + 1, s
    # the last "next" is skipped by its when condition
    skipped = wf.query_step(name="next", phase="Skipped")
    assert len(skipped) == 1, skipped
    assert wf.query_step(name="iter-0")[0].outputs.parameters["iter"].value == 1
    print("test_recurse OK")


if __name__ == "__main__":
    main()
