"""Late fusion assembled from trained single-modality runs (``pta train --from-singles``).

The late-fusion baseline averages the members' predictions (:class:`~pta_core.models.baselines.LateFusionModel`);
built from ``method=single`` model files it costs exactly the single runs and needs no training here.
It is validated on the same meta-val split as every other run and exported like one.
"""
from __future__ import annotations

from pathlib import Path

import torch

from pta_core.checkpoint import Checkpoint, inference_state_dict, load_checkpoint, save_checkpoint
from pta_core.config import Config, activity_window, dump_config, to_dict
from pta_core.data import PackedDataset, open_split
from pta_core.metrics import modality_combinations
from pta_core.models.baselines import late_fusion_state_dict
from pta_core.models.factory import build_model
from pta_core.training.distributed import resolve_device
from pta_core.training.evaluate import evaluate_combinations, selection_score
from pta_core.training.purify import split_meta_val
from pta_core.training.train import MODEL_FILE, TrainResult, selection_metric


def assemble_late_fusion(cfg: Config, members: list[Path], *, progress: bool = True) -> TrainResult:
    """Late fusion from trained single-modality runs: load their weights, validate on meta-val, export.

    Each member must be a ``method=single`` model file over one of ``cfg.data.modalities`` with the
    same model sizes, tasks, preprocessing and meta split as ``cfg``; together they must cover every
    modality. No parameter is trained here, so the late-fusion baseline costs exactly the single runs.
    """
    if cfg.train.method != "late_fusion":
        raise ValueError("--from-singles needs train.method=late_fusion")
    singles: dict[str, dict[str, torch.Tensor]] = {}
    classes: tuple[str, ...] | None = None
    for path in members:
        checkpoint = load_checkpoint(path)
        member = checkpoint.config
        if member.train.method != "single":
            raise ValueError(f"{path} is a {member.train.method!r} model, not a single-modality one")
        name = member.train.single_modality
        # model.student_heads shapes only networks of two or more modalities: a member has none either way.
        theirs, ours = (
            {k: v for k, v in to_dict(c.model).items() if k != "student_heads"} for c in (member, cfg)
        )
        differ = sorted(k for k in ours if theirs.get(k) != ours[k])
        if differ:
            raise ValueError(f"{path}: its model settings differ from this config's ({', '.join(differ)})")
        meta = ("meta_val_fraction", "meta_seed", "meta_group")
        if any(getattr(member.purify, k) != getattr(cfg.purify, k) for k in meta):
            raise ValueError(f"{path}: its meta-val split (purify.{{{', '.join(meta)}}}) differs from this config's")
        if member.train.tasks != cfg.train.tasks or member.data.preprocess != cfg.data.preprocess:
            raise ValueError(f"{path}: tasks or preprocessing differ from this config's")
        if name in singles:
            raise ValueError(f"two members for modality {name!r}")
        if classes is not None and checkpoint.activity_classes != classes:
            raise ValueError(f"{path}: activity classes differ from the other members'")
        classes = checkpoint.activity_classes
        singles[name] = checkpoint.state_dict
    missing = [m for m in cfg.data.modalities if m not in singles]
    extra = [m for m in singles if m not in cfg.data.modalities]
    if missing or extra:
        raise ValueError(f"members must cover data.modalities exactly: missing {missing}, not in the config {extra}")
    model = build_model(cfg, len(classes))
    model.load_state_dict(late_fusion_state_dict(singles), strict=True)
    device = resolve_device(cfg.train.device)
    model.to(device)
    split = open_split(cfg.data, "train", progress=progress)
    _, meta_positions = split_meta_val(split, cfg.purify)
    rows = evaluate_combinations(
        model, PackedDataset(split, meta_positions), modalities=tuple(model.modalities),
        combinations=modality_combinations(tuple(model.modalities)), batch_size=cfg.train.eval_batch_size,
        window=activity_window(cfg), device=device, progress=progress,
    )
    metric, _ = selection_metric(cfg)
    score = selection_score(rows, metric)
    run_dir = Path(cfg.train.out_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    dump_config(cfg, run_dir / "config.yaml")
    save_checkpoint(run_dir / MODEL_FILE, Checkpoint(
        config=cfg, state_dict=inference_state_dict(model), activity_classes=classes, validation=rows,
        metadata={"late_fusion_members": [str(p) for p in members], "selection_score": score,
                  "validation_split": "meta_val", "meta_val_samples": len(meta_positions)},
    ))
    return TrainResult(run_dir, run_dir / MODEL_FILE, 0, score, rows)
