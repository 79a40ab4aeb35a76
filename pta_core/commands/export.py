"""``pta export``: a model file → ONNX graphs of the deployed path plus ``model.json`` (``pta_core/export.py``),
checked against PyTorch on real samples of the model's test split.

Example::

    pta export --checkpoint models/pta_bench_clean.pt --out models/pta_bench_clean.onnx \\
        --set data.root=out/results/data/clean

Prints the largest difference between the ONNX and PyTorch outputs; exits 1 when it exceeds
``--tolerance`` (metres for the pose).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pta_core.config import ConfigError, apply_overrides, from_dict, to_dict
from pta_core.errors import CheckpointError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="model.pt to export")
    parser.add_argument("--out", required=True, help="folder for the graphs and model.json")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override the checkpoint's data config for the check samples (e.g. data.root=…)")
    parser.add_argument("--samples", type=int, default=128, help="test-split frames to check (default %(default)s)")
    parser.add_argument("--tolerance", type=float, default=1e-4, help="largest pose difference allowed, metres")
    parser.add_argument("--no-check", action="store_true", help="export without the check (no data at hand)")


def _check_batch(checkpoint, overrides: list[str], samples: int):
    import numpy as np

    from pta_core.config import Config
    from pta_core.data import PackedDataset, collate, open_split
    from pta_core.training.batching import model_batch

    cfg = from_dict(Config, apply_overrides(to_dict(checkpoint.config), overrides))
    split = open_split(cfg.data, "test", progress=False)
    dataset = PackedDataset(split)
    rows = np.linspace(0, len(dataset) - 1, min(samples, len(dataset))).astype(int).tolist()
    batch = model_batch(collate(dataset.__getitems__(rows)), split.modalities, checkpoint.modalities)
    return batch.inputs, batch.present


def run(args: argparse.Namespace) -> int:
    from pta_core.checkpoint import load_checkpoint
    from pta_core.export import check_against_torch, export_onnx

    out = Path(args.out)
    try:
        checkpoint = load_checkpoint(args.checkpoint)
        inputs = None if args.no_check else _check_batch(checkpoint, args.set, args.samples)
        export_onnx(checkpoint, Path(args.checkpoint), out)
        if inputs is None:
            print(f"exported {args.checkpoint} → {out} (not checked: --no-check)")
            return 0
        worst = check_against_torch(checkpoint, out, *inputs)
    except (CheckpointError, ConfigError, OSError, ValueError, RuntimeError) as err:  # RuntimeError: the exporter
        print(f"pta export: {str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__}", file=sys.stderr)
        return 1
    (out / "check.json").write_text(json.dumps(worst, indent=1))
    others = ", ".join(f"{k} {v:.2e}" for k, v in worst.items() if k not in ("pose_m", "students_pose_m", "samples"))
    print(f"exported {args.checkpoint} → {out}; largest |ONNX − PyTorch| on {worst['samples']} test frames: "
          f"pose {worst['pose_m']:.2e} m, each alone {worst['students_pose_m']:.2e} m" + (f", {others}" if others else ""))
    pose = max(worst["pose_m"], worst["students_pose_m"])
    if pose > args.tolerance:
        print(f"pta export: pose differs by {pose:.2e} m > --tolerance {args.tolerance}", file=sys.stderr)
        return 1
    return 0
