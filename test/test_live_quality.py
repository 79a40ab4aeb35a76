"""Live sensor quality (pta_core.live_quality): the group of readouts that agree, hysteresis, the tolerance."""
from __future__ import annotations

import numpy as np

from pta_core.live_quality import (
    QualityMonitor,
    QualityPolicy,
    Score,
    consistent_group,
    disagreements,
    fit_tolerance,
    quality_scores,
)

EXPECTED = {"rgb": 50.0, "depth": 25.0, "mmwave": 100.0, "lidar": 25.0, "wifi-csi": 200.0}


def readouts(rng, bad=(), error_mm=None) -> dict[str, np.ndarray]:
    """Each sensor's own readout: the true pose plus its expected error, or far off when bad."""
    pose = rng.normal(0, 0.3, (17, 3))
    out = {}
    for m, e in EXPECTED.items():
        spread = (error_mm or {}).get(m, 600.0 if m in bad else e) / 1e3
        out[m] = pose + rng.normal(0, spread / np.sqrt(3), (17, 3))
    return out


POLICY = QualityPolicy(tolerance=1.5)  # good pairs score about 0.6-1.1 here, a bad one about 10


def test_the_bad_sensors_are_outside_the_group_and_the_good_ones_inside_even_with_two_bad():
    rng = np.random.default_rng(0)
    for bad in (("lidar",), ("rgb", "depth"), ("depth", "lidar")):
        for _ in range(20):
            scores = quality_scores(readouts(rng, bad), EXPECTED, POLICY)
            assert {m for m, s in scores.items() if s.worst > POLICY.tolerance} == set(bad), (bad, scores)


def test_two_bad_sensors_that_agree_with_each_other_do_not_outvote_three_good_ones():
    rng = np.random.default_rng(3)
    own = readouts(rng)
    wrong = rng.normal(0, 0.3, (17, 3))  # both see the same wrong pose
    own["rgb"], own["depth"] = wrong, wrong + 0.001
    assert consistent_group(disagreements(own, EXPECTED), EXPECTED, list(own), POLICY.tolerance) == ("mmwave", "lidar", "wifi-csi")


def test_too_few_sensors_or_none_that_agree_are_not_judged():
    rng = np.random.default_rng(1)
    own = readouts(rng)
    assert quality_scores({m: own[m] for m in ("rgb", "depth")}, EXPECTED, POLICY) == {}
    assert set(quality_scores({m: own[m] for m in ("rgb", "depth", "lidar")}, EXPECTED, POLICY)) == {"rgb", "depth", "lidar"}
    far = readouts(rng, bad=("rgb", "depth", "lidar"))
    assert quality_scores({m: far[m] for m in ("rgb", "depth", "lidar")}, EXPECTED, POLICY) == {}


def test_hysteresis_drops_after_a_run_of_bad_frames_and_restores_after_a_run_of_good_ones():
    monitor = QualityMonitor(QualityPolicy(1.0, drop_after=2, restore_after=3))
    sequence = [0.5, 5.0, 0.5, 5.0, 5.0, 5.0, 0.5, 0.5, 5.0, 0.5, 0.5, 0.5]
    out = [("lidar" in monitor.update({"lidar": Score(s), "depth": Score(0.2)})) for s in sequence]
    # one bad frame is not enough; two in a row are; one good frame among bad ones does not restore it
    assert out == [False, False, False, False, True, True, True, True, True, True, True, False]
    assert monitor.reason("depth") == ""


def test_the_reason_names_the_score_and_the_tolerance():
    monitor = QualityMonitor(QualityPolicy(1.0, drop_after=1))
    monitor.update({"lidar": Score(4.2)})
    assert monitor.reason("lidar") == ("its readout disagrees with the sensors that agree with each other "
                                       "(score 4.20 > 1.00 for 1 frames, or > 3.00 by two judges once)")


def test_two_judges_finding_a_sensor_plainly_bad_leave_it_out_at_once_one_judge_does_not():
    monitor = QualityMonitor(QualityPolicy(1.0, drop_after=3, drop_at=3.0))
    assert monitor.update({"lidar": Score(9.0, 0.5)}) == set()  # one judge only: the run starts
    assert monitor.update({"depth": Score(9.0, 4.0)}) == {"depth"}


def test_the_tolerance_falls_between_agreeing_and_disagreeing_pairs():
    rng = np.random.default_rng(2)
    tolerance = fit_tolerance(list(rng.uniform(0.1, 0.8, 200)), list(rng.uniform(3.0, 9.0, 200)))
    assert 0.8 <= tolerance <= 3.0
    assert fit_tolerance([0.5, 0.7], []) == np.inf  # never seen disagreeing: nothing is ever left out


def test_a_sensor_already_left_out_does_not_judge_the_others():
    """Depth gone bad and Wi-Fi (whose wide error agrees with almost anything) form the group; the
    good LiDAR outside it is judged by depth alone, which is already left out: not judged at all."""
    pose = np.random.default_rng(4).normal(0, 0.3, (17, 3))
    own = {"lidar": pose, "depth": pose + [0.4, 0, 0], "wifi-csi": pose + [0.3, 0, 0]}
    policy = QualityPolicy(tolerance=1.0)
    assert consistent_group(disagreements(own, EXPECTED), EXPECTED, list(own), 1.0) == ("depth", "wifi-csi")
    assert quality_scores(own, EXPECTED, policy)["lidar"].worst > 1.0
    assert quality_scores(own, EXPECTED, policy, distrusted={"depth"})["lidar"].worst is None


def test_the_hysteresis_judges_each_sensor_by_its_own_verdict_the_at_once_drop_by_the_tolerance():
    monitor = QualityMonitor(QualityPolicy(1.0, drop_after=1, drop_at=3.0, verdict={"mmwave": 2.0}))
    assert monitor.update({"mmwave": Score(1.8), "rgb": Score(1.2)}) == {"rgb"}  # 1.8 is within the radar's 2.0
    assert monitor.update({"mmwave": Score(1.8, 3.5)}) == {"rgb", "mmwave"}  # two judges beyond 3 × 1.0
