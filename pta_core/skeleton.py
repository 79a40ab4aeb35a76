"""Joint sets (what a pose model predicts) and keypoint orders.

A joint set belongs to a dataset: MM-Fi's ground truth is Human3.6M-17 in metres (docs/datasets.md
§1.4), MARS's the 19 Kinect v2 joints its paper scores (docs/datasets.md, MARS). A model predicts
its dataset's set; the model card names the joints and the node publishes them in that order.
Camera keypoints (an input, not a prediction) are COCO-17 in pixels.
"""
from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class JointSet:
    """Joint names in output order and each joint's parent (-1: the root, joint 0)."""

    name: str
    joints: tuple[str, ...]
    parents: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.joints) != len(self.parents) or self.parents[0] != -1:
            raise ValueError(f"joint set {self.name}: one parent per joint, joint 0 the root")

    def __len__(self) -> int:
        return len(self.joints)

    @property
    def bones(self) -> tuple[tuple[int, int], ...]:
        """(child, parent) pairs, one per non-root joint."""
        return tuple((child, parent) for child, parent in enumerate(self.parents) if parent >= 0)

    @property
    def top(self) -> int:
        """The joint a label is drawn above: the top of the head, or the head."""
        for name in ("head_top", "head"):
            if name in self.joints:
                return self.joints.index(name)
        return 0


H36M_17 = JointSet("h36m17", H36M_JOINTS, H36M_PARENTS)

# MARS scores 19 of Kinect v2's 25 joints (its labels_*.npy): the first 20 without the two hands,
# in the Kinect SDK's joint order (SpineBase … FootRight, SpineShoulder).
KINECT_19 = JointSet(
    "kinect19",
    ("spine_base", "spine_mid", "neck", "head", "left_shoulder", "left_elbow", "left_wrist", "right_shoulder",
     "right_elbow", "right_wrist", "left_hip", "left_knee", "left_ankle", "left_foot", "right_hip", "right_knee",
     "right_ankle", "right_foot", "spine_shoulder"),
    (-1, 0, 18, 2, 18, 4, 5, 18, 7, 8, 0, 10, 11, 12, 0, 14, 15, 16, 1),
)

JOINT_SETS: dict[str, JointSet] = {s.name: s for s in (H36M_17, KINECT_19)}
# The joint set of each dataset with pose ground truth (the others, XRF55, have none).
DATASET_JOINT_SETS: dict[str, JointSet] = {"mmfi": H36M_17, "mars": KINECT_19}


def dataset_joint_set(dataset: str) -> JointSet:
    """The joint set a model of ``dataset`` predicts (H36M-17 for a dataset without pose: unused)."""
    return DATASET_JOINT_SETS.get(dataset, H36M_17)


def joint_set_of(joints: tuple[str, ...]) -> JointSet:
    """The known joint set with exactly these joint names in this order (a model card's)."""
    for joint_set in JOINT_SETS.values():
        if joint_set.joints == tuple(joints):
            return joint_set
    raise ValueError(f"no known joint set has the joints {list(joints)[:4]}… ({len(joints)} joints)")
