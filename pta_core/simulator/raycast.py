"""Exact ray casting against capsules (the body surface) and room planes, vectorised over rays.

Rays start at the sensor origin (0, 0, 0) of the frame the geometry is expressed in and have unit
directions, so the returned parameter ``t`` is the range in metres; misses are ``inf``.
"""

from __future__ import annotations

import numpy as np

from pta_core.simulator.rig import Room


def capsule_range(
    dx: np.ndarray, dy: np.ndarray, dz: np.ndarray, a: np.ndarray, b: np.ndarray, r
) -> np.ndarray:
    """Range along unit rays to capsules (segment a-b, radius r); inf where a ray misses.

    Ray components dx, dy, dz broadcast against the capsule parameters: one capsule (a, b: (3,),
    r scalar) for an image patch of rays, or rays (N, 1) against capsules a, b: (C, 3), r: (C,)
    for an (N, C) table. The capsule is the union of a cylinder and two end spheres; the first hit
    of the union is the nearest first hit of its convex parts (the sensor is outside the body).
    """
    dtype = np.result_type(dx)  # float32 rays (the depth image) stay float32: half the memory traffic
    a, b, r = (np.asarray(x, dtype=dtype) for x in (a, b, r))
    ba = b - a
    oa = -a
    baba, baoa, oaoa = np.sum(ba * ba, -1), np.sum(ba * oa, -1), np.sum(oa * oa, -1)
    bard = dx * ba[..., 0] + dy * ba[..., 1] + dz * ba[..., 2]
    rdoa = dx * oa[..., 0] + dy * oa[..., 1] + dz * oa[..., 2]
    # Cylinder part (Quilez's capsule intersection), restricted to the segment's span.
    k2 = baba - bard * bard
    k1 = baba * rdoa - baoa * bard
    k0 = baba * oaoa - baoa * baoa - r * r * baba
    h = k1 * k1 - k2 * k0
    hit = h >= 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        t_side = (-k1 - np.sqrt(np.where(hit, h, 0.0))) / k2
    y = baoa + t_side * bard
    side_ok = hit & (k2 > 1e-12) & (y > 0.0) & (y < baba) & (t_side > 0.0)
    best = np.where(side_ok, t_side, np.inf)
    # End spheres at a and b: |t d - c|^2 = r^2 → t = d·c - sqrt((d·c)^2 - |c|^2 + r^2).
    bd = dx * b[..., 0] + dy * b[..., 1] + dz * b[..., 2]
    for centre_dot, centre_sq in ((-rdoa, oaoa), (bd, np.sum(b * b, -1))):
        disc = centre_dot * centre_dot - (centre_sq - r * r)
        ok = disc >= 0.0
        t_cap = centre_dot - np.sqrt(np.where(ok, disc, 0.0))
        best = np.where(ok & (t_cap > 0.0) & (t_cap < best), t_cap, best)
    return best


def capsules_range(
    dirs: np.ndarray, starts: np.ndarray, ends: np.ndarray, radii: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest hit of each ray over all capsules.

    Args:
        dirs: (N, 3) unit rays from the origin. starts, ends: (C, 3). radii: (C,).

    Returns:
        range (N,) in m (inf: no hit) and index (N,) of the capsule hit (-1: none).
    """
    all_t = capsule_range(dirs[:, 0:1], dirs[:, 1:2], dirs[:, 2:3], starts, ends, radii)  # (N, C)
    index = np.argmin(all_t, axis=1)
    best = all_t[np.arange(len(dirs)), index]
    return best, np.where(np.isfinite(best), index, -1)


def room_range(dirs_rig: np.ndarray, origin_rig: np.ndarray, room: Room) -> np.ndarray:
    """Range along rig-frame unit rays from ``origin_rig`` to the first room plane (floor, walls, ceiling)."""
    best = np.full(dirs_rig.shape[:-1], np.inf)
    planes = ((2, 0.0), (2, room.ceiling), (0, room.back), (1, room.half_width), (1, -room.half_width))
    with np.errstate(divide="ignore", invalid="ignore"):
        for axis, value in planes:
            t = (value - origin_rig[axis]) / dirs_rig[..., axis]
            best = np.where((t > 1e-6) & (t < best), t, best)
    return best
