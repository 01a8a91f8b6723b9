"""Throughput of the OSS, Azure and GCS clients against their plain SDKs, on the same server in the same run.

    python benchmarks/bench_storage.py [--size-mb 1024] [--reps 5] [--stores oss,azure,gcs]

Servers (each started here, on 127.0.0.1, and stopped at the end):
- oss: the OSS protocol stand-in of plugins/storage_oss/tests (a stand-in, not OSS),
  in its own process;
- azure: Azurite (scripts/setup-azurite.sh), its data in a temporary directory;
- gcs: fake-gcs-server (scripts/setup-fake-gcs.sh), in memory.

Each repetition uploads and downloads one random file of --size-mb MiB through
the dflow client and through the SDK as a user would call it (same parallelism
where the call takes one), alternating which goes first, checks the content
once, and deletes the objects. Prints the median seconds, MB/s and the ratio of
throughputs dflow / SDK (above 1: dflow is faster).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

ROOT = Path(__file__).resolve().parents[1]
MiB = 1024 * 1024
CONCURRENCY = 8
for tests in ("storage_oss", "storage_azure", "storage_gcs"):
    sys.path.insert(0, str(ROOT / "plugins" / tests / "tests"))

# (name, upload, download) callables of one store: (path, key) -> None
Transfers = Tuple[Callable[[str, str], None], Callable[[str, str], None]]


def _write_random(path: Path, size: int) -> None:
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 16 * MiB)
            f.write(os.urandom(n))
            left -= n


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(8 * MiB), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ---------------------------------------------------------------------- stores


def oss_store(stack: List[Callable[[], None]]) -> Tuple[Transfers, Transfers, Callable[[str], None]]:
    import oss2

    from dflow_oss import OSSClient

    key_id, key_secret = "LTAI" + secrets.token_hex(8), secrets.token_urlsafe(22)
    # the stand-in runs in its own interpreter, so it does not share a GIL with the clients
    server = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from oss_standin import OSSStandIn; "
         f"s = OSSStandIn({key_id!r}, {key_secret!r}).start(); print(s.endpoint, flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=str(ROOT / "plugins" / "storage_oss" / "tests"),
    )
    stack.append(lambda: (server.stdin.close(), server.wait(10)))
    endpoint = server.stdout.readline().strip()
    bucket = oss2.Bucket(oss2.Auth(key_id, key_secret), endpoint, "dflow-bench")
    bucket.create_bucket()
    ours = OSSClient(endpoint, "dflow-bench", key_id, key_secret, max_concurrency=CONCURRENCY)
    records = tempfile.mkdtemp(prefix="dflow-bench-oss-")
    stack.append(lambda: shutil.rmtree(records, ignore_errors=True))

    def sdk_up(path: str, key: str) -> None:
        oss2.resumable_upload(bucket, key, path, part_size=ours.part_size, num_threads=CONCURRENCY,
                              multipart_threshold=ours.multipart_threshold, store=oss2.ResumableStore(root=records))

    def sdk_down(path: str, key: str) -> None:
        oss2.resumable_download(bucket, key, path, part_size=ours.part_size, num_threads=CONCURRENCY,
                                multiget_threshold=ours.multipart_threshold,
                                store=oss2.ResumableDownloadStore(root=records))

    def cleanup(key: str) -> None:
        bucket.delete_object(key)

    return (lambda p, k: ours.upload(k, p), lambda p, k: ours.download(k, p)), (sdk_up, sdk_down), cleanup


def azure_store(stack: List[Callable[[], None]]) -> Tuple[Transfers, Transfers, Callable[[str], None]]:
    from azure.storage.blob import BlobServiceClient
    from azurite_server import Azurite, azurite_binary

    from dflow_azure import AzureStorageClient

    binary = azurite_binary()
    if binary is None:
        raise RuntimeError("Azurite is not installed: run scripts/setup-azurite.sh")
    # on disk: in memory, Azurite keeps deleted blobs until its next garbage collection
    location = tempfile.mkdtemp(prefix="dflow-bench-azurite-")
    stack.append(lambda: shutil.rmtree(location, ignore_errors=True))
    server = Azurite(binary, location=location)
    stack.append(server.stop)
    ours = AzureStorageClient(server.connection_string, "dflow-bench", max_concurrency=CONCURRENCY)
    container = BlobServiceClient.from_connection_string(server.connection_string).get_container_client("dflow-bench")
    container.create_container()

    def sdk_up(path: str, key: str) -> None:
        with open(path, "rb") as f:
            container.get_blob_client(key).upload_blob(f, overwrite=True, max_concurrency=CONCURRENCY)

    def sdk_down(path: str, key: str) -> None:
        with open(path, "wb") as f:
            container.get_blob_client(key).download_blob(max_concurrency=CONCURRENCY).readinto(f)

    return (lambda p, k: ours.upload(k, p), lambda p, k: ours.download(k, p)), (sdk_up, sdk_down), \
        lambda key: container.delete_blob(key)


def gcs_store(stack: List[Callable[[], None]]) -> Tuple[Transfers, Transfers, Callable[[str], None]]:
    from gcs_server import FakeGCS, fake_gcs_binary
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    from dflow_gcs import GCSStorageClient

    binary = fake_gcs_binary()
    if binary is None:
        raise RuntimeError("fake-gcs-server is not installed: run scripts/setup-fake-gcs.sh")
    server = FakeGCS(binary)
    stack.append(server.stop)
    ours = GCSStorageClient("dflow-bench", api_endpoint=server.url, anonymous=True, max_concurrency=CONCURRENCY)
    client = storage.Client(project="bench", credentials=AnonymousCredentials(),
                            client_options={"api_endpoint": server.url}, use_auth_w_custom_endpoint=False)
    bucket = client.create_bucket("dflow-bench")

    def sdk_up(path: str, key: str) -> None:
        bucket.blob(key).upload_from_filename(path)

    def sdk_down(path: str, key: str) -> None:
        bucket.blob(key).download_to_filename(path)

    return (lambda p, k: ours.upload(k, p), lambda p, k: ours.download(k, p)), (sdk_up, sdk_down), \
        lambda key: bucket.delete_blob(key)


STORES = {"oss": oss_store, "azure": azure_store, "gcs": gcs_store}


# ---------------------------------------------------------------------- the measurement


def bench_store(name: str, src: Path, work: Path, reps: int) -> Dict[str, List[float]]:
    stack: List[Callable[[], None]] = []
    try:
        (ours_up, ours_down), (sdk_up, sdk_down), cleanup = STORES[name](stack)
        src_md5 = _md5(src)
        times: Dict[str, List[float]] = {k: [] for k in ("dflow up", "sdk up", "dflow down", "sdk down")}
        for rep in range(reps):
            steps: List[Tuple[str, Callable[[], Any]]] = [
                ("dflow up", lambda: ours_up(str(src), "bench/dflow.bin")),
                ("sdk up", lambda: sdk_up(str(src), "bench/sdk.bin")),
                ("dflow down", lambda: ours_down(str(work / "dflow.out"), "bench/dflow.bin")),
                ("sdk down", lambda: sdk_down(str(work / "sdk.out"), "bench/sdk.bin")),
            ]
            if rep % 2:  # alternate who goes first
                steps = [steps[1], steps[0], steps[3], steps[2]]
            for label, fn in steps:
                t0 = time.perf_counter()
                fn()
                times[label].append(time.perf_counter() - t0)
            if rep == 0:
                for out in ("dflow.out", "sdk.out"):
                    if _md5(work / out) != src_md5:
                        raise RuntimeError(f"{name}: {out} differs from the source")
            for out in ("dflow.out", "sdk.out"):
                (work / out).unlink()
            for key in ("bench/dflow.bin", "bench/sdk.bin"):
                cleanup(key)
            print(f"{name} rep {rep + 1}/{reps}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items()),
                  flush=True)
        return times
    finally:
        for undo in reversed(stack):
            undo()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=1024, help="file size in MiB (default 1024)")
    parser.add_argument("--reps", type=int, default=5, help="repetitions (default 5)")
    parser.add_argument("--stores", default="oss,azure,gcs", help="comma-separated: oss, azure, gcs")
    args = parser.parse_args()
    size = args.size_mb * MiB
    names = [s.strip() for s in args.stores.split(",") if s.strip()]
    unknown = sorted(set(names) - set(STORES))
    if unknown:
        parser.error(f"unknown store(s) {unknown}; choose from {sorted(STORES)}")
    work = Path(tempfile.mkdtemp(prefix="dflow-bench-storage-"))
    results: Dict[str, Dict[str, List[float]]] = {}
    failed = 0
    try:
        src = work / "payload.bin"
        print(f"writing a {size / MiB:.0f} MiB random file ...", flush=True)
        _write_random(src, size)
        for name in names:
            try:
                results[name] = bench_store(name, src, work, args.reps)
            except Exception as exc:  # noqa: BLE001 - one store's failure must not hide the others
                print(f"{name}: FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
                failed = 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    mb = size / 1e6
    print()
    print(f"{size / MiB:.0f} MiB, {args.reps} repetitions, medians; ratio = throughput dflow / SDK")
    print(f"{'store':<6} {'operation':<9} {'dflow s':>8} {'SDK s':>8} {'dflow MB/s':>11} {'SDK MB/s':>9} {'ratio':>6}")
    for name, times in results.items():
        for op in ("up", "down"):
            a = statistics.median(times[f"dflow {op}"])
            b = statistics.median(times[f"sdk {op}"])
            label = "upload" if op == "up" else "download"
            print(f"{name:<6} {label:<9} {a:>8.2f} {b:>8.2f} {mb / a:>11.1f} {mb / b:>9.1f} {b / a:>6.2f}")
    return failed


if __name__ == "__main__":
    sys.exit(main())
