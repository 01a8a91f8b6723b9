"""``dflow ui``: bind 127.0.0.1, print the URL with its token, serve until Ctrl-C."""

from __future__ import annotations

import argparse
import errno
import socket
import sys
from typing import Any, Optional

from dflow.errors import ValidationError

__all__ = ["configure", "run", "bind", "serve"]

HOST = "127.0.0.1"


def configure(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``dflow ui``."""
    parser.add_argument("--port", type=int, default=0,
                        help="port on 127.0.0.1 (default: a free one, chosen at start)")


def bind(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1 (``port`` 0: a free port); a clear error when taken."""
    if not 0 <= port <= 65535:
        raise ValidationError(f"--port {port} is not a port number; give 1-65535, or leave it out for a free port")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, port))
        sock.listen(128)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise ValidationError(f"port {port} on {HOST} is in use; choose another with --port, "
                                  "or leave --port out for a free one") from None
        if e.errno == errno.EACCES:
            raise ValidationError(f"port {port} on {HOST} needs privileges; choose a port above 1023") from None
        raise
    return sock


def serve(backend: Any, mode: Optional[str], port: int = 0, token: Optional[str] = None,
          out: Any = None) -> None:
    """Serve the page for ``backend`` on 127.0.0.1 until interrupted; print its URL to ``out``."""
    import uvicorn

    from .security import new_token
    from .server import create_app

    out = out or sys.stdout
    token = token or new_token()
    sock = bind(port)
    actual = sock.getsockname()[1]
    app = create_app(backend, token, mode=mode, port=actual)
    # no access log: request lines carry the token
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                            timeout_graceful_shutdown=2, ws="none")
    server = uvicorn.Server(config)
    print(f"dflow ui: the {mode or getattr(backend, 'name', '')} backend's runs, at", file=out)
    print(f"  http://{HOST}:{actual}/?token={token}", file=out)
    print("open that URL in a browser on this machine; Ctrl-C stops the server", file=out, flush=True)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        # uvicorn shut down gracefully and re-raises the signal: Ctrl-C is how one stops it
        pass
    finally:
        sock.close()
    print("dflow ui: stopped", file=out, flush=True)


def run(args: argparse.Namespace) -> int:
    """``dflow ui``: the backend ``--mode`` (or ``config["mode"]``) selects."""
    from dflow import config
    from dflow.workflow import get_backend_for_mode

    mode = getattr(args, "mode", None) or config.get("mode")
    backend = get_backend_for_mode(mode)  # an unknown mode fails here, before anything is bound
    if getattr(args, "mode", None):
        config["mode"] = args.mode
    serve(backend, mode, args.port)
    return 0
