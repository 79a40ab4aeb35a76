"""Modality presence sampling for training (docs/datasets.md §3.3, docs/method.md §7).

A sample's effective present set is the dataset's ``present`` (the data exists) AND a sampled mask.
As in the reference code one mask is drawn per batch and redrawn while empty; a sample that the
batch mask leaves with no modality (because its own data lacks the chosen ones) gets a mask of its
own, drawn from the same distribution over the modalities it has. Samples with no data at all are
dropped by the caller (``keep``).
"""
from __future__ import annotations

import logging

import torch

log = logging.getLogger(__name__)

DEFAULT_PROBABILITY = 0.7
_MAX_REDRAWS = 100  # then fall back to one uniformly chosen available modality (tiny probabilities only)


class PresenceSampler:
    """Draws presence masks over ``modalities`` with an explicit generator (CPU, for reproducibility).

    Args:
        modalities: the model's modalities (mask column order).
        probs: P(present) per modality name (missing names: 0.7); mode ``independent`` only.
        mode: ``independent`` (Bernoulli per modality) or ``subset_size`` (k ~ U{1..M}, then a k-subset).
        generator: source of randomness; its state is part of a resumable checkpoint.
    """

    def __init__(self, modalities: tuple[str, ...], probs: dict[str, float], mode: str, generator: torch.Generator):
        unknown = sorted(set(probs) - set(modalities))
        if unknown:
            raise ValueError(f"train.presence_probs names {unknown}, which are not among the modalities {list(modalities)}")
        bad = {k: v for k, v in probs.items() if not 0.0 < v <= 1.0}
        if bad:
            raise ValueError(f"train.presence_probs must be in (0, 1], got {bad}")
        if mode not in ("independent", "subset_size"):
            raise ValueError(f"unknown presence mode {mode!r}; known: independent, subset_size")
        self.modalities = tuple(modalities)
        self.mode = mode
        self.probs = torch.tensor([probs.get(m, DEFAULT_PROBABILITY) for m in self.modalities])
        self.generator = generator

    @classmethod
    def for_model(
        cls, modalities: tuple[str, ...], probs: dict[str, float], mode: str, generator: torch.Generator,
    ) -> PresenceSampler:
        """A sampler over a network's ``modalities``. ``probs`` may name any registered modality: those
        the network lacks are ignored (one config serves PTA, its single-modality baselines and a
        one-sensor run), an unregistered name is a typo and raises."""
        from pta_core.modalities import MODALITIES

        unknown = sorted(name for name in probs if name not in MODALITIES)
        if unknown:
            raise ValueError(f"train.presence_probs names {unknown}, which are not modalities ({', '.join(MODALITIES.names())})")
        return cls(modalities, {k: v for k, v in probs.items() if k in modalities}, mode, generator)

    def draw(self, rows: int) -> torch.Tensor:
        """``rows`` independent masks (rows, M) bool from the configured distribution (may be empty)."""
        m = len(self.modalities)
        if self.mode == "independent":
            return torch.rand(rows, m, generator=self.generator) < self.probs
        sizes = torch.randint(1, m + 1, (rows, 1), generator=self.generator)
        ranks = torch.rand(rows, m, generator=self.generator).argsort(dim=1).argsort(dim=1)
        return ranks < sizes  # a uniformly random subset of each row's size

    def batch_mask(self) -> torch.Tensor:
        """One non-empty mask (M,) for a whole batch."""
        for _ in range(_MAX_REDRAWS):
            mask = self.draw(1)[0]
            if mask.any():
                return mask
        return torch.ones(len(self.modalities), dtype=torch.bool)

    def apply(self, data_present: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """data_present (B, M) bool (CPU) → (present (B, M) bool, keep (B,) bool: samples with some data)."""
        data_present = data_present.bool().cpu()
        present = data_present & self.batch_mask()
        keep = data_present.any(dim=1)
        empty = keep & ~present.any(dim=1)
        for _ in range(_MAX_REDRAWS):
            if not empty.any():
                break
            rows = torch.nonzero(empty).squeeze(1)
            present[rows] = data_present[rows] & self.draw(len(rows))
            empty = keep & ~present.any(dim=1)
        if empty.any():  # practically unreachable: pick one available modality per remaining row
            for row in torch.nonzero(empty).squeeze(1).tolist():
                choices = torch.nonzero(data_present[row]).squeeze(1)
                pick = choices[torch.randint(len(choices), (1,), generator=self.generator)]
                present[row, pick] = True
        return present, keep
