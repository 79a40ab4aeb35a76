"""Synthetic body and motions: kinematic invariants, determinism, and that actions are recognisably distinct."""

from __future__ import annotations

import numpy as np
import pytest

from pta_core.simulator import MMFI_ACTIONS, XRF55_ACTIONS
from pta_core.simulator.body import L_HIP, R_HIP, Placement, draw_body, forward_kinematics
from pta_core.simulator.geometry import two_bone_ik
from pta_core.simulator.mmfi_sequence import subject_body
from pta_core.simulator.motions import draw_variation
from pta_core.skeleton import H36M_BONES


def _pose(motion, times, seed=0, subject_seed=0):
    rng = np.random.default_rng(seed)
    shape = draw_body(np.random.default_rng(subject_seed))
    place = Placement(rng.uniform(2.6, 3.6), rng.uniform(-0.4, 0.4), np.pi + rng.uniform(-0.3, 0.3))
    return shape, forward_kinematics(shape, motion(times, draw_variation(rng)), place)


@pytest.mark.parametrize(
    "table, times",
    [(MMFI_ACTIONS, np.arange(800) * 0.01), (XRF55_ACTIONS, np.arange(500) * 0.01)],
    ids=["mmfi", "xrf55"],
)
@pytest.mark.slow
def test_every_action_keeps_bone_lengths_and_moves_smoothly(table, times):
    for name, action in table.items():
        for seed in range(3):
            shape, pose = _pose(action.motion, times, seed=seed, subject_seed=seed)
            j = pose.joints
            assert np.isfinite(j).all(), name
            lengths = np.stack([np.linalg.norm(j[:, c] - j[:, p], axis=-1) for c, p in H36M_BONES], 1)
            assert np.ptp(lengths, axis=0).max() < 1e-9, f"{name}: a bone changes length"
            assert j[..., 2].min() > -0.05, f"{name}: a joint goes below the floor"
            assert j[..., 2].max() < shape.height + 0.8, f"{name}: implausibly high"
            # No joint pops or elbow flips: under 20 m/s at 100 Hz (a fast throw moves the hand at ~15).
            speed = np.linalg.norm(np.diff(j, axis=0), axis=-1).max() / 0.01
            assert speed < 20.0, f"{name} (seed {seed}): joint speed {speed:.1f} m/s"


def test_two_bone_ik_reaches_targets_keeps_lengths_and_never_flips():
    rng = np.random.default_rng(0)
    n = 200
    down, forward = np.broadcast_to([0.0, 0.0, -1.0], (n, 3)), np.broadcast_to([1.0, 0.0, 0.0], (n, 3))
    root = rng.normal(size=(n, 3))
    target = root + rng.normal(size=(n, 3)) * 0.3
    mid, end = two_bone_ik(root, target, 0.3, 0.25, rng.normal(size=(n, 3)), down, forward)
    assert np.allclose(np.linalg.norm(mid - root, axis=-1), 0.3)
    assert np.allclose(np.linalg.norm(end - mid, axis=-1), 0.25)
    dist = np.linalg.norm(target - root, axis=-1)
    reachable = (dist > 0.051) & (dist < 0.94 * 0.55)  # soft IK starts at 94 % of the reach
    assert np.allclose(end[reachable], target[reachable], atol=1e-6)
    # A target sweeping a full circle through the pole direction moves the middle joint smoothly.
    angle = np.linspace(0, 2 * np.pi, 2000)
    sweep = 0.4 * np.stack([np.cos(angle), np.zeros_like(angle), np.sin(angle)], -1)
    pole = np.broadcast_to([1.0, 0.0, 0.0], sweep.shape)
    # The natural field's anchor (0, 1, 0) is off the sweep's plane, so its one singular direction
    # (0, -1, 0) is never met; the pole (1, 0, 0) lies on the circle, where a plain pole IK flips.
    ref_axis, ref_bend = (
        np.broadcast_to([0.0, 1.0, 0.0], sweep.shape),
        np.broadcast_to([0.0, 0.0, -1.0], sweep.shape),
    )
    mid, _ = two_bone_ik(np.zeros_like(sweep), sweep, 0.3, 0.25, pole, ref_axis, ref_bend)
    step = np.linalg.norm(np.diff(mid, axis=0), axis=-1).max()
    assert step < 5 * np.linalg.norm(np.diff(sweep, axis=0), axis=-1).max()


def test_subject_bodies_are_deterministic_and_differ_between_subjects():
    assert subject_body(0, "S01") == subject_body(0, "S01")
    assert subject_body(0, "S01") != subject_body(0, "S02")
    assert subject_body(0, "S01") != subject_body(1, "S01")
    heights = [subject_body(0, f"S{i:02d}").height for i in range(1, 41)]
    assert min(heights) >= 1.5 and max(heights) <= 1.96 and np.std(heights) > 0.03


def test_mirrored_actions_are_mirror_images():
    times = np.arange(60) * 0.1
    shape = draw_body(np.random.default_rng(0))
    v = draw_variation(np.random.default_rng(1))
    place = Placement(3.0, 0.0, 0.0)  # heading +x: the person's left is +y
    left = forward_kinematics(shape, MMFI_ACTIONS["A13"].motion(times, v), place).joints
    right = forward_kinematics(shape, MMFI_ACTIONS["A14"].motion(times, v), place).joints
    # Raising the left hand lifts joint 13 (left wrist); the mirror lifts 16 (right wrist).
    assert left[:, 13, 2].max() > 1.7 and left[:, 16, 2].max() < 1.0
    assert right[:, 16, 2].max() > 1.7 and right[:, 13, 2].max() < 1.0


def _features(joints: np.ndarray) -> np.ndarray:
    """Pelvis-relative joints in the body's own heading (from the hip line): mean, spread, and
    the speed-weighted mean velocity (direction of the fast movements)."""
    p = joints - joints[:, :1]
    hip = joints[:, L_HIP] - joints[:, R_HIP]
    yaw = np.arctan2(hip[:, 1], hip[:, 0]) - np.pi / 2
    c, s = np.cos(-yaw)[:, None], np.sin(-yaw)[:, None]
    q = np.stack([c * p[..., 0] - s * p[..., 1], s * p[..., 0] + c * p[..., 1], p[..., 2]], -1)
    v = np.diff(q, axis=0)
    weighted = (v * np.linalg.norm(v, axis=-1, keepdims=True)).mean(0) * 100
    return np.concatenate(
        [q.mean(0).ravel(), q.std(0).ravel(), weighted.ravel(), [5 * joints[:, 0, 2].std()]]
    )


@pytest.mark.parametrize(
    "table, times, minimum",
    [(MMFI_ACTIONS, np.arange(100) * 0.1, 0.9), (XRF55_ACTIONS, np.arange(250) * 0.02, 0.9)],
    ids=["mmfi", "xrf55"],
)
@pytest.mark.slow
def test_actions_are_separable_by_a_nearest_centroid_on_held_out_subjects(table, times, minimum):
    features, labels, subjects = [], [], []
    for subject in range(6):
        for label, action in enumerate(table.values()):
            _, pose = _pose(action.motion, times, seed=1000 * subject + label, subject_seed=100 + subject)
            features.append(_features(pose.joints))
            labels.append(label)
            subjects.append(subject)
    x, y, s = np.array(features), np.array(labels), np.array(subjects)
    train = s < 4
    mean, std = x[train].mean(0), x[train].std(0) + 1e-6
    z = (x - mean) / std
    centroids = np.stack([z[train & (y == k)].mean(0) for k in range(len(table))])
    predicted = np.argmin(((z[~train][:, None] - centroids[None]) ** 2).sum(-1), axis=1)
    accuracy = (predicted == y[~train]).mean()
    chance = 1 / len(table)
    assert accuracy >= minimum, f"held-out accuracy {accuracy:.2f} (chance {chance:.2f})"
