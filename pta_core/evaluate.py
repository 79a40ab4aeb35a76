"""Evaluation over modality combinations: MPJPE / PA-MPJPE (mm) and top-1 accuracy, averaged per sample.

For a combination C a sample counts only if its data has every modality of C (others are skipped
and counted); the network then sees exactly C as present. PTA networks encode each modality once
per batch and fuse per combination (the features do not depend on the combination); other networks
run once per combination. Under DDP each rank evaluates a shard and the sums are all-reduced.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from pta_core.batching import ModelBatch, model_batch
from pta_core.checkpoint import ValidationRow
from pta_core.data import PackedDataset, collate
from pta_core.distributed import World, all_reduce_sum
from pta_core.metrics import MetricAccumulator, combination_name, mpjpe, pa_mpjpe, top1_accuracy
from pta_core.models.pta import ModelOutput, PTAModel

log = logging.getLogger(__name__)

METRICS = ("mpjpe_mm", "pa_mpjpe_mm", "accuracy")


def _score(acc: MetricAccumulator, key: str, output: ModelOutput, batch: ModelBatch) -> None:
    if output.pose is not None and batch.targets.pose is not None:
        acc.update(f"{key}/mpjpe_mm", mpjpe(output.pose.float(), batch.targets.pose, per_sample=True))
        acc.update(f"{key}/pa_mpjpe_mm", pa_mpjpe(output.pose.float(), batch.targets.pose, per_sample=True))
    if output.activity is not None and batch.targets.activity is not None:
        acc.update(f"{key}/accuracy", top1_accuracy(output.activity.float(), batch.targets.activity, per_sample=True))


def _combination_outputs(
    model: nn.Module, batch: ModelBatch, combos: Sequence[tuple[int, ...]]
) -> list[tuple[torch.Tensor, ModelOutput | None]]:
    """Per combination: the rows whose data has all its modalities, and the prediction for them."""
    results = []
    features = None
    if isinstance(model, PTAModel):  # encode once; every combination reuses the features
        features = model.encode(batch.inputs, batch.present)
    for combo in combos:
        rows = batch.present[:, list(combo)].all(dim=1)
        if not bool(rows.any()):
            results.append((rows, None))
            continue
        present = torch.zeros(int(rows.sum()), batch.present.shape[1], dtype=torch.bool, device=rows.device)
        present[:, list(combo)] = True
        if features is not None:
            chosen = {model.modalities[i]: features[model.modalities[i]][rows] for i in combo}
            output = model.heads(model.fuse(chosen, present))
        else:
            sub = batch.rows(rows)
            output = model(sub.inputs, present)
        results.append((rows, output))
    return results


@torch.no_grad()
def evaluate_combinations(
    model: nn.Module,
    dataset: PackedDataset,
    *,
    modalities: tuple[str, ...],
    combinations: Sequence[tuple[str, ...]],
    batch_size: int = 64,
    device: torch.device | str = "cpu",
    world: World | None = None,
    amp: bool = False,
    progress: bool = False,
) -> list[ValidationRow]:
    """Scores of ``model`` (inputs, present → ModelOutput) on ``dataset`` for each combination.

    Args:
        modalities: the network's modality order (``present`` columns).
        combinations: modality-name tuples, each a subset of ``modalities``.
        world: shard the dataset over ranks and all-reduce (None: this process evaluates everything).
        amp: bf16 autocast (CUDA only).

    Returns:
        One :class:`ValidationRow` per combination (``samples`` = samples that had the data for it).
    """
    device = torch.device(device)
    combos = []
    for combo in combinations:
        unknown = [m for m in combo if m not in modalities]
        if unknown:
            raise ValueError(f"combination {combination_name(combo)} uses {unknown}, not in the network {list(modalities)}")
        combos.append(tuple(sorted(modalities.index(m) for m in combo)))
    split = dataset.split
    positions = np.arange(len(dataset))
    if world is not None and world.distributed:
        positions = positions[world.rank :: world.size]
    was_training = model.training
    model.eval()
    acc = MetricAccumulator()
    batches = range(0, len(positions), batch_size)
    try:
        for start in tqdm(batches, desc="evaluate", unit="batch", disable=not progress, leave=False):
            raw = collate(dataset.__getitems__(list(positions[start : start + batch_size])))
            batch = model_batch(raw, split.modalities, modalities).to(device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp and device.type == "cuda"):
                outputs = _combination_outputs(model, batch, combos)
            for combo, (rows, output) in zip(combos, outputs):
                if output is not None:
                    _score(acc, str(combo), output, batch.rows(rows))
    finally:
        model.train(was_training)
    return _rows(acc, combos, modalities, world)


def _rows(acc: MetricAccumulator, combos, modalities, world: World | None) -> list[ValidationRow]:
    # [sum, count] per (combination, metric), all-reduced so every rank gets the global means.
    stats = torch.zeros(len(combos), len(METRICS), 2, dtype=torch.float64)
    for i, combo in enumerate(combos):
        for j, metric in enumerate(METRICS):
            count = acc.count(f"{combo}/{metric}")
            if count:
                stats[i, j] = torch.tensor([acc.mean(f"{combo}/{metric}") * count, count])
    if world is not None and world.distributed:
        all_reduce_sum(stats)
    rows = []
    for i, combo in enumerate(combos):
        values = {m: (float(stats[i, j, 0] / stats[i, j, 1]) if stats[i, j, 1] else None) for j, m in enumerate(METRICS)}
        samples = int(max(stats[i, :, 1].max().item(), 0))
        rows.append(ValidationRow(modalities=tuple(modalities[k] for k in combo), samples=samples, **values))
    return rows


def selection_score(rows: Sequence[ValidationRow], metric: str) -> float:
    """Mean of ``metric`` over the combinations that have it (the model-selection score)."""
    values = [getattr(r, metric) for r in rows if getattr(r, metric) is not None]
    return float(np.mean(values)) if values else float("nan")
