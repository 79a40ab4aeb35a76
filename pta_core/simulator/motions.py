"""Motion building blocks: the control signals a motion produces and the timing helpers motions use.

A motion is a pure function ``motion(t, v) -> Controls`` of time ``t`` (T,) in seconds and a
per-sequence :class:`Variation` (speed, amplitude, phase, time warp, style draws). It uses no
random generator, so a sequence can be evaluated at any instants (frame times, radio packet
times, finite-difference offsets) and always gives the same body.

Control conventions (heading frame: x forward, y the person's left, z up):
- ``root`` (T, 3): pelvis offset from its standing spot, in units of leg length.
- ``yaw`` (T,): heading change (rad, left turn +), added to the sequence's base heading.
- ``torso`` (T, 3): pitch (bend forward +), roll (bend to the left +), twist (turn left +), rad.
- ``head`` (T, 2): pitch (look down +), yaw (turn left +), rad.
- ``wrist`` (T, 2, 3): [left, right] wrist target relative to the shoulder, torso frame, in arm lengths.
- ``elbow_pole`` (T, 2, 3): torso-frame direction each elbow bends towards.
- ``ankle`` (T, 2, 3): [left, right] ankle offset from its standing spot, heading frame, in leg lengths.
  Feet stay planted unless a motion moves them, so a lowered pelvis bends the knees.
- ``knee_pole`` (T, 2, 3): heading-frame direction each knee bends towards.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pta_core.simulator.geometry import normalize, path_dirs

LEFT, RIGHT = 0, 1
HANG = (0.03, 0.13, -0.99)  # left wrist hanging beside the thigh (mirror y for the right)


@dataclass
class Controls:
    """Joint-space control signals of a body over T instants (see the module docstring)."""

    root: np.ndarray
    yaw: np.ndarray
    torso: np.ndarray
    head: np.ndarray
    wrist: np.ndarray
    elbow_pole: np.ndarray
    ankle: np.ndarray
    knee_pole: np.ndarray

    def copy(self) -> Controls:
        return Controls(**{f.name: getattr(self, f.name).copy() for f in dataclasses.fields(self)})


@dataclass(frozen=True)
class Variation:
    """Per-sequence randomness of a motion, drawn once; motions read it, never an RNG."""

    speed: float  # tempo multiplier
    amp: float  # amplitude multiplier of the main excursion
    phase0: float  # cycles
    warp_amp: tuple[float, float]  # slow time warp, in cycles
    warp_freq: tuple[float, float]  # Hz
    warp_phase: tuple[float, float]
    sway: float  # idle lateral sway of the pelvis, leg lengths
    style: tuple[float, ...]  # uniforms in [0, 1) that a motion may use for its own choices

    def s(self, i: int, low: float = 0.0, high: float = 1.0) -> float:
        """Style draw ``i`` mapped to [low, high)."""
        return low + (high - low) * self.style[i % len(self.style)]


Motion = Callable[[np.ndarray, Variation], Controls]


def draw_variation(rng: np.random.Generator) -> Variation:
    return Variation(
        speed=float(rng.uniform(0.8, 1.25)),
        amp=float(rng.uniform(0.85, 1.15)),
        phase0=float(rng.uniform(0.0, 1.0)),
        warp_amp=tuple(float(a) for a in rng.uniform(0.0, 0.08, 2)),
        warp_freq=tuple(float(f) for f in rng.uniform(0.02, 0.1, 2)),
        warp_phase=tuple(float(p) for p in rng.uniform(0.0, 2 * np.pi, 2)),
        sway=float(rng.uniform(0.005, 0.02)),
        style=tuple(float(x) for x in rng.uniform(0.0, 1.0, 8)),
    )


def personal(v: Variation, rng: np.random.Generator) -> Variation:
    """Apply a person's habitual tempo (0.85-1.15) and range of motion (0.9-1.1) to a sequence's draw.

    ``rng`` is keyed by the person, so every sequence of a subject shares the habit: what a
    cross-subject split has to generalise over.
    """
    tempo, reach = rng.uniform(0.85, 1.15), rng.uniform(0.9, 1.1)
    return dataclasses.replace(v, speed=float(v.speed * tempo), amp=float(v.amp * reach))


# ---------------------------------------------------------------------------------------------
# Timing


def phase(t: np.ndarray, period: float, v: Variation) -> np.ndarray:
    """Cycle phase (rad) of a repeated movement with the sequence's tempo, offset and slow warp.

    The warp's rate is bounded well below the base rate, so the phase never runs backwards.
    """
    warp = sum(a * np.sin(2 * np.pi * f * t + p) for a, f, p in zip(v.warp_amp, v.warp_freq, v.warp_phase))
    return 2 * np.pi * (t * v.speed / period + v.phase0 + warp)


def pulse(ph: np.ndarray) -> np.ndarray:
    """0 → 1 → 0 over one cycle, smooth: the shape of one repetition."""
    return 0.5 - 0.5 * np.cos(ph)


def plateau(ph: np.ndarray, sharpness: float = 3.0) -> np.ndarray:
    """Like :func:`pulse` but holds near 0 and 1 (reach a pose, hold it, come back)."""
    return 0.5 - 0.5 * np.tanh(sharpness * np.cos(ph)) / np.tanh(sharpness)


def ramp(t: np.ndarray, start: float, duration: float) -> np.ndarray:
    """Smoothstep from 0 (before ``start``) to 1 (after ``start + duration``): one-off transitions."""
    x = np.clip((t - start) / max(duration, 1e-6), 0.0, 1.0)
    return x * x * (3 - 2 * x)


def bump(t: np.ndarray, start: float, duration: float) -> np.ndarray:
    """A single smooth 0 → 1 → 0 excursion over [start, start + duration]: a one-off repetition."""
    x = np.clip((t - start) / max(duration, 1e-6), 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(2 * np.pi * x)


def half_wave(ph: np.ndarray, power: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Alternating left/right lifts: (max(sin, 0)^p, max(-sin, 0)^p)."""
    s = np.sin(ph)
    return np.maximum(s, 0.0) ** power, np.maximum(-s, 0.0) ** power


# ---------------------------------------------------------------------------------------------
# Poses


def rest(t: np.ndarray, v: Variation) -> Controls:
    """Standing relaxed, arms hanging, with small idle sway, breathing and head motion."""
    t = np.asarray(t, dtype=np.float64)
    n = t.shape[0]
    spread = 0.03 * (v.s(7) - 0.5)
    wrist = np.empty((n, 2, 3))
    wrist[:, LEFT] = (HANG[0], HANG[1] + spread, HANG[2])
    wrist[:, RIGHT] = (HANG[0], -HANG[1] - spread, HANG[2])
    elbow_pole = np.empty((n, 2, 3))
    elbow_pole[:, LEFT] = (-1.0, 0.25, 0.0)
    elbow_pole[:, RIGHT] = (-1.0, -0.25, 0.0)
    knee_pole = np.empty((n, 2, 3))
    knee_pole[:, LEFT] = (1.0, 0.08, 0.0)
    knee_pole[:, RIGHT] = (1.0, -0.08, 0.0)
    root = np.zeros((n, 3))
    root[:, 1] = v.sway * np.sin(2 * np.pi * 0.17 * t + 6 * v.style[0])
    torso = np.zeros((n, 3))
    torso[:, 0] = 0.015 * np.sin(2 * np.pi * 0.25 * t + 6 * v.style[1])  # breathing
    head = np.zeros((n, 2))
    head[:, 0] = 0.04 * np.sin(2 * np.pi * 0.11 * t + 6 * v.style[2])
    head[:, 1] = 0.05 * np.sin(2 * np.pi * 0.07 * t + 6 * v.style[3])
    return Controls(root, np.zeros(n), torso, head, wrist, elbow_pole, np.zeros((n, 2, 3)), knee_pole)


def mirror(c: Controls) -> Controls:
    """Left/right mirror image of a motion (swap sides, negate lateral components and turns)."""
    out = c.copy()
    flip = np.array([1.0, -1.0, 1.0])
    for name in ("wrist", "elbow_pole", "ankle", "knee_pole"):
        arr = getattr(c, name)
        setattr(out, name, arr[:, ::-1] * flip)
    out.root = c.root * flip
    out.yaw = -c.yaw
    out.torso = c.torso * np.array([1.0, -1.0, -1.0])
    out.head = c.head * np.array([1.0, -1.0])
    return out


def mirrored(motion: Motion) -> Motion:
    def run(t: np.ndarray, v: Variation) -> Controls:
        return mirror(motion(t, v))

    run.__doc__ = f"Mirror image of {motion.__name__}."
    return run


def side_dir(x: float, y: float, z: float, side: int) -> tuple[float, float, float]:
    """A left-side direction, mirrored for the right side."""
    return (x, y if side == LEFT else -y, z)


def arm_path(
    c: Controls,
    side: int,
    keys: list[tuple[float, float, float]],
    w: np.ndarray,
    reach: float | np.ndarray = 0.98,
) -> None:
    """Move one wrist along a polyline of left-side key directions (mirrored for the right)."""
    mirrored_keys = [side_dir(*k, side) for k in keys]
    c.wrist[:, side] = np.asarray(reach)[..., None] * path_dirs(mirrored_keys, w)


def arc_blend(start: np.ndarray, goal: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Wrist targets between ``start`` and ``goal`` (arm lengths, from the shoulder) along the arc
    around the shoulder: directions interpolated on the sphere, reach linearly. (A straight line
    from a hanging hand to a raised one passes through the shoulder: the arm would fold up and
    the elbow swing round.) Shapes broadcast to (T, 3); w: (T,).
    """
    w = np.asarray(w, dtype=np.float64)[..., None]
    start, goal = np.broadcast_arrays(np.asarray(start, dtype=np.float64), np.asarray(goal, dtype=np.float64))
    r0 = np.linalg.norm(start, axis=-1, keepdims=True)
    r1 = np.linalg.norm(goal, axis=-1, keepdims=True)
    direction = normalize((1 - w) * start / np.maximum(r0, 1e-9) + w * goal / np.maximum(r1, 1e-9))
    return direction * ((1 - w) * r0 + w * r1)


def approach(c: Controls, side: int, goal, w: np.ndarray) -> None:
    """Move one wrist from its current target towards ``goal`` (absolute torso frame) by weight w, on the arc."""
    c.wrist[:, side] = arc_blend(c.wrist[:, side], goal, w)


def blend_wrist(c: Controls, side: int, target: tuple[float, float, float], w: np.ndarray) -> None:
    """Blend one wrist towards a left-side ``target`` (mirrored for the right) by weight w, on the arc."""
    approach(c, side, side_dir(*target, side), w)


def blend_pole(c: Controls, side: int, pole: tuple[float, float, float], w: np.ndarray) -> None:
    """Turn one elbow's bend direction from its current one towards ``pole`` (torso frame) with weight w.

    Blending the pole together with the wrist target keeps the bend direction away from the
    shoulder-wrist axis during the transition; a fixed pole that the axis sweeps across would make
    the elbow swing round in an instant.
    """
    w = np.asarray(w, dtype=np.float64)[..., None]
    c.elbow_pole[:, side] = (1 - w) * c.elbow_pole[:, side] + w * np.asarray(pole)


def hang_in_torso(pitch: np.ndarray, side: int) -> np.ndarray:
    """Wrist target of a freely hanging arm when the torso is pitched: gravity-aligned, (T, 3)."""
    y = HANG[1] if side == LEFT else -HANG[1]
    c, s = np.cos(pitch), np.sin(pitch)
    # Down in the heading frame, expressed in a torso frame pitched by ``pitch`` about y.
    return np.stack([c * HANG[0] + s * 0.99, np.full_like(pitch, y), s * HANG[0] - c * 0.99], axis=-1)


def squat_depth(c: Controls, depth: np.ndarray, back: float = 0.25, lean: float = 0.6) -> None:
    """Lower the pelvis by ``depth`` leg lengths (knees bend, feet planted), shift it back, lean forward."""
    c.root[:, 2] -= depth
    c.root[:, 0] -= back * depth
    c.torso[:, 0] += lean * depth


def cycle_fraction(ph: np.ndarray) -> np.ndarray:
    """Position within the current repetition, in [0, 1)."""
    return np.mod(ph / (2 * np.pi), 1.0)


def keyframes(u: np.ndarray, knots: list[float], values: list) -> np.ndarray:
    """Smoothstep interpolation through key poses: ``values[i]`` at ``knots[i]`` (knots from 0 to 1).

    Args:
        u: (T,) position in [0, 1]. knots: increasing, K items. values: K arrays of equal shape S.

    Returns:
        (T, *S) interpolated values; slopes are zero at every key, so motions ease in and out.
    """
    knot_arr = np.asarray(knots, dtype=np.float64)
    vals = np.asarray(values, dtype=np.float64)
    idx = np.clip(np.searchsorted(knot_arr, u, side="right") - 1, 0, len(knot_arr) - 2)
    x = np.clip((u - knot_arr[idx]) / (knot_arr[idx + 1] - knot_arr[idx]), 0.0, 1.0)
    x = x * x * (3 - 2 * x)
    x = x.reshape(x.shape + (1,) * (vals.ndim - 1))
    return vals[idx] + x * (vals[idx + 1] - vals[idx])


def arc_keyframes(u: np.ndarray, knots: list[float], keys: list) -> np.ndarray:
    """:func:`keyframes` for wrist targets: each segment follows the arc around the shoulder."""
    knot_arr = np.asarray(knots, dtype=np.float64)
    vals = np.asarray(keys, dtype=np.float64)
    idx = np.clip(np.searchsorted(knot_arr, u, side="right") - 1, 0, len(knot_arr) - 2)
    x = np.clip((u - knot_arr[idx]) / (knot_arr[idx + 1] - knot_arr[idx]), 0.0, 1.0)
    return arc_blend(vals[idx], vals[idx + 1], x * x * (3 - 2 * x))
