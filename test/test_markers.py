"""Skeleton markers: geometry, colours, label placement, DELETEALL."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rclpy", reason="rclpy is not installed")
from rclpy.serialization import deserialize_message, serialize_message
from visualization_msgs.msg import Marker, MarkerArray

from pta_core.skeleton import H36M_17, H36M_BONES, H36M_JOINTS, KINECT_19
from pta_ros.conversions import make_header, stamp_to_ns
from pta_ros.markers import NAMESPACE, MarkerStyle, delete_all_markers, skeleton_markers

JOINTS = np.random.default_rng(3).normal(0, 0.5, (17, 3))


def _xyz(point) -> tuple[float, float, float]:
    return (point.x, point.y, point.z)


def test_bones_joints_and_label():
    header = make_header(42_000_000_123, "sensor_rig")
    style = MarkerStyle(lifetime_s=0.25)
    markers = skeleton_markers(JOINTS, header, "walking 0.80", style).markers
    bones, spheres, text = markers
    assert [m.type for m in markers] == [Marker.LINE_LIST, Marker.SPHERE_LIST, Marker.TEXT_VIEW_FACING]
    assert len({m.id for m in markers}) == 3 and all(m.ns == NAMESPACE for m in markers)
    assert all(
        m.header.frame_id == "sensor_rig" and stamp_to_ns(m.header.stamp) == 42_000_000_123 for m in markers
    )
    assert all(m.action == Marker.ADD and m.pose.orientation.w == 1.0 for m in markers)
    assert all(m.lifetime.sec == 0 and m.lifetime.nanosec == 250_000_000 for m in markers)
    # One point pair per bone: parent → child.
    assert len(bones.points) == 2 * len(H36M_BONES) == 32
    for k, (child, parent) in enumerate(H36M_BONES):
        np.testing.assert_allclose(_xyz(bones.points[2 * k]), JOINTS[parent])
        np.testing.assert_allclose(_xyz(bones.points[2 * k + 1]), JOINTS[child])
    assert bones.scale.x == pytest.approx(style.line_width)
    np.testing.assert_allclose([_xyz(p) for p in spheres.points], JOINTS)
    assert spheres.scale.x == spheres.scale.y == spheres.scale.z == pytest.approx(style.joint_diameter)
    # Left and right limbs differ in colour; every colour is a 0..1 RGBA.
    colours = [(c.r, c.g, c.b, c.a) for c in list(bones.colors) + list(spheres.colors)]
    assert len(bones.colors) == 32 and len(spheres.colors) == 17
    assert all(0.0 <= v <= 1.0 for c in colours for v in c)
    left, right = H36M_JOINTS.index("left_wrist"), H36M_JOINTS.index("right_wrist")
    assert spheres.colors[left] != spheres.colors[right]
    # The label floats beyond the head top, along the body's pelvis → head-top axis (up in any frame).
    assert text.text == "walking 0.80"
    top = JOINTS[H36M_JOINTS.index("head_top")]
    up = (top - JOINTS[0]) / np.linalg.norm(top - JOINTS[0])
    np.testing.assert_allclose(_xyz(text.pose.position), top + style.text_offset * up)


def test_another_joint_set_draws_its_own_bones():
    joints = np.random.default_rng(4).normal(0, 0.5, (19, 3))
    bones, spheres, text = skeleton_markers(joints, make_header(1, "ti_mmwave"), "squat 0.9", joint_set=KINECT_19).markers
    assert len(spheres.points) == 19 and len(bones.points) == 2 * len(KINECT_19.bones) == 36
    neck = KINECT_19.joints.index("neck")
    np.testing.assert_allclose(_xyz(bones.points[2 * (neck - 1)]), joints[KINECT_19.parents[neck]])
    head = joints[KINECT_19.joints.index("head")]
    assert np.linalg.norm(np.array(_xyz(text.pose.position)) - head) == pytest.approx(MarkerStyle().text_offset)
    with pytest.raises(ValueError, match="19, 3"):
        skeleton_markers(JOINTS, make_header(1, "f"), joint_set=KINECT_19)
    assert H36M_17.bones == H36M_BONES


def test_without_label_and_survives_the_wire():
    array = skeleton_markers(JOINTS, make_header(1, "f"))
    assert len(array.markers) == 2
    back = deserialize_message(serialize_message(array), MarkerArray)
    np.testing.assert_allclose([_xyz(p) for p in back.markers[1].points], JOINTS)


def test_out_of_range_colours_are_clipped():
    style = MarkerStyle(left=(2.0, -1.0, 0.5, 1.0))
    spheres = skeleton_markers(JOINTS, make_header(1, "f"), style=style).markers[1]
    c = spheres.colors[H36M_JOINTS.index("left_knee")]
    assert (c.r, c.g, c.b, c.a) == (1.0, 0.0, 0.5, 1.0)


@pytest.mark.parametrize("bad", [np.zeros((16, 3)), np.full((17, 3), np.nan)])
def test_refuses_bad_joints(bad):
    with pytest.raises(ValueError, match="joints"):
        skeleton_markers(bad, make_header(1, "f"))


def test_delete_all():
    array = delete_all_markers(make_header(9, "sensor_rig"))
    assert len(array.markers) == 1
    marker = array.markers[0]
    assert marker.action == Marker.DELETEALL == 3 and marker.ns == NAMESPACE
    assert marker.header.frame_id == "sensor_rig"
