"""Synthetic sensor models: ray casting, projection, depth, radar Doppler, CSI multipath, file writers."""

from __future__ import annotations

import io

import numpy as np
import scipy.io
from PIL import Image

from pta_core.simulator import fileformats as ff
from pta_core.simulator.body import Placement, capsules, draw_body, forward_kinematics
from pta_core.simulator.contamination import CsiKnobs, DepthKnobs, KeypointKnobs, MmwaveKnobs
from pta_core.simulator.motions import draw_variation, rest
from pta_core.simulator.radio import segment_distance
from pta_core.simulator.raycast import capsule_range, capsules_range
from pta_core.simulator.render_csi import CsiRenderer
from pta_core.simulator.render_depth import DepthRenderer
from pta_core.simulator.render_keypoints import detect_keypoints, project_keypoints
from pta_core.simulator.render_points import RadarRenderer
from pta_core.simulator.rig import mmfi_rig


def _standing(x=3.0, y=0.0, frames=3):
    shape = draw_body(np.random.default_rng(0))
    times = np.arange(frames) * 0.1
    pose = forward_kinematics(
        shape, rest(times, draw_variation(np.random.default_rng(0))), Placement(x, y, np.pi)
    )
    return shape, pose


def test_capsule_ray_cast_hits_the_surface_first_and_misses_exactly():
    rng = np.random.default_rng(0)
    a, b, r = np.array([0.1, 0.2, 3.0]), np.array([-0.3, 0.5, 3.4]), 0.15
    d = rng.normal(size=(5000, 3)) * [0.1, 0.1, 0] + [0, 0.1, 1]
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    t = capsule_range(d[:, 0], d[:, 1], d[:, 2], a, b, r)
    hit = np.isfinite(t)
    assert 500 < hit.sum() < 4500
    samples = np.linspace(0.0, 1.0, 400)
    for rays, lengths, first in (
        (d[hit][:200], t[hit][:200], True),
        (d[~hit][:200], np.full(200, 6.0), False),
    ):
        points = rays[:, None] * (lengths[:, None] * samples)[..., None]
        u = np.clip((points - a) @ (b - a) / ((b - a) @ (b - a)), 0, 1)
        dist = np.linalg.norm(points - (a + u[..., None] * (b - a)), axis=-1)
        if first:  # on the surface at t, outside before it
            assert np.allclose(dist[:, -1], r, atol=1e-9)
            assert (dist[:, :-2] > r - 1e-9).all()
        else:
            assert (dist > r).all()
    # The (rays × capsules) table agrees with the per-capsule routine.
    a2, b2 = a + [0.1, 0, 1], b + [0.1, 0, 1]
    best, index = capsules_range(d, np.stack([a, a2]), np.stack([b, b2]), np.array([r, 0.2]))
    t2 = capsule_range(d[:, 0], d[:, 1], d[:, 2], a2, b2, 0.2)
    assert np.array_equal(best, np.minimum(t, t2))
    assert set(np.unique(index)) <= {-1, 0, 1}


def test_segment_distance_matches_brute_force():
    rng = np.random.default_rng(1)
    p0, p1, q0, q1 = (rng.normal(size=(100, 3)) for _ in range(4))
    exact = segment_distance(p0, p1, q0, q1)
    s = np.linspace(0, 1, 201)
    pp = p0[:, None] + s[None, :, None] * (p1 - p0)[:, None]
    qq = q0[:, None] + s[None, :, None] * (q1 - q0)[:, None]
    brute = np.linalg.norm(pp[:, :, None] - qq[:, None], axis=-1).min(axis=(1, 2))
    assert (exact <= brute + 1e-12).all() and (brute - exact).max() < 0.02


def test_depth_map_measures_the_body_and_the_room():
    rig = mmfi_rig("E01")
    renderer = DepthRenderer(rig)
    shape, pose = _standing(x=3.0)
    starts, ends, radii = capsules(shape, pose)
    cam = rig.camera
    clean = renderer.clean(cam.from_rig(starts[0]), cam.from_rig(ends[0]), radii)
    # The pixel of the pelvis sees the front of the torso: depth = pelvis depth minus about the torso radius.
    pelvis = cam.from_rig(pose.joints[0, 0])
    u, v = np.rint(rig.depth_intrinsics.project(pelvis)).astype(int)
    assert abs(clean[v, u] - (pelvis[2] - shape.r_torso)) < 0.03
    # The bottom row sees the floor; with the body far away it equals the empty-room background.
    assert np.allclose(clean[-1], renderer.background[-1])
    assert 0.5 < clean[-1].mean() < 3.0
    noisy = renderer.render(
        cam.from_rig(starts[0]), cam.from_rig(ends[0]), radii, np.random.default_rng(0), DepthKnobs()
    )
    assert noisy.dtype == np.uint16 and noisy.shape == (480, 640)
    assert 0.9 < (noisy > 0).mean() < 1.0
    near = (noisy > 0) & (clean < 3.5)  # stereo error grows with z²: judge it at the person's range
    err = np.abs(noisy[near] / 1000.0 - clean[near])
    assert np.median(err) < 0.03
    worse = renderer.render(
        cam.from_rig(starts[0]),
        cam.from_rig(ends[0]),
        radii,
        np.random.default_rng(0),
        DepthKnobs(noise_scale=10, hole_fraction=0.3),
    )
    assert (worse > 0).mean() < 0.75
    near = (worse > 0) & (clean < 3.5)
    assert np.median(np.abs(worse[near] / 1000.0 - clean[near])) > 3 * np.median(err)


def test_keypoints_project_the_body_and_contamination_moves_them():
    rig = mmfi_rig("E02")
    _, pose = _standing(frames=40)
    truth = project_keypoints(pose, rig.camera, rig.depth_intrinsics)
    # Facing the camera: the person's left shoulder (COCO 5) is on the image's right.
    assert (truth[:, 5, 0] > truth[:, 6, 0]).all()
    assert (truth[:, 0, 1] < truth[:, 15, 1]).all()  # nose above the ankle
    clean = detect_keypoints(
        pose, rig.camera, rig.depth_intrinsics, np.random.default_rng(0), KeypointKnobs(1.0, 0, 0, 0)
    )
    assert np.abs(clean - truth).mean() < 1.5
    bad = detect_keypoints(
        pose, rig.camera, rig.depth_intrinsics, np.random.default_rng(0), KeypointKnobs(20.0, 0.3, 0.3, 0.3)
    )
    assert np.abs(bad - truth).mean() > 10 * np.abs(clean - truth).mean()
    assert (bad.reshape(40, -1) == 0).all(axis=1).any()  # dropped frames are all zeros


def test_radar_doppler_is_the_radial_velocity_and_static_bodies_are_suppressed():
    rig = mmfi_rig("E01")
    radar = RadarRenderer(rig)
    shape, pose = _standing()
    starts, ends, radii = capsules(shape, pose)
    away = np.broadcast_to(rig.radar.rotation[:, 0] * 1.0, starts[0].shape)  # 1 m/s along the boresight
    knobs = MmwaveKnobs(noise_scale=0.0, ghosts=0.0, clutter=0.0)
    moving = radar.render(starts[0], ends[0], radii, away, away, np.random.default_rng(0), knobs)
    still = radar.render(starts[0], ends[0], radii, 0 * away, 0 * away, np.random.default_rng(0), knobs)
    assert moving.shape[1] == 5 and len(moving) > 3 * max(len(still), 1)
    assert np.all(moving[:, 3] > 0.8) and np.all(moving[:, 3] <= 1.0 + 1e-9)  # receding: positive
    assert (
        len(
            radar.render(
                starts[0], ends[0], radii, away, away, np.random.default_rng(0), MmwaveKnobs(dropout=1.0)
            )
        )
        == 0
    )


def test_radar_calibration_knobs_raise_the_point_count_and_bin_the_doppler():
    """The knobs that fit the radar to a real one (bench/real_radar.py's MARS calibration)."""
    rig = mmfi_rig("E01")
    radar = RadarRenderer(rig)
    shape, pose = _standing()
    starts, ends, radii = capsules(shape, pose)
    away = np.broadcast_to(rig.radar.rotation[:, 0] * 0.05, starts[0].shape)  # slow: below the point cap

    def points(**knobs):
        return [radar.render(starts[0], ends[0], radii, away, away, np.random.default_rng(seed),
                             MmwaveKnobs(ghosts=0.0, clutter=0.0, **knobs)) for seed in range(20)]

    plain, dense = points(), points(detection_gain=3.0)
    assert np.mean([len(f) for f in dense]) > 2 * np.mean([len(f) for f in plain])
    binned = np.concatenate([f[:, 3] for f in points(doppler_step=0.356, doppler_noise=0.3)])
    assert np.allclose(binned / 0.356, np.round(binned / 0.356))  # every velocity on a bin
    assert len(np.unique(np.round(binned / 0.356))) >= 3  # the noise spreads them over several bins


def test_csi_reacts_to_the_body_and_blocking_the_line_of_sight():
    rig = mmfi_rig("E01")
    csi = CsiRenderer(rig, np.random.default_rng(0))
    shape = draw_body(np.random.default_rng(0))
    times = np.zeros(1)
    # Standing on the Wi-Fi link's line of sight versus far behind it.
    mid = rig.wifi.tx + 0.5 * (rig.wifi.rx[1] - rig.wifi.tx)
    on = forward_kinematics(
        shape, rest(times, draw_variation(np.random.default_rng(0))), Placement(mid[0], mid[1], np.pi)
    )
    off = forward_kinematics(
        shape, rest(times, draw_variation(np.random.default_rng(0))), Placement(mid[0] + 2.0, mid[1], np.pi)
    )
    h_on = csi.channel(*capsules(shape, on)[:2], capsules(shape, on)[2], on.joints)
    h_off = csi.channel(*capsules(shape, off)[:2], capsules(shape, off)[2], off.joints)
    assert np.abs(h_on - csi.h_rest).mean() < 0.6 * np.abs(h_off - csi.h_rest).mean()  # direct path shadowed
    amp, phase = csi.measure(np.repeat(h_off, 10, axis=0), np.random.default_rng(0), CsiKnobs())
    assert amp.shape == phase.shape == (3, 114, 10) and np.isfinite(amp).all()
    assert np.abs(phase).max() <= np.pi
    noisy, _ = csi.measure(
        np.repeat(h_off, 10, axis=0), np.random.default_rng(0), CsiKnobs(snr_db=0.0, inf_fraction=0.05)
    )
    assert np.isneginf(noisy).any()
    assert np.std(noisy[np.isfinite(noisy)] - amp[np.isfinite(noisy)]) > 5 * np.std(
        amp - amp.mean(axis=2, keepdims=True)
    )


def test_file_writers_round_trip_and_are_byte_stable():
    depth = np.random.default_rng(0).integers(0, 65535, (48, 64)).astype(np.uint16)
    png = ff.png16_bytes(depth)
    with Image.open(io.BytesIO(png)) as image:
        assert image.mode.startswith("I;16") and np.array_equal(np.array(image), depth)
    data = {"CSIamp": np.arange(6.0).reshape(1, 2, 3), "CSIphase": -np.ones((1, 2, 3))}
    first, second = ff.mat_bytes(data), ff.mat_bytes(data)
    assert first == second and first.startswith(b"MATLAB 5.0 MAT-file")
    back = scipy.io.loadmat(io.BytesIO(first))
    assert np.array_equal(back["CSIamp"], data["CSIamp"]) and np.array_equal(
        back["CSIphase"], data["CSIphase"]
    )
    assert ff.cloud_bytes(np.zeros((0, 5)), 5) == b""
    assert len(ff.cloud_bytes(np.ones((7, 3)), 3)) == 7 * 24
