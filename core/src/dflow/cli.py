"""The ``dflow`` command: plugins, OP packages, workflows, steps and logs.

Core's own subcommands are below; plugins add theirs through the
``register_commands`` hook (``dflow render`` comes with the Argo backend).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import List, Optional

from .errors import DflowError

__all__ = ["main", "build_parser"]


def _backend(mode: Optional[str]):  # type: ignore[no-untyped-def]
    from .settings import config
    from .workflow import get_backend_for_mode

    return get_backend_for_mode(mode or config.get("mode"))


def cmd_plugins(args: argparse.Namespace) -> int:
    from ._plugin_manager import registry

    reg = registry()
    titles = {"backend": "backends", "storage": "storage clients", "executor": "executors", "context": "contexts",
              "command": "commands", "legacy": "dflow.plugins.* import paths"}
    for role, title in titles.items():
        items = reg.items.get(role, {})
        if not items:
            continue
        print(f"{title}:")
        for name, item in sorted(items.items()):
            aliases = f" (aliases: {', '.join(item.aliases)})" if item.aliases else ""
            dist = f"{item.distribution} {item.version}" if item.distribution else item.plugin
            print(f"  {name:<12} {dist}{aliases}")
    from .ops_catalog import op_packages

    packages = op_packages()
    if packages:
        print("OP packages (dflow ops):")
        for pkg in packages:
            print(f"  {pkg.name:<12} {pkg.distribution or ''} {pkg.version or ''}".rstrip())
    return 0


def cmd_ops(args: argparse.Namespace) -> int:
    from .ops_catalog import format_ops, op_packages

    packages = op_packages(args.package)
    if not packages:
        print("no OP packages are installed (an OP package lists its OPs in the dflow.ops entry-point group)"
              if not args.package else f"no OP package called {args.package!r} is installed")
        return 0 if not args.package else 1
    print(format_ops(packages, signs=not args.brief))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from .display import format_duration

    rows = _backend(args.mode).list_workflows()
    if not rows:
        print("no workflows")
        return 0
    now = time.time()
    print(f"{'ID':<40} {'PHASE':<10} {'DURATION':>9}  STARTED")
    for r in rows:
        dur = format_duration(((r.finished_at or now) - r.started_at) if r.started_at else None)
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.started_at)) if r.started_at else ""
        print(f"{r.id:<40} {r.phase:<10} {dur:>9}  {started}")
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    from .display import format_tree

    backend = _backend(args.mode)
    rec = backend.get_workflow(args.id)
    print(format_tree(rec, backend.list_steps(args.id)))
    if rec.location:
        print(f"\nstate and outputs: {rec.location}")
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    sys.stdout.write(_backend(args.mode).logs(args.id, args.step))
    return 0


def cmd_terminate(args: argparse.Namespace) -> int:
    _backend(args.mode).terminate(args.id)
    print(f"terminated {args.id}")
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    _backend(args.mode).stop(args.id)
    print(f"stopping {args.id}: its running steps end, then its exit handler runs")
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    backend = _backend(args.mode)
    backend.resume(args.id, detach=args.detach)
    if not args.detach:
        print(f"{args.id}: {backend.get_workflow(args.id).phase}")
    return 0


def cmd_submit(args: argparse.Namespace) -> int:
    import yaml

    from .settings import config
    from .workflow import Workflow

    try:
        with open(args.file) as f:
            manifest = yaml.safe_load(f)  # YAML, or JSON (which YAML reads too)
    except OSError as e:
        raise DflowError(f"cannot read the manifest {args.file!r}: {e.strerror or e}") from None
    except yaml.YAMLError as e:
        raise DflowError(f"{args.file!r} is not YAML or JSON: {e}") from None
    if args.mode:
        config["mode"] = args.mode
    wf = Workflow.from_dict(manifest).submit(detach=args.detach)
    print(f"{wf.id}: {wf.query_status()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The parser of core's subcommands and of every subcommand plugins registered."""
    from ._plugin_manager import registry

    p = argparse.ArgumentParser(prog="dflow", description="Scientific computing workflows: inspect plugins and runs.")
    p.add_argument("--mode", help="backend to ask (debug, default/argo); default: config['mode'] / DFLOW_MODE")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("plugins", help="installed backends, storage clients, executors, commands (with versions)"
                   ).set_defaults(func=cmd_plugins)
    o = sub.add_parser("ops", help="installed OP packages, their OPs and signs")
    o.add_argument("package", nargs="?", help="only this OP package")
    o.add_argument("--brief", action="store_true", help="OP names only, without signs")
    o.set_defaults(func=cmd_ops)
    sub.add_parser("list", help="workflows of the backend").set_defaults(func=cmd_list)
    g = sub.add_parser("get", help="a workflow's step tree with phases, durations and progress")
    g.add_argument("id")
    g.set_defaults(func=cmd_get)
    lg = sub.add_parser("logs", help="the log of one step (id, name or key)")
    lg.add_argument("id")
    lg.add_argument("step")
    lg.set_defaults(func=cmd_logs)
    t = sub.add_parser("terminate", help="stop a running workflow")
    t.add_argument("id")
    t.set_defaults(func=cmd_terminate)
    st = sub.add_parser("stop", help="stop a running workflow, then run its exit handler (terminate runs none)")
    st.add_argument("id")
    st.set_defaults(func=cmd_stop)
    r = sub.add_parser("resume", help="run a stopped or failed workflow on; succeeded steps are kept")
    r.add_argument("id")
    r.add_argument("--detach", action="store_true")
    r.set_defaults(func=cmd_resume)
    sm = sub.add_parser("submit", help="submit a workflow manifest this project rendered (wf.to_yaml(), dflow render)")
    sm.add_argument("file", help="the manifest, YAML or JSON")
    sm.add_argument("--detach", action="store_true", help="return once submitted (the local backend: run in the background)")
    sm.set_defaults(func=cmd_submit)
    for name, item in sorted(registry().items.get("command", {}).items()):
        cmd = sub.add_parser(name, help=item.obj.help or f"(from {item.distribution or item.plugin})")
        item.obj.configure(cmd)
        cmd.set_defaults(func=item.obj.run)
    return p


def main(argv: Optional[List[str]] = None) -> int:
    from ._plugin_manager import KNOWN_DISTRIBUTIONS, registry

    args_in = list(sys.argv[1:] if argv is None else argv)
    first = next((a for a in args_in if not a.startswith("-")), None)
    try:
        if first is not None and registry().find("command", first) is None and ("command", first) in KNOWN_DISTRIBUTIONS:
            print(f"dflow: the command {first!r} comes with a plugin that is not installed; "
                  f"install it with `pip install {KNOWN_DISTRIBUTIONS[('command', first)]}`", file=sys.stderr)
            return 2
        args = build_parser().parse_args(args_in)
        return int(args.func(args) or 0)
    except DflowError as e:
        print(f"dflow: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
