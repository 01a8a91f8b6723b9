"""Aliyun OSS artifact storage for dflow, built on oss2 (``from dflow.plugins.oss import OSSClient``)."""

from .client import OSSClient

__all__ = ["OSSClient"]
