"""``pta eval``: score one or more model files over modality combinations; tables and a plot.

Examples::

    pta eval --checkpoint runs/pta/model.pt --out results/pta
    pta eval --checkpoint runs/pta/model.pt runs/xfi/model.pt --names PTA X-Fi \\
        --config config/train_mmfi.yaml --combinations depth lidar depth+lidar --out results/cmp

Data: each model's own config (``data`` section) unless ``--config`` is given; the preprocessing must
match the model's. Split: the test side (default) or the training run's meta-val part.

``--node-choice`` also scores what the sensing node serves, frame by frame over the split's MM-Fi
sequences in order: today's choice (the best validated set of the live sensors) and the choice under
live sensor quality (``--quality-tolerance``, the node's ``quality_tolerance``), written to
``node_choice.{md,json}`` (pta_core.node_choice).

``--split meta_val --store-validation`` writes the meta-val table back into each model file, as
training does: for model files written before the table carried standard errors (the node's set
choice uses them). It refuses when the scores differ from the file's: not the data it was trained on.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", nargs="+", required=True, metavar="MODEL_PT", help="model files to compare")
    parser.add_argument("--names", nargs="+", help="run names for the tables (default: the model file's folder)")
    parser.add_argument("--config", help="YAML config whose data section to evaluate on (default: each model's)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="dotted override of --config")
    parser.add_argument("--combinations", nargs="+", metavar="A+B", help="combinations such as depth+lidar (default: all)")
    parser.add_argument("--split", choices=("test", "meta_val"), help="default: eval.split of the config (test)")
    parser.add_argument("--out", required=True, help="output folder for results.csv / .md / .png")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, help="default: eval.batch_size")
    parser.add_argument("--title", default="", help="plot and table title")
    parser.add_argument("--store-validation", action="store_true",
                        help="with --split meta_val and every combination: write the table, standard errors "
                             "included, into each model file (for files from before they were recorded)")
    parser.add_argument("--node-choice", action="store_true",
                        help="also score the node's choice, live quality off and on (MM-Fi layouts, test split)")
    parser.add_argument("--quality-tolerance", type=float, help="live quality's tolerance (default: the node's)")
    parser.add_argument("--no-progress", action="store_true")


def _data_config(args, checkpoint):
    from dataclasses import replace

    from pta_core.config import load_config

    model_cfg = checkpoint.config
    if args.config is None and not args.set:
        return model_cfg
    cfg = load_config(args.config, args.set)
    if cfg.data.preprocess != model_cfg.data.preprocess:
        raise ValueError("the config's data.preprocess differs from the model's: the model expects its own preprocessing")
    missing = [m for m in checkpoint.modalities if m not in cfg.data.modalities]
    if missing:
        raise ValueError(f"the config's data.modalities lack the model's {missing}")
    # Evaluate on the config's data, keeping the model's meta split settings (for --split meta_val).
    return replace(model_cfg, data=cfg.data, eval=cfg.eval)


def _dataset(cfg, split_name: str, progress: bool):
    from pta_core.data import PackedDataset, open_split
    from pta_core.training.purify import split_meta_val

    if split_name == "test":
        return PackedDataset(open_split(cfg.data, "test", progress=progress))
    split = open_split(cfg.data, "train", progress=progress)
    _, meta = split_meta_val(split, cfg.purify)
    return PackedDataset(split, meta)


def _store_validation(path: Path, checkpoint, rows) -> None:
    """Replace the model file's validation table by ``rows``, if they reproduce its scores."""
    import math

    from pta_core.checkpoint import save_checkpoint
    from pta_core.validation import SCORES

    stored = {tuple(r.modalities): r for r in checkpoint.validation}
    for row in rows:
        old = stored.get(tuple(row.modalities))
        for score in SCORES:
            before, after = (getattr(old, score, None), getattr(row, score))
            if before is not None and (after is None or not math.isclose(before, after, rel_tol=1e-4, abs_tol=1e-6)):
                raise ValueError(f"{path}: meta-val {score} of {'+'.join(row.modalities)} is {after}, the file says "
                                 f"{before}: not the data it was trained on; nothing written")
    checkpoint.validation = list(rows)
    save_checkpoint(path, checkpoint)
    print(f"{path}: validation table stored ({len(rows)} combinations, with standard errors)")


def _node_choice(args, names: list[str], paths: list[Path], progress: bool) -> dict[str, Path]:
    """node_choice.{json,md}: each model's choice over the test split's sequences, live quality off / on."""
    import json

    from tqdm import tqdm

    from pta_core.checkpoint import load_checkpoint
    from pta_core.data import mmfi
    from pta_core.data.splits import mmfi_split
    from pta_core.live_quality import QualityPolicy
    from pta_core.node_choice import score_choice
    from pta_core.torch_predictor import TorchPredictor

    if (args.split or "test") != "test":
        raise ValueError("--node-choice scores the test split")
    policy = QualityPolicy() if args.quality_tolerance is None else QualityPolicy(args.quality_tolerance)
    results = {}
    for name, path in zip(names, paths):
        checkpoint = load_checkpoint(path)
        cfg = _data_config(args, checkpoint)
        if cfg.data.dataset != "mmfi":
            raise ValueError(f"--node-choice replays MM-Fi layouts; {name} reads {cfg.data.dataset}")
        predictor = TorchPredictor(checkpoint, args.device)
        sequences = mmfi_split(cfg.data).side("test")
        results[name] = {}
        for label, chosen_policy in (("today", None), ("live_quality", policy)):
            frames = tqdm(mmfi.iter_frames(cfg.data.root, sequences, predictor.modalities), disable=not progress,
                          desc=f"{name}: node choice, {label}", unit="frame")
            results[name][label] = score_choice(predictor, frames, chosen_policy)
    out = Path(args.out)
    (out / "node_choice.json").write_text(json.dumps({"tolerance": policy.tolerance, "runs": results}, indent=2))
    lines = [f"# The node's choice over the test split, frame by frame (live quality tolerance {policy.tolerance:g})", "",
             "| run | choice | MPJPE (mm) | PA-MPJPE (mm) | set switches | frames | sets served (frames) |",
             "|---|---|---|---|---|---|---|"]
    for name, by_choice in results.items():
        for label, r in by_choice.items():
            sets = ", ".join(f"{s} {n}" for s, n in list(r["sets"].items())[:4])
            lines.append(f"| {name} | {label.replace('_', ' ')} | {r['mpjpe_mm']:.1f} | {r['pa_mpjpe_mm']:.1f} | "
                         f"{r['switches']} | {r['frames']} | {sets} |")
    (out / "node_choice.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return {"node_choice_json": out / "node_choice.json", "node_choice_markdown": out / "node_choice.md"}


def run(args: argparse.Namespace) -> int:
    from pta_core.checkpoint import load_checkpoint
    from pta_core.config import ConfigError, activity_window
    from pta_core.errors import CheckpointError
    from pta_core.metrics import modality_combinations, parse_combination
    from pta_core.results import write_report
    from pta_core.training.distributed import resolve_device
    from pta_core.training.evaluate import evaluate_combinations

    paths = [Path(p) for p in args.checkpoint]
    names = args.names or [p.parent.name or p.stem for p in paths]
    if len(names) != len(paths) or len(set(names)) != len(names):
        print("pta eval: --names must give one distinct name per checkpoint", file=sys.stderr)
        return 2
    if args.store_validation and (args.split != "meta_val" or args.combinations):
        print("pta eval: --store-validation needs --split meta_val and every combination (no --combinations)",
              file=sys.stderr)
        return 2
    if args.quality_tolerance is not None and not args.quality_tolerance > 0:
        print(f"pta eval: --quality-tolerance must be > 0, got {args.quality_tolerance}", file=sys.stderr)
        return 2
    progress = not args.no_progress and sys.stderr.isatty()
    runs = {}
    order: list[str] = []
    try:
        requested = [parse_combination(c) for c in args.combinations] if args.combinations else None
        device = resolve_device(args.device)
        for name, path in zip(names, paths):
            checkpoint = load_checkpoint(path)
            cfg = _data_config(args, checkpoint)
            try:
                modalities = checkpoint.modalities
            except ValueError as err:
                raise CheckpointError(f"{path}: {err}") from None
            order += [m for m in modalities if m not in order]
            combos = modality_combinations(modalities) if requested is None else [
                c for c in requested if set(c) <= set(modalities)
            ]
            if not combos:
                print(f"pta eval: {name}: none of the requested combinations fits its modalities {list(modalities)}",
                      file=sys.stderr)
                runs[name] = []
                continue
            try:
                model = checkpoint.build().to(device)
            except CheckpointError as err:
                raise CheckpointError(f"{path}: {err}") from None
            split_name = args.split or cfg.eval.split
            runs[name] = evaluate_combinations(
                model, _dataset(cfg, split_name, progress), modalities=modalities, combinations=combos,
                batch_size=args.batch_size or cfg.eval.batch_size, window=activity_window(checkpoint.config),
                device=device, progress=progress,
            )
            if args.store_validation:
                _store_validation(path, checkpoint, runs[name])
        written = write_report(runs, order, Path(args.out), args.title)
        if args.node_choice:
            written.update(_node_choice(args, names, paths, progress))
    except (OSError, ValueError, ConfigError, CheckpointError) as err:
        print(f"pta eval: {err}", file=sys.stderr)
        return 1
    print(written["markdown"].read_text())
    print(f"written: {', '.join(str(p) for p in written.values())}")
    return 0
