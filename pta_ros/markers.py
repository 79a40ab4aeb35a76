"""Skeleton → ``visualization_msgs/MarkerArray`` for RViz (a pure function of NumPy and message classes).

One person per array: bones as a ``LINE_LIST`` (a point pair per bone, ``scale.x`` = line width),
joints as a ``SPHERE_LIST``, and optionally the activity label as ``TEXT_VIEW_FACING`` above the
head, along the body's axis (root → head: "up" whatever the frame's axes). The bones are the
model's joint set's (H36M-17, MARS's Kinect-19). Stable ``ns``/``id`` so every update replaces the
previous one; colours are 0..1 (ROS ``ColorRGBA``); a ``DELETEALL`` array clears them when there
is no output.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from pta_core.skeleton import H36M_17, JointSet

NAMESPACE = "pta_skeleton"
BONES_ID, JOINTS_ID, LABEL_ID = 0, 1, 2


@dataclass(frozen=True)
class MarkerStyle:
    """Appearance of the skeleton markers (sizes in metres, colours RGBA in 0..1)."""

    line_width: float = 0.02
    joint_diameter: float = 0.05
    text_height: float = 0.12
    text_offset: float = 0.25  # label beyond the head top, along the body's root → head axis
    lifetime_s: float = 0.5  # 0: forever (until replaced or deleted)
    left: tuple[float, float, float, float] = (0.1, 0.6, 1.0, 1.0)
    right: tuple[float, float, float, float] = (1.0, 0.35, 0.1, 1.0)
    centre: tuple[float, float, float, float] = (0.9, 0.9, 0.9, 1.0)
    text: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)


def _color(rgba: tuple[float, float, float, float]) -> ColorRGBA:
    r, g, b, a = (min(max(float(v), 0.0), 1.0) for v in rgba)
    return ColorRGBA(r=r, g=g, b=b, a=a)


def _point(xyz: np.ndarray) -> Point:
    return Point(x=float(xyz[0]), y=float(xyz[1]), z=float(xyz[2]))


@functools.lru_cache(maxsize=8)
def _joint_colors(style: MarkerStyle, joint_set: JointSet) -> tuple[ColorRGBA, ...]:
    """Each joint's colour by body side, built once per style and joint set (message objects are
    costly to make: per frame, this took most of the node's marker time)."""
    left, right, centre = _color(style.left), _color(style.right), _color(style.centre)
    return tuple(left if name.startswith("left_") else right if name.startswith("right_") else centre
                 for name in joint_set.joints)


def _duration(seconds: float) -> Duration:
    sec = int(seconds)
    return Duration(sec=sec, nanosec=int(round((seconds - sec) * 1e9)))


def _base_marker(header: Header, marker_id: int, marker_type: int, style: MarkerStyle) -> Marker:
    marker = Marker()
    marker.header = header
    marker.ns = NAMESPACE
    marker.id = marker_id
    marker.type = marker_type
    marker.action = Marker.ADD
    marker.pose.orientation.w = 1.0
    marker.lifetime = _duration(style.lifetime_s)
    return marker


def skeleton_markers(
    joints: np.ndarray,
    header: Header,
    label: str | None = None,
    style: MarkerStyle | None = None,
    joint_set: JointSet = H36M_17,
) -> MarkerArray:
    """Markers for one skeleton.

    Args:
        joints: (J, 3) joints of ``joint_set`` in metres, in ``header.frame_id``.
        header: stamp and frame of every marker.
        label: text shown above the head (e.g. ``"walking 0.82"``); no text marker when None.
        style: sizes, colours and lifetime.
        joint_set: the joints' names and bones (the model card's).

    Returns:
        MarkerArray with the bones LINE_LIST (a point pair per bone), the joints SPHERE_LIST and,
        with a label, a TEXT_VIEW_FACING marker.

    Raises:
        ValueError: ``joints`` is not (J, 3) or not finite.
    """
    style = style or MarkerStyle()
    joints = np.asarray(joints, dtype=np.float64)
    if joints.shape != (len(joint_set), 3) or not np.isfinite(joints).all():
        raise ValueError(f"joints must be finite ({len(joint_set)}, 3), got {joints.shape}")

    colors = _joint_colors(style, joint_set)
    points = [_point(j) for j in joints]
    bones = _base_marker(header, BONES_ID, Marker.LINE_LIST, style)
    bones.scale.x = style.line_width
    bones.color = _color(style.centre)
    bones.points = [points[i] for child, parent in joint_set.bones for i in (parent, child)]
    bones.colors = [colors[child] for child, _ in joint_set.bones for _ in range(2)]

    spheres = _base_marker(header, JOINTS_ID, Marker.SPHERE_LIST, style)
    spheres.scale.x = spheres.scale.y = spheres.scale.z = style.joint_diameter
    spheres.color = _color(style.centre)
    spheres.points = points
    spheres.colors = list(colors)

    markers = MarkerArray(markers=[bones, spheres])
    if label is not None:
        text = _base_marker(header, LABEL_ID, Marker.TEXT_VIEW_FACING, style)
        top = joints[joint_set.top]
        axis = top - joints[0]
        up = axis / max(float(np.linalg.norm(axis)), 1e-6)
        text.pose.position = _point(top + style.text_offset * up)
        text.scale.z = style.text_height
        text.color = _color(style.text)
        text.text = label
        markers.markers.append(text)
    return markers


def delete_all_markers(header: Header) -> MarkerArray:
    """A MarkerArray whose single ``DELETEALL`` marker clears this namespace's markers in RViz."""
    marker = Marker()
    marker.header = header
    marker.ns = NAMESPACE
    marker.action = Marker.DELETEALL
    return MarkerArray(markers=[marker])
