"""Artifact helpers of the original dflow's ``dflow.utils``: keys, catalogs, server-side copies.

Catalogs are given in the original's form, ``{"dflow_list_item": path, "order": i}``
(``order`` is the list index, or the dotted key of a dict upload), built from this
project's catalog files.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any, Dict, List, Optional, Union

from .artifact import S3Artifact, _client_for, download_tree, upload_tree
from .contract import CATALOG_DIR, read_catalog, write_catalog
from .errors import StorageError
from .storage import StorageClient

__all__ = [
    "get_key",
    "set_key",
    "catalog_of_artifact",
    "path_list_of_artifact",
    "path_object_of_artifact",
    "copy_artifact",
    "upload_s3",
    "download_s3",
    "copy_s3",
    "append_item",
    "convert_dflow_list",
    "catalog_of_local_artifact",
    "assemble_path_object_from_catalog",
    "assemble_path_object",
    "remove_empty_dir_tag",
]


def get_key(artifact: Any, raise_error: bool = True) -> Optional[str]:
    """The storage key of an artifact (an upload, a step's output)."""
    key = getattr(getattr(artifact, "s3", None), "key", None) or getattr(artifact, "key", None)
    if key is None and raise_error:
        raise FileNotFoundError(f"{artifact!r} is not in the artifact store (it has no key)")
    return key


def set_key(artifact: Any, key: str) -> None:
    """Point an artifact object at another key."""
    artifact.key = key


def _client(art: Any, storage_client: Optional[StorageClient]) -> StorageClient:
    return storage_client or _client_for(art)


def _items(art: Any, storage_client: Optional[StorageClient]) -> List[Dict[str, Any]]:
    local = getattr(art, "local_path", None)
    if local and os.path.isdir(local):
        return read_catalog(local) or []
    key = get_key(art, raise_error=False)
    if not key:
        return []
    client = _client(art, storage_client)
    with tempfile.TemporaryDirectory(prefix="dflow-catalog-") as tmp:
        for k in client.list(f"{key.rstrip('/')}/{CATALOG_DIR}/", recursive=True):
            client.download(k, os.path.join(tmp, CATALOG_DIR, k.rsplit("/", 1)[-1]))
        return read_catalog(tmp) or []


def catalog_of_artifact(art: Any, storage_client: Optional[StorageClient] = None, **kwargs: Any) -> List[Dict[str, Any]]:
    """The items of an artifact as the original dflow lists them."""
    return [_original_item(it) for it in _items(art, storage_client)]


def _original_item(it: Dict[str, Any]) -> Dict[str, Any]:
    """A catalog item of this project as the original dflow gives it: ``order`` is the dict
    key of an upload, else the list index (0 when neither is known)."""
    order = it.get("key") if it.get("key") is not None else it.get("index")
    return {"dflow_list_item": it.get("path"), "order": order if order is not None else 0}


def path_list_of_artifact(art: Any, **kwargs: Any) -> List[str]:
    """The items' paths in list order."""
    items = sorted(catalog_of_artifact(art, **kwargs), key=lambda c: str(c["order"]).zfill(12))
    return [c["dflow_list_item"] for c in items]


def path_object_of_artifact(art: Any, **kwargs: Any) -> Union[list, dict]:
    """The items' paths shaped as they were uploaded: a list, or nested dicts."""
    from .utils import expand

    return expand({str(c["order"]): c["dflow_list_item"] for c in catalog_of_artifact(art, **kwargs)})


def append_item(catalog: List[Dict[str, Any]], item: Dict[str, Any]) -> None:
    """Add ``item`` to ``catalog`` unless an equal item is there; an item of the same ``order``
    whose path is None takes the new path (and a new None path adds nothing)."""
    for have in catalog:
        if have == item:
            return
        if have.get("order") == item.get("order"):
            if have.get("dflow_list_item") is None:
                have["dflow_list_item"] = item.get("dflow_list_item")
                return
            if item.get("dflow_list_item") is None:
                return
    catalog.append(item)


def convert_dflow_list(dflow_list: List[Dict[str, Any]]) -> List[Any]:
    """The paths of catalog items in ``order`` (the list is sorted in place, as in the original)."""
    dflow_list.sort(key=lambda c: c["order"])
    return [c["dflow_list_item"] for c in dflow_list]


def catalog_of_local_artifact(art_path: Union[str, os.PathLike], remove: bool = False) -> List[Dict[str, Any]]:
    """The catalog of an artifact directory on disk (a downloaded or a step's input artifact),
    in the original's item form; ``remove`` deletes the catalog files afterwards."""
    art_path = os.fspath(art_path)
    catalog: List[Dict[str, Any]] = []
    if not os.path.isdir(art_path):
        return catalog
    for it in read_catalog(art_path) or []:
        append_item(catalog, _original_item(it))
    if remove:
        import shutil

        shutil.rmtree(os.path.join(art_path, CATALOG_DIR), ignore_errors=True)
    return catalog


def assemble_path_object_from_catalog(catalog: List[Dict[str, Any]],
                                      art_path: Optional[Union[str, os.PathLike]] = None) -> Union[list, dict]:
    """The paths of ``catalog`` shaped as they were uploaded: a list when every order is an
    index, else nested dicts; joined to ``art_path`` when given."""
    from .utils import expand

    if not catalog:
        return []

    def full(p: Any) -> Any:
        return os.path.join(art_path, p) if art_path is not None and p is not None else p

    if all(isinstance(c["order"], int) for c in catalog):
        return [full(p) for p in convert_dflow_list(list(catalog))]
    return expand({str(c["order"]): full(c["dflow_list_item"]) for c in catalog})


def assemble_path_object(art_path: Union[str, os.PathLike], remove: bool = False) -> Union[list, dict]:
    """The path object (list or nested dict of paths) of an artifact directory on disk."""
    return assemble_path_object_from_catalog(catalog_of_local_artifact(art_path, remove=remove),
                                             art_path=os.fspath(art_path))


def remove_empty_dir_tag(path: Union[str, os.PathLike]) -> None:
    """Delete the ``.empty_dir`` marker files the original leaves in empty directories of an artifact."""
    for dirpath, _dirs, files in os.walk(path, followlinks=True):
        if ".empty_dir" in files:
            os.remove(os.path.join(dirpath, ".empty_dir"))


def copy_artifact(src: Any, dst: Any, sort: bool = False, storage_client: Optional[StorageClient] = None,
                  **kwargs: Any) -> S3Artifact:
    """Copy the objects of ``src`` into ``dst`` on the server; with ``sort``, ``src``'s items come after ``dst``'s."""
    src_key, dst_key = get_key(src), get_key(dst)
    client = _client(dst, storage_client)
    skip_catalog = False
    if sort:
        dst_items = _items(dst, storage_client)
        src_items = _items(src, storage_client)
        if dst_items and src_items:
            offset = 1 + max(it.get("index") or 0 for it in dst_items)
            moved = [dict(it, index=(it.get("index") or 0) + offset) for it in src_items]
            with tempfile.TemporaryDirectory() as tmp:
                write_catalog(tmp, moved)
                upload_tree(client, dst_key, tmp)
            skip_catalog = True
    copy_s3(src_key, dst_key, ignore_catalog=skip_catalog, storage_client=client)
    return S3Artifact(key=dst_key)


def upload_s3(path: str, key: Optional[str] = None, prefix: Optional[str] = None,
              storage_client: Optional[StorageClient] = None, **kwargs: Any) -> str:
    """Upload a file or directory to ``key`` (or below ``prefix``); return the key."""
    from .artifact import get_storage_client

    client = storage_client or get_storage_client()
    if key is None:
        key = f"{(prefix or 'upload').rstrip('/')}/{os.path.basename(os.path.abspath(path))}"
    if os.path.isdir(path):
        upload_tree(client, key, path)
    else:
        client.upload(key, path)
    return key


def download_s3(key: str, path: str = ".", storage_client: Optional[StorageClient] = None, **kwargs: Any) -> str:
    """Download the object or prefix ``key`` into ``path``; return ``path``."""
    from .artifact import get_storage_client

    client = storage_client or get_storage_client()
    if client.list(key) == [key]:
        client.download(key, os.path.join(path, os.path.basename(key)))
    else:
        download_tree(client, key, path)
    return path


def copy_s3(src_key: str, dst_key: str, ignore_catalog: bool = False,
            storage_client: Optional[StorageClient] = None, **kwargs: Any) -> None:
    """Copy the objects under ``src_key`` to ``dst_key`` on the server (without the catalogs when asked)."""
    from .artifact import get_storage_client

    client = storage_client or get_storage_client()
    src, dst = src_key.rstrip("/"), dst_key.rstrip("/")
    keys = client.list(src + "/", recursive=True) or ([src] if client.list(src) == [src] else [])
    if not keys:
        raise StorageError(f"copy_s3: no objects under {src_key!r}")
    for k in keys:
        rel = k[len(src) + 1:] if k != src else os.path.basename(src)
        if ignore_catalog and rel.split("/")[0] == CATALOG_DIR:
            continue
        client.copy(k, f"{dst}/{rel}")
