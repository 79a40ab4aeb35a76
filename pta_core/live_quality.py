"""Live sensor quality: which live sensors still see the person, from the students' own readouts.

Each live sensor m has its own readout (the model on m alone: its student). A sensor that went bad
disagrees with every other sensor; a good one agrees with the other good ones. Per frame::

    score_m = the ``peers``-th smallest of  d(own_m, own_o) / (e_m + e_o)  over the other live sensors o

with d the mean joint distance (mm) and e the validated MPJPE of each sensor alone (what it is
expected to miss by). With ``peers`` = 2 a sensor needs two others to vouch for it, so two sensors
that went bad together cannot outvote three good ones. A sensor is left out after its score stays
above its threshold for ``drop_after`` frames and served again after it stays below for
``restore_after`` frames (hysteresis: the set does not flap). With fewer than ``peers`` + 1 live
sensors nothing is judged. bench/sensor_quality_signals.py measures the signals; bench/live_quality.py
fits the thresholds on training subjects and scores the choice.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class QualityPolicy:
    thresholds: Mapping[str, float]  # per sensor: a score above it is a bad frame
    peers: int = 2
    drop_after: int = 2  # consecutive bad frames before the sensor is left out
    restore_after: int = 3  # consecutive good frames before it is served again


def readout_distance_mm(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b), axis=-1).mean() * 1e3)


def quality_scores(own: Mapping[str, np.ndarray], expected_mm: Mapping[str, float], peers: int = 2) -> dict[str, float]:
    """Each sensor's score (see the module docstring); {} with fewer than ``peers`` + 1 sensors."""
    if len(own) < peers + 1:
        return {}
    scores = {}
    for m in own:
        scaled = sorted(readout_distance_mm(own[m], own[o]) / (expected_mm[m] + expected_mm[o]) for o in own if o != m)
        scores[m] = scaled[peers - 1]
    return scores


@dataclass
class _SensorState:
    bad: bool = False
    run: int = 0  # consecutive frames against the current state


@dataclass
class QualityMonitor:
    """The hysteresis over per-frame scores; :meth:`update` returns the sensors left out."""

    policy: QualityPolicy
    _states: dict[str, _SensorState] = field(default_factory=dict)
    last_scores: dict[str, float] = field(default_factory=dict)

    def update(self, scores: Mapping[str, float]) -> set[str]:
        """One frame's scores (sensors not scored this frame keep their state)."""
        self.last_scores = dict(scores)
        for m, score in scores.items():
            state = self._states.setdefault(m, _SensorState())
            looks_bad = score > self.policy.thresholds.get(m, np.inf)
            state.run = state.run + 1 if looks_bad != state.bad else 0
            if state.run >= (self.policy.drop_after if not state.bad else self.policy.restore_after):
                state.bad, state.run = not state.bad, 0
        return self.left_out()

    def left_out(self) -> set[str]:
        return {m for m, state in self._states.items() if state.bad}

    def reason(self, m: str) -> str:
        """Why ``m`` is left out ("" when it is not)."""
        if m not in self.left_out():
            return ""
        score = self.last_scores.get(m)
        shown = "no score this frame" if score is None else f"score {score:.2f}"
        return (f"its readout disagrees with the other sensors' ({shown} > {self.policy.thresholds[m]:.2f} for "
                f"{self.policy.drop_after} frames)")


def fit_thresholds(clean: Mapping[str, list[float]], bad: Mapping[str, list[float]]) -> dict[str, float]:
    """Per sensor, the threshold that best separates its scores on clean frames from those on frames
    where it was degraded (training data): the midpoint, on a log scale, of the cut minimising false
    alarms plus misses."""
    thresholds = {}
    for m in clean:
        c, b = np.sort(np.asarray(clean[m])), np.sort(np.asarray(bad.get(m, [])))
        if len(b) == 0:
            thresholds[m] = float(np.inf)
            continue
        candidates = np.unique(np.concatenate([c, b]))
        errors = [np.mean(c > t) + np.mean(b <= t) for t in candidates]
        best = candidates[int(np.argmin(errors))]
        above = candidates[candidates > best]
        thresholds[m] = float(np.sqrt(best * above[0])) if len(above) and best > 0 else float(best)
    return thresholds
