"""dflow-ui: a page in the browser to watch and steer dflow runs (``dflow ui``).

The server reads through the backend interface (:class:`dflow.backend.Backend`),
so every backend gets the page; it binds to 127.0.0.1 and wants a random token on
every request.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["create_app", "serve", "new_token"]

_WHERE = {"create_app": "server", "serve": "serve", "new_token": "security"}


def __getattr__(name: str) -> Any:
    # lazy: the plugin manager imports dflow_ui.plugin in every dflow session; the web stack loads for `dflow ui`
    if name not in _WHERE:
        raise AttributeError(f"module 'dflow_ui' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
