"""``pta train``: train PTA, a baseline or an ablation; resumable; DDP under torchrun.

Examples::

    pta train --config config/train_mmfi.yaml --set train.out_dir=runs/pta
    pta train --config config/train_mmfi.yaml --set train.out_dir=runs/pta --resume
    pta train --config config/train_mmfi.yaml --set train.method=single --set train.single_modality=depth
    torchrun --nproc-per-node 2 -m pta_core.cli train --config config/train_mmfi.yaml
    # late fusion assembled from single-modality runs (no training):
    pta train --config config/train_mmfi.yaml --set train.method=late_fusion --from-singles runs/single_*/model.pt
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from pta_core.config import ConfigError, load_config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="YAML config (defaults when omitted)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="dotted override, e.g. train.lr=5e-4")
    parser.add_argument("--resume", action="store_true", help="continue the run in train.out_dir from its state.pt")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--from-singles",
        nargs="+",
        metavar="MODEL_PT",
        help="method=late_fusion only: build the late-fusion model from these single-modality model files "
        "instead of training it (validated on the same meta-val split)",
    )


def _log_to_run_dir(run_dir: Path) -> logging.Handler | None:
    """Mirror the log into the run directory (rank 0 only; other ranks log warnings only)."""
    import os

    if os.environ.get("RANK", "0") != "0":
        logging.getLogger().setLevel(logging.WARNING)
        return None
    run_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(run_dir / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    return handler


def run(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.config, args.set)
    except ConfigError as err:
        print(f"pta train: {err}", file=sys.stderr)
        return 2
    from pta_core.errors import CheckpointError
    from pta_core.training import distributed
    from pta_core.training.late_fusion import assemble_late_fusion
    from pta_core.training.train import train

    handler = None
    progress = not args.no_progress and sys.stderr.isatty()
    try:
        handler = _log_to_run_dir(Path(cfg.train.out_dir))
        if args.from_singles:
            result = assemble_late_fusion(cfg, [Path(p) for p in args.from_singles], progress=progress)
        else:
            result = train(cfg, resume=args.resume, progress=progress)
    except (OSError, ValueError, CheckpointError, FloatingPointError) as err:
        print(f"pta train: {err}", file=sys.stderr)
        return 1
    finally:
        distributed.cleanup()
        if handler is not None:
            logging.getLogger().removeHandler(handler)
            handler.close()
    if distributed.world_from_env().is_main:
        print(f"model: {result.model_path} (step {result.steps}, meta-val selection score {result.score:.4f})")
    return 0
