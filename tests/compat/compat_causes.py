"""The causes of the compatibility gaps, as named in ``docs/compat-report.md``.

A repro of a gap that is still open is marked ``@gap(CAUSE)`` (``xfail(strict=True)``): when
its fix lands the repro passes, strict xfail reports it, and the marker comes off. Every
cause below is fixed; the names stay for the report's index and for new repros.
"""

import pytest

C01_STR_ARTIFACT = "C01: Artifact(str), List[str], Set[...], Dict[str, str], NestedDict[str] signs are refused"
C02_CONFIG_MODULE = "C02: there is no dflow.config module (and importing one must keep dflow.config the dict)"
C03_PLUGIN_IMPORTS = "C03: importing dflow.plugins.<name> (bohrium, dispatcher, ...) fails when no plugin provides it"
C04_PUBLIC_NAMES = "C04: public names of dflow, dflow.python and dflow.utils are missing"
C05_SIGN_CHECK = "C05: the sign check is stricter than dflow's (artifact values, None values)"
C06_TEMPLATE_NAME = "C06: an explicit template name is not lower-cased as dflow does"
C07_CONTEXT_SYNTAX = "C07: no context syntax (with Workflow(...)), and Workflow.add(Task) does not make a DAG"
C08_KEY_RULE = "C08: keys are checked when rendered (dflow checks the literal text when the step is built)"
C09_SLICE_EXPRESSION = "C09: a Slices pattern that is a Python expression (int('{{item}}')) is refused"
C10_REFERENCE_VALUES = "C10: references cannot be subscripted or nested inside dict/list parameter values"
C11_NONE_ARTIFACT = "C11: artifacts={'x': None} does not make the input optional"
C12_ARTIFACT_SHAPE = "C12: the value an OP gets for an artifact follows its sign, not the shape it was uploaded in"
C13_ABSENT_OUTPUTS = "C13: an empty fan-out or an absent optional output fails the steps that refer to it"
C14_SUPER_OP_SLICES = "C14: slices on a Steps/DAG template, and slices without with_param, are refused"
C15_WORKFLOW_API = "C15: Workflow(id=...) is eager; Workflow.stop, suspend and query_global_outputs are missing"
C16_ISOLATION = "C16: a Python step sees what earlier steps left in their (reused) worker process"
C17_EXECUTOR_RENDER = "C17: Executor.render changing command or script is ignored for Python OP templates"
C18_GROUP_OUTPUTS = "C18: Slices(group_size=...) loses outputs of slices that write the same file name"
C19_OPTIONAL_INPUT = "C19: an input artifact marked optional on the template reaches the OP as a type error, not None"
C20_UPLOAD_LAYOUT = "C20: an uploaded file is placed at the input path itself, not inside it under its own name"
C21_WORKFLOW_IDS = "C21: workflow ids come from the global random generator, which user code seeds"
C22_ARGO_GATHERED = "C22: the Argo manifest cannot return a fan-out's gathered output artifact from a Steps/DAG"
C24_DOWNLOAD_LIST = "C24: download_artifact also returns the items of earlier downloads into the same directory"
C23_ARGO_SUB_PATH = "C23: the Argo manifest cannot count Slices(sub_path=True) over another step's output artifact"


def gap(cause: str) -> pytest.MarkDecorator:
    """Mark a repro of a known gap: it fails until ``cause`` is fixed."""
    return pytest.mark.xfail(strict=True, reason=cause)
