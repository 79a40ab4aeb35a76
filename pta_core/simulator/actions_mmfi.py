"""The 27 MM-Fi actions (docs/datasets.md §1.6) as repeated, smooth motions.

Each action is a cycle (period a few seconds at 10 Hz frames) of a distinct movement; the
sequence's :class:`Variation` changes tempo, amplitude, phase and style. "Left"/"right" actions
are exact mirror images of each other. Wrist keys are in arm lengths (torso frame), ankle and
pelvis offsets in leg lengths (heading frame); see :mod:`motions`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pta_core.simulator.motions import (
    LEFT,
    RIGHT,
    Controls,
    Motion,
    Variation,
    approach,
    arc_blend,
    arc_keyframes,
    arm_path,
    blend_pole,
    blend_wrist,
    cycle_fraction,
    half_wave,
    hang_in_torso,
    keyframes,
    mirrored,
    phase,
    plateau,
    pulse,
    rest,
    squat_depth,
)

DOWN = (0.03, 0.13, -0.99)
DOWN_R = (DOWN[0], -DOWN[1], DOWN[2])
REST_POLE_R = (-1.0, -0.25, 0.0)  # motions.rest's right elbow pole
COCKED_R, RELEASE_R = (0.2, -1.0, -0.6), (-0.3, -0.6, -1.0)  # overhand throw, right arm
FRONT = (1.0, 0.05, 0.0)
SIDE = (0.0, 1.0, 0.0)
UP = (0.05, 0.12, 1.0)
BOTH = (LEFT, RIGHT)


@dataclass(frozen=True)
class ActionDef:
    name: str
    protocol: int  # 1 = daily (P1), 2 = rehabilitation (P2)
    motion: Motion


def _hands_on_hips(c: Controls) -> None:
    for side in BOTH:
        blend_wrist(c, side, (-0.05, 0.42, -0.55), np.ones(len(c.yaw)))
        c.elbow_pole[:, side] = (-0.2, 1.0 if side == LEFT else -1.0, 0.0)


def stretching(t: np.ndarray, v: Variation) -> Controls:
    """Arms up through the front to overhead, stretch on the toes, then relax with a forward slump."""
    c = rest(t, v)
    ph = phase(t, 5.5, v)
    up = plateau(ph, 2.5)
    for side in BOTH:
        arm_path(c, side, [DOWN, FRONT, UP], up)
        c.elbow_pole[:, side] = (0.0, 1.0 if side == LEFT else -1.0, -0.3)
    c.root[:, 2] += 0.035 * v.amp * up
    c.ankle[:, :, 2] += 0.03 * v.amp * up[:, None]
    c.torso[:, 0] += -0.1 * up + 0.3 * v.amp * plateau(ph + np.pi, 4.0) * (1 - up)
    c.head[:, 0] += -0.25 * up
    return c


def chest_expansion_horizontal(t: np.ndarray, v: Variation) -> Controls:
    """Arms held forward at shoulder height, opened wide to the sides and closed again."""
    c = rest(t, v)
    w = pulse(phase(t, 3.5, v)) * v.amp
    for side in BOTH:
        arm_path(c, side, [(1.0, -0.12, 0.02), (0.55, 0.85, 0.02), (-0.2, 1.0, 0.02)], 0.95 * w)
        c.elbow_pole[:, side] = (0.0, 0.3 if side == LEFT else -0.3, -1.0)
    c.torso[:, 0] -= 0.06 * w
    return c


def chest_expansion_vertical(t: np.ndarray, v: Variation) -> Controls:
    """Hands at the chest, elbows out; arms open up and out into a V overhead; back to the chest."""
    c = rest(t, v)
    w = pulse(phase(t, 3.5, v))
    for side in BOTH:
        y = 0.12 if side == LEFT else -0.12
        chest = np.array([0.45, y, -0.12])
        high = np.array([0.1, 4 * y * v.amp, 0.85])
        c.wrist[:, side] = arc_blend(chest, high, w)
        c.elbow_pole[:, side] = (0.0, 1.0 if side == LEFT else -1.0, -0.2)
    c.head[:, 0] -= 0.2 * w
    return c


def twist_left(t: np.ndarray, v: Variation) -> Controls:
    """Upper body turns left and back, elbows bent and hands in front of the chest."""
    c = rest(t, v)
    w = plateau(phase(t, 4.0, v), 2.0)
    for side in BOTH:
        blend_wrist(c, side, (0.4, 0.1, -0.2), np.ones_like(t))
        c.elbow_pole[:, side] = (0.0, 1.0 if side == LEFT else -1.0, -0.4)
    c.torso[:, 2] += 0.75 * v.amp * w
    c.head[:, 1] += 0.35 * v.amp * w
    return c


def mark_time(t: np.ndarray, v: Variation) -> Controls:
    """Marching on the spot: knees up in turn, arms swinging opposite."""
    c = rest(t, v)
    ph = phase(t, 1.2, v)
    lift_l, lift_r = half_wave(ph, 1.3)
    for side, lift in ((LEFT, lift_l), (RIGHT, lift_r)):
        c.ankle[:, side, 2] += 0.3 * v.amp * lift
        c.ankle[:, side, 0] += 0.06 * lift
    swing = 0.35 * v.amp * np.sin(ph)
    c.wrist[:, LEFT, 0] += -swing
    c.wrist[:, RIGHT, 0] += swing
    c.wrist[:, :, 2] += 0.08
    c.root[:, 2] += 0.012 * np.abs(np.sin(ph))
    return c


def limb_extension_left(t: np.ndarray, v: Variation) -> Controls:
    """Left arm raised sideways above the shoulder while the left leg lifts out to the side."""
    c = rest(t, v)
    w = plateau(phase(t, 4.5, v), 2.5) * v.amp
    arm_path(c, LEFT, [DOWN, SIDE, (0.0, 0.6, 0.8)], w)
    c.ankle[:, LEFT, 1] += 0.3 * w
    c.ankle[:, LEFT, 2] += 0.12 * w
    c.root[:, 1] -= 0.06 * w
    c.torso[:, 1] -= 0.1 * w
    return c


def limb_extension_both(t: np.ndarray, v: Variation) -> Controls:
    """Both arms out to a T; each repetition also lifts one leg sideways, alternating sides."""
    c = rest(t, v)
    ph = phase(t, 5.0, v)
    w = plateau(ph, 2.5) * v.amp
    for side in BOTH:
        arm_path(c, side, [DOWN, (0.15, 1.0, 0.1)], w)
    odd = np.mod(np.floor(ph / (2 * np.pi)), 2.0)
    for side, active in ((LEFT, odd), (RIGHT, 1 - odd)):
        sign = 1.0 if side == LEFT else -1.0
        c.ankle[:, side, 1] += sign * 0.22 * w * active
        c.ankle[:, side, 2] += 0.09 * w * active
        c.root[:, 1] -= sign * 0.04 * w * active
    return c


def lunge_left_front(t: np.ndarray, v: Variation) -> Controls:
    """Step forward-left into a lunge, hands on the hips, and push back."""
    c = rest(t, v)
    w = plateau(phase(t, 5.0, v), 2.5) * v.amp
    _hands_on_hips(c)
    c.ankle[:, LEFT] += np.stack([0.42 * w, 0.22 * w, 0 * w], -1)
    c.root[:, 0] += 0.2 * w
    c.root[:, 1] += 0.1 * w
    c.root[:, 2] -= 0.2 * w
    c.knee_pole[:, LEFT] = (1.0, 0.4, 0.0)
    return c


def squat(t: np.ndarray, v: Variation) -> Controls:
    """Deep squats with the arms held forward for balance."""
    c = rest(t, v)
    w = plateau(phase(t, 4.0, v), 2.0)
    squat_depth(c, 0.3 * v.amp * w, back=0.35, lean=1.0)
    for side in BOTH:
        arm_path(c, side, [DOWN, FRONT], w)
        c.knee_pole[:, side] = (1.0, 0.35 if side == LEFT else -0.35, 0.0)
    return c


def raising_hand_left(t: np.ndarray, v: Variation) -> Controls:
    """Left arm raised forward and up overhead, held, lowered."""
    c = rest(t, v)
    w = plateau(phase(t, 4.5, v), 2.5) * min(v.amp, 1.0)
    arm_path(c, LEFT, [DOWN, FRONT, UP], w)
    c.torso[:, 1] -= 0.05 * w
    return c


def lunge_left_side(t: np.ndarray, v: Variation) -> Controls:
    """Side lunge to the left: wide step, weight over the bent left knee, right leg straight."""
    c = rest(t, v)
    w = plateau(phase(t, 5.0, v), 2.5) * v.amp
    c.ankle[:, LEFT, 1] += 0.5 * w
    c.root[:, 1] += 0.26 * w
    c.root[:, 2] -= 0.16 * w
    c.root[:, 0] -= 0.05 * w
    c.torso[:, 0] += 0.3 * w
    c.knee_pole[:, LEFT] = (1.0, 0.7, 0.0)
    for side in BOTH:
        arm_path(c, side, [DOWN, FRONT], 0.75 * w)
    return c


def waving_hand_left(t: np.ndarray, v: Variation) -> Controls:
    """Left hand raised beside the head, forearm waving side to side at about 2 Hz."""
    c = rest(t, v)
    raised = plateau(phase(t, 6.0, v), 3.0)
    wave = np.sin(2 * np.pi * 2.1 * v.speed * t + 6 * v.style[4])
    # Upper arm out to the side, forearm up; the forearm swings about the elbow.
    target = np.stack([0.1 + 0 * t, 0.5 + 0.22 * v.amp * wave, 0.48 - 0.05 * np.abs(wave)], -1)
    approach(c, LEFT, target, raised)
    blend_pole(c, LEFT, (0.1, 1.0, -1.0), raised)
    return c


def picking_up(t: np.ndarray, v: Variation) -> Controls:
    """Bend down, reach the floor with the right hand, straighten up holding the object at the waist."""
    c = rest(t, v)
    u = cycle_fraction(phase(t, 6.0, v))
    bend = keyframes(u, [0, 0.1, 0.4, 0.5, 0.8, 1.0], [0, 0, 1, 1, 0, 0]) * v.amp
    hold = keyframes(u, [0, 0.45, 0.75, 0.9, 1.0], [0, 0, 1, 1, 0])
    c.torso[:, 0] += 1.2 * bend
    squat_depth(c, 0.33 * bend, back=0.4, lean=0.0)
    reach = hang_in_torso(c.torso[:, 0], RIGHT)
    reach[:, 0] += 0.15 * bend
    waist = np.array([0.55, -0.1, -0.55])
    c.wrist[:, RIGHT] = arc_blend(reach, waist, hold)
    c.wrist[:, LEFT] = hang_in_torso(c.torso[:, 0] * 0.6, LEFT)
    c.head[:, 0] += 0.3 * bend
    return c


def throwing_left(t: np.ndarray, v: Variation) -> Controls:
    """Right-hand overhand throw towards the left: wind up back, whip forward across the body."""
    c = rest(t, v)
    u = cycle_fraction(phase(t, 4.0, v))
    knots = [0.0, 0.25, 0.45, 0.55, 0.75, 1.0]
    wrist = arc_keyframes(
        u, knots, [DOWN_R, (-0.5, -0.45, 0.6), (-0.4, -0.5, 0.75), (0.75, 0.35, -0.1), DOWN_R, DOWN_R]
    )
    twist = keyframes(u, knots, [0.0, -0.45, -0.5, 0.55, 0.0, 0.0]) * v.amp
    c.wrist[:, RIGHT] = wrist
    c.elbow_pole[:, RIGHT] = keyframes(
        u, knots, [REST_POLE_R, COCKED_R, COCKED_R, RELEASE_R, REST_POLE_R, REST_POLE_R]
    )
    c.torso[:, 2] += twist
    c.torso[:, 0] += 0.25 * np.maximum(twist, 0)
    c.wrist[:, LEFT] = arc_keyframes(
        u, knots, [DOWN, (0.8, 0.2, 0.0), (0.8, 0.25, 0.05), (0.1, 0.5, -0.6), DOWN, DOWN]
    )
    return c


def kicking_left(t: np.ndarray, v: Variation) -> Controls:
    """Left leg chambers, kicks out to the left-front, returns; arms out for balance."""
    c = rest(t, v)
    u = cycle_fraction(phase(t, 3.5, v))
    knots = [0.0, 0.2, 0.4, 0.5, 0.7, 1.0]
    kick = keyframes(
        u, knots, [(0, 0, 0), (-0.05, 0.02, 0.28), (0.4, 0.3, 0.4), (0.4, 0.3, 0.4), (0, 0, 0), (0, 0, 0)]
    )
    c.ankle[:, LEFT] += kick * v.amp
    c.knee_pole[:, LEFT] = (1.0, 0.5, 0.6)
    w = keyframes(u, knots, [0, 1, 1, 1, 0, 0])
    c.torso[:, 0] -= 0.15 * w
    c.torso[:, 1] -= 0.1 * w
    for side in BOTH:
        arm_path(c, side, [DOWN, (0.4, 1.0, -0.3)], 0.8 * w)
    return c


def body_extension_left(t: np.ndarray, v: Variation) -> Controls:
    """Side bend to the left with the right arm arching over the head, left hand sliding down the leg."""
    c = rest(t, v)
    w = plateau(phase(t, 5.0, v), 2.5) * v.amp
    c.torso[:, 1] += 0.45 * w
    arm_path(c, RIGHT, [DOWN, SIDE, UP, (0.05, -0.45, 0.9)], np.clip(w, 0, 1))
    blend_pole(c, RIGHT, (0.0, -0.6, 0.8), np.clip(w, 0, 1))
    c.wrist[:, LEFT, 2] -= 0.12 * w
    c.root[:, 1] -= 0.04 * w
    return c


def jumping_up(t: np.ndarray, v: Variation) -> Controls:
    """Crouch with the arms back, jump straight up swinging the arms up, land softly."""
    c = rest(t, v)
    u = cycle_fraction(phase(t, 2.4, v))
    knots = [0.0, 0.25, 0.33, 0.42, 0.5, 0.62, 1.0]
    height = keyframes(u, knots, [0.0, -0.16, 0.02, 0.2, 0.02, -0.1, 0.0]) * v.amp
    feet = keyframes(u, knots, [0.0, 0.0, 0.0, 0.16, 0.0, 0.0, 0.0]) * v.amp
    # The arm swing spans the whole take-off (about 0.5 s), as a real counter-movement jump's does.
    arms = keyframes(u, [0.0, 0.2, 0.42, 0.6, 1.0], [0.25, 0.0, 0.95, 0.5, 0.25])
    c.root[:, 2] += height
    c.root[:, 0] -= 0.3 * np.minimum(height, 0)
    c.torso[:, 0] += -0.9 * np.minimum(height, 0)
    c.ankle[:, :, 2] += feet[:, None]
    for side in BOTH:
        arm_path(c, side, [(-0.5, 0.15, -0.8), DOWN, FRONT, UP], arms)
    return c


def bowing(t: np.ndarray, v: Variation) -> Controls:
    """Bow from the hips with the hands kept at the sides of the thighs; hold; rise."""
    c = rest(t, v)
    w = plateau(phase(t, 4.5, v), 2.5)
    c.torso[:, 0] += 0.75 * v.amp * w
    c.root[:, 0] -= 0.05 * w
    c.head[:, 0] += 0.2 * w
    for side in BOTH:
        blend_wrist(c, side, (0.0, 0.1, -0.97), np.ones_like(t))
    return c


MMFI_ACTIONS: dict[str, ActionDef] = {
    "A01": ActionDef("Stretching and relaxing", 2, stretching),
    "A02": ActionDef("Chest expansion (horizontal)", 1, chest_expansion_horizontal),
    "A03": ActionDef("Chest expansion (vertical)", 1, chest_expansion_vertical),
    "A04": ActionDef("Twist (left)", 1, twist_left),
    "A05": ActionDef("Twist (right)", 1, mirrored(twist_left)),
    "A06": ActionDef("Mark time", 2, mark_time),
    "A07": ActionDef("Limb extension (left)", 2, limb_extension_left),
    "A08": ActionDef("Limb extension (right)", 2, mirrored(limb_extension_left)),
    "A09": ActionDef("Lunge (toward left-front)", 2, lunge_left_front),
    "A10": ActionDef("Lunge (toward right-front)", 2, mirrored(lunge_left_front)),
    "A11": ActionDef("Limb extension (both)", 2, limb_extension_both),
    "A12": ActionDef("Squat", 2, squat),
    "A13": ActionDef("Raising hand (left)", 1, raising_hand_left),
    "A14": ActionDef("Raising hand (right)", 1, mirrored(raising_hand_left)),
    "A15": ActionDef("Lunge (toward left side)", 2, lunge_left_side),
    "A16": ActionDef("Lunge (toward right side)", 2, mirrored(lunge_left_side)),
    "A17": ActionDef("Waving hand (left)", 1, waving_hand_left),
    "A18": ActionDef("Waving hand (right)", 1, mirrored(waving_hand_left)),
    "A19": ActionDef("Picking up things", 1, picking_up),
    "A20": ActionDef("Throwing (toward left side)", 1, throwing_left),
    "A21": ActionDef("Throwing (toward right side)", 1, mirrored(throwing_left)),
    "A22": ActionDef("Kicking (toward left side)", 1, kicking_left),
    "A23": ActionDef("Kicking (toward right side)", 1, mirrored(kicking_left)),
    "A24": ActionDef("Body extension (left)", 2, body_extension_left),
    "A25": ActionDef("Body extension (right)", 2, mirrored(body_extension_left)),
    "A26": ActionDef("Jumping up", 2, jumping_up),
    "A27": ActionDef("Bowing", 1, bowing),
}

PROTOCOL_ACTIONS: dict[str, tuple[str, ...]] = {
    "protocol1": tuple(a for a, d in MMFI_ACTIONS.items() if d.protocol == 1),
    "protocol2": tuple(a for a, d in MMFI_ACTIONS.items() if d.protocol == 2),
    "protocol3": tuple(MMFI_ACTIONS),
}
