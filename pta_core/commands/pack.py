"""``pta pack``: pack the train and/or test side of a split into memory-mapped arrays.

Example::

    pta pack --config config/train_mmfi.yaml --set data.root=data/mmfi --side both
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from pta_core.config import ConfigError, load_config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="YAML config (defaults when omitted)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="dotted override, e.g. data.root=data/mmfi",
    )
    parser.add_argument("--side", choices=("train", "test", "both"), default="both")
    parser.add_argument("--rebuild", action="store_true", help="repack even when the cache is up to date")
    parser.add_argument(
        "--workers",
        type=int,
        default=min(8, os.cpu_count() or 1),
        help="packing processes (default: %(default)s)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print one JSON summary line per side")


def run(args: argparse.Namespace) -> int:
    from pta_core.data.cache import open_split  # lazy: keeps `pta --help` fast

    try:
        cfg = load_config(args.config, args.set).data
    except ConfigError as err:
        print(f"pta pack: {err}", file=sys.stderr)
        return 2
    sides = ("train", "test") if args.side == "both" else (args.side,)
    progress = not args.no_progress and sys.stderr.isatty()
    for side in sides:
        try:
            split = open_split(cfg, side, rebuild=args.rebuild, progress=progress, workers=args.workers)
        except (OSError, ValueError) as err:  # DataFormatError and config problems are ValueErrors
            print(f"pta pack: {side}: {err}", file=sys.stderr)
            return 1
        counts = split.manifest["counts"]
        summary = {
            "side": side,
            "path": str(split.path),
            "samples": len(split),
            "present": counts["present"],
            "absent": counts["absent"],
            "scan": counts["scan"],
        }
        if args.json:
            print(json.dumps(summary))
        else:
            print(f"{side}: {len(split)} samples in {split.path}")
            for m in split.modalities:
                absent = ", ".join(f"{r} {n}" for r, n in sorted(counts["absent"][m].items())) or "none"
                print(f"  {m:10s} present {counts['present'][m]:8d}   absent: {absent}")
    return 0
