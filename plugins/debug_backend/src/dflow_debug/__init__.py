"""dflow-debug: the local backend of dflow (``config["mode"] = "debug"``)."""

from .backend import LocalBackend

__all__ = ["LocalBackend"]
__version__ = "0.1.0"
