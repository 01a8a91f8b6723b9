"""``make bench``: every benchmark of the project, one after another."""

from __future__ import annotations

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BENCHES = ["local_engine.py", "bench_build.py", "bench_argo.py", "bench_s3.py", "bench_storage.py", "bench_hpc.py", "bench_ui.py"]

if __name__ == "__main__":
    failed = 0
    for name in BENCHES:
        path = os.path.join(HERE, name)
        if not os.path.exists(path):
            continue
        print(f"\n=== {name} ===", flush=True)
        failed |= subprocess.call([sys.executable, path] + sys.argv[1:] if name == "local_engine.py" else [sys.executable, path])
    sys.exit(1 if failed else 0)
