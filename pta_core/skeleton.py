"""Joint and keypoint orders: Human3.6M-17 (3-D ground truth, model output) and COCO-17 (2-D keypoints).

MM-Fi ground truth is H36M-17 in metres (docs/datasets.md §1.4); camera keypoints are COCO-17 in pixels.
"""
from __future__ import annotations

H36M_JOINTS: tuple[str, ...] = (
    "pelvis",
    "right_hip",
    "right_knee",
    "right_ankle",
    "left_hip",
    "left_knee",
    "left_ankle",
    "spine",
    "thorax",
    "head",
    "head_top",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "right_shoulder",
    "right_elbow",
    "right_wrist",
)

# Parent of each H36M joint (VideoPose3D convention); -1 marks the root.
H36M_PARENTS: tuple[int, ...] = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)

# (child, parent) pairs: one bone each, 16 in all.
H36M_BONES: tuple[tuple[int, int], ...] = tuple(
    (child, parent) for child, parent in enumerate(H36M_PARENTS) if parent >= 0
)

COCO_KEYPOINTS: tuple[str, ...] = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)

NUM_JOINTS = len(H36M_JOINTS)
NUM_KEYPOINTS = len(COCO_KEYPOINTS)
