"""XRF55 classes 23-41 (fitness and whole-body motion) and helpers shared with the gesture classes.

Same conventions as :mod:`actions_xrf55`: 5-second samples, absolute torso-frame wrist targets.
Classes 42-55 are in :mod:`actions_xrf55_gestures`; :mod:`xrf55_classes` merges all three tables.
"""

from __future__ import annotations

import numpy as np

from pta_core.simulator.actions_mmfi import DOWN, ActionDef
from pta_core.simulator.actions_xrf55 import SAMPLE_SECONDS, elbows_down, once
from pta_core.simulator.motions import (
    LEFT,
    RIGHT,
    Controls,
    Variation,
    approach,
    arc_blend,
    arm_path,
    blend_pole,
    half_wave,
    keyframes,
    phase,
    plateau,
    pulse,
    rest,
    squat_depth,
)

BOTH = (LEFT, RIGHT)


def envelope(t: np.ndarray, v: Variation) -> np.ndarray:
    """0 → 1, held for most of the sample, → 0: a gesture done for 3-4 s of the 5 s window."""
    return keyframes(once(t, v, 3.6, earliest=0.1), [0, 0.15, 0.85, 1], [0, 1, 1, 0])


def gait(c: Controls, ph: np.ndarray, stride: float, lift: float, arm_swing: float) -> None:
    """Legs and arms of a walking/running cycle about the (moving) pelvis; feet lift on the forward swing."""
    for side, offset in ((LEFT, 0.0), (RIGHT, np.pi)):
        p = ph + offset
        c.ankle[:, side, 0] += c.root[:, 0] + 0.5 * stride * np.sin(p)
        c.ankle[:, side, 1] += c.root[:, 1]
        c.ankle[:, side, 2] += lift * np.maximum(np.cos(p), 0.0)
        c.wrist[:, side, 0] += -arm_swing * np.sin(p)


def squats(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    w = plateau(phase(t, 2.2, v), 1.5)
    squat_depth(c, 0.32 * v.amp * w, back=0.35, lean=0.9)
    c.wrist[:, LEFT], c.wrist[:, RIGHT] = (0.4, -0.1, -0.2), (0.4, 0.1, -0.2)  # hands clasped at the chest
    elbows_down(c)
    return c


def tai_chi(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    ph = phase(t, 5.0, v)
    squat_depth(c, np.full_like(t, 0.08), back=0.2, lean=0.0)
    c.root[:, 1] += 0.1 * v.amp * np.sin(ph)
    c.torso[:, 2] += 0.3 * np.sin(ph)
    for side, shift in ((LEFT, 0.0), (RIGHT, np.pi)):
        y = 0.15 if side == LEFT else -0.15
        c.wrist[:, side] = np.stack(
            [0.65 + 0.2 * np.cos(ph + shift), y + 0 * ph, -0.15 + 0.25 * np.sin(ph + shift)], -1
        )
    elbows_down(c)
    return c


def boxing(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    ph = phase(t, 0.9, v)
    jab_l, jab_r = half_wave(ph, 3.0)
    for side, jab, y in ((LEFT, jab_l, -0.05), (RIGHT, jab_r, 0.05)):
        guard = np.array([0.42, y, 0.05])
        c.wrist[:, side] = guard + jab[:, None] * (np.array([1.0, -y, 0.05]) - guard) * v.amp
    elbows_down(c)
    c.torso[:, 2] += 0.25 * (jab_r - jab_l)
    c.root[:, 2] += 0.012 * np.abs(np.sin(2 * np.pi * 2.0 * t))
    c.ankle[:, LEFT, 0] += 0.15  # boxing stance
    c.ankle[:, RIGHT, 0] -= 0.1
    return c


def weightlifting(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    w = plateau(phase(t, 2.6, v), 1.5)
    for side in BOTH:
        y = 0.25 if side == LEFT else -0.25
        low, high = np.array([0.28, y, 0.08]), np.array([0.08, y * 1.3, 0.97])
        c.wrist[:, side] = arc_blend(low, high, w * v.amp)
        c.elbow_pole[:, side] = (0.3, 1.0 if side == LEFT else -1.0, -1.0)
    squat_depth(c, 0.06 * (1 - w), back=0.2, lean=0.0)
    return c


def hula_hooping(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    ph = 2 * np.pi * 1.4 * v.speed * t
    c.root[:, 0] += 0.05 * v.amp * np.cos(ph)
    c.root[:, 1] += 0.05 * v.amp * np.sin(ph)
    c.torso[:, 0] -= 0.1 * np.cos(ph)
    c.torso[:, 1] -= 0.1 * np.sin(ph)
    for side in BOTH:
        arm_path(c, side, [DOWN, (0.2, 0.7, 0.5)], np.ones_like(t))
    return c


def jumping_rope(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    ph = phase(t, 0.5, v)
    hop = np.maximum(np.sin(ph), 0.0) ** 1.5
    c.root[:, 2] += 0.05 * v.amp * hop
    c.ankle[:, :, 2] += 0.05 * v.amp * hop[:, None]
    for side in BOTH:
        y = 0.35 if side == LEFT else -0.35
        c.wrist[:, side] = np.stack([0.15 + 0.07 * np.cos(ph), y + 0 * ph, -0.72 + 0.07 * np.sin(ph)], -1)
    elbows_down(c)
    return c


def jumping_jack(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    ph = phase(t, 1.2, v)
    w = pulse(ph)
    hop = np.abs(np.sin(ph))
    c.root[:, 2] += 0.05 * hop
    for side in BOTH:
        sign = 1.0 if side == LEFT else -1.0
        c.ankle[:, side, 1] += sign * 0.22 * w * v.amp
        c.ankle[:, side, 2] += 0.05 * hop
        arm_path(c, side, [DOWN, (0.0, 1.0, 0.0), (0.1, 0.3, 1.0)], w)
    return c


def high_knees(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    ph = phase(t, 0.8, v)
    lift_l, lift_r = half_wave(ph, 1.2)
    for side, lift in ((LEFT, lift_l), (RIGHT, lift_r)):
        c.ankle[:, side, 2] += 0.45 * v.amp * lift
        c.ankle[:, side, 0] += 0.1 * lift
        y = 0.15 if side == LEFT else -0.15
        c.wrist[:, side] = np.stack(
            [0.3 + 0.3 * np.sin(ph) * (1 if side == RIGHT else -1), y + 0 * ph, -0.45 + 0 * ph], -1
        )
    elbows_down(c)
    c.root[:, 2] += 0.02 * np.abs(np.sin(ph))
    return c


def waving(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    raised = envelope(t, v)
    goal = np.stack(
        [0.15 + 0 * t, -0.25 + 0.4 * v.amp * np.sin(2 * np.pi * 1.3 * v.speed * t), 0.88 + 0 * t], -1
    )
    # Up by way of the side: hanging and overhead are nearly opposite, with no arc between them.
    side = arc_blend(c.wrist[:, RIGHT], (0.2, -0.95, 0.1), np.clip(2 * raised, 0, 1))
    c.wrist[:, RIGHT] = arc_blend(side, goal, np.clip(2 * raised - 1, 0, 1))
    blend_pole(c, RIGHT, (0.0, -1.0, -0.5), raised)
    return c


def clapping(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    gap = 1 - pulse(phase(t, 0.5, v))
    c.wrist[:, LEFT] = np.stack([0.6 + 0 * gap, -0.1 + 0.22 * gap * v.amp, -0.12 + 0 * gap], -1)
    c.wrist[:, RIGHT] = np.stack([0.6 + 0 * gap, 0.1 - 0.22 * gap * v.amp, -0.12 + 0 * gap], -1)
    elbows_down(c)
    return c


def falling(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    u = once(t, v, 1.6, earliest=0.5)
    knots = [0, 0.35, 0.7, 1]
    c.root += keyframes(u, knots, [(0, 0, 0), (-0.1, 0.05, -0.3), (-0.35, 0.1, -0.75), (-0.4, 0.1, -0.82)])
    c.torso[:, 0] += keyframes(u, knots, [0, 0.3, -0.8, -1.45])
    c.torso[:, 1] += keyframes(u, knots, [0, 0.15, 0.3, 0.2])
    for side in BOTH:
        c.ankle[:, side] += keyframes(u, knots, [(0, 0, 0), (0, 0, 0), (0.25, 0, 0.05), (0.45, 0, 0.02)])
        arm_path(c, side, [DOWN, (0.3, 0.8, -0.3), (-0.2, 0.9, 0.2)], u)
    c.head[:, 0] += keyframes(u, knots, [0, 0.2, 0.5, 0.6])
    return c


def jumping(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    u = once(t, v, 2.0)
    knots = [0, 0.3, 0.5, 0.65, 0.8, 1]
    c.root[:, 2] += keyframes(u, knots, [0, -0.15, 0.15, -0.08, 0, 0]) * v.amp
    forward = keyframes(u, knots, [0, 0, 0.2, 0.4, 0.4, 0.4])
    c.root[:, 0] += forward
    feet = keyframes(u, knots, [0, 0, 0.12, 0, 0, 0])
    c.ankle[:, :, 0] += keyframes(u, knots, [0, 0, 0.25, 0.4, 0.4, 0.4])[:, None]
    c.ankle[:, :, 2] += feet[:, None]
    c.torso[:, 0] += keyframes(u, knots, [0, 0.5, 0.0, 0.3, 0, 0])
    for side in BOTH:
        arm_path(
            c,
            side,
            [(-0.5, 0.15, -0.8), DOWN, (0.8, 0.1, 0.5)],
            keyframes(u, [0, 0.2, 0.5, 0.75, 1], [0.3, 0, 1, 0.4, 0.3]),
        )
    return c


def running(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    c.yaw += np.pi / 2  # across the sensors' view
    c.root[:, 0] += 0.5 * v.amp * (t - SAMPLE_SECONDS / 2) / SAMPLE_SECONDS * 2
    ph = phase(t, 0.7, v)
    gait(c, ph, stride=0.55, lift=0.25, arm_swing=0.45)
    c.root[:, 2] += 0.03 * np.abs(np.sin(ph))
    c.torso[:, 0] += 0.15
    for side in BOTH:
        c.wrist[:, side, 2] += 0.45  # elbows bent
    return c


def sitting_down(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    u = once(t, v, 2.2)
    return seat(c, keyframes(u, [0, 0.6, 1], [0, 0.85, 1]), keyframes(u, [0, 0.5, 1], [0, 1, 0]))


def standing_up(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    u = once(t, v, 2.2)
    return seat(c, keyframes(u, [0, 0.5, 1], [1, 0.8, 0]), keyframes(u, [0, 0.4, 1], [0, 1, 0]))


def seat(c: Controls, amount: np.ndarray, lean: np.ndarray) -> Controls:
    """Sit on a chair behind the standing spot by ``amount`` (0-1): pelvis down and back, knees forward."""
    c.root[:, 2] -= 0.5 * amount
    c.root[:, 0] -= 0.35 * amount
    c.torso[:, 0] += 0.55 * lean + 0.05 * amount
    for side in BOTH:
        y = 0.2 if side == LEFT else -0.2
        target = np.array([0.55, y, -0.75])  # hands on the thighs
        approach(c, side, target, amount)
    return c


def turning(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    u = once(t, v, 2.0)
    direction = 1.0 if v.style[6] < 0.5 else -1.0
    c.yaw += direction * np.pi * keyframes(u, [0, 1], [0, 1])
    steps = np.sin(np.pi * 4 * u) * (u > 0) * (u < 1)
    lift_l, lift_r = np.maximum(steps, 0), np.maximum(-steps, 0)
    c.ankle[:, LEFT, 2] += 0.08 * lift_l
    c.ankle[:, RIGHT, 2] += 0.08 * lift_r
    return c


def walking(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    direction = 1.0 if v.style[6] < 0.5 else -1.0
    c.yaw += direction * np.pi / 2
    c.root[:, 0] += 0.6 * (t - SAMPLE_SECONDS / 2) / SAMPLE_SECONDS * 2
    gait(c, phase(t, 1.1, v), stride=0.35, lift=0.08, arm_swing=0.25)
    return c


def stretching_side(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    ph = phase(t, 4.0, v)
    c.torso[:, 1] += 0.3 * v.amp * np.sin(ph)
    c.wrist[:, LEFT] = (0.1, -0.12, 0.97)
    c.wrist[:, RIGHT] = (0.1, 0.12, 0.97)
    for side in BOTH:
        c.elbow_pole[:, side] = (0.0, 1.0 if side == LEFT else -1.0, 0.0)
    return c


def patting_shoulder(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    u = once(t, v, 3.0)
    reach = keyframes(u, [0, 0.25, 0.8, 1], [0, 1, 1, 0])
    pat = 0.07 * np.maximum(np.sin(2 * np.pi * 2.5 * t), 0) * reach
    goal = np.stack([0.85 + 0 * t, 0.2 + 0 * t, 0.12 + pat], -1)
    approach(c, RIGHT, goal, reach)
    blend_pole(c, RIGHT, (0.0, -0.6, -1.0), reach)
    return c


def seated(c: Controls) -> None:
    """Seated for the whole sample (instruments played sitting)."""
    seat(c, np.ones(len(c.yaw)), np.zeros(len(c.yaw)))


XRF55_BODY: dict[int, ActionDef] = {
    23: ActionDef("body weight squats", 0, squats),
    24: ActionDef("Tai Chi", 0, tai_chi),
    25: ActionDef("boxing", 0, boxing),
    26: ActionDef("weightlifting", 0, weightlifting),
    27: ActionDef("hula hooping", 0, hula_hooping),
    28: ActionDef("jumping rope", 0, jumping_rope),
    29: ActionDef("jumping jack", 0, jumping_jack),
    30: ActionDef("high leg lifting", 0, high_knees),
    31: ActionDef("waving", 0, waving),
    32: ActionDef("clapping hands", 0, clapping),
    33: ActionDef("falling on the floor", 0, falling),
    34: ActionDef("jumping", 0, jumping),
    35: ActionDef("running", 0, running),
    36: ActionDef("sitting down", 0, sitting_down),
    37: ActionDef("standing up", 0, standing_up),
    38: ActionDef("turning", 0, turning),
    39: ActionDef("walking", 0, walking),
    40: ActionDef("stretching", 0, stretching_side),
    41: ActionDef("patting on the shoulder", 0, patting_shoulder),
}
