"""What to generate: frozen specs for MM-Fi and XRF55 sets, subject/action selection, per-item seeds.

Every random draw is keyed by a :class:`numpy.random.SeedSequence` of (seed, kind, ids...), so a
subject's body and a sequence's content do not depend on which other items are generated, in
what order, or by which worker process.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

import numpy as np

from pta_core.simulator.actions_mmfi import MMFI_ACTIONS, PROTOCOL_ACTIONS
from pta_core.simulator.contamination import Contamination

MMFI_MODALITIES = ("rgb", "infra1", "infra2", "depth", "lidar", "mmwave", "wifi-csi")
XRF55_MODALITIES = ("WiFi", "RFID", "mmWave")
ALL_SUBJECTS = tuple(f"S{i:02d}" for i in range(1, 41))
XRF55_SCENES = ("Scene1", "Scene2", "Scene3", "Scene4")

# Seed-sequence tags: one per kind of draw, so streams never collide.
TAG_MMFI_BODY, TAG_MMFI_SEQUENCE, TAG_XRF_BODY, TAG_XRF_SAMPLE, TAG_XRF_SCENE = 11, 12, 21, 22, 23


class SpecError(ValueError):
    """A generation request that cannot be satisfied (bad id, empty selection, wrong size)."""


def environment_of(subject: str) -> str:
    """MM-Fi's fixed mapping (mmfi.py get_scene): S01-S10 → E01, ..., S31-S40 → E04."""
    number = subject_number(subject)
    return f"E{(number - 1) // 10 + 1:02d}"


def subject_number(subject: str) -> int:
    match = re.fullmatch(r"S(\d\d)", subject)
    if not match or not 1 <= int(match.group(1)) <= 40:
        raise SpecError(f"subject {subject!r} is not one of S01..S40")
    return int(match.group(1))


def subjects_round_robin(count: int) -> tuple[str, ...]:
    """The first ``count`` subjects taken in turn from each environment: S01, S11, S21, S31, S02, ...

    So a small set still covers every environment (cross-environment splits need E04).
    """
    if not 1 <= count <= 40:
        raise SpecError(f"number of subjects must be 1..40, got {count}")
    order = [f"S{env * 10 + i + 1:02d}" for i in range(10) for env in range(4)]
    return tuple(order[:count])


def parse_subjects(text: str) -> tuple[str, ...]:
    """``"S01,S02,S11"`` → validated, de-duplicated, in the given order."""
    items = [s.strip().upper() for s in text.split(",") if s.strip()]
    if not items:
        raise SpecError("no subject given")
    for item in items:
        subject_number(item)
    return tuple(dict.fromkeys(items))


def parse_actions(text: str) -> tuple[str, ...]:
    """``"A01,A05"``, ``"protocol1"`` (14 daily), ``"protocol2"`` (13 rehab) or ``"all"`` / ``"protocol3"``."""
    key = text.strip().lower()
    if key == "all":
        key = "protocol3"
    if key in PROTOCOL_ACTIONS:
        return PROTOCOL_ACTIONS[key]
    items = [a.strip().upper() for a in text.split(",") if a.strip()]
    unknown = [a for a in items if a not in MMFI_ACTIONS]
    if unknown or not items:
        raise SpecError(f"unknown action(s) {unknown or text!r}; use A01..A27, protocol1, protocol2 or all")
    return tuple(dict.fromkeys(items))


def parse_int_list(text: str, low: int, high: int, what: str) -> tuple[int, ...]:
    """``"1,2,5-8"`` → (1, 2, 5, 6, 7, 8), each within [low, high]."""
    out: list[int] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        a, sep, b = part.partition("-")
        try:
            first, last = int(a), int(b) if sep else int(a)
        except ValueError:
            raise SpecError(f"{what}: {part!r} is not a number or a range like 3-7") from None
        if not (low <= first <= last <= high):
            raise SpecError(f"{what}: {part!r} is outside {low}..{high}")
        out.extend(range(first, last + 1))
    if not out:
        raise SpecError(f"{what}: nothing selected")
    return tuple(dict.fromkeys(out))


@dataclass(frozen=True)
class MMFiSpec:
    """An MM-Fi-layout set. Defaults: the full sequence length of MM-Fi (297 frames at 10 Hz) for
    4 subjects (one per environment) × 27 actions; :meth:`demo` is the small CLI default."""

    subjects: tuple[str, ...] = ("S01", "S11", "S21", "S31")
    actions: tuple[str, ...] = PROTOCOL_ACTIONS["protocol3"]
    frames: int = 297
    frame_period: float = 0.1
    seed: int = 0
    modalities: tuple[str, ...] = MMFI_MODALITIES
    contamination: Contamination = field(default_factory=Contamination)

    def __post_init__(self) -> None:
        _check_seed(self.seed)
        for s in self.subjects:
            subject_number(s)
        unknown = [a for a in self.actions if a not in MMFI_ACTIONS]
        if unknown:
            raise SpecError(f"unknown MM-Fi action(s) {unknown}")
        bad = [m for m in self.modalities if m not in MMFI_MODALITIES]
        if bad or not self.modalities:
            raise SpecError(f"unknown MM-Fi modality {bad}; known: {', '.join(MMFI_MODALITIES)}")
        if not self.subjects or not self.actions:
            raise SpecError("select at least one subject and one action")
        if not 2 <= self.frames <= 100_000:
            raise SpecError(f"frames per sequence must be 2..100000, got {self.frames}")
        if not 0.01 <= self.frame_period <= 1.0:
            raise SpecError(f"frame period must be 0.01..1 s, got {self.frame_period}")

    @classmethod
    def demo(cls, **overrides) -> MMFiSpec:
        """4 subjects (E01-E04) × 27 actions × 30 frames: seconds to generate, enough to smoke-train."""
        return cls(**{"frames": 30, **overrides})

    def sequences(self) -> list[tuple[str, str, str]]:
        """(environment, subject, action) in a stable order."""
        return [(environment_of(s), s, a) for s in self.subjects for a in self.actions]

    def content_key(self) -> dict:
        """The settings that determine file contents (what a resumed run must agree on)."""
        return {
            "seed": self.seed,
            "frames": self.frames,
            "frame_period": self.frame_period,
            "modalities": list(self.modalities),
            "contamination": dataclasses.asdict(self.contamination),
        }


@dataclass(frozen=True)
class XRF55Spec:
    """An XRF55-layout set: ``<root>/<Scene>/<WiFi|RFID|mmWave>/a_b_c.npy``, 5 s per sample.

    Default: Scene1, volunteer 1, all 55 classes, repetitions 1 and 15 (one train and one test
    sample per class under the c ≤ 14 rule): 110 samples, about 360 MB (mmWave is 2.2 MB each).
    """

    scenes: tuple[str, ...] = ("Scene1",)
    volunteers: tuple[int, ...] = (1,)
    classes: tuple[int, ...] = tuple(range(1, 56))
    repetitions: tuple[int, ...] = (1, 15)
    seed: int = 0
    modalities: tuple[str, ...] = XRF55_MODALITIES
    contamination: Contamination = field(default_factory=Contamination)

    def __post_init__(self) -> None:
        _check_seed(self.seed)
        bad_scenes = [s for s in self.scenes if s not in XRF55_SCENES]
        if bad_scenes or not self.scenes:
            raise SpecError(f"unknown scene(s) {bad_scenes}; known: {', '.join(XRF55_SCENES)}")
        if not self.volunteers or any(not 1 <= v <= 99 for v in self.volunteers):
            raise SpecError(f"volunteer ids must be 1..99, got {self.volunteers}")
        if not self.classes or any(not 1 <= c <= 55 for c in self.classes):
            raise SpecError(f"classes must be 1..55, got {self.classes}")
        if not self.repetitions or any(not 1 <= r <= 20 for r in self.repetitions):
            raise SpecError(f"repetitions must be 1..20, got {self.repetitions}")
        bad = [m for m in self.modalities if m not in XRF55_MODALITIES]
        if bad or not self.modalities:
            raise SpecError(f"unknown XRF55 modality {bad}; known: {', '.join(XRF55_MODALITIES)}")

    def samples(self) -> list[tuple[str, int, int, int]]:
        return [
            (s, v, c, r)
            for s in self.scenes
            for v in self.volunteers
            for c in self.classes
            for r in self.repetitions
        ]

    def content_key(self) -> dict:
        return {
            "seed": self.seed,
            "modalities": list(self.modalities),
            "contamination": dataclasses.asdict(self.contamination),
        }


def _check_seed(seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise SpecError(f"seed must be an integer in [0, 2^63), got {seed!r}")


def seed_sequence(seed: int, tag: int, *ids: int) -> np.random.SeedSequence:
    return np.random.SeedSequence([seed & 0xFFFFFFFF, seed >> 32, tag, *ids])
