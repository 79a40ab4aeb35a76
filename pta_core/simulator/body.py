"""A parametric 3-D human: per-subject body sizes, forward kinematics to H36M-17 joints, capsule surface.

The body is a tree of bones in the H36M-17 order of :mod:`pta_core.skeleton`; limbs are placed by
analytic two-bone IK, so bone lengths are exactly constant over a sequence. The surface is a union
of capsules (segment + radius) that every sensor renderer uses. World frame ("rig"): x forward
from the sensor rig, y left, z up, origin on the floor below the camera.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pta_core.simulator.geometry import apply, normalize, rot_x, rot_y, rot_z, two_bone_ik
from pta_core.simulator.motions import LEFT, RIGHT, Controls

# H36M-17 indices (pta_core.skeleton.H36M_JOINTS).
PELVIS, R_HIP, R_KNEE, R_ANKLE, L_HIP, L_KNEE, L_ANKLE, SPINE, THORAX, HEAD, HEAD_TOP = range(11)
L_SHOULDER, L_ELBOW, L_WRIST, R_SHOULDER, R_ELBOW, R_WRIST = range(11, 17)

# Elbow bend (left arm, torso frame) when the arm points out to the side, up and a little forward:
# down and back; perpendicular to that arm axis.
_ARM_AXIS = np.array([0.2, 1.0, 0.3]) / np.linalg.norm([0.2, 1.0, 0.3])
ARM_REF_BEND = np.array([-0.3, 0.0, -1.0]) - np.dot([-0.3, 0.0, -1.0], _ARM_AXIS) * _ARM_AXIS
ARM_REF_BEND = ARM_REF_BEND / np.linalg.norm(ARM_REF_BEND)

# Face landmarks produced alongside the joints (COCO needs them): nose, left/right eye, left/right ear.
FACE = ("nose", "left_eye", "right_eye", "left_ear", "right_ear")


@dataclass(frozen=True)
class BodyShape:
    """Body sizes in metres. Proportions follow adult anthropometry, scaled by height."""

    height: float
    ankle_height: float
    shin: float
    thigh: float
    hip_half_width: float
    spine: float  # pelvis → spine joint
    chest: float  # spine → thorax
    neck: float  # thorax → head (nose level)
    shoulder_half_width: float
    shoulder_drop: float
    upper_arm: float
    forearm: float
    foot: float
    # Capsule radii.
    r_torso: float
    r_chest: float
    r_pelvis: float
    r_neck: float
    r_head: float
    r_upper_arm: float
    r_forearm: float
    r_thigh: float
    r_shin: float
    r_foot: float

    @property
    def leg(self) -> float:
        return self.thigh + self.shin

    @property
    def arm(self) -> float:
        return self.upper_arm + self.forearm

    @property
    def pelvis_height(self) -> float:
        return self.ankle_height + self.leg


def draw_body(rng: np.random.Generator) -> BodyShape:
    """A random adult: height 1.52-1.95 m, build (girth) 0.85-1.25, proportions jittered by ±3 %."""
    height = float(np.clip(rng.normal(1.72, 0.08), 1.52, 1.95))
    build = float(rng.uniform(0.85, 1.25))
    jitter = rng.uniform(0.97, 1.03, 13)
    h = height
    return BodyShape(
        height=h,
        ankle_height=0.05 * h,
        shin=0.25 * h * jitter[0],
        thigh=0.255 * h * jitter[1],
        hip_half_width=0.065 * h * jitter[2] * (0.5 + 0.5 * build),
        spine=0.13 * h * jitter[3],
        chest=0.145 * h * jitter[4],
        neck=0.065 * h * jitter[5],
        shoulder_half_width=0.1 * h * jitter[6] * (0.7 + 0.3 * build),
        shoulder_drop=0.02 * h,
        upper_arm=0.165 * h * jitter[7],
        forearm=0.145 * h * jitter[8],
        foot=0.12 * h * jitter[9],
        r_torso=0.062 * h * build * jitter[10],
        r_chest=0.04 * h * build,
        r_pelvis=0.05 * h * build,
        r_neck=0.028 * h,
        r_head=0.055 * h * jitter[11],
        r_upper_arm=0.026 * h * build,
        r_forearm=0.022 * h * build,
        r_thigh=0.042 * h * build * jitter[12],
        r_shin=0.03 * h * build,
        r_foot=0.022 * h,
    )


@dataclass(frozen=True)
class Placement:
    """Where a sequence happens: standing spot on the floor (world x, y, metres) and base heading (rad)."""

    x: float
    y: float
    yaw: float


@dataclass
class Pose:
    """Body configuration over T instants, world frame, metres."""

    joints: np.ndarray  # (T, 17, 3) H36M-17
    face: np.ndarray  # (T, 5, 3) nose, eyes, ears
    toes: np.ndarray  # (T, 2, 3) left, right toe tips
    skull: np.ndarray  # (T, 3) upper end of the head capsule's segment


def forward_kinematics(shape: BodyShape, c: Controls, place: Placement) -> Pose:
    """Controls (see :mod:`motions`) → joint positions, by hierarchical rotations and two-bone IK."""
    n = c.root.shape[0]
    k = shape.height / 1.75
    heading = rot_z(place.yaw + c.yaw)  # (T, 3, 3)
    ground = np.array([place.x, place.y, 0.0])
    pelvis = ground + apply(heading, c.root * shape.leg) + np.array([0.0, 0.0, shape.pelvis_height])

    pitch, roll, twist = c.torso[:, 0], c.torso[:, 1], c.torso[:, 2]
    # The lower spine takes half of the bend, so the back curves instead of hinging at the pelvis.
    lower = heading @ rot_z(twist / 2) @ rot_x(-roll / 2) @ rot_y(pitch / 2)
    upper = heading @ rot_z(twist) @ rot_x(-roll) @ rot_y(pitch)
    spine = pelvis + apply(lower, np.broadcast_to([0.0, 0.0, shape.spine], (n, 3)))
    thorax = spine + apply(upper, np.broadcast_to([0.0, 0.0, shape.chest], (n, 3)))
    head_rot = upper @ rot_z(c.head[:, 1]) @ rot_y(c.head[:, 0])
    head = thorax + apply(head_rot, np.broadcast_to([0.015 * k, 0.0, shape.neck], (n, 3)))
    head_top = head + apply(head_rot, np.broadcast_to([-0.01 * k, 0.0, 0.07 * shape.height], (n, 3)))

    joints = np.empty((n, 17, 3))
    joints[:, PELVIS], joints[:, SPINE], joints[:, THORAX] = pelvis, spine, thorax
    joints[:, HEAD], joints[:, HEAD_TOP] = head, head_top

    for side, (sh, el, wr) in (
        (LEFT, (L_SHOULDER, L_ELBOW, L_WRIST)),
        (RIGHT, (R_SHOULDER, R_ELBOW, R_WRIST)),
    ):
        sign = 1.0 if side == LEFT else -1.0
        offset = np.broadcast_to([0.0, sign * shape.shoulder_half_width, -shape.shoulder_drop], (n, 3))
        shoulder = thorax + apply(upper, offset)
        target = shoulder + apply(upper, c.wrist[:, side] * shape.arm)
        # Natural bend field: with the arm out to the side the elbow points down and back; the
        # field's one singular direction (arm pointing into the chest) is out of reach.
        ref_axis = apply(upper, np.broadcast_to(normalize(np.array([0.2, sign, 0.3])), (n, 3)))
        ref_bend = apply(upper, np.broadcast_to(ARM_REF_BEND * [1, sign, 1], (n, 3)))
        elbow, wrist = two_bone_ik(
            shoulder,
            target,
            shape.upper_arm,
            shape.forearm,
            apply(upper, c.elbow_pole[:, side]),
            ref_axis,
            ref_bend,
        )
        joints[:, sh], joints[:, el], joints[:, wr] = shoulder, elbow, wrist

    hips_rot = heading @ rot_z(0.3 * twist)
    toes = np.empty((n, 2, 3))
    for side, (hp, kn, an) in ((LEFT, (L_HIP, L_KNEE, L_ANKLE)), (RIGHT, (R_HIP, R_KNEE, R_ANKLE))):
        sign = 1.0 if side == LEFT else -1.0
        hip = pelvis + apply(hips_rot, np.broadcast_to([0.0, sign * shape.hip_half_width, 0.0], (n, 3)))
        stand = ground + apply(
            heading, np.broadcast_to([0.0, sign * 0.9 * shape.hip_half_width, shape.ankle_height], (n, 3))
        )
        target = stand + apply(heading, c.ankle[:, side] * shape.leg)
        # Legs: hanging straight down the knee points forward; pointing straight up is out of reach.
        knee, ankle = two_bone_ik(
            hip,
            target,
            shape.thigh,
            shape.shin,
            apply(heading, c.knee_pole[:, side]),
            -heading[:, :, 2],
            heading[:, :, 0],
        )
        joints[:, hp], joints[:, kn], joints[:, an] = hip, knee, ankle
        forward = heading[:, :, 0]
        toes[:, side] = ankle + shape.foot * normalize(forward + 0.35 * normalize(ankle - knee))

    local_face = np.array(
        [
            [0.105, 0.0, 0.0],
            [0.085, 0.032, 0.035],
            [0.085, -0.032, 0.035],
            [-0.005, 0.08, 0.015],
            [-0.005, -0.08, 0.015],
        ]
    )
    face = head[:, None] + np.einsum("tij,fj->tfi", head_rot, local_face * k)
    skull_top = head + apply(head_rot, np.broadcast_to([0.0, 0.0, 0.04 * shape.height], (n, 3)))
    return Pose(joints=joints, face=face, toes=toes, skull=skull_top)


# Capsule table: (name, radius attribute, body-part radar cross-section weight).
CAPSULE_NAMES = (
    "lower_torso", "upper_torso", "chest", "pelvis", "neck", "head",
    "l_upper_arm", "l_forearm", "r_upper_arm", "r_forearm",
    "l_thigh", "l_shin", "r_thigh", "r_shin", "l_foot", "r_foot",
)  # fmt: skip


def capsules(shape: BodyShape, pose: Pose) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Body surface as capsules.

    Returns:
        start (T, C, 3), end (T, C, 3) segment end points (m) and radii (C,) (m), C = 16, in
        the order of :data:`CAPSULE_NAMES`.
    """
    j = pose.joints
    start = np.stack(
        [
            j[:, PELVIS], j[:, SPINE], j[:, L_SHOULDER], j[:, L_HIP], j[:, THORAX], j[:, HEAD],
            j[:, L_SHOULDER], j[:, L_ELBOW], j[:, R_SHOULDER], j[:, R_ELBOW],
            j[:, L_HIP], j[:, L_KNEE], j[:, R_HIP], j[:, R_KNEE], j[:, L_ANKLE], j[:, R_ANKLE],
        ],
        axis=1,
    )  # fmt: skip
    end = np.stack(
        [
            j[:, SPINE], j[:, THORAX], j[:, R_SHOULDER], j[:, R_HIP], j[:, HEAD], pose.skull,
            j[:, L_ELBOW], j[:, L_WRIST], j[:, R_ELBOW], j[:, R_WRIST],
            j[:, L_KNEE], j[:, L_ANKLE], j[:, R_KNEE], j[:, R_ANKLE], pose.toes[:, LEFT], pose.toes[:, RIGHT],
        ],
        axis=1,
    )  # fmt: skip
    s = shape
    radii = np.array(
        [
            s.r_torso, s.r_torso, s.r_chest, s.r_pelvis, s.r_neck, s.r_head,
            s.r_upper_arm, s.r_forearm, s.r_upper_arm, s.r_forearm,
            s.r_thigh, s.r_shin, s.r_thigh, s.r_shin, s.r_foot, s.r_foot,
        ]
    )  # fmt: skip
    return start, end, radii
