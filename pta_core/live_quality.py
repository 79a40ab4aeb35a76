"""Live sensor quality: which live sensors still see the person, from the students' own readouts.

Each live sensor m has its own readout (the model on m alone: its student). Two sensors agree when

    D(m, o) = d(own_m, own_o) / (e_m + e_o)  ≤  tolerance

with d the mean joint distance (mm) and e the validated MPJPE of each sensor alone (what it is
expected to miss by). Per frame the sensors that still see the person are the largest group whose
members all agree pairwise (ties: the group of the most accurate sensors, :func:`consistent_group`).
A sensor that went bad agrees with nobody, or with other bad ones by chance; the good ones agree with
each other, so two sensors gone bad together cannot outvote three good ones, and cannot take a good
one out with them (the earlier rule, each sensor's second-closest peer, did: with the camera's two
sensors bad, a good depth reading had only one good peer left).

Each sensor is judged by the group's members nearly as accurate as it (``peer_ratio``) that are not
themselves left out; its score is its worst disagreement with them (above the tolerance: a bad
frame). Weak sensors (Wi-Fi, radar) agree with almost anything within their large errors: they
must not out-vote the LiDAR, and a depth camera already left out must not judge it from a group it
formed with Wi-Fi (both measured: the LiDAR was left out with the camera).
A sensor is left out after it stays outside for ``drop_after`` frames, or at once when two judges
find it plainly bad (``drop_at``), and served again after it stays inside for ``restore_after`` frames (hysteresis:
the set does not flap). With fewer than ``min_live`` live sensors, or no two that agree, nothing is
judged. bench/sensor_quality_signals.py measures the signals; bench/live_quality.py fits the
tolerance on a validation subject and scores the choice.
"""
from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from pta_core.validation import ValidationRow

# D = 1: two readouts as far apart as their validated errors added up. bench/live_quality.py fitted
# 1.04 on the shipped model's validation subject (docs/RESULTS.md); the node's default rounds it.
DEFAULT_TOLERANCE = 1.0


@dataclass(frozen=True)
class QualityPolicy:
    tolerance: float = DEFAULT_TOLERANCE  # scaled disagreement above which two readouts do not agree
    drop_after: int = 2  # consecutive frames outside the group before the sensor is left out
    # ... or at once when two of its judges put it beyond this many tolerances: a sensor that went
    # plainly bad (depth hundreds of mm off) costs the most in the frames the hysteresis waits; false
    # alarms sit near the tolerance, and one judge may itself be bad.
    drop_at: float = 3.0
    restore_after: int = 3  # consecutive frames inside before it is served again
    min_live: int = 3  # with two live sensors that disagree, nothing says which one is wrong
    # A sensor is judged only by group members at most this many times less accurate than it (by
    # validated error): a Wi-Fi readout 300 mm off cannot out-vote a LiDAR expected within 35 mm.
    peer_ratio: float = 2.5
    # Per sensor, the score above which its frame counts as bad for the hysteresis (default:
    # ``tolerance``): a sensor whose own readout is heavy-tailed (the radar) needs more room than the
    # group's agreement tolerance. The at-once drop keeps ``drop_at`` × ``tolerance``. Fitted on a
    # validation subject and stored in the model file (bench/live_quality.py --store).
    verdict: Mapping[str, float] = field(default_factory=dict)

    def verdict_of(self, m: str) -> float:
        return self.verdict.get(m, self.tolerance)


Disagreements = dict[str, dict[str, float]]  # D[a][b] = D[b][a]


def disagreements(own: Mapping[str, np.ndarray], expected_mm: Mapping[str, float]) -> Disagreements:
    """D for every pair of live sensors (one array operation: this runs on every frame)."""
    names = list(own)
    readouts = np.stack([np.asarray(own[m], dtype=np.float64) for m in names])  # (M, J, 3) metres
    distance_mm = np.linalg.norm(readouts[:, None] - readouts[None], axis=-1).mean(axis=-1) * 1e3
    expected = np.array([expected_mm[m] for m in names])
    scaled = (distance_mm / (expected[:, None] + expected[None])).tolist()
    return {a: {b: scaled[i][j] for j, b in enumerate(names) if j != i} for i, a in enumerate(names)}


def pair_values(pairs: Disagreements) -> list[tuple[str, str, float]]:
    """Each pair once: (a, b, D)."""
    names = list(pairs)
    return [(a, b, pairs[a][b]) for a, b in itertools.combinations(names, 2)]


def consistent_group(pairs: Disagreements, expected_mm: Mapping[str, float], live: list[str],
                     tolerance: float) -> tuple[str, ...]:
    """The largest group of ``live`` sensors that agree pairwise; () when no two agree. Among groups of
    one size, the one whose agreement says most: Σ over its pairs of 1 / (e_a + e_b), as two accurate
    sensors agreeing is strong evidence and anything agreeing with Wi-Fi's wide error is weak (measured
    on a validation subject: a tie broken by the closest agreement let a bad camera's keypoints and
    Wi-Fi out-vote the LiDAR)."""
    def evidence(group: tuple[str, ...]) -> float:
        return sum(1.0 / (expected_mm[a] + expected_mm[b]) for a, b in itertools.combinations(group, 2))

    for size in range(len(live), 1, -1):
        groups = [g for g in itertools.combinations(live, size)
                  if all(pairs[a][b] <= tolerance for a, b in itertools.combinations(g, 2))]
        if groups:
            return max(groups, key=evidence)
    return ()


class Score(NamedTuple):
    """A sensor's disagreement with its judges: the worst over the trusted ones (None: none judged it;
    the hysteresis then waits), and the second worst over every judge, left out or not (0 with one)."""

    worst: float | None
    second: float = 0.0


def quality_scores(own: Mapping[str, np.ndarray], expected_mm: Mapping[str, float], policy: QualityPolicy,
                   distrusted: set[str] = frozenset()) -> dict[str, Score]:
    """Each judged sensor's worst disagreement with its peers in the group that agrees ({} when nothing
    is judged). A member is judged by the other members; a sensor outside by the members accurate
    enough to judge it (``peer_ratio``), and not at all when there are none."""
    if len(own) < policy.min_live:
        return {}
    pairs = disagreements(own, expected_mm)
    group = consistent_group(pairs, expected_mm, list(own), policy.tolerance)
    scores = {}
    for m in own:
        judges = [o for o in group if o != m and expected_mm[o] <= policy.peer_ratio * expected_mm[m]]
        if not judges:
            continue
        trusted = [pairs[m][o] for o in judges if o not in distrusted]
        ranked = sorted((pairs[m][o] for o in judges), reverse=True)
        scores[m] = Score(max(trusted) if trusted else None, ranked[1] if len(ranked) > 1 else 0.0)
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
    last_scores: dict[str, Score] = field(default_factory=dict)

    def update(self, scores: Mapping[str, Score]) -> set[str]:
        """One frame's scores (sensors not scored this frame keep their state)."""
        self.last_scores = dict(scores)
        for m, score in scores.items():
            state = self._states.setdefault(m, _SensorState())
            limit = self.policy.verdict_of(m)
            if score.second > self.policy.drop_at * self.policy.tolerance and not state.bad:
                state.bad, state.run = True, 0  # plainly bad: at once
                continue
            if score.worst is None:
                continue  # no trusted judge this frame
            looks_bad = score.worst > limit
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
        shown = "no score this frame" if score is None or score.worst is None else f"score {score.worst:.2f}"
        return (f"its readout disagrees with the sensors that agree with each other ({shown} > "
                f"{self.policy.verdict_of(m):.2f} for {self.policy.drop_after} frames, or > "
                f"{self.policy.drop_at * self.policy.verdict_of(m):.2f} by two judges once)")


def fit_tolerance(agreeing: list[float], disagreeing: list[float]) -> float:
    """The tolerance that best separates D of pairs of good sensors from D of pairs with one degraded
    sensor (validation data): the geometric midpoint of the cut minimising false alarms plus misses."""
    good, bad = np.sort(np.asarray(agreeing)), np.sort(np.asarray(disagreeing))
    if len(bad) == 0:
        return float(np.inf)
    candidates = np.unique(np.concatenate([good, bad]))
    errors = [np.mean(good > t) + np.mean(bad <= t) for t in candidates]
    best = candidates[int(np.argmin(errors))]
    above = candidates[candidates > best]
    return float(np.sqrt(best * above[0])) if len(above) and best > 0 else float(best)


def expected_errors(validation: Iterable[ValidationRow], modalities: Iterable[str]) -> dict[str, float] | None:
    """Each modality's validated MPJPE alone (mm); None when one has none (a model without a pose head,
    or a validation table without single-modality rows): then nothing can be judged."""
    alone = {row.modalities[0]: row.mpjpe_mm for row in validation if len(row.modalities) == 1}
    expected = {m: alone.get(m) for m in modalities}
    if any(e is None or not np.isfinite(e) or e <= 0 for e in expected.values()):
        return None
    return expected


class LiveQuality:
    """The judge of one stream: per frame, the live sensors' own readouts (one batched decode of the
    frame's encodings) → scores → the hysteresis → the sensors left out."""

    def __init__(self, policy: QualityPolicy, expected_mm: Mapping[str, float]):
        self.policy = policy
        self.expected_mm = dict(expected_mm)
        self.monitor = QualityMonitor(policy)

    @classmethod
    def for_model(cls, predictor, policy: QualityPolicy) -> LiveQuality:
        """Live quality for ``predictor``'s model: its validated errors alone, and its stored per-sensor
        verdicts where ``policy`` gives none. Raises ValueError for a model that cannot be judged."""
        expected = expected_errors(predictor.validation, predictor.modalities)
        if expected is None:
            raise ValueError("live quality needs the validated pose error of every modality alone "
                             "(a pose model trained with students has one); this model has none")
        if not policy.verdict and predictor.card.quality_verdicts:
            policy = dataclasses.replace(policy, verdict=dict(predictor.card.quality_verdicts))
        return cls(policy, expected)

    def judge(self, predictor, frame) -> set[str]:
        """``frame``: a :class:`~pta_core.serving.EncodedFrame` of the live sensors."""
        own = predictor.readouts(frame) if len(frame.samples) >= self.policy.min_live else {}
        return self.monitor.update(quality_scores(own, self.expected_mm, self.policy, self.monitor.left_out()))


def served_choice(predictor, live: Iterable[str], left_out: set[str]) -> tuple[str, ...] | None:
    """The best validated set of the live sensors not left out (of all live ones when every one is)."""
    live = list(live)
    return predictor.best_subset([m for m in live if m not in left_out]) or predictor.best_subset(live)
