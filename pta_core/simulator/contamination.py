"""Contamination knobs: make a modality low-quality on purpose, so Purify has something to down-weight.

Each modality has a small frozen dataclass of knobs whose defaults are the *clean* sensor (its
ordinary noise, no extra corruption). A single level in [0, 1] (0 = clean, 1 = almost useless)
maps to all knobs of a modality; single knobs can then be overridden. Text form, as on the
command line: ``wifi-csi=0.8`` (a level), ``mmwave.ghosts=20`` (a knob), ``all=0.3`` (every modality).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pta_core.config import ConfigError, from_dict


@dataclass(frozen=True)
class KeypointKnobs:
    noise_px: float = 2.0  # detector jitter, Gaussian sigma in pixels
    outlier_prob: float = 0.005  # per keypoint: a wild detection somewhere near the person
    swap_prob: float = 0.005  # per frame: left/right labels swapped
    dropout: float = 0.0  # per frame: detector failure, all 17 keypoints written as (0, 0)


@dataclass(frozen=True)
class DepthKnobs:
    noise_scale: float = 1.0  # multiplies the stereo disparity noise (0.08 px RMS; depth error ~ z^2)
    hole_fraction: float = 0.005  # random invalid (0) pixels
    blob_holes: float = 0.0  # mean number of large invalid blobs per frame
    dropout: float = 0.0  # per frame: the whole map invalid (all 0)


@dataclass(frozen=True)
class LidarKnobs:
    noise_m: float = 0.01  # range noise sigma
    point_dropout: float = 0.05  # per return: lost
    outliers: float = 0.0  # mean number of spurious returns per frame
    dropout: float = 0.0  # per frame: empty cloud, written as a 0-byte file


@dataclass(frozen=True)
class MmwaveKnobs:
    noise_scale: float = 1.0  # multiplies position / velocity measurement noise
    ghosts: float = 1.0  # mean multipath ghost points per frame
    clutter: float = 2.0  # mean static clutter points per frame
    dropout: float = 0.0  # per frame: no detection, written as a 0-byte file
    # A radar other than the MM-Fi-like default (docs/RESULTS.md "Calibrating the radar to MARS"):
    detection_gain: float = 1.0  # multiplies the detection rate of a body patch (points per frame)
    doppler_noise: float = 0.03  # m/s, the radial velocity's noise sigma (times noise_scale)
    doppler_step: float = 0.0  # m/s, the Doppler bin width velocities are rounded to (0: continuous)


@dataclass(frozen=True)
class CsiKnobs:
    snr_db: float = 30.0  # thermal noise relative to the mean channel power
    narrowband: float = 0.0  # per frame: probability of a narrowband interferer
    impulsive: float = 0.0  # per packet: probability of a wideband impulsive burst
    packet_loss: float = 0.0  # per packet: lost, the previous packet is repeated
    inf_fraction: float = 0.0  # fraction of amplitudes written as -inf (log of a zero reading)


@dataclass(frozen=True)
class XrfWifiKnobs:
    snr_db: float = 25.0
    narrowband: float = 0.0  # per sample: probability of a narrowband interferer
    impulsive: float = 0.0  # per packet
    packet_loss: float = 0.0  # per packet: previous packet repeated


@dataclass(frozen=True)
class XrfRfidKnobs:
    noise_rad: float = 0.05  # phase noise sigma
    miss: float = 0.1  # per read: tag not read, the previous phase is held
    pi_jumps: float = 0.0  # per read: reader's pi phase ambiguity


@dataclass(frozen=True)
class XrfMmwaveKnobs:
    noise_db: float = 0.0  # raises the noise floor
    ghosts: float = 1.0  # mean multipath ghost scatterers per frame
    dropout: float = 0.0  # per frame: only noise


@dataclass(frozen=True)
class Contamination:
    """Knobs for every modality; field names are modality names with ``-`` → ``_``."""

    rgb: KeypointKnobs = field(default_factory=KeypointKnobs)
    infra1: KeypointKnobs = field(default_factory=KeypointKnobs)
    infra2: KeypointKnobs = field(default_factory=KeypointKnobs)
    depth: DepthKnobs = field(default_factory=DepthKnobs)
    lidar: LidarKnobs = field(default_factory=LidarKnobs)
    mmwave: MmwaveKnobs = field(default_factory=MmwaveKnobs)
    wifi_csi: CsiKnobs = field(default_factory=CsiKnobs)
    xrf_wifi: XrfWifiKnobs = field(default_factory=XrfWifiKnobs)
    xrf_rfid: XrfRfidKnobs = field(default_factory=XrfRfidKnobs)
    xrf_mmwave: XrfMmwaveKnobs = field(default_factory=XrfMmwaveKnobs)


MODALITY_NAMES = tuple(f.name.replace("_", "-") for f in dataclasses.fields(Contamination))


def _keypoints(x: float) -> KeypointKnobs:
    return KeypointKnobs(2.0 + 28.0 * x, 0.005 + 0.3 * x, 0.005 + 0.3 * x, 0.3 * x)


_LEVELS = {
    "rgb": _keypoints,
    "infra1": _keypoints,
    "infra2": _keypoints,
    "depth": lambda x: DepthKnobs(1.0 + 9.0 * x, 0.005 + 0.3 * x, 6.0 * x, 0.3 * x),
    "lidar": lambda x: LidarKnobs(0.01 + 0.15 * x, 0.05 + 0.75 * x, 200.0 * x, 0.4 * x),
    "mmwave": lambda x: MmwaveKnobs(1.0 + 5.0 * x, 1.0 + 20.0 * x, 2.0 + 30.0 * x, 0.6 * x),
    "wifi_csi": lambda x: CsiKnobs(30.0 - 35.0 * x, 0.9 * x, 0.4 * x, 0.5 * x, 0.01 * x),
    "xrf_wifi": lambda x: XrfWifiKnobs(25.0 - 30.0 * x, 0.9 * x, 0.3 * x, 0.5 * x),
    "xrf_rfid": lambda x: XrfRfidKnobs(0.05 + 1.0 * x, 0.1 + 0.7 * x, 0.2 * x),
    "xrf_mmwave": lambda x: XrfMmwaveKnobs(20.0 * x, 1.0 + 20.0 * x, 0.5 * x),
}


def _field_name(modality: str) -> str:
    name = modality.replace("-", "_")
    if name not in _LEVELS:
        raise ConfigError(
            f"unknown modality {modality!r} in contamination; known: {', '.join(MODALITY_NAMES)}, all"
        )
    return name


def at_level(modality: str, level: float) -> Any:
    """Knobs of ``modality`` at a contamination level in [0, 1]."""
    if not 0.0 <= level <= 1.0:
        raise ConfigError(f"contamination level for {modality} must be in [0, 1], got {level}")
    return _LEVELS[_field_name(modality)](float(level))


def with_level(base: Contamination, modality: str, level: float) -> Contamination:
    names = list(_LEVELS) if modality == "all" else [_field_name(modality)]
    return dataclasses.replace(base, **{n: at_level(n, level) for n in names})


def with_knob(base: Contamination, modality: str, knob: str, value: float) -> Contamination:
    name = _field_name(modality)
    knobs = getattr(base, name)
    allowed = [f.name for f in dataclasses.fields(knobs)]
    if knob not in allowed:
        raise ConfigError(f"unknown knob {knob!r} for {modality}; allowed: {', '.join(allowed)}")
    if value < 0 and knob != "snr_db":
        raise ConfigError(f"{modality}.{knob} must be >= 0, got {value}")
    if (knob in ("dropout", "miss", "narrowband", "impulsive", "packet_loss", "inf_fraction", "pi_jumps")
            or knob.endswith("_prob") or knob.endswith("fraction")) and value > 1:  # fmt: skip
        raise ConfigError(f"{modality}.{knob} is a probability, got {value}")
    return dataclasses.replace(base, **{name: dataclasses.replace(knobs, **{knob: float(value)})})


def parse_contamination(items: list[str], base: Contamination | None = None) -> Contamination:
    """Apply ``name=level`` and ``name.knob=value`` items (levels first, then knobs, each in order)."""
    out = base or Contamination()
    parsed = []
    for item in items:
        key, sep, raw = item.partition("=")
        try:
            value = float(raw)
        except ValueError:
            value = None
        if not sep or not key or value is None:
            raise ConfigError(f"contamination {item!r} is not 'modality=level' or 'modality.knob=value'")
        parsed.append((key.strip(), value))
    for key, value in parsed:
        if "." not in key:
            out = with_level(out, key, value)
    for key, value in parsed:
        if "." in key:
            modality, knob = key.split(".", 1)
            out = with_knob(out, modality, knob, value)
    return out


def load_contamination(path: str | Path) -> Contamination:
    """YAML: ``{modality: level}`` or ``{modality: {knob: value}}`` per entry (unknown keys rejected)."""
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"cannot read contamination file {path}: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of modality → level or knobs")
    out = Contamination()
    knob_data: dict[str, dict] = {}
    for modality, value in data.items():
        if isinstance(value, dict):
            knob_data[_field_name(str(modality))] = value
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out = with_level(out, str(modality), float(value))
        else:
            raise ConfigError(f"{path}: {modality}: expected a level or a mapping of knobs, got {value!r}")
    for name, knobs in knob_data.items():
        merged = {**dataclasses.asdict(getattr(out, name)), **knobs}
        checked = from_dict(type(getattr(out, name)), merged, f"{path}:{name}")
        for knob, value in dataclasses.asdict(checked).items():
            out = with_knob(out, name, knob, value)
    return out
