"""The ``dflow`` command: plugins, workflows, steps and logs."""

from __future__ import annotations

import argparse
import sys
import time
from typing import List, Optional

from .errors import DflowError

__all__ = ["main"]


def _backend(mode: Optional[str]):  # type: ignore[no-untyped-def]
    from .settings import config
    from .workflow import get_backend_for_mode

    return get_backend_for_mode(mode or config.get("mode"))


def cmd_plugins(args: argparse.Namespace) -> int:
    from ._plugin_manager import registry

    reg = registry()
    for role in ("backend", "storage", "executor", "context", "legacy"):
        items = reg.items.get(role, {})
        if not items:
            continue
        print(f"{role}s:")
        for name, item in sorted(items.items()):
            aliases = f" (aliases: {', '.join(item.aliases)})" if item.aliases else ""
            dist = f"{item.distribution} {item.version}" if item.distribution else item.plugin
            print(f"  {name:<12} {dist}{aliases}")
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


def cmd_resume(args: argparse.Namespace) -> int:
    backend = _backend(args.mode)
    backend.resume(args.id, detach=args.detach)
    if not args.detach:
        print(f"{args.id}: {backend.get_workflow(args.id).phase}")
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    try:
        from dflow_argo.render import render_file
    except ImportError:
        print("dflow render needs the Argo backend: pip install dflow-argo", file=sys.stderr)
        return 2
    sys.stdout.write(render_file(args.file))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dflow", description="Scientific computing workflows: inspect plugins and runs.")
    p.add_argument("--mode", help="backend to ask (debug, default/argo); default: config['mode'] / DFLOW_MODE")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("plugins", help="installed backends, storage clients, executors, with versions").set_defaults(func=cmd_plugins)
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
    r = sub.add_parser("resume", help="run a stopped or failed workflow on; succeeded steps are kept")
    r.add_argument("id")
    r.add_argument("--detach", action="store_true")
    r.set_defaults(func=cmd_resume)
    rd = sub.add_parser("render", help="print the Argo manifest of the workflows a script builds (offline)")
    rd.add_argument("file")
    rd.set_defaults(func=cmd_render)
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except DflowError as e:
        print(f"dflow: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
