"""Whether two benchmarks give a single-modality network the same training data (exit 0) or not (1).

A single network of modality m trains on the packed training split's m inputs, poses, activity
labels, sample metadata (the meta-val split is drawn from it) and m's presence column. When all of
them are byte-identical in two benchmarks (a contamination pattern leaves m untouched), the two
runs are the same computation, and `bench/run_results.sh` trains it once. Both splits are opened
with the config's preprocessing (packed first if needed, under the cache's lock).

    python bench/same_training_data.py --config config/results_mmfi.yaml --cache-dir out/results/cache \
        --modality lidar out/results/data/clean out/results/data/contaminated
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pta_core.config import load_config  # noqa: E402
from pta_core.data import PackedSplit, open_split  # noqa: E402


def training_arrays(split: PackedSplit, modality: str) -> dict[str, np.ndarray]:
    """What a single network of ``modality`` reads from ``split``, by name."""
    arrays = {f"input.{modality}.{field}": np.asarray(values) for field, values in split.arrays[modality].items()}
    arrays.update({f"meta.{name}": np.asarray(values) for name, values in split.meta.items()})
    arrays["pose"] = np.asarray(split.pose) if split.pose is not None else np.zeros(0)
    arrays["activity"] = np.asarray(split.activity)
    arrays["present"] = np.asarray(split.present)[:, list(split.modalities).index(modality)]
    return arrays


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--cache-dir", required=True)
    parser.add_argument("--modality", required=True)
    parser.add_argument("roots", nargs=2, help="the two benchmarks' data roots")
    args = parser.parse_args()
    cfg = load_config(args.config, [f"data.cache_dir={args.cache_dir}"])
    splits = [open_split(replace(cfg.data, root=root), "train", progress=False) for root in args.roots]
    if any(args.modality not in split.modalities for split in splits):
        print(f"{args.modality}: not in both benchmarks")
        return 1
    first, second = (training_arrays(split, args.modality) for split in splits)
    differing = sorted(set(first) ^ set(second)) + [
        name for name in sorted(set(first) & set(second)) if not np.array_equal(first[name], second[name])
    ]
    if differing:
        print(f"{args.modality}: training data differ in {args.roots[0]} and {args.roots[1]} ({', '.join(differing[:4])})")
        return 1
    print(f"{args.modality}: the same training data in {args.roots[0]} and {args.roots[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
