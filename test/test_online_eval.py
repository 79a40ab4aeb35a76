"""The online evaluator pairs outputs, modality sets and ground truth by stamp, in any arrival order."""
from __future__ import annotations

import numpy as np
import pytest

from pta_ros.tools.online_eval import OnlineEvaluator


def test_scores_per_modality_set_in_any_arrival_order():
    rng = np.random.default_rng(0)
    ev = OnlineEvaluator()
    offsets = {("depth", "lidar"): 0.010, ("lidar",): 0.030}  # metres of constant error per set
    for i in range(20):
        stamp = 1_000_000_000 + i * 100_000_000
        truth = rng.normal(size=(17, 3))
        chosen = ("depth", "lidar") if i < 12 else ("lidar",)
        pred = truth + np.array([offsets[chosen], 0.0, 0.0])
        ev.on_input(stamp, 10.0 + i)
        ev.on_input(stamp, 10.001 + i)  # the later input of the frame counts
        # Arrival orders differ frame to frame: prediction first, ground truth first, set last...
        events = [(ev.on_ground_truth, (stamp, truth)),
                  (ev.on_prediction, (stamp, pred)),
                  (ev.on_output, (stamp, chosen, 10.011 + i))]
        for k in rng.permutation(3):
            handler, args = events[k]
            handler(*args)
    summary = ev.summary()
    assert summary["frames_in"] == summary["frames_out"] == summary["frames_scored"] == 20
    assert summary["per_set"]["depth+lidar"] == {"frames": 12, "mpjpe_mm": 10.0, "pa_mpjpe_mm": 0.0, "mae_mm": 3.33}
    assert summary["per_set"]["lidar"]["frames"] == 8 and summary["per_set"]["lidar"]["mpjpe_mm"] == 30.0
    assert summary["overall"]["mpjpe_mm"] == pytest.approx((12 * 10 + 8 * 30) / 20)
    assert summary["set_switches"] == 1 and summary["set_sequence"] == ["depth+lidar", "lidar"]
    assert summary["latency_ms"]["p50"] == pytest.approx(10.0, abs=1e-6)
    assert summary["output_rate_hz"] == pytest.approx(1.0)


def test_activity_is_scored_on_frames_whose_window_lies_in_their_recording():
    ev = OnlineEvaluator(window=3)
    for recording in range(2):
        for frame in range(5):
            stamp = 10**9 * (10 * recording + frame)
            truth = "walk" if recording == 0 else "jump"
            ev.on_activity_truth(stamp, truth, frame)  # frames 0 and 1 have no full window yet
            ev.on_output(stamp, ("mmwave",), float(stamp) / 1e9, "walk" if frame % 2 == 0 else "jump")
    summary = ev.summary()
    assert summary["frames_in"] == summary["frames_out"] == 10
    # Scored: frames 2, 3, 4 of each recording; right: walk at 2 and 4, jump at 3.
    assert summary["activity"]["frames_scored"] == 6
    assert summary["activity"]["accuracy"] == pytest.approx(3 / 6)
    assert summary["frames_scored"] == 0 and "mpjpe_mm" not in summary["overall"]


def test_unmatched_outputs_are_counted_not_scored():
    ev = OnlineEvaluator()
    ev.on_prediction(5, np.zeros((17, 3)))  # no ground truth for this stamp
    ev.on_output(5, ("rgb",), 1.0)
    ev.on_ground_truth(6, np.zeros((17, 3)))  # a frame the node skipped
    summary = ev.summary()
    assert summary["frames_out"] == 1 and summary["frames_in"] == 1 and summary["frames_scored"] == 0
    assert summary["per_set"] == {} and "latency_ms" not in summary


def test_node_counters_keep_the_latest_report_of_each_part():
    ev = OnlineEvaluator()
    ev.on_node_status("lidar", {"topic": "lidar/points", "accepted": "10", "dropped.superseded": "1"})
    ev.on_node_status("lidar", {"accepted": "20", "dropped.superseded": "3", "rejected.stale": "2", "rate_hz": "9.5"})
    ev.on_node_status("pipeline", {"outputs": "18", "chosen_modalities": "lidar"})
    ev.on_node_status("depth", {"topic": "depth/image_raw", "age_s": "none"})  # no counter: nothing kept
    assert ev.summary()["node_counters"] == {
        "lidar": {"accepted": 20, "dropped.superseded": 3, "rejected.stale": 2},
        "pipeline": {"outputs": 18},
    }
