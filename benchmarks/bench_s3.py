"""Throughput of S3StorageClient against plain boto3, on the same S3 in the same run.

    python benchmarks/bench_s3.py [--size-mb 1024] [--reps 5]

Starts a throw-away Ceph RGW with scripts/start-rgw.sh (memstore sized for the
objects; stopped at the end), unless DFLOW_TEST_S3_ENDPOINT, _ACCESS_KEY and
_SECRET_KEY name an existing S3. Each repetition uploads and downloads one file
of --size-mb MiB with ``S3StorageClient.upload/download`` and with boto3's
``upload_file/download_file`` (default TransferConfig), alternating which goes
first, and deletes the objects afterwards so the in-memory store does not fill
up. Prints the median seconds, MB/s and the throughput ratio ours / boto3.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List

import boto3
from botocore.config import Config

from dflow_minio import S3StorageClient

ROOT = Path(__file__).resolve().parents[1]
MiB = 1024 * 1024
BUCKET = "dflow-bench"


def _write_random(path: Path, size: int) -> None:
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 16 * MiB)
            f.write(os.urandom(n))
            left -= n


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(8 * MiB), b""):
            h.update(chunk)
    return h.hexdigest()


def _timed(fn: Callable[[], None]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=1024, help="file size in MiB (default 1024)")
    parser.add_argument("--reps", type=int, default=5, help="repetitions (default 5)")
    args = parser.parse_args()
    size = args.size_mb * MiB

    rgw_dir = None
    try:
        if os.environ.get("DFLOW_TEST_S3_ENDPOINT"):
            server = {
                "endpoint": os.environ["DFLOW_TEST_S3_ENDPOINT"],
                "access_key": os.environ.get("DFLOW_TEST_S3_ACCESS_KEY", ""),
                "secret_key": os.environ.get("DFLOW_TEST_S3_SECRET_KEY", ""),
            }
        else:
            rgw_dir = tempfile.mkdtemp(prefix="dflow-rgw-bench-")
            # memstore keeps objects in RAM; deleted ones until RGW's garbage
            # collection (a few seconds, see start-rgw.sh) frees them: room for all
            # (three objects per repetition; in practice RAM stays near 6 GB for 1 GiB)
            memstore = max(4 << 30, 4 * size, min((3 * args.reps + 2) * size, 12 << 30))
            t0 = time.perf_counter()
            proc = subprocess.run(
                [str(ROOT / "scripts" / "start-rgw.sh"), rgw_dir],
                env={**os.environ, "RGW_MEMSTORE_BYTES": str(memstore)},
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                print(proc.stderr, file=sys.stderr)
                print("could not start RGW; run scripts/setup-rgw.sh first", file=sys.stderr)
                return 1
            print(f"RGW started in {time.perf_counter() - t0:.1f} s")
            with open(os.path.join(rgw_dir, "rgw.json")) as f:
                server = json.load(f)
        return _bench(server, size, args.reps)
    finally:
        if rgw_dir:
            subprocess.run([str(ROOT / "scripts" / "stop-rgw.sh"), rgw_dir], check=False)


def _bench(server: Dict[str, str], size: int, reps: int) -> int:
    endpoint = server["endpoint"]
    url = endpoint if "://" in endpoint else "http://" + endpoint
    credentials = dict(endpoint=endpoint, access_key=server["access_key"], secret_key=server["secret_key"])
    ours = S3StorageClient(**credentials, bucket_name=BUCKET)
    # the same transfers without computing the MD5 kept in metadata: shows its cost
    ours_no_md5 = S3StorageClient(**credentials, bucket_name=BUCKET, store_md5=False)
    # plain boto3 as a user would write it; only the endpoint needs path-style and
    # the checksum setting that third-party S3 servers need too
    plain = boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id=server["access_key"],
        aws_secret_access_key=server["secret_key"],
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )
    try:
        plain.create_bucket(Bucket=BUCKET)
    except plain.exceptions.BucketAlreadyOwnedByYou:
        pass
    # RGW creates its data pool on the first write: keep that out of the timings
    plain.put_object(Bucket=BUCKET, Key="bench/warm-up", Body=b"x" * MiB)
    plain.delete_object(Bucket=BUCKET, Key="bench/warm-up")

    work = Path(tempfile.mkdtemp(prefix="dflow-bench-"))
    try:
        src = work / "payload.bin"
        print(f"writing a {size / MiB:.0f} MiB random file ...")
        _write_random(src, size)
        src_md5 = _md5(src)
        times: Dict[str, List[float]] = {
            k: [] for k in ("ours up", "boto3 up", "ours down", "boto3 down", "ours-no-md5 up")
        }
        for rep in range(reps):
            steps = [
                ("ours up", lambda: ours.upload("bench/ours.bin", str(src))),
                ("boto3 up", lambda: plain.upload_file(str(src), BUCKET, "bench/boto3.bin")),
                ("ours down", lambda: ours.download("bench/ours.bin", str(work / "ours.out"))),
                ("boto3 down", lambda: plain.download_file(BUCKET, "bench/boto3.bin", str(work / "boto3.out"))),
            ]
            if rep % 2:  # alternate who goes first
                steps = [steps[1], steps[0], steps[3], steps[2]]
            steps.append(("ours-no-md5 up", lambda: ours_no_md5.upload("bench/nomd5.bin", str(src))))
            for name, fn in steps:
                times[name].append(_timed(fn))
            if rep == 0:
                for out in ("ours.out", "boto3.out"):
                    if _md5(work / out) != src_md5:
                        print(f"{out} differs from the source", file=sys.stderr)
                        return 1
                if ours.get_md5("bench/ours.bin") != src_md5:
                    print("get_md5 is wrong", file=sys.stderr)
                    return 1
            for out in ("ours.out", "boto3.out"):
                (work / out).unlink()
            plain.delete_objects(
                Bucket=BUCKET, Delete={"Objects": [{"Key": f"bench/{n}.bin"} for n in ("ours", "boto3", "nomd5")]}
            )
            print(f"rep {rep + 1}/{reps}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items()))

        mb = size / 1e6
        print()
        print(f"{size / MiB:.0f} MiB, {reps} repetitions, medians")
        print(f"{'operation':<10} {'ours s':>8} {'boto3 s':>8} {'ours MB/s':>10} {'boto3 MB/s':>11} {'ratio':>6}")
        for op in ("up", "down"):
            a = statistics.median(times[f"ours {op}"])
            b = statistics.median(times[f"boto3 {op}"])
            name = "upload" if op == "up" else "download"
            print(f"{name:<10} {a:>8.2f} {b:>8.2f} {mb / a:>10.1f} {mb / b:>11.1f} {b / a:>6.2f}")
        a = statistics.median(times["ours-no-md5 up"])
        b = statistics.median(times["boto3 up"])
        print(f"{'upload*':<10} {a:>8.2f} {b:>8.2f} {mb / a:>10.1f} {mb / b:>11.1f} {b / a:>6.2f}")
        print("upload* = S3StorageClient(store_md5=False): no MD5 computed for get_md5")
        print("ratio = throughput ours / boto3 (above 1: ours is faster)")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
