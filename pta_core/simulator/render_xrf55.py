"""XRF55 sensors over a 5 s sample: Wi-Fi CSI amplitude, RFID tag phases, mmWave range-Doppler maps.

All three see the same body (capsules at the instants each sensor samples). Arrays are float32,
as the dataset's loaders cast them (docs/datasets.md §2.2), in the dataset's shapes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pta_core.simulator.contamination import XrfMmwaveKnobs, XrfRfidKnobs, XrfWifiKnobs
from pta_core.simulator.radio import blockage, body_scatterers, scatter_paths, static_paths, sum_paths
from pta_core.simulator.render_points import surface_patches
from pta_core.simulator.rig import XRF55Rig, wavelength

# Capsules of the body at given instants: times (N,) → starts (N, C, 3), ends (N, C, 3), joints (N, 17, 3).
BodyAt = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]

WIFI_PACKETS, WIFI_RATE = 1000, 200.0
RFID_READS, RFID_RATE = 148, 30.0
MMWAVE_FRAMES, RANGE_BINS, DOPPLER_BINS = 17, 256, 128
RANGE_RES = 0.0375  # m per bin (4 GHz chirp bandwidth)
DOPPLER_RES = 0.04  # m/s per bin; ±2.56 m/s unambiguous, faster parts alias
NOISE_FLOOR = 1e-7  # map power units (area/R^4); a torso at 2 m stands ~35 dB above it
WIFI_GAIN = 2.0e4  # linear amplitude scale: a 3 m line of sight reads about 20, as Intel 5300 CSI does


def wifi(
    body: BodyAt, radii: np.ndarray, rig: XRF55Rig, rng: np.random.Generator, knobs: XrfWifiKnobs
) -> np.ndarray:
    """(270, 1000) float32 CSI amplitude: 9 links (3 receivers × 3 antennas) × 30 subcarriers, 200 packets/s."""
    radio = rig.wifi
    lam = float(wavelength(radio.center_hz))
    freqs = radio.frequencies
    lengths, gains = static_paths(radio.tx, radio.rx, rig.room, lam)
    h_los = sum_paths(freqs, lengths[:, :1], gains[:, :1])
    h_rest = sum_paths(freqs, lengths[:, 1:], gains[:, 1:])
    times = (np.arange(WIFI_PACKETS) + 0.5) / WIFI_RATE
    chunks = []
    for part in np.array_split(times, 10):  # bounded memory for the blockage tables
        starts, ends, joints = body(part)
        block = blockage(radio.tx, radio.rx, starts, ends, radii)[..., None]
        points, rcs = body_scatterers(starts, ends, radii, joints)
        path_len, amps = scatter_paths(radio.tx, radio.rx, points, rcs, lam)
        los = (1 - 0.85 * block) * np.exp(-2j * block) * h_los
        chunks.append(los + h_rest + sum_paths(freqs, path_len, amps))
    h = np.concatenate(chunks)  # (P, 9, 30)
    power = float(np.mean(np.abs(h) ** 2))
    sigma = np.sqrt(power * 10 ** (-knobs.snr_db / 10) / 2)
    h = h + sigma * (rng.standard_normal(h.shape) + 1j * rng.standard_normal(h.shape))
    if rng.random() < knobs.narrowband:
        band = slice(*sorted(rng.integers(0, 30, 2) + [0, 3]))
        h[:, :, band] += (
            np.sqrt(power)
            * 10 ** (rng.uniform(5, 15) / 20)
            * np.exp(1j * rng.uniform(-np.pi, np.pi, (len(h), 1, 1)))
        )
    bursts = rng.random(len(h)) < knobs.impulsive
    h[bursts] += (
        np.sqrt(power)
        * 5.0
        * (rng.standard_normal((bursts.sum(), 9, 30)) + 1j * rng.standard_normal((bursts.sum(), 9, 30)))
    )
    amp = np.abs(h) * WIFI_GAIN * np.exp(rng.normal(0.0, 0.03, (len(h), 1, 1)))  # AGC jitter
    for i in np.flatnonzero(rng.random(len(h)) < knobs.packet_loss):
        amp[i] = amp[i - 1] if i > 0 else amp[min(1, len(h) - 1)]
    return np.ascontiguousarray(amp.reshape(len(h), 270).T, dtype=np.float32)


def rfid(
    body: BodyAt, radii: np.ndarray, rig: XRF55Rig, rng: np.random.Generator, knobs: XrfRfidKnobs
) -> np.ndarray:
    """(23, 148) float32 backscatter phase in [0, 2 pi): round trip reader → tag → reader at 30 reads/s.

    The body changes the phase by scattering and, when it covers the reader-tag line, by
    attenuating and delaying the direct path.
    """
    lam = float(wavelength(rig.rfid_hz))
    reader, tags = rig.rfid_reader, rig.rfid_tags
    times = (np.arange(RFID_READS) + 0.5) / RFID_RATE
    starts, ends, joints = body(times)
    d = np.linalg.norm(tags - reader, axis=-1)  # (23,)
    los = lam / (4 * np.pi * d) * np.exp(-2j * np.pi * d / lam)
    floor = reader * [1, 1, -1]
    d_floor = np.linalg.norm(tags - floor, axis=-1)
    static = los + 0.4 * lam / (4 * np.pi * d_floor) * np.exp(-2j * np.pi * d_floor / lam)
    block = blockage(reader, tags, starts, ends, radii)  # (N, 23)
    points, rcs = body_scatterers(starts, ends, radii, joints)
    path_len, amps = scatter_paths(reader, tags, points, rcs, lam)  # (N, 23, S)
    scattered = np.sum(amps * np.exp(-2j * np.pi * path_len / lam), axis=-1)
    # A covered line of sight is attenuated and delayed (diffraction, propagation through tissue).
    forward = static + los * ((1 - 0.85 * block) * np.exp(-2.5j * block) - 1) + scattered
    tag_offset = rng.uniform(0, 2 * np.pi, 23)  # each tag's own reflection phase
    phase = np.angle(forward**2) + tag_offset + rng.normal(0, knobs.noise_rad, forward.shape)
    phase += np.pi * (rng.random(phase.shape) < knobs.pi_jumps)
    for i in range(1, len(phase)):  # a missed read holds the tag's last phase
        missed = rng.random(23) < knobs.miss
        phase[i, missed] = phase[i - 1, missed]
    return np.ascontiguousarray(np.mod(phase, 2 * np.pi).T, dtype=np.float32)


def mmwave(
    body: BodyAt, radii: np.ndarray, rig: XRF55Rig, rng: np.random.Generator, knobs: XrfMmwaveKnobs
) -> np.ndarray:
    """(1, 17, 256, 128) float32 range-Doppler power maps in dB, one per 5/17 s.

    Each frame splats the body's surface patches (power ~ area·cos²/R⁴, Doppler = radial speed,
    sampled at 3 instants within the frame for micro-Doppler spread) and static returns from the
    room onto a noise floor.
    """
    radar = rig.radar.translation
    period = 5.0 / MMWAVE_FRAMES
    offsets = np.array([-0.06, 0.0, 0.06])
    dt = 0.01
    times = ((np.arange(MMWAVE_FRAMES) + 0.5) * period)[:, None] + offsets
    flat = times.reshape(-1)
    s0, e0, _ = body(flat)
    s1, e1, _ = body(flat + dt)
    maps = np.zeros((MMWAVE_FRAMES, RANGE_BINS * DOPPLER_BINS))
    static = _static_returns(rig)
    for f in range(MMWAVE_FRAMES):
        if rng.random() < knobs.dropout:
            continue
        for k in range(len(offsets)):
            i = f * len(offsets) + k
            pos, normal, vel, area = surface_patches(
                s0[i], e0[i], radii, (s1[i] - s0[i]) / dt, (e1[i] - e0[i]) / dt
            )
            look = radar - pos
            rng_m = np.linalg.norm(look, axis=-1)
            look /= rng_m[:, None]
            facing = np.maximum(np.sum(normal * look, -1), 0.0)
            power = area * facing**2 / rng_m**4 / len(offsets)
            radial = -np.sum(vel * look, -1)
            ghosts = rng.random(len(pos)) < knobs.ghosts / len(pos)  # floor bounce: longer path, weaker
            extra = np.linalg.norm(pos[ghosts] * [1, 1, -1] - radar, axis=-1)
            _splat(maps[f], np.concatenate([rng_m, extra]), np.concatenate([radial, radial[ghosts]]),
                   np.concatenate([power, 0.2 * power[ghosts]]))  # fmt: skip
        _splat(maps[f], static[0], np.zeros(len(static[0])), static[1])
    noise = NOISE_FLOOR * (1 + 10 ** (knobs.noise_db / 10)) * rng.exponential(1.0, maps.shape)
    db = 10 * np.log10(maps + noise) - 10 * np.log10(NOISE_FLOOR)  # 0 dB = mean noise floor
    return db.reshape(1, MMWAVE_FRAMES, RANGE_BINS, DOPPLER_BINS).astype(np.float32)


def _static_returns(rig: XRF55Rig) -> tuple[np.ndarray, np.ndarray]:
    """Ranges (m) and powers of the room's zero-Doppler returns (walls at normal incidence, furniture)."""
    radar, room = rig.radar.translation, rig.room
    ranges = [room.back - radar[0], room.half_width - radar[1], room.half_width + radar[1], radar[2]]
    powers = [2.0 / r**4 for r in ranges]
    for point in room.furniture:
        r = float(np.linalg.norm(point - radar))
        ranges.append(r)
        powers.append(0.5 / r**4)
    return np.array(ranges), np.array(powers)


def _splat(frame: np.ndarray, ranges: np.ndarray, radial: np.ndarray, power: np.ndarray) -> None:
    """Add point returns to a flat (range × Doppler) map with a Gaussian point-spread (σ = 0.7 bins)."""
    rb = ranges / RANGE_RES
    db = np.mod(radial / DOPPLER_RES + DOPPLER_BINS / 2, DOPPLER_BINS)
    base_r, base_d = np.floor(rb).astype(int), np.floor(db).astype(int)
    for i in range(-1, 3):
        for j in range(-1, 3):
            r_idx, d_idx = base_r + i, base_d + j
            weight = np.exp(-((r_idx - rb) ** 2 + (d_idx - db) ** 2) / (2 * 0.7**2))
            ok = (r_idx >= 0) & (r_idx < RANGE_BINS)
            np.add.at(
                frame, r_idx[ok] * DOPPLER_BINS + np.mod(d_idx[ok], DOPPLER_BINS), power[ok] * weight[ok]
            )
