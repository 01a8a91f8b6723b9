"""Spec 3.1.4 (DAG): dependencies found from the data flow plus explicit
``dependencies``; a DAG used as a template with declared outputs.
"""
import time
from pathlib import Path

from dflow import DAG, InputParameter, OutputArtifact, OutputParameter, Task, Workflow, config, download_artifact
from dflow.python import OP, Artifact, PythonOPTemplate

config["mode"] = "debug"


@OP.function
def stamp(msg: str) -> {"msg": str, "t": float}:
    time.sleep(0.3)
    return {"msg": msg, "t": time.time()}


@OP.function
def write(msg: str) -> {"out": Artifact(Path)}:
    Path("out.txt").write_text(msg)
    return {"out": Path("out.txt")}


@OP.function
def join(a: str, b: str) -> {"msg": str, "t": float}:
    return {"msg": a + b, "t": time.time()}


def main():
    dag = DAG(name="mydag")
    dag.inputs.parameters["msg"] = InputParameter(value="hi")
    dag.outputs.parameters["msg"] = OutputParameter()
    dag.outputs.artifacts["out"] = OutputArtifact()
    t1 = Task("t1", PythonOPTemplate(stamp), parameters={"msg": dag.inputs.parameters["msg"]})
    t2 = Task("t2", PythonOPTemplate(stamp), parameters={"msg": "-x"})
    # data flow: t3 depends on t1 and t2
    t3 = Task("t3", PythonOPTemplate(join),
              parameters={"a": t1.outputs.parameters["msg"], "b": t2.outputs.parameters["msg"]})
    # explicit: t4 has no data dependency on t3 but must run after it
    t4 = Task("t4", PythonOPTemplate(write), parameters={"msg": "done"}, dependencies=[t3])
    dag.add([t1, t2, t3, t4])
    dag.outputs.parameters["msg"].value_from_parameter = t3.outputs.parameters["msg"]
    dag.outputs.artifacts["out"]._from = t4.outputs.artifacts["out"]

    wf = Workflow(name="dag", dag=dag)
    wf.submit()
    assert wf.query_status() == "Succeeded", wf.query_status()

    s = {n: wf.query_step(name=n)[0] for n in ("t1", "t2", "t3", "t4")}
    assert s["t3"].outputs.parameters["msg"].value == "hi-x"
    # t1 and t2 ran in parallel: t2 started before t1 finished
    assert s["t2"].record.started_at < s["t1"].record.finished_at
    assert s["t3"].record.started_at >= max(s["t1"].record.finished_at, s["t2"].record.finished_at)
    assert s["t4"].record.started_at >= s["t3"].record.finished_at, "explicit dependency ignored"
    assert s["t1"].outputs.parameters["t"].value < s["t3"].outputs.parameters["t"].value

    # a DAG as the template of a task inside another DAG
    outer = DAG(name="outer")
    inner_task = Task("inner", dag, parameters={"msg": "yo"})
    after = Task("after", PythonOPTemplate(join),
                 parameters={"a": inner_task.outputs.parameters["msg"], "b": "!"})
    outer.add([inner_task, after])
    wf2 = Workflow(name="dag-nested", dag=outer)
    wf2.submit()
    assert wf2.query_status() == "Succeeded", wf2.query_status()
    assert wf2.query_step(name="after")[0].outputs.parameters["msg"].value == "yo-x!"
    inner = wf2.query_step(name="inner")[0]
    assert inner.type == "DAG", inner.type
    assert inner.outputs.parameters["msg"].value == "yo-x"
    paths = download_artifact(inner.outputs.artifacts["out"], path="result")
    assert Path(paths[0]).read_text() == "done"
    print("test_dag OK")


if __name__ == "__main__":
    main()
