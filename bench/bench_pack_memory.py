"""Peak memory of ``pta pack`` on two set sizes 4× apart: it must not grow with the set.

Writes (once) an MM-Fi tree of ``4 × --sequences`` sequences (297 frames each, full-size depth),
then runs ``python -m pta_core.cli pack`` in a fresh wrapper process per size, so that the peak
RSS of that pack alone is measured (``getrusage(RUSAGE_CHILDREN).ru_maxrss`` of the wrapper: the
largest single process, i.e. per process when ``--workers`` > 1).
Also reports the RSS of a process that only imports the packer, as the floor.

    python bench/bench_pack_memory.py --work /tmp/pta_bench_pack --sequences 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "test"))
from data_trees import write_mmfi_tree

MODALITIES = "[rgb, depth, mmwave, lidar, wifi-csi]"

WRAPPER = """
import resource, subprocess, sys
proc = subprocess.run(sys.argv[1:])
print(proc.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def peak_rss_kib(command: list[str]) -> tuple[int, int, float]:
    """(return code, peak RSS KiB, seconds) of ``command`` run as the only child of a fresh wrapper."""
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", WRAPPER, *command], capture_output=True, text=True, check=True
    )
    code, rss = out.stdout.split()[-2:]
    return int(code), int(rss), time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--work", default="/tmp/pta_bench_pack")
    parser.add_argument(
        "--sequences", type=int, default=3, help="sequences in the small set (the large has 4×)"
    )
    parser.add_argument("--workers", type=int, default=1, help="pta pack --workers (peak RSS is per process)")
    args = parser.parse_args()
    work = Path(args.work)
    root = work / "mmfi"
    n_small, n_large = args.sequences, 4 * args.sequences
    actions = [f"A{i:02d}" for i in range(1, n_large + 1)]
    if n_large > 27:
        parser.error("--sequences must be at most 6 (one subject, up to 27 actions)")
    marker = work / f"tree-{n_large}.done"
    if not marker.exists():
        write_mmfi_tree(root, ["S01"], actions, frames=297, depth_shape=(480, 640))
        marker.write_text("ok")

    floor = peak_rss_kib([sys.executable, "-c", "import pta_core.data.cache, pta_core.cli"])[1]
    results = []
    for n in (n_small, n_large):
        cache = work / f"cache-{n}"
        shutil.rmtree(cache, ignore_errors=True)
        command = [sys.executable, "-m", "pta_core.cli", "pack", "--side", "train", "--no-progress"]
        command += ["--workers", str(args.workers)]
        for key, value in (
            ("data.root", root),
            ("data.cache_dir", cache),
            ("data.modalities", MODALITIES),
            ("data.split", "manual_split"),
            ("data.train_subjects", "[S01]"),
            ("data.train_actions", "[" + ", ".join(actions[:n]) + "]"),
            ("data.val_subjects", "[S02]"),
            ("data.val_actions", "[A01]"),
        ):
            command += ["--set", f"{key}={value}"]
        code, rss, seconds = peak_rss_kib(command)
        if code != 0:
            raise SystemExit(f"pta pack failed with {code}")
        packed = sum(f.stat().st_size for f in cache.rglob("*.npy"))
        results.append(
            {
                "sequences": n,
                "frames": n * 297,
                "peak_rss_mib": round(rss / 1024, 1),
                "packed_mib": round(packed / 2**20, 1),
                "seconds": round(seconds, 1),
            }
        )
    report = {
        "workers": args.workers,
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "import_only_rss_mib": round(floor / 1024, 1),
        "runs": results,
        "large_over_small_rss": round(results[1]["peak_rss_mib"] / results[0]["peak_rss_mib"], 3),
    }
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
