"""Purify meta-updates: on a constructed problem where one modality is pure noise, meta steps move the
weight to the informative modality (both modes); the meta split is seeded and disjoint."""
from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from train_helpers import one_thread  # noqa: F401  (autouse fixture)

from pta_core.config import load_config
from pta_core.models.factory import build_model, build_objective
from pta_core.training.batching import model_batch
from pta_core.training.distributed import World
from pta_core.training.presence import PresenceSampler
from pta_core.training.purify import MetaBatches, MetaUpdater, meta_split

MODALITIES = ("rgb", "infra1")  # two keypoint modalities: cheap encoders


class InMemorySplit:
    """Rows of a constructed problem in the data layer's batch layout (numpy), for ``MetaBatches``."""

    def __init__(self, clean: np.ndarray, noise: np.ndarray, pose: np.ndarray):
        self.modalities = MODALITIES
        self.clean, self.noise, self.pose = clean, noise, pose

    def gather(self, rows) -> dict:
        rows = np.asarray(rows)
        return {
            "inputs": {"rgb": {"keypoints": self.clean[rows]}, "infra1": {"keypoints": self.noise[rows]}},
            "present": np.ones((len(rows), 2), dtype=bool),
            "pose": self.pose[rows],
            "activity": np.zeros(len(rows), dtype=np.int64),
            "index": rows,
        }


class InMemoryDataset:
    def __init__(self, split: InMemorySplit):
        self.split = split

    def __len__(self) -> int:
        return len(self.split.pose)

    def __getitems__(self, items):
        return self.split.gather(items)


def _problem(n: int, seed: int) -> InMemorySplit:
    """A skeleton translated by a random offset: rgb keypoints (its x, y) determine the pose exactly;
    infra1 'keypoints' are noise unrelated to it."""
    rng = np.random.default_rng(seed)
    template = np.random.default_rng(99).normal(0, 0.3, size=(1, 17, 3))
    offset = rng.uniform(-1, 1, size=(n, 1, 2))
    shift = np.concatenate([offset, 0.5 * offset[..., :1] - 0.3 * offset[..., 1:]], axis=-1)
    pose = (template + shift).astype(np.float32)
    clean = np.concatenate([pose[..., :2], np.ones((n, 17, 1), np.float32)], axis=-1)
    noise = np.concatenate([rng.uniform(-1, 1, size=(n, 17, 2)), np.ones((n, 17, 1))], axis=-1).astype(np.float32)
    return InMemorySplit(clean, noise, pose)


def _config(mode: str = "alternating", *extra: str):
    return load_config(None, [
        "model.dim=32", "model.tokens=4", "model.encoder_width=8", "data.modalities=[rgb,infra1]",
        "train.tasks=[pose]", "align.enabled=false", f"purify.mode={mode}", "purify.meta_lr=0.1",
        "purify.lookahead_lr=0.01",
        # No per-modality student loss: with it the head learns to ignore the noise modality on its
        # own, leaving φ nothing to do, and this test is about what the meta step does to φ.
        "train.student_loss_weight=0", *extra,
    ])


def _trained_model(mode: str):
    cfg = _config(mode)
    model = build_model(cfg, 1)
    state, batch, present = _train_once()
    model.load_state_dict(state)
    return cfg, model, batch, present


@functools.cache
def _train_once():
    torch.manual_seed(0)
    cfg = _config()
    model = build_model(cfg, 1)
    objective = build_objective(cfg, model)
    data = InMemoryDataset(_problem(256, 0))
    phi = model.weights.logits
    optimizer = torch.optim.Adam([p for p in model.parameters() if p is not phi], lr=3e-3)
    sampler = PresenceSampler(MODALITIES, {}, "independent", torch.Generator().manual_seed(0))
    order = torch.Generator().manual_seed(1)
    # Ordinary training with sampled presence: both single-modality paths learn what they can.
    for _ in range(120):
        rows = torch.randint(0, 256, (32,), generator=order).numpy()
        batch = model_batch(_collate(data.__getitems__(rows)), MODALITIES, MODALITIES)
        present, _ = sampler.apply(batch.present)
        optimizer.zero_grad()
        objective(batch.inputs, present, batch.targets).total.backward()
        phi.grad = None
        optimizer.step()
    return model.state_dict(), batch, present


def _fused_loss(model, cfg, data) -> float:
    from pta_core.models.objectives import task_loss

    batch = model_batch(_collate(data.__getitems__(np.arange(len(data)))), MODALITIES, MODALITIES)
    model.eval()
    with torch.no_grad():
        loss = task_loss(model(batch.inputs, batch.present), batch.targets, cfg.train)[0].item()
    model.train()
    return loss


def _collate(batch):
    from pta_core.data import collate

    return collate(batch)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["alternating", "lookahead"])
def test_meta_steps_move_weight_to_the_clean_modality(mode):
    cfg, model, train_batch, train_present = _trained_model(mode)
    meta_data = InMemoryDataset(_problem(128, 1))  # held-out rows of the same problem
    updater = MetaUpdater(
        model, cfg.purify, cfg.train,
        MetaBatches(meta_data, 64, seed=0, world=World()),
        PresenceSampler(MODALITIES, {}, "independent", torch.Generator().manual_seed(2)),
        MODALITIES, torch.device("cpu"),
    )
    frozen = {k: v.clone() for k, v in model.state_dict().items() if k != "weights.logits"}
    before = model.weights.as_dict()
    fused_before = _fused_loss(model, cfg, meta_data)
    assert before["rgb"] == pytest.approx(0.5)
    for _ in range(12):
        result = updater.step(train_batch, train_present)
        assert np.isfinite(result["meta_loss"]) and result["meta_batches"] == 2
    after = model.weights.as_dict()
    assert after["rgb"] > 0.6 > after["infra1"], after
    assert _fused_loss(model, cfg, meta_data) < fused_before  # the fused prediction got better
    # Only φ moved: every other weight and buffer (BatchNorm statistics too) is untouched.
    for key, value in model.state_dict().items():
        if key != "weights.logits":
            torch.testing.assert_close(value, frozen[key])
    assert model.training  # the meta step restores the training mode


def test_per_batch_meta_steps_and_resumable_batch_stream():
    cfg = _config("alternating", "purify.meta_accumulate=false", "purify.meta_batches=3")
    model = build_model(cfg, 1)
    data = InMemoryDataset(_problem(100, 3))
    batches = MetaBatches(data, 16, seed=5, world=World())
    updater = MetaUpdater(model, cfg.purify, cfg.train, batches,
                          PresenceSampler(MODALITIES, {}, "independent", torch.Generator().manual_seed(0)),
                          MODALITIES, torch.device("cpu"))
    result = updater.step()
    assert result["meta_batches"] == 3 and updater.steps == 3  # one Adam step per meta-val batch
    state = batches.state_dict()
    upcoming, _ = batches.take(4)
    batches.load_state_dict(state)
    again, _ = batches.take(4)
    assert all(np.array_equal(a, b) for a, b in zip(upcoming, again))
    # Sharded over two ranks, the batches of one call partition the global batches.
    shard0, rounds = MetaBatches(data, 16, 5, World(0, 2)).take(0)
    shard1, _ = MetaBatches(data, 16, 5, World(1, 2)).take(0)
    assert rounds == 4 and sorted(np.concatenate(shard0 + shard1).tolist()) == list(range(100))


def test_meta_split_is_seeded_disjoint_and_complete():
    groups = np.repeat(np.arange(50), 20)  # 50 recordings of 20 frames
    train, meta = meta_split(groups, 0.2, seed=7)
    assert len(meta) == 200 and len(train) == 800
    assert not set(train) & set(meta) and sorted([*train, *meta]) == list(range(1000))
    assert not set(groups[train]) & set(groups[meta])  # whole groups only
    again_train, again_meta = meta_split(groups, 0.2, seed=7)
    assert np.array_equal(meta, again_meta)
    assert not np.array_equal(meta, meta_split(groups, 0.2, seed=8)[1])
    with pytest.raises(ValueError, match="meta_val_fraction"):
        meta_split(groups, 1.0, 0)
