"""The real-radar recipes end to end on tiny trees in the datasets' formats: MARS trains a 19-joint
pose network whose model card names its joints and serves them; RadHAR trains activity alone from
frames, then its window head, and is scored on windows."""
from __future__ import annotations

import numpy as np
import pytest
from radar_trees import write_mars_tree, write_radhar_tree
from train_helpers import one_thread  # noqa: F401  (autouse fixture)

from pta_core.checkpoint import load_checkpoint
from pta_core.config import load_config
from pta_core.serving import load_predictor
from pta_core.skeleton import KINECT_19
from pta_core.training.train import train

TINY = ["model.dim=16", "model.tokens=4", "model.encoder_width=8", "model.head_hidden=32", "train.batch_size=8",
        "train.eval_batch_size=16", "train.log_every=1", "data.preprocess.mmwave_points=16"]


@pytest.mark.slow
def test_mars_recipe_trains_a_kinect_19_model_that_serves_its_joints(tmp_path, repo_root):
    root = write_mars_tree(tmp_path / "MARS", subjects=(1, 2), movements=(1, 2, 3), frames=20)
    cfg = load_config(repo_root / "config/train_mars.yaml", [
        *TINY, f"data.root={root}", f"data.cache_dir={tmp_path / 'cache'}", f"train.out_dir={tmp_path / 'run'}",
        "train.max_steps=4", "train.eval_every=2"])
    result = train(cfg, progress=False)
    checkpoint = load_checkpoint(result.model_path)
    assert checkpoint.joint_names == KINECT_19.joints
    (row,) = checkpoint.validation
    assert row.modalities == ("mmwave",) and row.samples == 2 * 3 * 4 and row.mae_mm is not None
    predictor = load_predictor(result.model_path, "torch", "cpu", 1)
    raw = np.column_stack([np.random.default_rng(0).normal([2, 0, 0.3], 0.2, (12, 3)), np.zeros(12), np.full(12, 14.0)])
    prediction = predictor.predict({"mmwave": predictor.preprocess("mmwave", raw)})
    assert prediction.joints.shape == (19, 3) and np.isfinite(prediction.joints).all()


@pytest.mark.slow
def test_radhar_recipe_learns_activity_from_frames_then_windows(tmp_path, repo_root):
    root = write_radhar_tree(tmp_path / "RadHAR", recordings=3, scans=44)
    cfg = load_config(repo_root / "config/train_radhar.yaml", [
        *TINY, f"data.root={root}", f"data.cache_dir={tmp_path / 'cache'}", f"train.out_dir={tmp_path / 'run'}",
        "train.max_steps=4", "train.eval_every=2", "activity.steps=3", "activity.batch_size=4",
        "purify.meta_val_fraction=0.34"])
    result = train(cfg, progress=False)
    checkpoint = load_checkpoint(result.model_path)
    assert checkpoint.joint_names == () and checkpoint.selection_metric == ("accuracy", False)
    (row,) = checkpoint.validation
    # Scored on the meta-val recordings' windows of 34 scans: 44 − 34 + 1 = 11 a recording.
    assert row.accuracy is not None and row.samples % 11 == 0 and row.mpjpe_mm is None
    predictor = load_predictor(result.model_path, "torch", "cpu", 1)
    assert predictor.window_length == 34
