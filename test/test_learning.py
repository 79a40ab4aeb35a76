"""The model learns the body: a seconds-long run on generated data must fit the training poses far
better than the mean pose does, and the windowed activity head must beat chance on its windows.

This is the test that fails if a change stops the network from learning (a wrong target scale, a
detached graph, a broken preprocessing path): the error is measured on the *training* frames
(learnability, not generalisation, which docs/RESULTS.md measures on held-out subjects).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from train_helpers import one_thread  # noqa: F401  (autouse fixture)

from pta_core.checkpoint import load_checkpoint
from pta_core.config import load_config
from pta_core.data import PackedDataset, open_split
from pta_core.metrics import pa_mpjpe
from pta_core.simulator import MMFiSpec, generate_mmfi
from pta_core.training.evaluate import evaluate_combinations
from pta_core.training.train import train

pytestmark = pytest.mark.slow  # trains a model

SUBJECTS = ("S01", "S11", "S21")
ACTIONS = ("A03", "A12", "A17", "A26")  # chest expansion, squat, waving, jumping


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("learn")
    spec = MMFiSpec(subjects=SUBJECTS, actions=ACTIONS, frames=10, frame_period=0.25, modalities=("lidar",))
    generate_mmfi(tmp / "mmfi", spec)
    cfg = load_config(None, [
        f"data.root={tmp / 'mmfi'}", f"data.cache_dir={tmp / 'cache'}", "data.modalities=[lidar]",
        "data.frame_period=0.25", "data.split=manual_split", f"data.train_subjects=[{','.join(SUBJECTS[:2])}]",
        f"data.train_actions=[{','.join(ACTIONS)}]", f"data.val_subjects=[{SUBJECTS[2]}]",
        f"data.val_actions=[{','.join(ACTIONS)}]", "data.preprocess.lidar_points=64",
        "model.dim=32", "model.tokens=4", "model.encoder_width=16", "model.head_hidden=128",
        "train.method=single", "train.single_modality=lidar", "train.tasks=[pose,activity]",
        "train.max_steps=400", "train.batch_size=16", "train.lr=2e-3", "train.warmup_steps=20",
        "train.lr_schedule=cosine", "train.eval_every=0", "train.log_every=50", f"train.out_dir={tmp / 'run'}",
        "purify.meta_group=sequence", "activity.window=4", "activity.steps=300", "activity.batch_size=16",
    ])
    result = train(cfg, progress=False)
    return cfg, result


def test_training_poses_are_learned_far_better_than_the_mean_pose(run):
    cfg, result = run
    checkpoint = load_checkpoint(result.model_path)
    model = checkpoint.build()
    split = open_split(cfg.data, "train", progress=False)
    truth = torch.from_numpy(np.asarray(split.pose, dtype=np.float32))
    rows = evaluate_combinations(model, PackedDataset(split), modalities=("lidar",), combinations=[("lidar",)],
                                 batch_size=64)
    mean_pose = truth.mean(0, keepdim=True).expand_as(truth)
    reference = pa_mpjpe(mean_pose, truth)
    assert rows[0].pa_mpjpe_mm < 0.6 * reference, (rows[0].pa_mpjpe_mm, reference)
    assert rows[0].mpjpe_mm < 0.5 * float(torch.linalg.vector_norm(mean_pose - truth, dim=-1).mean() * 1000)


def test_the_window_head_learns_the_actions_of_its_windows(run):
    cfg, result = run
    checkpoint = load_checkpoint(result.model_path)
    model = checkpoint.build()
    split = open_split(cfg.data, "train", progress=False)
    rows = evaluate_combinations(model, PackedDataset(split), modalities=("lidar",), combinations=[("lidar",)],
                                 batch_size=64, window=4)
    assert rows[0].accuracy > 2.0 / len(ACTIONS)  # twice chance over the four actions
