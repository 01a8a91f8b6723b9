"""Spec 3.1.20 (Artifact storage plugins): a custom ``StorageClient`` set by
``s3_config["storage_client"]``; uploads, step artifacts and downloads all go
through it.
"""
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import List

from dflow import Step, StorageClient, Workflow, config, download_artifact, s3_config, upload_artifact
from dflow.python import OP, Artifact, PythonOPTemplate

config["mode"] = "debug"


class _CallLog:
    """Counts calls in a file, so that calls made by the local engine's driver
    process (a fork of this one) are counted too."""

    def __init__(self, path):
        self.path = os.path.abspath(path)

    def __getitem__(self, op):
        return self.snapshot()[op]

    def record(self, op):
        with open(self.path, "a") as f:
            f.write(op + "\n")

    def snapshot(self):
        if not os.path.exists(self.path):
            return Counter()
        with open(self.path) as f:
            return Counter(f.read().split())


class DirStorage(StorageClient):
    """Objects are files under a directory; every call is counted."""

    def __init__(self, root):
        self.root = os.path.abspath(root)
        self.calls = _CallLog(root + ".calls")

    def _p(self, key):
        return os.path.join(self.root, key)

    def upload(self, key: str, path: str) -> None:
        self.calls.record("upload")
        dst = self._p(key)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if os.path.isdir(path):
            shutil.copytree(path, dst, dirs_exist_ok=True)
        else:
            shutil.copyfile(path, dst)

    def download(self, key: str, path: str) -> None:
        self.calls.record("download")
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        shutil.copyfile(self._p(key), path)

    def list(self, prefix: str, recursive: bool = False) -> List[str]:
        self.calls.record("list")
        out = []
        for root, _dirs, files in os.walk(self.root):
            for fn in files:
                key = os.path.relpath(os.path.join(root, fn), self.root).replace(os.sep, "/")
                if key.startswith(prefix):
                    out.append(key)
        return sorted(out)

    def copy(self, src: str, dst: str) -> None:
        self.calls.record("copy")
        for key in self.list(src):
            target = self._p(dst + key[len(src):])
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copyfile(self._p(key), target)

    def get_md5(self, key: str) -> str:
        import hashlib

        self.calls.record("get_md5")
        return hashlib.md5(Path(self._p(key)).read_bytes()).hexdigest()


@OP.function
def shout(inp: Artifact(Path)) -> {"out": Artifact(Path), "text": str}:
    text = Path(inp).read_text().upper()
    Path("out.txt").write_text(text)
    return {"out": Path("out.txt"), "text": text}


def main():
    client = DirStorage("my-store")
    s3_config["storage_client"] = client
    try:
        Path("in.txt").write_text("quiet")
        art = upload_artifact("in.txt")
        assert client.calls["upload"] >= 1, client.calls.snapshot()
        assert any(Path("my-store").rglob("*")), "upload_artifact did not write through the storage client"

        wf = Workflow(name="storage")
        s0 = Step("s0", PythonOPTemplate(shout), artifacts={"inp": art})
        s1 = Step("s1", PythonOPTemplate(shout), artifacts={"inp": s0.outputs.artifacts["out"]})
        wf.add(s0)
        wf.add(s1)
        before = client.calls.snapshot()
        wf.submit()
        assert wf.query_status() == "Succeeded", wf.query_status()
        used = client.calls.snapshot() - before
        # step inputs were fetched from, and step outputs stored in, the custom storage
        assert used["download"] >= 2 and used["upload"] >= 2, used
        assert wf.query_step(name="s1")[0].outputs.parameters["text"].value == "QUIET"

        out = wf.query_step(name="s1")[0].outputs.artifacts["out"]
        stored = [p for p in Path("my-store").rglob("out.txt")]
        assert stored, "step output artifacts were not stored through the custom client"
        before = client.calls.snapshot()
        paths = download_artifact(out, path="dl")
        assert (client.calls.snapshot() - before)["download"] >= 1, client.calls.snapshot()
        assert Path(paths[0]).read_text() == "QUIET", paths
    finally:
        s3_config["storage_client"] = None
    print("test_storage_client OK")


if __name__ == "__main__":
    main()
