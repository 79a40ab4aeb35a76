"""Small vectorised geometry helpers: rotations, direction interpolation, two-bone IK, rigid transforms.

All functions broadcast over leading axes; vectors are (..., 3) float64.
"""

from __future__ import annotations

import numpy as np

EPS = 1e-9
SOFT_REACH = 0.94  # fraction of a limb's reach where soft IK starts


def rot_x(angle: np.ndarray | float) -> np.ndarray:
    """Rotation matrices about x, (..., 3, 3), right-handed, angle in radians."""
    c, s = np.cos(angle), np.sin(angle)
    o, z = np.ones_like(c), np.zeros_like(c)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def rot_y(angle: np.ndarray | float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    o, z = np.ones_like(c), np.zeros_like(c)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def rot_z(angle: np.ndarray | float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    o, z = np.ones_like(c), np.zeros_like(c)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def apply(rot: np.ndarray, vec: np.ndarray) -> np.ndarray:
    """``rot @ vec`` for stacks: rot (..., 3, 3), vec (..., 3) → (..., 3)."""
    return np.einsum("...ij,...j->...i", rot, vec)


def normalize(vec: np.ndarray) -> np.ndarray:
    return vec / np.maximum(np.linalg.norm(vec, axis=-1, keepdims=True), EPS)


def slerp_dirs(u: np.ndarray, v: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Spherical interpolation between unit directions u and v (..., 3) with weights w (...)."""
    u, v = normalize(u), normalize(v)
    w = np.asarray(w, dtype=np.float64)[..., None]
    cos = np.clip(np.sum(u * v, axis=-1, keepdims=True), -1.0, 1.0)
    ang = np.arccos(cos)
    sin = np.sin(ang)
    safe = sin > 1e-6
    a = np.where(safe, np.sin((1 - w) * ang) / np.where(safe, sin, 1.0), 1 - w)
    b = np.where(safe, np.sin(w * ang) / np.where(safe, sin, 1.0), w)
    return normalize(a * u + b * v)


def path_dirs(keys: list[tuple[float, float, float]], w: np.ndarray) -> np.ndarray:
    """Follow a polyline of key directions on the sphere: w in [0, 1] → (T, 3) unit directions.

    Arm raises go through an intermediate key (e.g. forward, or sideways) so the path is the
    anatomical one rather than the shortest arc.
    """
    keys_arr = normalize(np.asarray(keys, dtype=np.float64))
    w = np.clip(np.asarray(w, dtype=np.float64), 0.0, 1.0)
    segments = len(keys_arr) - 1
    pos = w * segments
    index = np.minimum(pos.astype(int), segments - 1)
    return slerp_dirs(keys_arr[index], keys_arr[index + 1], pos - index)


def two_bone_ik(
    root: np.ndarray,
    target: np.ndarray,
    len1: float,
    len2: float,
    pole: np.ndarray,
    ref_axis: np.ndarray,
    ref_bend: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Analytic two-bone IK (shoulder-elbow-wrist, hip-knee-ankle); bone lengths are kept exactly.

    The bend direction must vary continuously with the target, or the middle joint swings round
    in an instant. It starts from a natural bend field: ``ref_bend`` (the bend when the limb points
    along ``ref_axis``) carried to the current limb axis by the smallest rotation, which is
    continuous everywhere except at the axis opposite ``ref_axis`` (choose one the limb never
    points to). ``pole`` then swivels that bend towards itself, by an amount that fades out where
    the pole is nearly along the limb or opposite the natural bend, so it never causes a jump.

    Args:
        root: (T, 3) fixed joint. target: (T, 3) where the end joint should go.
        len1, len2: bone lengths (m). pole: (T, 3) preferred bend direction.
        ref_axis, ref_bend: (T, 3) unit, perpendicular: the natural bend field's anchor.

    Returns:
        mid (T, 3), end (T, 3). Targets beyond ``SOFT_REACH`` of the full reach are approached
        smoothly, never quite reached ("soft IK"): the knee or elbow angle changes infinitely fast
        as a limb straightens, so a hard clamp would make the joint pop.
    """
    delta = target - root
    dist = np.linalg.norm(delta, axis=-1)
    axis = delta / np.maximum(dist, EPS)[..., None]
    reach = len1 + len2
    soft = SOFT_REACH * reach
    dist = np.where(dist > soft, soft + (reach - soft) * (1 - np.exp(-(dist - soft) / (reach - soft))), dist)
    dist = np.maximum(dist, abs(len1 - len2) + 1e-4)
    cos_a = np.clip((len1**2 + dist**2 - len2**2) / (2 * len1 * dist), -1.0, 1.0)
    sin_a = np.sqrt(1 - cos_a**2)
    natural = normalize(_rotate_between(ref_axis, axis, ref_bend))
    natural = normalize(natural - np.sum(natural * axis, -1, keepdims=True) * axis)
    # Swivel towards the pole: phi = signed angle natural → pole around the axis, damped near the
    # degenerate cases (pole along the limb: weight → 0; pole opposite: cos²(phi/2) → 0).
    proj = pole - np.sum(pole * axis, -1, keepdims=True) * axis
    strength = np.sum(proj * proj, -1) / np.maximum(np.sum(pole * pole, -1), EPS)
    side = np.cross(axis, natural)
    phi = np.arctan2(np.sum(proj * side, -1), np.sum(proj * natural, -1))
    psi = phi * strength * np.cos(phi / 2) ** 2
    bend = np.cos(psi)[..., None] * natural + np.sin(psi)[..., None] * side
    mid = root + len1 * (cos_a[..., None] * axis + sin_a[..., None] * bend)
    end = root + dist[..., None] * axis
    return mid, end


def _rotate_between(a: np.ndarray, b: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Apply the smallest rotation taking unit a to unit b to v: v + c×v + c×(c×v)/(1 + a·b), c = a×b."""
    c = np.cross(a, b)
    d = np.sum(a * b, -1, keepdims=True)
    cv = np.cross(c, v)
    return v + cv + np.cross(c, cv) / np.maximum(1 + d, 1e-6)


def quaternion_xyzw(rot: np.ndarray) -> np.ndarray:
    """Unit quaternion (x, y, z, w) of a 3×3 rotation matrix (ROS order), w ≥ 0."""
    m = np.asarray(rot, dtype=np.float64)
    trace = m[0, 0] + m[1, 1] + m[2, 2]
    if trace > 0:
        s = 2.0 * np.sqrt(trace + 1.0)
        q = [(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, 0.25 * s]
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        q = [0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s, (m[2, 1] - m[1, 2]) / s]
    elif m[1, 1] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        q = [(m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s, (m[0, 2] - m[2, 0]) / s]
    else:
        s = 2.0 * np.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        q = [(m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s, (m[1, 0] - m[0, 1]) / s]
    quat = np.asarray(q)
    quat /= np.linalg.norm(quat)
    return -quat if quat[3] < 0 else quat


def quaternion_to_matrix(q_xyzw: np.ndarray) -> np.ndarray:
    x, y, z, w = np.asarray(q_xyzw, dtype=np.float64) / np.linalg.norm(q_xyzw)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )
