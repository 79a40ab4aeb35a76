"""XRF55 classes 42-55 (playing instruments, head and hand gestures, human-computer swipes).

Same conventions as :mod:`actions_xrf55`: 5-second samples, absolute torso-frame wrist targets.
"""

from __future__ import annotations

import numpy as np

from pta_core.simulator.actions_mmfi import DOWN, DOWN_R, ActionDef
from pta_core.simulator.actions_xrf55 import elbows_down, once, put
from pta_core.simulator.actions_xrf55_body import BOTH, envelope, gait, seated
from pta_core.simulator.motions import (
    LEFT,
    RIGHT,
    Controls,
    Variation,
    approach,
    half_wave,
    keyframes,
    phase,
    pulse,
    rest,
)


def erhu(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    seated(c)
    bow = np.sin(phase(t, 2.0, v))
    c.wrist[:, LEFT] = np.stack(
        [0.45 + 0 * bow, 0.15 + 0 * bow, -0.05 + 0.03 * np.sin(2 * np.pi * 3 * t)], -1
    )
    c.wrist[:, RIGHT] = np.stack([0.6 + 0 * bow, -0.05 - 0.3 * v.amp * bow, -0.5 + 0 * bow], -1)
    elbows_down(c)
    return c


def ukulele(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    strum = np.sin(phase(t, 0.35, v))
    c.wrist[:, LEFT] = np.stack([0.6 + 0 * t, 0.3 + 0 * t, -0.1 + 0.02 * np.sin(2 * np.pi * 0.8 * t)], -1)
    c.elbow_pole[:, LEFT] = (-0.2, 1.0, -0.5)
    c.wrist[:, RIGHT] = np.stack([0.45 + 0 * t, 0.0 + 0 * t, -0.45 + 0.08 * v.amp * strum], -1)
    c.elbow_pole[:, RIGHT] = (-0.3, -1.0, -0.5)
    c.head[:, 0] += 0.25
    return c


def drum(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    seated(c)
    hit_l, hit_r = half_wave(phase(t, 0.5, v), 1.0)
    for side, hit in ((LEFT, hit_l), (RIGHT, hit_r)):
        y = 0.2 if side == LEFT else -0.2
        c.wrist[:, side] = np.stack([0.65 + 0 * hit, y + 0 * hit, -0.5 + 0.2 * v.amp * hit], -1)
    elbows_down(c)
    c.ankle[:, RIGHT, 2] += 0.04 * pulse(phase(t, 1.0, v))  # bass pedal
    return c


def foot_stamping(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    lift = np.maximum(np.sin(phase(t, 0.7, v)), 0.0) ** 0.6  # slow rise, hard stamp
    c.ankle[:, RIGHT, 2] += 0.14 * v.amp * lift
    c.ankle[:, RIGHT, 0] += 0.03 * lift
    c.root[:, 1] += 0.03 * lift
    return c


def shaking_head(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    c.head[:, 1] += 0.55 * v.amp * np.sin(phase(t, 0.7, v)) * envelope(t, v)
    return c


def nodding(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    c.head[:, 0] += 0.35 * v.amp * pulse(phase(t, 0.8, v)) * envelope(t, v)
    return c


def drawing_circle(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    ph = phase(t, 1.8, v)
    r = 0.28 * v.amp
    c.wrist[:, RIGHT] = np.stack([0.8 + 0 * ph, -0.15 + r * np.cos(ph), 0.05 + r * np.sin(ph)], -1)
    c.elbow_pole[:, RIGHT] = (0.0, -0.6, -1.0)
    return c


def drawing_cross(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    u = np.mod(phase(t, 2.5, v) / (2 * np.pi), 1.0)
    tl, br, tr, bl = (0.8, 0.1, 0.3), (0.8, -0.4, -0.2), (0.8, -0.4, 0.3), (0.8, 0.1, -0.2)
    put(c, RIGHT, u, [0, 0.2, 0.4, 0.6, 0.8, 1], [tl, br, tr, bl, (0.7, -0.1, 0.0), tl])
    c.elbow_pole[:, RIGHT] = (0.0, -0.6, -1.0)
    return c


def pushing(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    u = once(t, v, 3.5)
    effort = keyframes(u, [0, 0.2, 0.85, 1], [0, 1, 1, 0])
    progress = keyframes(u, [0, 0.2, 0.85, 1], [0, 0, 1, 1])
    for side in BOTH:
        y = 0.15 if side == LEFT else -0.15
        approach(c, side, np.array([0.85, y, -0.1]), effort)
    elbows_down(c)
    c.torso[:, 0] += 0.35 * effort
    c.root[:, 0] += 0.35 * progress
    gait(c, 2 * np.pi * progress * 1.5, stride=0.15, lift=0.05, arm_swing=0.0)
    return c


def pulling(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    u = once(t, v, 3.0)
    knots = [0, 0.25, 0.4, 0.75, 1]
    put(c, LEFT, u, knots, [DOWN, (0.95, 0.12, -0.2), (0.95, 0.12, -0.2), (0.3, 0.18, -0.35), DOWN])
    put(c, RIGHT, u, knots, [DOWN_R, (0.95, -0.12, -0.2), (0.95, -0.12, -0.2), (0.3, -0.18, -0.35), DOWN_R])
    elbows_down(c)
    c.torso[:, 0] += keyframes(u, knots, [0, 0.2, 0.2, -0.2, 0])
    c.root[:, 0] += keyframes(u, knots, [0, 0.05, 0.05, -0.12, -0.12])
    return c


def _swipe(start: tuple, end: tuple):
    def motion(t: np.ndarray, v: Variation) -> Controls:
        c = rest(t, v)
        u = once(t, v, 1.8)
        put(c, RIGHT, u, [0, 0.35, 0.55, 1], [DOWN_R, start, end, DOWN_R])
        c.elbow_pole[:, RIGHT] = (-0.2, -0.6, -1.0)
        return c

    return motion


XRF55_GESTURES: dict[int, ActionDef] = {
    42: ActionDef("playing Er-Hu", 0, erhu),
    43: ActionDef("playing Ukulele", 0, ukulele),
    44: ActionDef("playing drum", 0, drum),
    45: ActionDef("foot stamping", 0, foot_stamping),
    46: ActionDef("shaking head", 0, shaking_head),
    47: ActionDef("nodding", 0, nodding),
    48: ActionDef("drawing a circle", 0, drawing_circle),
    49: ActionDef("drawing a cross", 0, drawing_cross),
    50: ActionDef("pushing", 0, pushing),
    51: ActionDef("pulling", 0, pulling),
    52: ActionDef("swiping left", 0, _swipe((0.75, -0.5, -0.05), (0.75, 0.25, -0.05))),
    53: ActionDef("swiping right", 0, _swipe((0.75, 0.25, -0.05), (0.75, -0.5, -0.05))),
    54: ActionDef("swiping up", 0, _swipe((0.75, -0.1, -0.45), (0.75, -0.1, 0.45))),
    55: ActionDef("swiping down", 0, _swipe((0.75, -0.1, 0.45), (0.75, -0.1, -0.45))),
}
