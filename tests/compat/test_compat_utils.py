"""The helpers of the original ``dflow.utils`` beyond the common ones: catalogs of artifact
directories on disk, path objects, ``evalable_repr``, ``ProcessPoolExecutor`` and ``MinioClient``.

``scripts/compat_public_names.py`` counts every public name of the original's ``dflow.utils``;
these tests check that the less common ones do what their names promise here.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dflow import config, upload_artifact
from dflow.utils import (
    ArtifactDict,
    ArtifactList,
    ArtifactStr,
    ProcessPoolExecutor,
    Variable,
    append_item,
    artifact_classes,
    assemble_path_object,
    assemble_path_object_from_catalog,
    catalog_of_local_artifact,
    convert_dflow_list,
    evalable_repr,
    remove_empty_dir_tag,
)


@pytest.fixture
def local_store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(config, "mode", "debug")
    monkeypatch.setitem(config, "debug_workdir", str(tmp_path / "runs"))
    return tmp_path


def _files(root: Path, names):
    out = []
    for n in names:
        p = root / n
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(n)
        out.append(p)
    return out


def test_path_object_of_a_list_artifact_directory_keeps_its_order(local_store):
    """An artifact directory with its catalog, as a step's input artifact is laid out."""
    import shutil

    files = _files(local_store / "src", ["b.txt", "a.txt", "sub/c.txt"])
    art = upload_artifact(files)
    art_dir = local_store / "copy"
    shutil.copytree(art.local_path, art_dir)  # the stored upload: files and catalog
    paths = assemble_path_object(art_dir)
    assert [Path(p).read_text() for p in paths] == ["b.txt", "a.txt", "sub/c.txt"]
    assert all(str(p).startswith(str(art_dir)) for p in paths)
    catalog = catalog_of_local_artifact(art_dir, remove=True)
    assert sorted(c["order"] for c in catalog) == [0, 1, 2]
    assert not (art_dir / ".dflow").exists()
    assert catalog_of_local_artifact(art_dir) == [] and assemble_path_object(art_dir) == []


def test_path_object_of_a_catalog_with_keys_is_a_nested_dict():
    catalog = [{"order": "x.a", "dflow_list_item": "p/1"}, {"order": "x.b", "dflow_list_item": "p/2"},
               {"order": "y", "dflow_list_item": None}]
    assert assemble_path_object_from_catalog(catalog, art_path="/r") == {"x": {"a": "/r/p/1", "b": "/r/p/2"},
                                                                         "y": None}
    assert assemble_path_object_from_catalog([]) == []


def test_append_item_merges_items_of_the_same_order():
    catalog = [{"order": 0, "dflow_list_item": None}]
    append_item(catalog, {"order": 0, "dflow_list_item": "a"})  # fills the None
    append_item(catalog, {"order": 0, "dflow_list_item": "a"})  # an equal item: nothing
    append_item(catalog, {"order": 1, "dflow_list_item": None})
    append_item(catalog, {"order": 1, "dflow_list_item": "b"})
    append_item(catalog, {"order": 2, "dflow_list_item": "c"})
    assert catalog == [{"order": 0, "dflow_list_item": "a"}, {"order": 1, "dflow_list_item": "b"},
                       {"order": 2, "dflow_list_item": "c"}]
    assert convert_dflow_list(list(reversed(catalog))) == ["a", "b", "c"]


def test_remove_empty_dir_tag(tmp_path):
    (tmp_path / "d" / "e").mkdir(parents=True)
    (tmp_path / "d" / "e" / ".empty_dir").write_text("")
    (tmp_path / "d" / "keep").write_text("x")
    remove_empty_dir_tag(tmp_path)
    assert not (tmp_path / "d" / "e" / ".empty_dir").exists()
    assert (tmp_path / "d" / "keep").exists() and (tmp_path / "d" / "e").is_dir()


class _Point:
    def __init__(self, x):
        self.x = x

    def __eq__(self, other):
        return isinstance(other, _Point) and other.x == self.x


def test_evalable_repr_round_trips():
    imports = set()
    value = {"a": [1, 2.5, None, True], "s": set(), "t": {"x"}, "v": Variable("name_in_scope"), "p": _Point(3)}
    text = evalable_repr(value, imports)
    namespace = {"name_in_scope": 42, "_Point": _Point}
    for frm, name in imports:
        assert frm is None
        namespace[name] = __import__(name)
    back = eval(text, namespace)  # noqa: S307 - the text is made by the test
    assert back["a"] == [1, 2.5, None, True] and back["s"] == set() and back["t"] == {"x"}
    assert back["v"] == 42 and back["p"] == _Point(3)


def test_artifact_classes_are_the_plain_types():
    assert issubclass(artifact_classes[str], str) and artifact_classes[str] is ArtifactStr
    assert isinstance(ArtifactList([1]), list) and isinstance(ArtifactDict(a=1), dict)
    s = ArtifactStr("p")
    s.art_attrs = {"k": 1}  # the original sets attributes on these
    assert s == "p"


def _square(x):
    return x * x


def test_process_pool_executor_works_as_a_context_manager():
    with ProcessPoolExecutor(max_workers=2) as pool:
        assert list(pool.map(_square, [1, 2, 3])) == [1, 4, 9]


def test_minio_client_takes_unset_options_from_s3_config():
    pytest.importorskip("dflow_minio", reason="needs dflow-minio (plugins/storage_minio)")
    code = (
        "from dflow import s3_config\n"
        "s3_config.update(endpoint='127.0.0.1:9', bucket_name='from-config', secret_key='s3cr3t-value')\n"
        "from dflow.utils import MinioClient\n"
        "c = MinioClient(access_key='ak', max_attempts=2)\n"
        "print(c.endpoint_url, c.bucket_name, c.access_key)\n"
        "print(repr(c))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    first, rest = out.stdout.split("\n", 1)
    assert first == "http://127.0.0.1:9 from-config ak"
    assert "s3cr3t-value" not in rest


def test_minio_client_names_its_plugin_when_missing():
    code = ("from dflow.utils import MinioClient\n"
            "try:\n    MinioClient()\nexcept Exception as e:\n    print(type(e).__name__, e)\n")
    env = dict(os.environ, DFLOW_PLUGINS="local")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert "pip install dflow-minio" in out.stdout
