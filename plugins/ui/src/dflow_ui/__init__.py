"""dflow-ui: a page in the browser to watch and steer dflow runs (``dflow ui``).

The server reads through the backend interface (:class:`dflow.backend.Backend`),
so every backend gets the page; it binds to 127.0.0.1 and wants a random token on
every request.
"""

from __future__ import annotations

from .security import new_token
from .serve import serve
from .server import create_app

__all__ = ["create_app", "serve", "new_token"]
