"""Which public names of the original dflow can be imported from this project's dflow.

Usage: python scripts/compat_public_names.py DFLOW_DIR [TREE ...]

Reads, without importing it, the original's source in DFLOW_DIR/src/dflow: the names
in ``__all__`` of ``dflow`` and ``dflow.python`` and the public top-level names of
``dflow/utils.py``; then imports each from the ``dflow`` this interpreter has. With
TREEs (checkouts of code built on dflow: dpgen2, dflow's examples), it also checks
every ``from dflow... import name`` those trees contain. Prints the missing names and
one summary line per group; exits 0 (a report, not a test).
"""

from __future__ import annotations

import ast
import importlib
import os
import sys
from typing import Dict, Iterable, List, Optional, Set, Tuple


def _module_all(path: str) -> List[str]:
    tree = ast.parse(open(path, encoding="utf-8").read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return [ast.literal_eval(e) for e in node.value.elts]  # type: ignore[attr-defined]
    return []


def _public_top_level(path: str) -> List[str]:
    tree = ast.parse(open(path, encoding="utf-8").read())
    names: List[str] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name) and not t.id.startswith("_")]
    return names


def _why_missing(module: str, name: Optional[str]) -> Optional[str]:
    """None when ``from module import name`` works here, else the error, shortened."""
    try:
        mod = importlib.import_module(module)
        if name is not None and name != "*" and not hasattr(mod, name):
            importlib.import_module(f"{module}.{name}")  # a submodule, as `from dflow.plugins import bohrium`
    except Exception as exc:  # noqa: BLE001 - any failure is the answer
        return f"{type(exc).__name__}: {str(exc)[:110]}"
    return None


def _imports_in(trees: Iterable[str]) -> Dict[Tuple[str, Optional[str]], Set[str]]:
    found: Dict[Tuple[str, Optional[str]], Set[str]] = {}
    for root in trees:
        for dirpath, _dirs, files in os.walk(root):
            for fn in files:
                if not fn.endswith(".py"):
                    continue
                path = os.path.join(dirpath, fn)
                try:
                    tree = ast.parse(open(path, encoding="utf-8", errors="replace").read())
                except SyntaxError:
                    continue
                for node in ast.walk(tree):
                    if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "dflow":
                        for alias in node.names:
                            found.setdefault((node.module, alias.name), set()).add(os.path.relpath(path, root))
                    elif isinstance(node, ast.Import):
                        for alias in node.names:
                            if alias.name.split(".")[0] == "dflow":
                                found.setdefault((alias.name, None), set()).add(os.path.relpath(path, root))
    return found


def main(argv: List[str]) -> int:
    if not argv or not os.path.isdir(os.path.join(argv[0], "src", "dflow")):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    src = os.path.join(argv[0], "src", "dflow")
    groups = {
        "dflow": _module_all(os.path.join(src, "__init__.py")),
        "dflow.python": _module_all(os.path.join(src, "python", "__init__.py")),
        "dflow.utils": _public_top_level(os.path.join(src, "utils.py")),
    }
    summary = []
    for module, names in groups.items():
        missing = [(n, _why_missing(module, n)) for n in names]
        missing = [(n, why) for n, why in missing if why]
        for n, why in missing:
            print(f"missing  {module}.{n}: {why}")
        summary.append(f"{module}: {len(names) - len(missing)} of {len(names)} public names importable")
    if len(argv) > 1:
        used = _imports_in(argv[1:])
        bad = 0
        for (module, name), files in sorted(used.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
            why = _why_missing(module, name)
            if why:
                bad += 1
                print(f"used     from {module} import {name} ({len(files)} files, e.g. {sorted(files)[0]}): {why}")
        summary.append(f"imports used by the given trees: {len(used) - bad} of {len(used)} resolve")
    print("\n".join(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
