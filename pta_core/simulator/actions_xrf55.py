"""XRF55 classes 1-22 (human-object and human-human interaction) as 5-second motions.

Each sample is 5 s long. One-off actions (throwing, drinking, handing over...) happen once at a
random moment; ongoing ones (mopping, cutting, brushing teeth...) repeat. Only the subject's body
is modelled: objects and partners are implied by where the hands go. Wrist targets here are
written in the torso frame with absolute y (left +), in arm lengths; see :mod:`motions`.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from pta_core.simulator.actions_mmfi import (
    COCKED_R,
    DOWN,
    DOWN_R,
    RELEASE_R,
    REST_POLE_R,
    ActionDef,
    picking_up,
)
from pta_core.simulator.motions import (
    LEFT,
    RIGHT,
    Controls,
    Variation,
    approach,
    arc_blend,
    arc_keyframes,
    blend_pole,
    hang_in_torso,
    keyframes,
    phase,
    plateau,
    pulse,
    rest,
    squat_depth,
)

SAMPLE_SECONDS = 5.0
MOUTH_R = (0.28, 0.3, 0.36)  # right wrist at the mouth
CHEST_L, CHEST_R = (0.4, -0.08, -0.3), (0.4, 0.08, -0.3)


def once(t: np.ndarray, v: Variation, duration: float, earliest: float = 0.2) -> np.ndarray:
    """Progress 0 → 1 (linear) of a one-off action of ``duration`` s starting at a random moment."""
    d = duration / v.speed
    start = earliest + v.s(5) * max(0.0, SAMPLE_SECONDS - d - earliest - 0.2)
    return np.clip((t - start) / d, 0.0, 1.0)


def put(c: Controls, side: int, u: np.ndarray, knots: list[float], keys: list) -> None:
    """Key-framed wrist path for one hand (absolute torso-frame targets)."""
    c.wrist[:, side] = arc_keyframes(u, knots, keys)


def elbows_down(c: Controls) -> None:
    c.elbow_pole[:, LEFT] = (-0.2, 0.5, -1.0)
    c.elbow_pole[:, RIGHT] = (-0.2, -0.5, -1.0)


def carrying_weight(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    u = once(t, v, 3.5)
    bend = keyframes(u, [0, 0.15, 0.35, 0.55, 1], [0, 1, 1, 0, 0])
    c.torso[:, 0] += 0.9 * bend
    squat_depth(c, 0.3 * bend, back=0.3, lean=0.0)
    hold = keyframes(u, [0, 0.3, 0.55, 1], [0, 0, 1, 1])
    for side, y in ((LEFT, 0.2), (RIGHT, -0.2)):
        low = hang_in_torso(c.torso[:, 0], side)
        low[:, 0] += 0.2
        c.wrist[:, side] = arc_blend(low, np.array([0.5, y, -0.55]), hold)
    elbows_down(c)
    c.torso[:, 0] -= 0.12 * hold  # lean back under the load
    c.root[:, 1] += 0.03 * hold * np.sin(2 * np.pi * 0.9 * t)
    return c


def mopping(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    s = np.sin(phase(t, 1.8, v))
    c.torso[:, 0] += 0.35
    c.torso[:, 2] += 0.25 * v.amp * s
    c.wrist[:, LEFT] = np.stack([0.75 + 0 * s, 0.0 + 0.3 * v.amp * s, -0.25 + 0 * s], -1)
    c.wrist[:, RIGHT] = np.stack([0.8 + 0 * s, -0.1 + 0.3 * v.amp * s, -0.6 + 0 * s], -1)
    elbows_down(c)
    return c


def using_phone(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    tap = 0.02 * np.sin(2 * np.pi * 3.0 * t)
    c.wrist[:, LEFT] = np.array([0.55, -0.04, -0.25]) + tap[:, None] * np.array([0, 0, 1.0])
    c.wrist[:, RIGHT] = np.array([0.55, 0.04, -0.25]) - tap[:, None] * np.array([0, 0, 1.0])
    elbows_down(c)
    c.head[:, 0] += 0.5 - 0.35 * plateau(phase(t, 4.0, v), 4.0)  # glances up now and then
    return c


def throwing(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    u = once(t, v, 2.2)
    knots = [0, 0.3, 0.5, 0.68, 1]
    put(c, RIGHT, u, knots, [DOWN_R, (-0.55, -0.35, 0.6), (-0.45, -0.4, 0.7), (0.9, -0.05, 0.05), DOWN_R])
    c.elbow_pole[:, RIGHT] = keyframes(u, knots, [REST_POLE_R, COCKED_R, COCKED_R, RELEASE_R, REST_POLE_R])
    c.torso[:, 2] += keyframes(u, knots, [0, -0.4, -0.45, 0.3, 0])
    c.torso[:, 0] += keyframes(u, knots, [0, -0.1, -0.15, 0.35, 0])
    put(c, LEFT, u, knots, [DOWN, (0.7, 0.2, 0.0), (0.75, 0.2, 0.0), (0.2, 0.4, -0.6), DOWN])
    return c


def picking(t: np.ndarray, v: Variation) -> Controls:
    # One pick-up within the sample: the MM-Fi motion's 6 s cycle, started at a random moment.
    u = once(t, v, 3.0)
    shifted = dataclasses.replace(v, speed=1.0, phase0=0.0, warp_amp=(0.0, 0.0))
    return picking_up(u * 6.0, shifted)


def putting_on_table(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    u = once(t, v, 3.0)
    knots = [0, 0.25, 0.55, 0.7, 1]
    put(c, LEFT, u, knots, [DOWN, CHEST_L, (0.85, 0.12, -0.6), (0.85, 0.12, -0.6), DOWN])
    put(c, RIGHT, u, knots, [DOWN_R, CHEST_R, (0.85, -0.12, -0.6), (0.85, -0.12, -0.6), DOWN_R])
    c.torso[:, 0] += keyframes(u, knots, [0, 0.05, 0.35, 0.35, 0])
    elbows_down(c)
    return c


def cutting(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    chop = pulse(phase(t, 0.45, v)) * v.amp
    c.torso[:, 0] += 0.25
    c.wrist[:, LEFT] = (0.7, 0.05, -0.55)
    c.wrist[:, RIGHT] = np.stack([0.7 + 0 * chop, -0.15 + 0 * chop, -0.42 - 0.12 * chop], -1)
    elbows_down(c)
    c.head[:, 0] += 0.35
    return c


def wearing_hat(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    u = once(t, v, 2.8)
    knots = [0, 0.35, 0.6, 0.75, 0.87, 1]
    put(
        c,
        LEFT,
        u,
        knots,
        [DOWN, (0.45, -0.2, 0.75), (0.1, -0.3, 0.7), (0.1, -0.3, 0.7), (0.55, 0.1, -0.3), DOWN],
    )
    put(
        c,
        RIGHT,
        u,
        knots,
        [DOWN_R, (0.45, 0.2, 0.75), (0.1, 0.3, 0.7), (0.1, 0.3, 0.7), (0.55, -0.1, -0.3), DOWN_R],
    )
    up = keyframes(u, knots, [0, 1, 1, 1, 0.3, 0])
    blend_pole(c, LEFT, (0.2, 1.0, 0.0), up)
    blend_pole(c, RIGHT, (0.2, -1.0, 0.0), up)
    c.head[:, 0] += 0.15 * up
    return c


def putting_on_clothing(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    u = once(t, v, 4.0)
    knots = [0, 0.2, 0.35, 0.55, 0.7, 0.85, 1]
    put(
        c,
        RIGHT,
        u,
        knots,
        [DOWN_R, (-0.2, -0.8, -0.4), (0.1, -0.45, -0.6), CHEST_R, CHEST_R, (0.4, 0.05, -0.15), DOWN_R],
    )
    put(
        c,
        LEFT,
        u,
        knots,
        [DOWN, (0.3, 0.4, -0.5), (-0.2, 0.8, -0.4), (0.1, 0.45, -0.6), CHEST_L, (0.4, -0.05, -0.15), DOWN],
    )
    c.torso[:, 2] += keyframes(u, knots, [0, -0.3, 0.0, 0.3, 0, 0, 0])
    return c


def blow_drying(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    ph = phase(t, 0.7, v)
    c.wrist[:, RIGHT] = np.stack(
        [0.15 + 0.08 * np.cos(ph), -0.1 + 0 * ph, 0.55 + 0.1 * v.amp * np.sin(ph)], -1
    )
    c.elbow_pole[:, RIGHT] = (0.0, -1.0, 0.2)
    c.wrist[:, LEFT] = np.stack([0.05 + 0.05 * np.sin(0.5 * ph), -0.3 + 0 * ph, 0.72 + 0 * ph], -1)
    c.elbow_pole[:, LEFT] = (0.0, 1.0, 0.2)
    c.head[:, 0] += 0.2
    c.head[:, 1] += 0.15 * np.sin(0.3 * ph)
    return c


def combing(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    u = np.mod(phase(t, 1.4, v) / (2 * np.pi), 1.0)
    put(
        c,
        RIGHT,
        u,
        [0, 0.5, 0.8, 1],
        [(0.35, 0.28, 0.5), (-0.15, 0.28, 0.6), (0.1, 0.1, 0.5), (0.35, 0.28, 0.5)],
    )
    c.elbow_pole[:, RIGHT] = (0.1, -1.0, 0.3)
    return c


def brushing_teeth(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    scrub = 0.05 * v.amp * np.sin(phase(t, 0.3, v))
    c.wrist[:, RIGHT] = np.array(MOUTH_R) + scrub[:, None] * np.array([0.0, 1.0, 0.0])
    c.elbow_pole[:, RIGHT] = (0.0, -0.6, -1.0)
    c.head[:, 0] += 0.2
    return c


def drinking(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    u = once(t, v, 3.2)
    knots = [0, 0.3, 0.45, 0.7, 1]
    put(c, RIGHT, u, knots, [DOWN_R, (0.45, -0.05, -0.3), MOUTH_R, (0.3, 0.28, 0.45), DOWN_R])
    c.elbow_pole[:, RIGHT] = (0.0, -0.6, -1.0)
    c.head[:, 0] -= 0.45 * keyframes(u, knots, [0, 0, 0.6, 1, 0])
    return c


def eating(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    w = plateau(phase(t, 2.2, v), 2.0)
    table = np.array([0.7, -0.1, -0.45])
    c.wrist[:, RIGHT] = arc_blend(table, MOUTH_R, w)
    c.elbow_pole[:, RIGHT] = (0.0, -0.6, -1.0)
    c.wrist[:, LEFT] = (0.65, 0.1, -0.5)
    elbows_down(c)
    c.head[:, 0] += 0.3 * (1 - w)
    c.torso[:, 0] += 0.15
    return c


def smoking(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    w = plateau(phase(t, 4.0, v), 3.0)
    low = np.array([0.3, -0.05, -0.65])
    c.wrist[:, RIGHT] = arc_blend(low, MOUTH_R, w)
    c.elbow_pole[:, RIGHT] = (-0.3, -0.8, -1.0)
    c.wrist[:, LEFT] = (0.3, 0.0, -0.45)  # arm folded across the belly
    c.elbow_pole[:, LEFT] = (-0.2, 0.5, -1.0)
    c.head[:, 0] -= 0.15 * w
    return c


def shaking_hands(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    u = once(t, v, 3.2)
    reach = keyframes(u, [0, 0.25, 0.8, 1], [0, 1, 1, 0])
    shake = 0.06 * np.sin(2 * np.pi * 2.5 * t) * keyframes(u, [0, 0.3, 0.75, 1], [0, 1, 1, 0])
    goal = np.stack([0.85 + 0 * t, 0.02 + 0 * t, -0.35 + shake], -1)
    approach(c, RIGHT, goal, reach)
    c.root[:, 0] += 0.08 * reach
    c.ankle[:, RIGHT, 0] += 0.16 * reach
    return c


def hugging(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    u = once(t, v, 3.5)
    knots = [0, 0.3, 0.5, 0.8, 1]
    put(c, LEFT, u, knots, [DOWN, (0.7, 0.45, -0.05), (0.55, -0.2, -0.05), (0.55, -0.2, -0.05), DOWN])
    put(c, RIGHT, u, knots, [DOWN_R, (0.7, -0.45, -0.15), (0.55, 0.2, -0.15), (0.55, 0.2, -0.15), DOWN_R])
    c.elbow_pole[:, LEFT] = (0.0, 1.0, -0.3)
    c.elbow_pole[:, RIGHT] = (0.0, -1.0, -0.3)
    close = keyframes(u, knots, [0, 0.6, 1, 1, 0])
    c.root[:, 0] += 0.12 * close
    c.ankle[:, LEFT, 0] += 0.2 * close
    c.torso[:, 0] += 0.15 * close
    return c


def handing_over(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    u = once(t, v, 3.0)
    knots = [0, 0.25, 0.5, 0.7, 1]
    put(c, RIGHT, u, knots, [DOWN_R, CHEST_R, (0.95, -0.02, -0.15), (0.95, -0.02, -0.15), DOWN_R])
    c.elbow_pole[:, RIGHT] = (-0.2, -0.6, -1.0)
    c.torso[:, 0] += 0.15 * keyframes(u, knots, [0, 0, 1, 1, 0])
    return c


def kicking_someone(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    u = once(t, v, 1.8)
    knots = [0, 0.3, 0.5, 0.65, 1]
    c.ankle[:, RIGHT] += (
        keyframes(u, knots, [(0, 0, 0), (0.05, 0, 0.3), (0.55, 0, 0.45), (0.3, 0, 0.3), (0, 0, 0)]) * v.amp
    )
    guard = keyframes(u, knots, [0, 1, 1, 1, 0])
    for side, y in ((LEFT, -0.05), (RIGHT, 0.05)):
        approach(c, side, np.array([0.45, y, 0.05]), guard)
    elbows_down(c)
    c.torso[:, 0] -= 0.2 * guard
    return c


def hitting_with_object(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    u = once(t, v, 2.0)
    knots = [0, 0.2, 0.4, 0.55, 0.75, 1]
    put(
        c,
        RIGHT,
        u,
        knots,
        [DOWN_R, (0.1, -0.9, 0.2), (-0.2, -0.15, 0.95), (-0.15, -0.15, 0.95), (0.8, 0.0, -0.35), DOWN_R],
    )
    c.elbow_pole[:, RIGHT] = keyframes(
        u, knots, [REST_POLE_R, (0.0, -0.3, -1.0), (0.3, -1.0, 0.2), (0.3, -1.0, 0.2), RELEASE_R, REST_POLE_R]
    )
    c.torso[:, 0] += keyframes(u, knots, [0, 0, -0.15, -0.15, 0.4, 0])
    return c


def choking(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    u = once(t, v, 3.5)
    grip = keyframes(u, [0, 0.25, 0.8, 1], [0, 1, 1, 0])
    shake = 0.05 * np.sin(2 * np.pi * 3.0 * t) * grip
    for side, y in ((LEFT, -0.12), (RIGHT, 0.12)):
        goal = np.stack([0.88 + shake, y + 0 * t, 0.08 + 0 * t], -1)
        approach(c, side, goal, grip)
    elbows_down(c)
    c.torso[:, 0] += 0.15 * grip
    return c


def pushing_someone(t: np.ndarray, v: Variation) -> Controls:
    c = rest(t, v)
    u = once(t, v, 1.6)
    knots = [0, 0.35, 0.5, 0.65, 1]
    put(c, LEFT, u, knots, [DOWN, (0.3, 0.1, -0.2), (1.0, 0.12, -0.05), (1.0, 0.12, -0.05), DOWN])
    put(c, RIGHT, u, knots, [DOWN_R, (0.3, -0.1, -0.2), (1.0, -0.12, -0.05), (1.0, -0.12, -0.05), DOWN_R])
    elbows_down(c)
    step = keyframes(u, knots, [0, 0, 1, 1, 0])
    c.root[:, 0] += 0.1 * step
    c.ankle[:, LEFT, 0] += 0.2 * step
    c.torso[:, 0] += 0.2 * step
    return c


XRF55_DAILY: dict[int, ActionDef] = {
    1: ActionDef("carrying weight", 0, carrying_weight),
    2: ActionDef("mopping the floor", 0, mopping),
    3: ActionDef("using a phone", 0, using_phone),
    4: ActionDef("throwing something", 0, throwing),
    5: ActionDef("picking something", 0, picking),
    6: ActionDef("putting something on the table", 0, putting_on_table),
    7: ActionDef("cutting something", 0, cutting),
    8: ActionDef("wearing a hat", 0, wearing_hat),
    9: ActionDef("putting on clothing", 0, putting_on_clothing),
    10: ActionDef("blowing dry hair", 0, blow_drying),
    11: ActionDef("combing hair", 0, combing),
    12: ActionDef("brushing teeth", 0, brushing_teeth),
    13: ActionDef("drinking", 0, drinking),
    14: ActionDef("eating", 0, eating),
    15: ActionDef("smoking", 0, smoking),
    16: ActionDef("shaking hands", 0, shaking_hands),
    17: ActionDef("hugging", 0, hugging),
    18: ActionDef("handing something to someone", 0, handing_over),
    19: ActionDef("kicking someone", 0, kicking_someone),
    20: ActionDef("hitting someone with something", 0, hitting_with_object),
    21: ActionDef("choking someone's neck", 0, choking),
    22: ActionDef("pushing someone", 0, pushing_someone),
}
