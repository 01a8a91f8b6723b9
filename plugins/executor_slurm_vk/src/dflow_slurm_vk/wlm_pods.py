"""What the staging and collecting pods of a virtual-node step run (embedded in their scripts by :mod:`.wlm_render`).

Standard library only, Python 3.8+: these pods run in plain images (``prepare_image``,
``collect_image``) that have neither dflow-slurm-vk nor, for a script step, dflow. The
source of this module is put into the pods' scripts as it is.

* :func:`stage` writes the job's directory into the host path the ``SlurmJob`` takes its
  inputs from: a Python OP's task (built in the pod by dflow's container code, the
  slice cut and the uploads unpacked) with its inputs and dflow's runtime, or a script
  with its declared ``/tmp`` paths below the job directory. Paths name
  ``@@DFLOW_JOB_DIR@@``, which the batch script replaces with the job's directory.
* :func:`collect` finds the job's directory among the results the operator copied
  back, puts the outputs where Argo reads them, shows the job's log and exits with the
  step's exit code.
"""

import json
import os
import shutil
import sys

JOB_DIR = "@@DFLOW_JOB_DIR@@"
EXIT_FILE = ".dflow-exit"


def _root():
    return os.environ.get("DFLOW_SANDBOX_ROOT", "")


def _copy(src, dst):
    parent = os.path.dirname(dst)
    if parent:
        os.makedirs(parent, exist_ok=True)
    if os.path.isdir(src):
        shutil.copytree(src, dst, dirs_exist_ok=True)
    elif os.path.exists(src):
        shutil.copy2(src, dst)


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


def stage(mount, spec):
    """Write the job directory below ``mount`` (the host path); record where in ``dflow_vol_path``."""
    pod = os.environ.get("DFLOW_STEP") or os.environ.get("DFLOW_POD") or "job"
    host_dir = spec["host_root"] + "/" + pod
    job = os.path.join(_root() + mount, pod)
    os.makedirs(job, exist_ok=True)
    if spec.get("python_op"):
        with open(os.environ["DFLOW_TASK"]) as f:
            task = json.load(f)
        arts = {}
        for name, entry in (task["inputs"].get("artifacts") or {}).items():
            src = (entry or {}).get("path")
            if src and os.path.exists(src):
                _copy(src, os.path.join(job, "inputs", "artifacts", name))
                arts[name] = {"path": JOB_DIR + "/inputs/artifacts/" + name}
            else:
                arts[name] = {"path": None}
        task["inputs"]["artifacts"] = arts
        paths = []
        for i, p in enumerate(task.get("python_paths") or []):
            _copy(p, os.path.join(job, "inputs", "python_packages", str(i)))
            paths.append(JOB_DIR + "/inputs/python_packages/" + str(i))
        task["python_paths"] = paths
        task["outputs_dir"] = JOB_DIR + "/outputs"
        task["workdir"] = JOB_DIR + "/workdir"
        task["progress_file"] = JOB_DIR + "/progress"
        _write(os.path.join(job, "task.json"), json.dumps(task))
        pkg = _root() + "/tmp/dflow-pkg/dflow"
        _copy(pkg, os.path.join(job, ".dflow-runtime", "dflow"))
        _write(os.path.join(job, "script"), spec["script"])
    else:
        script = spec["script"]
        for ref in spec.get("refs") or []:
            script = script.replace("@@%s@@" % ref, os.environ.get(ref, ""))
        declared = list(spec["inputs"]) + list(spec["outputs"])
        for p in sorted(declared, key=len, reverse=True):
            script = script.replace(p, JOB_DIR + "/workdir/" + p.lstrip("/"))
        for p in spec["inputs"]:
            _copy(_root() + p, os.path.join(job, "workdir", p.lstrip("/")))
        for p in spec["outputs"]:
            os.makedirs(os.path.dirname(os.path.join(job, "workdir", p.lstrip("/"))), exist_ok=True)
        _write(os.path.join(job, "script"), script)
    for d in ("outputs/parameters", "outputs/artifacts", "workdir"):
        os.makedirs(os.path.join(job, d), exist_ok=True)
    out = _root() + "/tmp/outputs/parameters"
    os.makedirs(out, exist_ok=True)
    _write(os.path.join(out, "dflow_vol_path"), host_dir)


def _find_job(base):
    """The job directory among what the operator copied back (it holds the exit code file)."""
    for here, dirs, files in os.walk(base):
        if EXIT_FILE in files:
            return here
        if here.count(os.sep) - base.count(os.sep) >= 3:
            del dirs[:]
    return None


def collect(mount, spec, job_name):
    """Put the job's results where Argo reads them; exit with the step's exit code."""
    job = _find_job(os.path.join(_root() + mount, job_name))
    if job is None:
        sys.stderr.write("dflow: the results of SlurmJob %s are not below %s (the job did not run the step)\n"
                         % (job_name, mount))
        sys.exit(1)
    log = os.path.join(job, "log.txt")
    if os.path.exists(log):
        with open(log, errors="replace") as f:
            sys.stdout.write(f.read())
    if spec.get("python_op"):
        with open(os.environ["DFLOW_TASK"]) as f:
            outputs_dir = json.load(f)["outputs_dir"]
        _copy(os.path.join(job, "outputs"), outputs_dir)
    else:
        for p in spec["outputs"]:
            _copy(os.path.join(job, "workdir", p.lstrip("/")), _root() + p)
    with open(os.path.join(job, EXIT_FILE)) as f:
        code = int(f.read().strip() or "1")
    sys.stdout.flush()
    sys.exit(code)
