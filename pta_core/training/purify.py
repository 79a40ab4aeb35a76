"""Purify: meta-updates of the modality logits φ on a held-out meta-val part of the training split.

The meta loss is the task loss of the fused prediction head(Σ_m w̃_m(φ) F_m) on meta-val batches
with randomly sampled presence masks (docs/method.md §5). Two modes:

``alternating`` (the reference code): the rest of the network is frozen; φ takes Adam step(s) on
the meta loss. First order; the training loss never reaches φ because the teacher is detached.

``lookahead`` (bilevel, one virtual step, in the spirit of L2RW / Meta-Weight-Net, §11.3): the
plain training loss does not depend on φ (detached teacher), so the virtual step uses a φ-dependent
*inner loss*: the task loss of the same fused prediction, head(Σ_m w̃_m(φ) F_m(θ)), on the current
training batch (with its sampled presence). Then

    θ′(φ) = θ − α ∇_θ L_inner(θ, φ)                  (α = purify.lookahead_lr, SGD, all network weights)
    φ ← Adam(φ, ∇_φ L_meta(θ′(φ), φ))              (second order through θ′, via torch.func.functional_call)

so φ is rewarded for weightings whose training signal would improve the fused prediction on
held-out data, not only for weightings that fit it directly. Both modes run the network in eval
mode (BatchNorm uses, and does not update, its running statistics) and only ever change φ.
"""
from __future__ import annotations

import contextlib
import logging
from typing import Any

import numpy as np
import torch
from torch.func import functional_call
from torch.nn.attention import SDPBackend, sdpa_kernel

from pta_core.config import PurifyConfig, TrainConfig
from pta_core.data import PackedDataset, PackedSplit
from pta_core.data.sequences import sample_groups
from pta_core.models.objectives import task_loss
from pta_core.models.pta import PTAModel
from pta_core.training.batching import ModelBatch, model_batch
from pta_core.training.distributed import World, all_reduce_mean
from pta_core.training.presence import PresenceSampler

log = logging.getLogger(__name__)

PHI = "weights.logits"


def meta_split(groups: np.ndarray, fraction: float, seed: int, key: str = "purify.meta_val_fraction") -> tuple[np.ndarray, np.ndarray]:
    """Seeded split of training-split positions into (meta-train, meta-val), both sorted, by group:
    ``round(fraction · groups)`` whole groups (at least one) go to meta-val. The same draw splits
    the training part into (unlabelled, labelled) for ``train.labelled_fraction`` (``key``, for errors).

    The reference code shuffles frames with an unseeded global RNG (docs/method.md §10), so its
    meta-val holds near-copies of training frames; here whole subjects or sequences are held out.
    """
    groups = np.asarray(groups)
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"{key} must be in [0, 1), got {fraction}")
    names = np.unique(groups)
    count = int(round(len(names) * fraction))
    if fraction > 0 and count == 0:
        if len(names) < 2:
            raise ValueError(
                f"{key} {fraction} of {len(names)} group(s) holds out none: one group cannot be split; "
                "use purify.meta_group=sequence (or dataset, where the dataset has a validation part) or more data"
            )
        count = 1
    if count >= len(names):
        raise ValueError(
            f"{key} {fraction} of {len(names)} group(s) leaves none on the other side: "
            "use purify.meta_group=sequence or more data"
        )
    held = np.random.default_rng(seed).permutation(names)[:count]
    is_meta = np.isin(groups, held)
    return np.flatnonzero(~is_meta), np.flatnonzero(is_meta)


def split_meta_val(split: PackedSplit, cfg: PurifyConfig) -> tuple[np.ndarray, np.ndarray]:
    """(meta-train, meta-val) positions of a training split by ``purify.meta_group``: whole groups drawn
    with :func:`meta_split`, or (``dataset``) the dataset's own validation part (MARS's validate split).
    Every way out that would leave a side empty is one clear error here, before any training step."""
    if cfg.meta_group != "dataset":
        if cfg.meta_val_fraction <= 0:
            raise ValueError("purify.meta_val_fraction must be > 0: the meta-val part serves Purify and model selection")
        return meta_split(sample_groups(split, cfg.meta_group), cfg.meta_val_fraction, cfg.meta_seed)
    labels = split.manifest.get("meta_labels", {}).get("part")
    if "part" not in split.meta or not labels or "validate" not in labels:
        raise ValueError("purify.meta_group dataset takes the dataset's own validation part, and this dataset has "
                         "none (MARS has): use subject or sequence")
    is_meta = np.asarray(split.meta["part"]) == labels.index("validate")
    if is_meta.all() or not is_meta.any():
        raise ValueError(f"the dataset's validation part holds {int(is_meta.sum())} of the {len(is_meta)} training "
                         "samples: meta-train and meta-val both need some")
    return np.flatnonzero(~is_meta), np.flatnonzero(is_meta)


class MetaBatches:
    """A deterministic, resumable stream of meta-val batches, sharded over ranks.

    ``take(0)`` is the whole meta-val set in order; ``take(n)`` the next n batches of a reshuffled
    (per pass, seeded) order. Each rank gets every ``world.size``-th batch.
    """

    def __init__(self, dataset: PackedDataset, batch_size: int, seed: int, world: World):
        if len(dataset) == 0:
            raise ValueError("the meta-val split is empty: raise purify.meta_val_fraction or use more data")
        self.dataset = dataset
        self.batch_size = batch_size
        self.seed = seed
        self.world = world
        self.epoch = 0
        self.position = 0  # batches of the current pass already taken

    def _order(self) -> np.ndarray:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return torch.randperm(len(self.dataset), generator=generator).numpy()

    def _num_batches(self) -> int:
        return -(-len(self.dataset) // self.batch_size)

    def take(self, count: int) -> tuple[list[np.ndarray], int]:
        """Index arrays of the next ``count`` global batches (0: all, in order): this rank's share, and
        the number of rounds (⌈global batches / world size⌉) every rank must step in lockstep."""
        if count <= 0:
            order = np.arange(len(self.dataset))
            batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        else:
            batches = []
            while len(batches) < count:
                if self.position >= self._num_batches():
                    self.epoch, self.position = self.epoch + 1, 0
                start = self.position * self.batch_size
                batches.append(self._order()[start : start + self.batch_size])
                self.position += 1
        return batches[self.world.rank :: self.world.size], -(-len(batches) // self.world.size)

    def load(self, indices: np.ndarray) -> dict[str, Any]:
        from pta_core.data import collate

        return collate(self.dataset.__getitems__(list(indices)))

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])


def fused_task_loss(
    model: PTAModel, batch: ModelBatch, present: torch.Tensor, train_cfg: TrainConfig, params: dict | None = None
) -> torch.Tensor:
    """Task loss of head(Σ w̃ F_m) for ``batch`` with ``present``; ``params`` overrides weights (functional)."""
    if params is None:
        output = model(batch.inputs, present)
    else:
        output = functional_call(model, params, (batch.inputs, present))
    return task_loss(output, batch.targets, train_cfg, model.pose_scale)[0]


@contextlib.contextmanager
def eval_mode(model: torch.nn.Module):
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


class MetaUpdater:
    """Owns φ's optimiser and performs meta steps (see the module docstring)."""

    def __init__(
        self,
        model: PTAModel,
        cfg: PurifyConfig,
        train_cfg: TrainConfig,
        batches: MetaBatches,
        sampler: PresenceSampler,
        split_modalities: tuple[str, ...],
        device: torch.device,
    ):
        phi = model.weights.logits
        if not isinstance(phi, torch.nn.Parameter):
            raise ValueError("Purify is disabled for this model (its modality logits are not a parameter)")
        self.model = model
        self.phi = phi
        self.cfg = cfg
        self.train_cfg = train_cfg
        self.batches = batches
        self.sampler = sampler
        self.split_modalities = split_modalities
        self.device = device
        self.optimizer = torch.optim.Adam([phi], lr=cfg.meta_lr, weight_decay=cfg.meta_weight_decay)
        self.steps = 0

    def _meta_batch(self, indices: np.ndarray) -> tuple[ModelBatch, torch.Tensor]:
        batch = model_batch(self.batches.load(indices), self.split_modalities, self.model.modalities)
        present, keep = self.sampler.apply(batch.present)
        batch = batch.rows(keep).to(self.device)
        return batch, present[keep].to(self.device)

    def _phi_grad(self, loss: torch.Tensor, retain: bool = False) -> torch.Tensor:
        (grad,) = torch.autograd.grad(loss, [self.phi], retain_graph=retain, allow_unused=True)
        return torch.zeros_like(self.phi) if grad is None else grad

    def _apply(self, grad: torch.Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        self.phi.grad = all_reduce_mean(grad.detach().clone())
        self.optimizer.step()
        self.phi.grad = None
        self.steps += 1

    def _lookahead_params(self, train_batch: ModelBatch, train_present: torch.Tensor) -> dict[str, torch.Tensor]:
        """θ′(φ) = θ − α ∇_θ L_inner(θ, φ), differentiable in φ."""
        named = {n: p for n, p in self.model.named_parameters() if n != PHI and p.requires_grad}
        inner = fused_task_loss(self.model, train_batch, train_present, self.train_cfg)
        grads = torch.autograd.grad(inner, list(named.values()), create_graph=True, allow_unused=True)
        alpha = self.cfg.lookahead_lr
        updated = {n: p if g is None else p - alpha * g for (n, p), g in zip(named.items(), grads)}
        updated[PHI] = self.phi
        return updated

    def step(self, train_batch: ModelBatch | None = None, train_present: torch.Tensor | None = None) -> dict[str, float]:
        """One meta update (``meta_accumulate``) or one per meta-val batch. Returns the mean meta loss."""
        lookahead = self.cfg.mode == "lookahead"
        if lookahead and (train_batch is None or train_present is None):
            raise ValueError("the lookahead meta step needs the current training batch")
        indices, rounds = self.batches.take(self.cfg.meta_batches)
        losses = []
        # The fused attention kernels have no double backward; the lookahead needs one (through θ′).
        kernels = sdpa_kernel([SDPBackend.MATH]) if lookahead else contextlib.nullcontext()
        with eval_mode(self.model), kernels:
            params = self._lookahead_params(train_batch, train_present) if lookahead else None
            if self.cfg.meta_accumulate:
                grad = torch.zeros_like(self.phi)
                for chunk in indices:
                    batch, present = self._meta_batch(chunk)
                    if len(batch) == 0:
                        continue
                    loss = self._loss(batch, present, params)
                    grad += self._phi_grad(loss / max(len(indices), 1), retain=lookahead)
                    losses.append(float(loss.detach()))
                self._apply(grad)
            else:
                for chunk in indices + [None] * (rounds - len(indices)):  # None: this rank idles a round
                    grad = torch.zeros_like(self.phi)
                    if chunk is not None:
                        batch, present = self._meta_batch(chunk)
                        if len(batch):
                            loss = self._loss(batch, present, params)
                            grad = self._phi_grad(loss, retain=lookahead)
                            losses.append(float(loss.detach()))
                    self._apply(grad)
        return {"meta_loss": float(np.mean(losses)) if losses else float("nan"), "meta_batches": len(losses)}

    def _loss(self, batch: ModelBatch, present: torch.Tensor, params: dict | None) -> torch.Tensor:
        if params is None:
            with torch.no_grad():  # frozen network: features carry no graph, only φ does
                features = self.model.encode(batch.inputs, present)
            output = self.model.decode(features, present)
            return task_loss(output, batch.targets, self.train_cfg, self.model.pose_scale)[0]
        return fused_task_loss(self.model, batch, present, self.train_cfg, params)

    def state_dict(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer.state_dict(),
            "batches": self.batches.state_dict(),
            "sampler_generator": self.sampler.generator.get_state(),
            "steps": self.steps,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.batches.load_state_dict(state["batches"])
        self.sampler.generator.set_state(state["sampler_generator"])
        self.steps = int(state["steps"])
