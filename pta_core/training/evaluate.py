"""Evaluation over modality combinations: pose errors (mm) per frame, activity accuracy per window.

For a combination C a frame counts only if its data has every modality of C (others are skipped
and counted); the network then sees exactly C as present. Pose metrics: MPJPE, PA-MPJPE, the root
error and the root-relative MPJPE, averaged per frame. Activity: with a windowed activity head
(``activity.window`` T > 0), one prediction per window of T consecutive frames of a sequence that
ends at a counted frame, from the embeddings of the window's frames that have C (the others are
masked); with a per-sample head (XRF55), one prediction per sample.

Networks that split into ``encode`` (per modality, independent of the others) and ``decode``
(fusion and heads) encode each batch once and decode per combination. Frames are visited in
chunks of whole sequences, so windows never need more than one chunk in memory. Under DDP each
rank evaluates every ``world.size``-th chunk and the sums are all-reduced.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from pta_core.data import PackedDataset, collate
from pta_core.data.sequences import sample_groups, sequence_windows
from pta_core.metrics import (
    ClusterSums,
    MetricAccumulator,
    clustered_standard_error,
    combination_name,
    mae,
    mpjpe,
    pa_mpjpe,
    relative_mpjpe,
    root_error,
    top1_accuracy,
)
from pta_core.models.pta import ModelOutput
from pta_core.training.batching import ModelBatch, model_batch
from pta_core.training.distributed import World, all_reduce_sum
from pta_core.validation import SCORES, STANDARD_ERRORS, ValidationRow

log = logging.getLogger(__name__)

METRICS = SCORES


def _score_pose(
    acc: MetricAccumulator, clustered: ClusterSums, key: str, output: ModelOutput, batch: ModelBatch,
    sequences: np.ndarray, frame_activity: bool = True,
) -> None:
    """Add one batch's per-frame scores; ``sequences``: each row's sequence id (the standard errors'
    clusters). ``frame_activity``: score per-sample activity (not when windows are scored instead)."""
    if output.pose is not None and batch.targets.pose is not None:
        pred, truth = output.pose.float(), batch.targets.pose
        errors = mpjpe(pred, truth, per_sample=True)
        acc.update(f"{key}/mpjpe_mm", errors)
        clustered.update(f"{key}/mpjpe_mm", errors, sequences)
        acc.update(f"{key}/pa_mpjpe_mm", pa_mpjpe(pred, truth, per_sample=True))
        acc.update(f"{key}/root_mm", root_error(pred, truth, per_sample=True))
        acc.update(f"{key}/rel_mpjpe_mm", relative_mpjpe(pred, truth, per_sample=True))
        acc.update(f"{key}/mae_mm", mae(pred, truth, per_sample=True))
    if frame_activity and output.activity is not None and batch.targets.activity is not None:
        correct = top1_accuracy(output.activity.float(), batch.targets.activity, per_sample=True)
        acc.update(f"{key}/accuracy", correct)
        clustered.update(f"{key}/accuracy", correct, sequences)


def combination_outputs(
    model: nn.Module, batch: ModelBatch, combos: Sequence[tuple[int, ...]],
    required: Sequence[tuple[int, ...]] | None = None,
) -> list[tuple[torch.Tensor, ModelOutput | None]]:
    """Per combination (indices into the network's modalities): the rows whose data has all of its
    ``required`` modalities (default: the combination's own), and the network's output for those rows
    with exactly that combination present."""
    results = []
    features = model.encode(batch.inputs, batch.present) if hasattr(model, "decode") else None
    for combo, need in zip(combos, required or combos):
        rows = batch.present[:, list(need)].all(dim=1)
        if not bool(rows.any()):
            results.append((rows, None))
            continue
        present = torch.zeros(int(rows.sum()), batch.present.shape[1], dtype=torch.bool, device=rows.device)
        present[:, list(combo)] = True
        if features is not None:
            chosen = {model.modalities[i]: features[model.modalities[i]][rows] for i in combo}
            output = model.decode(chosen, present)
        else:
            output = model(batch.rows(rows).inputs, present)
        results.append((rows, output))
    return results


def sequence_chunks(dataset: PackedDataset, frames: int) -> list[np.ndarray]:
    """Dataset positions in sequence order, cut at sequence boundaries into chunks of ≥ ``frames``."""
    split = dataset.split
    if "frame" not in split.meta:  # whole-sequence samples (XRF55): any cut will do
        positions = np.arange(len(dataset))
        return [positions[i : i + frames] for i in range(0, len(positions), frames)]
    rows = dataset.indices
    sequence = sample_groups(split, "sequence")[rows]
    frame = np.asarray(split.meta["frame"])[rows]
    order = np.lexsort((frame, sequence))
    ends = np.flatnonzero(np.diff(sequence[order])) + 1  # first position of each new sequence
    chunks, start = [], 0
    for end in [*ends, len(order)]:
        if end - start >= frames or end == len(order):
            if end > start:
                chunks.append(order[start:end])
            start = end
    return chunks


@torch.no_grad()
def evaluate_combinations(
    model: nn.Module,
    dataset: PackedDataset,
    *,
    modalities: tuple[str, ...],
    combinations: Sequence[tuple[str, ...]],
    batch_size: int = 64,
    window: int = 0,
    frames_with: Sequence[tuple[str, ...]] | None = None,
    device: torch.device | str = "cpu",
    world: World | None = None,
    amp: bool = False,
    progress: bool = False,
) -> list[ValidationRow]:
    """Scores of ``model`` (inputs, present → ModelOutput) on ``dataset`` for each combination.

    Args:
        modalities: the network's modality order (``present`` columns).
        combinations: modality-name tuples, each a subset of ``modalities``.
        window: frames per activity window (the model's ``activity.window``); 0: per-sample activity.
        frames_with: per combination, the modalities a frame must have to count (a superset of the
            combination: score a subset on the frames where a larger set is live); default: its own.
        world: shard the dataset over ranks and all-reduce (None: this process evaluates everything).
        amp: bf16 autocast (CUDA only).

    Returns:
        One :class:`ValidationRow` per combination (``samples`` = frames that had the data for it), with
        the standard errors of MPJPE and accuracy over frames clustered by sequence.
    """
    device = torch.device(device)
    combos = []
    for combo in combinations:
        unknown = [m for m in combo if m not in modalities]
        if unknown:
            raise ValueError(f"combination {combination_name(combo)} uses {unknown}, not in the network {list(modalities)}")
        combos.append(tuple(sorted(modalities.index(m) for m in combo)))
    required = None
    if frames_with is not None:
        if len(frames_with) != len(combos) or any(not set(c) <= set(f) for c, f in zip(combinations, frames_with)):
            raise ValueError("frames_with needs one superset of each combination")
        if any(m not in modalities for f in frames_with for m in f):
            raise ValueError(f"frames_with names modalities outside the network {list(modalities)}")
        required = [tuple(sorted(modalities.index(m) for m in f)) for f in frames_with]
    split = dataset.split
    sequence_of = sample_groups(split, "sequence")  # per split row
    chunks = sequence_chunks(dataset, max(batch_size, 4 * window))
    if world is not None and world.distributed:
        chunks = chunks[world.rank :: world.size]
    was_training = model.training
    model.eval()
    acc, clustered = MetricAccumulator(), ClusterSums()
    try:
        for chunk in tqdm(chunks, desc="evaluate", unit="chunk", disable=not progress, leave=False):
            sequences = sequence_of[dataset.indices[chunk]]
            states: list[list[torch.Tensor | None]] = [[] for _ in combos]  # per combo: per batch (B, E) or None
            has: list[list[torch.Tensor]] = [[] for _ in combos]
            labels = []
            for start in range(0, len(chunk), batch_size):
                raw = collate(dataset.__getitems__(list(chunk[start : start + batch_size])))
                batch = model_batch(raw, split.modalities, modalities).to(device)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp and device.type == "cuda"):
                    outputs = combination_outputs(model, batch, combos, required)
                for i, (rows, output) in enumerate(outputs):
                    if output is not None:
                        in_batch = sequences[start : start + batch_size][rows.cpu().numpy()]
                        _score_pose(acc, clustered, str(i), output, batch.rows(rows), in_batch, frame_activity=window == 0)
                    if window > 0:
                        has[i].append(rows)
                        states[i].append(_scatter(output.embedding, rows) if output is not None else None)
                if window > 0 and batch.targets.activity is not None:
                    labels.append(batch.targets.activity)
            if window > 0 and labels:
                _score_windows(acc, clustered, model, combos, dataset, chunk, window, states, has,
                               torch.cat(labels), sequences)
    finally:
        model.train(was_training)
    return _rows(acc, clustered, combos, modalities, world)


def _scatter(embedding: torch.Tensor | None, rows: torch.Tensor) -> torch.Tensor | None:
    """Embeddings of the ``rows`` subset placed back into a (B, E) tensor (zeros elsewhere)."""
    if embedding is None:
        return None
    full = embedding.new_zeros((rows.shape[0], embedding.shape[1]))
    full[rows] = embedding.float()
    return full


def _score_windows(acc, clustered, model, combos, dataset, chunk, window, states, has, labels, sequences) -> None:
    windows = torch.from_numpy(sequence_windows(dataset.split, dataset.indices[chunk], window))
    if windows.numel() == 0:
        return
    last = windows[:, -1]
    for i in range(len(combos)):
        known = [state for state in states[i] if state is not None]
        if not known:
            continue
        width = known[0].shape[1]
        embeddings = torch.cat(
            [state if state is not None else known[0].new_zeros(rows.shape[0], width) for state, rows in zip(states[i], has[i])]
        )
        valid = torch.cat(has[i])
        counted = valid[last]
        if not bool(counted.any()):
            continue
        chosen = windows[counted].to(valid.device)
        logits = model.window_activity(embeddings[chosen], valid[chosen])
        correct = top1_accuracy(logits.float(), labels[chosen[:, -1]], per_sample=True)
        acc.update(f"{i}/accuracy", correct)
        clustered.update(f"{i}/accuracy", correct, sequences[chosen[:, -1].cpu().numpy()])


def _rows(acc: MetricAccumulator, clustered: ClusterSums, combos, modalities, world: World | None) -> list[ValidationRow]:
    # [sum, count] per (combination, metric) and the cluster moments of the metrics with a standard
    # error, all-reduced so every rank gets the global figures (ranks hold disjoint sequences).
    with_error = list(STANDARD_ERRORS)
    stats = torch.zeros(len(combos), len(METRICS), 2, dtype=torch.float64)
    moments = torch.zeros(len(combos), len(with_error), 4, dtype=torch.float64)
    for i in range(len(combos)):
        for j, metric in enumerate(METRICS):
            count = acc.count(f"{i}/{metric}")
            if count:
                stats[i, j] = torch.tensor([acc.mean(f"{i}/{metric}") * count, count])
        for j, metric in enumerate(with_error):
            moments[i, j] = torch.from_numpy(clustered.moments(f"{i}/{metric}"))
    if world is not None and world.distributed:
        all_reduce_sum(stats)
        all_reduce_sum(moments)
    rows = []
    for i, combo in enumerate(combos):
        values = {m: (float(stats[i, j, 0] / stats[i, j, 1]) if stats[i, j, 1] else None) for j, m in enumerate(METRICS)}
        for j, metric in enumerate(with_error):
            count = float(stats[i, METRICS.index(metric), 1])
            values[STANDARD_ERRORS[metric]] = None if values[metric] is None else clustered_standard_error(
                values[metric], count, moments[i, j].tolist())
        samples = int(max(stats[i, :, 1].max().item(), 0))
        rows.append(ValidationRow(modalities=tuple(modalities[k] for k in combo), samples=samples, **values))
    return rows


def selection_score(rows: Sequence[ValidationRow], metric: str) -> float:
    """Mean of ``metric`` over the combinations that have it (the model-selection score)."""
    values = [getattr(r, metric) for r in rows if getattr(r, metric) is not None]
    return float(np.mean(values)) if values else float("nan")
