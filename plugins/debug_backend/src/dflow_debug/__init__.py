"""dflow-debug: the local backend of dflow (``config["mode"] = "debug"``)."""

from typing import Any

__all__ = ["LocalBackend"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # lazy: the fork server's process imports dflow_debug.forkchild and must not load the backend
    if name == "LocalBackend":
        from .backend import LocalBackend

        return LocalBackend
    raise AttributeError(f"module 'dflow_debug' has no attribute {name!r}")
