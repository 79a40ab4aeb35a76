"""The second training stage of a windowed activity head: windows of frozen per-frame embeddings.

After the pose network is trained and selected, its encoders, fusion and pose head are frozen and
only the :class:`~pta_core.models.temporal.WindowActivityHead` learns, from windows of
``activity.window`` consecutive training frames labelled by their sequence's action. Each window
gets one sampled presence mask (the training presence distribution), so the head learns from the
embeddings of every modality set it will see; frames where the mask leaves no modality with data
are masked out of the window. With student heads (``model.student_heads``) each modality's own
window head also learns, every step, from the same windows read by that modality's own pose head
alone (its frozen embeddings are computed once), so single-sensor activity does not depend on how
often the sampled sets happen to be one modality; with ``activity.fused_readout: students`` the
fused windows' loss reaches the students' window heads too, through their weighted average.

The frames' encoder outputs are computed once and kept in memory (:class:`FrameBank`), so a step
costs only the fusion and heads of ``batch × window`` frames. Up to ``activity.bank_mb`` MB; beyond
that a random subset of the training windows is used. The stage is deterministic given the
network and the seed, so a resumed run simply repeats it.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from pta_core.config import Config
from pta_core.data import PackedSplit, collate
from pta_core.data.sequences import sequence_windows
from pta_core.training.batching import model_batch
from pta_core.training.presence import PresenceSampler
from pta_core.training.schedule import lr_factor

log = logging.getLogger(__name__)


@dataclass
class FrameBank:
    """Encoder outputs of a set of frames: ``features[m]`` (F, L, D), ``present`` (F, M) data presence."""

    features: dict[str, torch.Tensor]
    present: torch.Tensor

    @classmethod
    @torch.no_grad()
    def build(
        cls, model: nn.Module, split: PackedSplit, rows: np.ndarray, modalities: tuple[str, ...],
        batch_size: int, device: torch.device, progress: bool = False,
    ) -> FrameBank:
        """Encode the split's ``rows`` (positions in ``split``) with ``model.encode`` in eval mode."""
        features: dict[str, torch.Tensor] = {}
        present = torch.zeros(len(rows), len(modalities), dtype=torch.bool, device=device)
        starts = range(0, len(rows), batch_size)
        for start in tqdm(starts, desc="encode frames", unit="batch", disable=not progress, leave=False):
            raw = collate(split.gather(rows[start : start + batch_size]))
            batch = model_batch(raw, split.modalities, modalities).to(device)
            present[start : start + len(batch)] = batch.present
            for name, tokens in model.encode(batch.inputs, batch.present).items():
                if name not in features:  # zeros where the modality is absent
                    features[name] = tokens.new_zeros((len(rows), *tokens.shape[1:]))
                features[name][start : start + len(batch)] = tokens
        return cls(features, present)


@torch.no_grad()
def student_embeddings(model: nn.Module, bank: FrameBank, batch_size: int) -> dict[str, torch.Tensor]:
    """modality → (F, E) embeddings of the bank's frames by that modality's own heads (zeros where
    the frame lacks it); empty without student heads."""
    if getattr(model, "students", None) is None:
        return {}
    out = {}
    for name, tokens in bank.features.items():
        parts = [model.students[name](tokens[start : start + batch_size]).embedding
                 for start in range(0, len(tokens), batch_size)]
        out[name] = torch.cat(parts)
    return out


def train_window_head(
    model: nn.Module, cfg: Config, split: PackedSplit, positions: np.ndarray, *, device: torch.device,
    generator: torch.Generator, progress: bool = False,
) -> dict[str, float]:
    """Train ``model``'s window head on windows of ``split`` rows ``positions`` (see the module docstring).

    Returns the last logging interval's mean loss (summed over the window heads) and the shared
    window head's training accuracy on its windows, the number of windows and frames used.
    """
    acfg = cfg.activity
    modalities = tuple(model.modalities)
    windows = sequence_windows(split, positions, acfg.window)  # (W, T) into positions
    if len(windows) == 0:
        raise ValueError(
            f"no window of {acfg.window} consecutive frames in the training split: lower activity.window "
            "or generate longer sequences"
        )
    model.eval()
    frame_bytes = 4 * len(modalities) * cfg.model.tokens * cfg.model.dim  # float32 tokens per frame
    budget = acfg.bank_mb * 2**20 // frame_bytes
    order = torch.randperm(len(windows), generator=generator).numpy()
    if budget < len(np.unique(windows)):
        keep = max(1, int(budget // acfg.window))
        log.warning("activity: %d of %d training windows fit activity.bank_mb=%d MB; using those",
                    keep, len(windows), acfg.bank_mb)
        windows = windows[np.sort(order[:keep])]
    frames, local = np.unique(windows, return_inverse=True)
    local = torch.from_numpy(local.reshape(windows.shape))  # (W, T) into the bank
    bank = FrameBank.build(model, split, positions[frames], modalities, cfg.train.eval_batch_size, device, progress)
    labels = torch.as_tensor(np.asarray(split.activity)[positions[frames]], dtype=torch.long, device=device)
    sampler = PresenceSampler.for_model(modalities, cfg.train.presence_probs,
                                        cfg.train.presence_mode, generator)
    heads = model.window_heads() if hasattr(model, "window_heads") else [model.task.activity_head]
    heads = [head for head in heads if head is not None]
    if not heads:
        raise ValueError("this model has no windowed activity head to train")
    students = student_embeddings(model, bank, cfg.train.eval_batch_size)
    optimizer = torch.optim.AdamW([p for head in heads for p in head.parameters()], lr=acfg.lr,
                                  weight_decay=acfg.weight_decay)
    warmup = min(100, acfg.steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor("cosine", s, acfg.steps, 1.0, warmup))
    for head in heads:
        head.train()
    sums = {"loss": 0.0, "accuracy": 0.0, "count": 0, "fused": 0}
    bar = tqdm(range(acfg.steps), desc="activity", unit="step", disable=not progress, leave=False)
    for step in bar:
        pick = torch.randint(len(local), (acfg.batch_size,), generator=generator)
        index = local[pick].to(device)  # (B, T)
        mask = sampler.draw(len(pick))
        empty = ~mask.any(dim=1)
        mask[empty] = True  # an empty draw means "everything the data has"
        present = bank.present[index] & mask.to(device)[:, None, :]  # (B, T, M)
        valid = present.any(dim=-1)
        flat = index[valid]
        with torch.no_grad():
            chosen = {m: t[flat] for m, t in bank.features.items()}
            embedding = model.decode(chosen, present[valid]).embedding
        window = embedding.new_zeros((*valid.shape, embedding.shape[-1]))
        window[valid] = embedding
        target = labels[index[:, -1]]
        # The fused windows' readout (the shared window head, or with activity.fused_readout
        # "students" the students' weighted average plus its correction); a window one modality's
        # heads served alone is its own window head's, which learns below from every window with
        # that modality.
        alone = model.window_readers(window, valid).alone if students else None
        fused = ~alone.any(dim=1) if alone is not None else torch.ones_like(target, dtype=torch.bool)
        if students:
            logits = model.fused_window_activity(window[fused], valid[fused])
        else:
            logits = model.window_activity(window, valid)
        loss = F.cross_entropy(logits.float(), target[fused]) if bool(fused.any()) else logits.sum() * 0.0
        for name, own_embeddings in students.items():  # each modality's own window head, on its own frames
            own = bank.present[index][..., modalities.index(name)]  # (B, T)
            seen = own.any(dim=1)
            if bool(seen.any()):
                own_logits = model.students[name].window_activity(own_embeddings[index[seen]], own[seen])
                loss = loss + F.cross_entropy(own_logits.float(), target[seen])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        value = loss.item()
        if not math.isfinite(value):
            raise FloatingPointError(f"non-finite activity loss at step {step + 1}")
        sums["loss"] += value * len(pick)
        sums["accuracy"] += float((logits.argmax(1) == target[fused]).float().sum())
        sums["count"] += len(pick)
        sums["fused"] += int(fused.sum())
        if (step + 1) % max(acfg.steps // 10, 1) == 0 or step + 1 == acfg.steps:
            means = {"loss": sums["loss"] / sums["count"], "accuracy": sums["accuracy"] / max(sums["fused"], 1)}
            log.info("activity step %d/%d: loss %.4f, training accuracy %.3f (fused windows)", step + 1, acfg.steps,
                     means["loss"], means["accuracy"])
            bar.set_postfix(loss=f"{means['loss']:.3f}")
            sums = {"loss": 0.0, "accuracy": 0.0, "count": 0, "fused": 0}
    for head in heads:
        head.eval()
    return {**means, "windows": float(len(local)), "frames": float(len(frames))}
