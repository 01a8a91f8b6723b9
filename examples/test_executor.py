"""Spec 3.1.14 (Executor): a custom ``Executor.render`` that rewrites a script
template, set on a step; a workflow ``context`` that affects every step that has no
executor of its own (as in dflow, a step's own executor renders it instead).
"""
from dflow import Executor, OutputParameter, ShellOPTemplate, Step, Workflow, config

config["mode"] = "debug"


class PrefixExecutor(Executor):
    """Runs the original script after exporting a variable."""

    def __init__(self, value):
        self.value = value

    def render(self, template):
        new = template.copy() if hasattr(template, "copy") else template
        new.script = "export GREETING=%s\n" % self.value + new.script
        return new


class LoggingContext:
    """A workflow context: appends a line to every script."""

    def render(self, template):
        template.script = template.script + "\necho ctx >> /tmp/ctx.txt\n"
        template.outputs.parameters["ctx"] = OutputParameter(value_from_path="/tmp/ctx.txt")
        return template


def templ():
    t = ShellOPTemplate(name="greet", image="alpine", script="echo ${GREETING:-none} > /tmp/msg.txt")
    t.outputs.parameters["msg"] = OutputParameter(value_from_path="/tmp/msg.txt")
    return t


def main():
    wf = Workflow(name="executor")
    wf.add([Step("plain", templ()), Step("rendered", templ(), executor=PrefixExecutor("hello"))])
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query_status()
    assert wf.query_step(name="plain")[0].outputs.parameters["msg"].value == "none"
    assert wf.query_step(name="rendered")[0].outputs.parameters["msg"].value == "hello"

    wf2 = Workflow(name="context", context=LoggingContext())
    wf2.add([Step("a", templ()), Step("b", templ(), executor=PrefixExecutor("x"))])
    wf2.submit()
    assert wf2.query_status() == "Succeeded", wf2.query_status()
    for name, msg in (("a", "none"), ("b", "x")):
        s = wf2.query_step(name=name)[0]
        assert s.outputs.parameters["msg"].value == msg, (name, s.outputs.parameters["msg"].value)
    assert wf2.query_step(name="a")[0].outputs.parameters["ctx"].value == "ctx"
    assert "ctx" not in wf2.query_step(name="b")[0].outputs.parameters  # its own executor rendered it
    print("test_executor OK")


if __name__ == "__main__":
    main()
