"""Narrowband multipath channels (Wi-Fi CSI, RFID backscatter) from the room and the body.

H(f) = sum over paths p of a_p exp(-j 2 pi f d_p / c). Static paths are the line of sight and the
first-order reflections of the floor, ceiling and walls (image sources) plus furniture scatterers;
body paths scatter off points on the body (capsule centres and joints) with a bistatic radar
amplitude a = lambda sqrt(sigma / 4 pi) / (4 pi d1 d2). A body crossing the line of sight
attenuates it and delays its phase (diffraction and propagation through tissue).
"""

from __future__ import annotations

import numpy as np

from pta_core.simulator.rig import SPEED_OF_LIGHT, Room

REFLECTIVITY = {"floor": 0.5, "ceiling": 0.35, "back": 0.4, "side": 0.45}
FURNITURE_RCS = 1.0  # m²


def static_paths(
    tx: np.ndarray, rx: np.ndarray, room: Room, wavelength: float
) -> tuple[np.ndarray, np.ndarray]:
    """Line of sight (column 0), wall/floor/ceiling reflections and furniture paths.

    Args:
        tx: (3,) transmitter. rx: (A, 3) receive antennas (rig frame, m).

    Returns:
        lengths (A, Q) m and real amplitudes (A, Q).
    """
    images = [
        (tx, 1.0),
        (tx * [1, 1, -1], REFLECTIVITY["floor"]),
        (tx * [1, 1, -1] + [0, 0, 2 * room.ceiling], REFLECTIVITY["ceiling"]),
        (tx * [-1, 1, 1] + [2 * room.back, 0, 0], REFLECTIVITY["back"]),
        (tx * [1, -1, 1] + [0, 2 * room.half_width, 0], REFLECTIVITY["side"]),
        (tx * [1, -1, 1] - [0, 2 * room.half_width, 0], REFLECTIVITY["side"]),
    ]
    lengths, gains = [], []
    for source, reflect in images:
        d = np.linalg.norm(rx - source, axis=-1)
        lengths.append(d)
        gains.append(reflect * wavelength / (4 * np.pi * d))
    for point in room.furniture:
        d1, d2 = np.linalg.norm(point - tx), np.linalg.norm(rx - point, axis=-1)
        lengths.append(d1 + d2)
        gains.append(wavelength * np.sqrt(FURNITURE_RCS / (4 * np.pi)) / (4 * np.pi * d1 * d2))
    return np.stack(lengths, -1), np.stack(gains, -1)


def scatter_paths(
    tx: np.ndarray, rx: np.ndarray, points: np.ndarray, rcs: np.ndarray, wavelength: float
) -> tuple[np.ndarray, np.ndarray]:
    """Body scattering paths tx → point → rx.

    Args:
        points: (N, S, 3) scatterer positions at N instants. rcs: (S,) radar cross-sections (m²).

    Returns:
        lengths (N, A, S) and amplitudes (N, A, S).
    """
    d1 = np.linalg.norm(points - tx, axis=-1)  # (N, S)
    d2 = np.linalg.norm(points[:, None] - rx[None, :, None], axis=-1)  # (N, A, S)
    amp = wavelength * np.sqrt(rcs / (4 * np.pi)) / (4 * np.pi * d1[:, None] * d2)
    return d1[:, None] + d2, amp


def sum_paths(frequencies: np.ndarray, lengths: np.ndarray, amplitudes: np.ndarray) -> np.ndarray:
    """Complex channel (..., K) = sum over the last path axis; lengths/amplitudes (..., P)."""
    # Real and imaginary parts in single precision: much faster than a complex exp, and the phase
    # (hundreds of rad) keeps ~1e-4 rad accuracy, far below the receiver noise.
    phase = ((-2 * np.pi / SPEED_OF_LIGHT) * lengths[..., None, :] * frequencies[:, None]).astype(np.float32)
    amp = amplitudes.astype(np.float32)
    real = np.einsum("...kp,...p->...k", np.cos(phase), amp)
    imag = np.einsum("...kp,...p->...k", np.sin(phase), amp)
    return real.astype(np.float64) + 1j * imag.astype(np.float64)


def blockage(
    tx: np.ndarray, rx: np.ndarray, starts: np.ndarray, ends: np.ndarray, radii: np.ndarray
) -> np.ndarray:
    """How much the body covers each line of sight, in [0, 1] (1: through the middle of a limb or torso).

    Args:
        tx: (3,). rx: (A, 3). starts, ends: (N, C, 3) capsules at N instants. radii: (C,).

    Returns:
        (N, A) = max over capsules of exp(-(distance between sight line and capsule axis / radius)²).
    """
    dist = segment_distance(
        tx[None, None, None], rx[None, :, None], starts[:, None], ends[:, None]
    )  # (N, A, C)
    return np.exp(-((dist / radii) ** 2)).max(axis=-1)


def segment_distance(p0: np.ndarray, p1: np.ndarray, q0: np.ndarray, q1: np.ndarray) -> np.ndarray:
    """Shortest distance between segments p0-p1 and q0-q1 (broadcast over leading axes; non-degenerate).

    Closest points by clamped parameters (Ericson, Real-Time Collision Detection, §5.1.9).
    """
    d1, d2 = p1 - p0, q1 - q0
    r = p0 - q0
    a, e = np.sum(d1 * d1, -1), np.sum(d2 * d2, -1)
    b, c, f = np.sum(d1 * d2, -1), np.sum(d1 * r, -1), np.sum(d2 * r, -1)
    denom = a * e - b * b
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(denom > 1e-12, np.clip((b * f - c * e) / denom, 0.0, 1.0), 0.0)
        t = (b * s + f) / e
        s = np.where(t < 0, np.clip(-c / a, 0.0, 1.0), np.where(t > 1, np.clip((b - c) / a, 0.0, 1.0), s))
    t = np.clip(t, 0.0, 1.0)
    gap = (p0 + s[..., None] * d1) - (q0 + t[..., None] * d2)
    return np.linalg.norm(gap, axis=-1)


def body_scatterers(starts: np.ndarray, ends: np.ndarray, radii: np.ndarray, joints: np.ndarray):
    """Scatterer positions (N, S, 3) and cross-sections (S,): capsule centres (area-weighted) and joints."""
    centres = 0.5 * (starts + ends)
    length = np.linalg.norm(ends[0] - starts[0], axis=-1)
    rcs_caps = 2.0 * 2 * np.pi * radii * np.maximum(length, radii)
    points = np.concatenate([centres, joints], axis=1)
    rcs = np.concatenate([rcs_caps, np.full(joints.shape[1], 0.03)])
    return points, rcs
