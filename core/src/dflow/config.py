"""``from dflow.config import config, s3_config``: the settings, at the import path of the original dflow.

The same dicts as ``dflow.config`` (the attribute) and ``dflow.settings``: setting a key
through any of them sets it for all.
"""

from __future__ import annotations

from .settings import boolize, config, nullable, s3_config, set_config, set_s3_config, split_headers

__all__ = ["config", "s3_config", "set_config", "set_s3_config", "boolize", "nullable", "split_headers"]
