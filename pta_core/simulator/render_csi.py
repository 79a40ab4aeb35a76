"""MM-Fi Wi-Fi CSI: 3 receive antennas × 114 subcarriers × 10 packets per frame, from the multipath model.

``CSIamp`` is written in dB (20 log10 |H| plus a fixed receiver gain): the real files contain ±inf,
which a linear amplitude cannot produce but the log of a zero reading does (unconfirmed, see
docs/datasets.md §1.3). ``CSIphase`` is the raw measured phase in (-pi, pi]: the channel's phase plus
each packet's random carrier-frequency offset and sampling-time slope across subcarriers, as a
commodity NIC reports it (unsanitised).
"""

from __future__ import annotations

import numpy as np

from pta_core.simulator.contamination import CsiKnobs
from pta_core.simulator.radio import blockage, body_scatterers, scatter_paths, static_paths, sum_paths
from pta_core.simulator.rig import MMFiRig, wavelength

RECEIVER_GAIN_DB = 95.0  # puts the line of sight of a 5 m link near 35 dB
PACKETS = 10


class CsiRenderer:
    def __init__(self, rig: MMFiRig, rng: np.random.Generator) -> None:
        radio = rig.wifi
        self.radio = radio
        self.freqs = radio.frequencies
        self.lam = float(wavelength(radio.center_hz))
        lengths, gains = static_paths(radio.tx, radio.rx, rig.room, self.lam)
        self.h_los = sum_paths(self.freqs, lengths[:, :1], gains[:, :1])  # (A, K)
        self.h_rest = sum_paths(self.freqs, lengths[:, 1:], gains[:, 1:])
        # Each receive chain has its own fixed phase offset (unsynchronised RF chains), per sequence.
        self.chain_phase = rng.uniform(-np.pi, np.pi, (len(radio.rx), 1))

    def channel(
        self, starts: np.ndarray, ends: np.ndarray, radii: np.ndarray, joints: np.ndarray
    ) -> np.ndarray:
        """Noise-free complex channel (N, A, K) for the body at N packet instants (capsules (N, C, 3))."""
        block = blockage(self.radio.tx, self.radio.rx, starts, ends, radii)  # (N, A)
        # A blocked line of sight is attenuated and delayed (extra electrical path through the body).
        los = (1 - 0.85 * block)[..., None] * np.exp(-1j * 2.0 * block)[..., None] * self.h_los
        points, rcs = body_scatterers(starts, ends, radii, joints)
        lengths, amps = scatter_paths(self.radio.tx, self.radio.rx, points, rcs, self.lam)
        return los + self.h_rest + sum_paths(self.freqs, lengths, amps)

    def measure(
        self, h: np.ndarray, rng: np.random.Generator, knobs: CsiKnobs
    ) -> tuple[np.ndarray, np.ndarray]:
        """Complex channel (P, A, K) of one frame → (CSIamp, CSIphase), each (A, K, P) float64."""
        p, a, k = h.shape
        power = float(np.mean(np.abs(h) ** 2))
        sigma = np.sqrt(power * 10 ** (-knobs.snr_db / 10) / 2)
        h = h + sigma * (rng.standard_normal(h.shape) + 1j * rng.standard_normal(h.shape))
        if rng.random() < knobs.narrowband:
            centre, width = rng.integers(0, k), rng.integers(2, 9)
            band = slice(max(centre - width // 2, 0), min(centre + width // 2 + 1, k))
            level = np.sqrt(power) * 10 ** (rng.uniform(5, 20) / 20)
            tone = level * np.exp(1j * rng.uniform(-np.pi, np.pi, (p, a, 1)))
            h[:, :, band] += tone
        bursts = rng.random(p) < knobs.impulsive
        if bursts.any():
            scale = np.sqrt(power) * 10 ** (rng.uniform(10, 20, (bursts.sum(), 1, 1)) / 20)
            h[bursts] += scale * (
                rng.standard_normal((bursts.sum(), a, k)) + 1j * rng.standard_normal((bursts.sum(), a, k))
            )
        gain_db = rng.normal(0.0, 0.4, (p, 1, 1))  # automatic gain control steps between packets
        amp = 20 * np.log10(np.maximum(np.abs(h), 1e-12)) + RECEIVER_GAIN_DB + gain_db
        cfo = rng.uniform(-np.pi, np.pi, (p, 1, 1))
        slope = rng.normal(0.0, 0.03, (p, 1, 1))
        index = np.arange(k)[None, None, :] - (k - 1) / 2
        phase = np.angle(h * np.exp(1j * (cfo + slope * index + self.chain_phase[None])))
        lost = np.flatnonzero(rng.random(p) < knobs.packet_loss)
        for i in lost:  # a lost packet is reported as a repeat of the previous one
            src = i - 1 if i > 0 else min(1, p - 1)
            amp[i], phase[i] = amp[src], phase[src]
        if knobs.inf_fraction > 0:
            amp[rng.random(amp.shape) < knobs.inf_fraction] = -np.inf
        return np.ascontiguousarray(amp.transpose(1, 2, 0)), np.ascontiguousarray(phase.transpose(1, 2, 0))
