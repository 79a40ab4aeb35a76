"""The node's choice of modality set, frame by frame, offline: what ``pta_ros``'s pipeline serves from a
stream of raw frames, without DDS (``pta eval --node-choice``, bench/live_quality.py).

Per frame, as the node does: the live sensors (those whose raw input preprocesses: a missing or
unusable one is not live), their encodings, each one's own readout, live quality's verdict (when a
policy is given), today's choice (the best validated set of the live sensors) and the choice under
live quality; every set asked for is decoded in one batch from the same encodings.
"""
from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from pta_core.errors import InvalidInput
from pta_core.live_quality import LiveQuality, QualityPolicy, served_choice
from pta_core.metrics import mpjpe, pa_mpjpe
from pta_core.serving import Predictor


@dataclass(frozen=True)
class ChoiceFrame:
    live: tuple[str, ...]
    today: tuple[str, ...] | None  # the best validated set of the live sensors (None: nothing live)
    chosen: tuple[str, ...] | None  # the same without the sensors live quality left out
    left_out: tuple[str, ...]
    joints: dict[tuple[str, ...], np.ndarray]  # (17, 3) per decoded set: today's, the chosen, each sensor alone


def replay_choice(predictor: Predictor, frames: Iterable[Mapping[str, np.ndarray | None]],
                  policy: QualityPolicy | None, every_set: bool = False) -> Iterator[ChoiceFrame]:
    """One :class:`ChoiceFrame` per raw frame (modality → raw sample or None), in order: one stream, so
    live quality's hysteresis runs across the frames. ``every_set`` also decodes every subset of the
    live sensors (an oracle's view)."""
    quality = LiveQuality.for_model(predictor, policy) if policy is not None else None
    for raw in frames:
        samples = {}
        for m in predictor.modalities:
            if raw.get(m) is not None:
                with contextlib.suppress(InvalidInput):  # the node rejects it: not live this frame
                    samples[m] = predictor.preprocess(m, raw[m])
        live = tuple(samples)
        if not live:
            yield ChoiceFrame((), None, None, (), {})
            continue
        encoded = predictor.encode(samples)
        left_out = quality.judge(predictor, encoded) if quality is not None else set()
        today = predictor.best_subset(live)
        chosen = served_choice(predictor, live, left_out)
        sets = {(m,) for m in live} | {s for s in (today, chosen) if s is not None}
        if every_set:
            sets |= {s for k in range(2, len(live) + 1) for s in itertools.combinations(live, k)}
        order = sorted(sets, key=lambda s: (len(s), s))
        joints = predictor.decode(encoded, order).joints
        yield ChoiceFrame(live, today, chosen, tuple(sorted(left_out)), dict(zip(order, joints)))


def score_choice(predictor: Predictor, frames: Iterable, policy: QualityPolicy | None) -> dict:
    """MPJPE / PA-MPJPE (mm) of the node's choice over MM-Fi frames (``.raw``, ``.pose``) played in
    order, the set switches and the frames each set served; frames with nothing live are counted."""
    served, truth, sets, unserved, poses = [], [], [], 0, []

    def raws() -> Iterator[Mapping[str, np.ndarray | None]]:  # one pass: a test split's images do not fit in memory
        for frame in frames:
            poses.append(frame.pose)
            yield frame.raw

    for index, choice in enumerate(replay_choice(predictor, raws(), policy)):
        if choice.chosen is None:
            unserved += 1
            continue
        served.append(choice.joints[choice.chosen])
        truth.append(poses[index])
        sets.append("+".join(choice.chosen))
    if not served:
        raise ValueError("no frame had a live sensor")
    joints, poses = np.stack(served), np.stack(truth)
    return {"mpjpe_mm": float(mpjpe(joints, poses)), "pa_mpjpe_mm": float(pa_mpjpe(joints, poses)),
            "frames": len(served), "frames_nothing_live": unserved,
            "switches": sum(a != b for a, b in zip(sets, sets[1:])),
            "sets": {s: sets.count(s) for s in sorted(set(sets), key=sets.count, reverse=True)}}
