"""Rig transforms (pta_ros.frames): YAML → graph → T(model frame ← message frame), and bad rig files."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from pta_ros.frames import (
    IDENTITY,
    Extrinsics,
    RigError,
    RigGraph,
    parse_rig,
    pose_matrix,
    read_rig,
    transform_points,
)


def random_pose(rng) -> np.ndarray:
    return pose_matrix(rng.normal(0, 1, 3), xyzw=Rotation.random(random_state=rng).as_quat())


def test_a_lookup_composes_the_chain_through_the_common_parent():
    rng = np.random.default_rng(0)
    rig_a, a_b, rig_c = random_pose(rng), random_pose(rng), random_pose(rng)
    graph = RigGraph(parse_rig([
        {"parent": "rig", "child": "a", "xyz": rig_a[:3, 3].tolist(),
         "xyzw": Rotation.from_matrix(rig_a[:3, :3]).as_quat().tolist()},
        {"parent": "a", "child": "b", "xyz": a_b[:3, 3].tolist(),
         "xyzw": Rotation.from_matrix(a_b[:3, :3]).as_quat().tolist()},
        {"parent": "rig", "child": "c", "xyz": rig_c[:3, 3].tolist(),
         "xyzw": Rotation.from_matrix(rig_c[:3, :3]).as_quat().tolist()},
    ], "test"))
    points = rng.normal(0, 1, (20, 3))
    in_b = transform_points(points, graph.lookup("b", "c"))
    # the same points in the rig frame, by either route
    np.testing.assert_allclose(transform_points(in_b, rig_a @ a_b), transform_points(points, rig_c), atol=1e-12)
    np.testing.assert_allclose(graph.lookup("c", "b") @ graph.lookup("b", "c"), np.eye(4), atol=1e-12)
    assert graph.lookup("b", "b") is IDENTITY
    assert graph.lookup("b", "unknown") is None


def test_rpy_is_fixed_axes_xyz_as_static_transform_publisher_takes_it():
    matrix = pose_matrix((1, 2, 3), rpy=(0.1, -0.2, 0.3))
    expected = Rotation.from_euler("z", 0.3) * Rotation.from_euler("y", -0.2) * Rotation.from_euler("x", 0.1)
    np.testing.assert_allclose(matrix[:3, :3], expected.as_matrix(), atol=1e-12)
    np.testing.assert_allclose(matrix[:3, 3], (1, 2, 3))


def test_frames_not_connected_have_no_transform():
    graph = RigGraph(parse_rig([{"parent": "rig", "child": "a"}, {"parent": "robot", "child": "b"}], "test"))
    assert graph.lookup("a", "b") is None


def test_the_robots_rig_replaces_the_models_edge_for_the_same_frame():
    model = parse_rig([{"parent": "rig", "child": "lidar", "xyz": [1, 0, 0]}], "model")
    robot = parse_rig([{"parent": "rig", "child": "lidar", "xyz": [0, 2, 0]}], "robot")
    np.testing.assert_allclose(RigGraph([*model, *robot]).lookup("rig", "lidar")[:3, 3], (0, 2, 0))


def test_extrinsics_try_tf2_first_then_the_rig_and_cache_what_they_found():
    calls = []

    def tf(target, source):
        calls.append((target, source))
        return pose_matrix((5, 0, 0)) if source == "from_tf" else None

    rig = RigGraph(parse_rig([{"parent": "model", "child": "from_rig", "xyz": [0, 1, 0]}], "test"))
    extrinsics = Extrinsics(rig, tf)
    assert extrinsics.lookup("model", "from_tf")[1] == "tf2"
    assert extrinsics.lookup("model", "from_rig")[1] == "rig"
    assert extrinsics.lookup("model", "nowhere") is None
    assert extrinsics.lookup("model", "/model") == (IDENTITY, "identity")
    calls.clear()
    extrinsics.lookup("model", "from_tf"), extrinsics.lookup("model", "from_rig"), extrinsics.lookup("model", "nowhere")
    assert calls == [("model", "nowhere")]  # found pairs are cached; a missing one is asked again


def test_transform_points_moves_xyz_and_keeps_the_other_columns():
    cloud = np.array([[1.0, 0.0, 0.0, 0.7, 12.0]], dtype=np.float32)
    moved = transform_points(cloud, pose_matrix((0, 0, 1), rpy=(0, 0, np.pi / 2)))
    np.testing.assert_allclose(moved, [[0.0, 1.0, 1.0, 0.7, 12.0]], atol=1e-6)
    assert moved.dtype == np.float32


@pytest.mark.parametrize("text, complaint", [
    (None, "No such file"),
    (":\n  - [", "not YAML"),
    ("frames: []", "no 'transforms' list"),
    ("transforms: {a: 1}", "must be a list"),
    ("transforms:\n  - {child: a}", "needs a parent and a child"),
    ("transforms:\n  - {parent: a, child: b, xyz: [1, 2]}", "xyz needs 3 numbers"),
    ("transforms:\n  - {parent: a, child: b, rpy: [0, 0, x]}", "must be numbers"),
    ("transforms:\n  - {parent: a, child: b, rpy: [0, 0, 0], xyzw: [0, 0, 0, 1]}", "not both"),
    ("transforms:\n  - {parent: a, child: b, xyzw: [0, 0, 0, 0]}", "non-zero"),
    ("transforms:\n  - {parent: a, child: a}", "its own parent"),
])
def test_a_bad_rig_file_is_one_clear_error_naming_it(tmp_path, text, complaint):
    path = tmp_path / "rig.yaml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(RigError, match=complaint) as caught:
        read_rig(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_the_shipped_rig_reads(repo_root):
    frames = RigGraph(read_rig(repo_root / "config" / "rig.yaml")).frames
    assert {"sensor_rig", "lidar_link", "radar_link", "camera_depth_optical_frame"} <= frames
