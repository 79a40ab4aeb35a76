"""Live sensor quality (pta_core.live_quality): scores from the students' own readouts, hysteresis, thresholds."""
from __future__ import annotations

import numpy as np

from pta_core.live_quality import QualityMonitor, QualityPolicy, fit_thresholds, quality_scores

EXPECTED = {"rgb": 50.0, "depth": 25.0, "mmwave": 100.0, "lidar": 25.0, "wifi-csi": 200.0}


def readouts(rng, bad=(), error_mm=None) -> dict[str, np.ndarray]:
    """Each sensor's own readout: the true pose plus its expected error, or far off when bad."""
    pose = rng.normal(0, 0.3, (17, 3))
    out = {}
    for m, e in EXPECTED.items():
        spread = (error_mm or {}).get(m, 600.0 if m in bad else e) / 1e3
        out[m] = pose + rng.normal(0, spread / np.sqrt(3), (17, 3))
    return out


def test_a_bad_sensor_scores_high_and_the_good_ones_low_even_with_two_bad():
    rng = np.random.default_rng(0)
    for bad in (("lidar",), ("rgb", "depth")):
        scores = quality_scores(readouts(rng, bad), EXPECTED)
        worst_good = max(s for m, s in scores.items() if m not in bad)
        assert min(scores[m] for m in bad) > 2 * worst_good, (bad, scores)


def test_too_few_sensors_are_not_judged():
    rng = np.random.default_rng(1)
    own = readouts(rng)
    assert quality_scores({m: own[m] for m in ("rgb", "depth")}, EXPECTED) == {}
    assert set(quality_scores({m: own[m] for m in ("rgb", "depth", "lidar")}, EXPECTED)) == {"rgb", "depth", "lidar"}


def test_hysteresis_drops_after_a_run_of_bad_frames_and_restores_after_a_run_of_good_ones():
    monitor = QualityMonitor(QualityPolicy({"lidar": 1.0, "depth": 1.0}, drop_after=2, restore_after=3))
    sequence = [0.5, 5.0, 0.5, 5.0, 5.0, 5.0, 0.5, 0.5, 5.0, 0.5, 0.5, 0.5]
    out = [("lidar" in monitor.update({"lidar": s, "depth": 0.2})) for s in sequence]
    # one bad frame is not enough; two in a row are; one good frame among bad ones does not restore it
    assert out == [False, False, False, False, True, True, True, True, True, True, True, False]
    assert monitor.reason("depth") == ""


def test_the_reason_names_the_score_and_the_threshold():
    monitor = QualityMonitor(QualityPolicy({"lidar": 1.0}, drop_after=1))
    monitor.update({"lidar": 4.2})
    assert monitor.reason("lidar") == ("its readout disagrees with the other sensors' (score 4.20 > 1.00 for 1 frames)")


def test_thresholds_fall_between_clean_and_bad_scores():
    rng = np.random.default_rng(2)
    clean = {"lidar": list(rng.uniform(0.1, 0.8, 200)), "wifi-csi": list(rng.uniform(0.1, 0.8, 50))}
    bad = {"lidar": list(rng.uniform(3.0, 9.0, 200))}
    thresholds = fit_thresholds(clean, bad)
    assert 0.8 <= thresholds["lidar"] <= 3.0
    assert thresholds["wifi-csi"] == np.inf  # never seen bad: never left out
