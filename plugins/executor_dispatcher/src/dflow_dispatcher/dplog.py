"""dpdispatcher's logging, kept out of the user's way.

Importing dpdispatcher writes ``./dpdispatcher.log`` in the current directory, and it
logs every submission to standard output. This plugin imports it with its logger
switched off, removes that file handler, and keeps warnings only, unless
``config["dispatcher_debug"]`` asks for its messages. Never its debug level: that one
logs the machine's settings, credentials included.
"""

from __future__ import annotations

import logging
import sys

__all__ = ["load_dpdispatcher"]


def load_dpdispatcher(debug: bool = False) -> None:
    """Import dpdispatcher (once) without its log file, at the level this plugin wants."""
    log = logging.getLogger("dpdispatcher")
    if "dpdispatcher" not in sys.modules:
        was = log.disabled
        log.disabled = True
        try:
            import dpdispatcher  # noqa: F401
        finally:
            log.disabled = was
    for h in list(log.handlers):
        if isinstance(h, logging.FileHandler):
            log.removeHandler(h)
    log.setLevel(logging.INFO if debug else logging.WARNING)
