"""Serving activity over time: the window of recent embeddings, resampled to the training frame period."""
from __future__ import annotations

import numpy as np
import pytest
from train_helpers import TINY_MODEL, one_thread  # noqa: F401  (autouse fixture)

from pta_core.checkpoint import save_initial_checkpoint
from pta_core.config import load_config
from pta_core.serving import ActivityWindow
from pta_core.torch_predictor import TorchPredictor

CLASSES = tuple(f"A{i:02d}" for i in range(1, 28))


def test_window_picks_the_frame_nearest_each_training_instant():
    window = ActivityWindow(length=4, period_s=0.25)
    for i in range(20):  # 20 Hz for one second: stamps 0, 0.05, ..., 0.95
        window.push(i / 20, np.full(2, float(i)))
    embeddings, valid = window.frames()
    assert valid.all()
    # Instants 0.95 − 0.75, − 0.5, − 0.25, − 0 s, oldest first → frames 4, 9, 14, 19.
    np.testing.assert_array_equal(embeddings[:, 0], [4, 9, 14, 19])


def test_missing_instants_are_invalid_and_time_going_back_clears_the_window():
    window = ActivityWindow(length=4, period_s=0.25)
    for stamp in (0.0, 0.25, 0.75):  # nothing near 0.5 s
        window.push(stamp, np.ones(3))
    _, valid = window.frames()
    np.testing.assert_array_equal(valid, [True, True, False, True])
    window.push(0.1, np.ones(3))  # a bag replayed from its start
    _, valid = window.frames()
    np.testing.assert_array_equal(valid, [False, False, False, True])
    with pytest.raises(ValueError, match="length"):
        ActivityWindow(0, 0.25)


def test_predictor_publishes_activity_once_half_a_window_has_frames_per_modality_set(tmp_path):
    cfg = load_config(None, [*TINY_MODEL, "activity.window=4", "data.frame_period=0.25"])
    save_initial_checkpoint(tmp_path / "model.pt", cfg, CLASSES)
    predictor = TorchPredictor.from_checkpoint(tmp_path / "model.pt", "cpu")
    assert predictor.activity_window_s == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    lidar = {"lidar": predictor.preprocess("lidar", rng.normal(size=(200, 3)))}
    both = {**lidar, "mmwave": predictor.preprocess("mmwave", rng.normal(size=(30, 5)))}
    assert predictor.predict(lidar).activity_probs is None  # no stamp: a frame is not a window
    assert predictor.predict(lidar, stamp_s=0.0).activity_probs is None  # 1 of 4 instants
    probs = predictor.predict(lidar, stamp_s=0.25).activity_probs  # 2 of 4: enough
    assert probs.shape == (27,) and probs.sum() == pytest.approx(1.0, abs=1e-5)
    # Another modality set starts its own window.
    assert predictor.predict(both, stamp_s=0.5).activity_probs is None
    assert predictor.predict(lidar, stamp_s=0.5).activity_probs is not None
    predictor.reset()
    assert predictor.predict(lidar, stamp_s=0.75).activity_probs is None
