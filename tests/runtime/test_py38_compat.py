"""Every runtime-side file parses as Python 3.8 and imports only the stdlib and allowed dflow modules."""

import ast
import os
import sys

import pytest

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "core", "src"))
FILES = [
    "dflow/runtime.py",
    "dflow/contract.py",
    "dflow/stepio.py",
    "dflow/linking.py",
    "dflow/expressions.py",
    "dflow/exprparse.py",
    "dflow/exprfuncs.py",
    "dflow/container.py",
    "dflow/python/_errors.py",
    "dflow/python/typecheck.py",
    "dflow/python/opio.py",
    "dflow/python/op.py",
]
ALLOWED_DFLOW = {
    "dflow.errors", "dflow.runtime", "dflow.expressions", "dflow.python", "dflow.contract", "dflow.stepio",
    "dflow.linking", "dflow.exprparse", "dflow.exprfuncs",
    "dflow.python._errors", "dflow.python.typecheck", "dflow.python.opio", "dflow.python.op",
}
STDLIB_38 = {
    "__future__", "ast", "base64", "collections", "functools", "importlib", "inspect", "json",
    "multiprocessing", "os", "pathlib", "pickle", "re", "shutil", "sys", "time", "traceback",
    "types", "typing", "uuid", "tarfile", "subprocess", "zlib", "tempfile", "io", "abc", "itertools", "math", "string", "warnings",
}


def _imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                yield "<relative>", node.lineno
            elif node.module == "dflow.python" or node.module == "dflow":
                for a in node.names:
                    yield node.module + "." + a.name, node.lineno
            else:
                yield node.module, node.lineno


@pytest.mark.parametrize("rel", FILES)
def test_parses_as_py38(rel):
    src = open(os.path.join(SRC, rel)).read()
    ast.parse(src, filename=rel, feature_version=(3, 8))


@pytest.mark.parametrize("rel", FILES)
def test_imports_allowed(rel):
    src = open(os.path.join(SRC, rel)).read()
    tree = ast.parse(src)
    bad = []
    for name, line in _imports(tree):
        top = name.split(".")[0]
        if top == "dflow":
            if name not in ALLOWED_DFLOW:
                bad.append((name, line))
        elif top not in STDLIB_38:
            bad.append((name, line))
        elif hasattr(sys, "stdlib_module_names"):
            assert top in sys.stdlib_module_names or top == "__future__"
    assert bad == [], "%s imports non-allowed modules: %s" % (rel, bad)


@pytest.mark.parametrize("rel", FILES)
def test_no_runtime_pep604_or_builtin_generics(rel):
    """``X | Y`` and ``list[int]`` outside annotations fail on 3.8; annotations are strings here."""
    src = open(os.path.join(SRC, rel)).read()
    tree = ast.parse(src)
    assert any(isinstance(n, ast.ImportFrom) and n.module == "__future__" and
               any(a.name == "annotations" for a in n.names) for n in tree.body), rel
    annotation_nodes = set()
    for node in ast.walk(tree):
        for field in ("annotation", "returns"):
            sub = getattr(node, field, None)
            if sub is not None:
                annotation_nodes.update(id(x) for x in ast.walk(sub))
    for node in ast.walk(tree):
        if id(node) in annotation_nodes:
            continue
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            assert node.value.id not in ("list", "dict", "tuple", "set", "type"), (rel, node.lineno)


def test_checker_catches_bad_imports():
    tree = ast.parse("import numpy\nfrom dflow.spec import X\nimport json\n")
    names = [n for n, _ in _imports(tree)]
    assert names == ["numpy", "dflow.spec", "json"]
