"""MM-Fi protocols and splits, exactly as the official toolbox's ``decode_config`` builds them.

A split is defined over the official 40 subjects and the protocol's actions, never over what is on
disk: a partial copy of the dataset gets the same split, minus the sequences it lacks.
Sides are named ``train`` and ``test`` (the toolbox's "validation" set is the evaluation split).

Sequence order reproduces the toolbox's frame-mode order: subjects in the order they first enter the
side's ``data_form`` dict, then their actions in insertion order.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pta_core.config import DataConfig
from pta_core.data.mmfi import MMFI_ACTION_IDS, MMFI_SUBJECTS, PROTOCOL_ACTIONS

log = logging.getLogger(__name__)

SIDES = ("train", "test")
# cross_subject_split's validation subjects in the toolbox's config.yaml (docs/datasets.md §1.7).
CROSS_SUBJECT_VAL = ("S05", "S10", "S15", "S20", "S25", "S30", "S35", "S40")
CROSS_SCENE_TRAIN = MMFI_SUBJECTS[:30]  # E01–E03
CROSS_SCENE_VAL = MMFI_SUBJECTS[30:]  # E04

Form = dict[str, list[str]]  # subject → actions, in insertion order (the toolbox's data_form)


@dataclass(frozen=True)
class MMFiSplit:
    """Both sides of a split as (subject, action) sequence pairs in toolbox order."""

    train: tuple[tuple[str, str], ...]
    test: tuple[tuple[str, str], ...]

    def side(self, side: str) -> tuple[tuple[str, str], ...]:
        if side not in SIDES:
            raise ValueError(f"unknown split side {side!r}; expected one of {SIDES}")
        return self.train if side == "train" else self.test


def _flatten(form: Form) -> tuple[tuple[str, str], ...]:
    return tuple((subject, action) for subject, actions in form.items() for action in actions)


def _split(train: Form, val: Form) -> MMFiSplit:
    return MMFiSplit(_flatten(train), _flatten(val))


def random_split_val_subjects(seed: int, ratio: float = 0.8) -> tuple[str, ...]:
    """Validation subjects for one action whose RNG seed is ``seed`` (sorted).

    The toolbox calls ``np.random.seed(seed)`` then ``np.random.permutation(40)``; a legacy
    ``RandomState(seed)`` is the same Mersenne Twister stream without touching global state.
    """
    perm = np.random.RandomState(seed).permutation(len(MMFI_SUBJECTS))
    cut = int(np.floor(ratio * len(MMFI_SUBJECTS)))
    return tuple(sorted(MMFI_SUBJECTS[i] for i in perm[cut:]))


def random_split(actions: Sequence[str], ratio: float = 0.8, seed: int = 0) -> MMFiSplit:
    """Per action k (in ``actions`` order), seed ``seed + k``, permute the 40 subjects, first
    ⌊ratio·40⌋ train, the rest validation. Every sequence goes wholly to one side."""
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f"random_split ratio must be in (0, 1], got {ratio}")
    cut = int(np.floor(ratio * len(MMFI_SUBJECTS)))
    train: Form = {}
    val: Form = {}
    for k, action in enumerate(actions):
        perm = np.random.RandomState(seed + k).permutation(len(MMFI_SUBJECTS))
        train_set = {MMFI_SUBJECTS[i] for i in perm[:cut]}
        for subject in MMFI_SUBJECTS:  # the toolbox walks all subjects in order for each action
            side = train if subject in train_set else val
            side.setdefault(subject, []).append(action)
    return _split(train, val)


def cross_subject_split(
    actions: Sequence[str],
    val_subjects: Sequence[str] = CROSS_SUBJECT_VAL,
    train_subjects: Sequence[str] = (),
) -> MMFiSplit:
    """Subjects per side (train defaults to every subject not in ``val_subjects``), protocol actions."""
    _check_names(val_subjects, MMFI_SUBJECTS, "subject")
    train_subjects = tuple(train_subjects) or tuple(s for s in MMFI_SUBJECTS if s not in set(val_subjects))
    _check_names(train_subjects, MMFI_SUBJECTS, "subject")
    _warn_overlap(train_subjects, val_subjects, "subjects")
    return _split({s: list(actions) for s in train_subjects}, {s: list(actions) for s in val_subjects})


def cross_scene_split(actions: Sequence[str]) -> MMFiSplit:
    """Hard-coded in the toolbox: S01–S30 (E01–E03) train, S31–S40 (E04) validation."""
    return _split({s: list(actions) for s in CROSS_SCENE_TRAIN}, {s: list(actions) for s in CROSS_SCENE_VAL})


def manual_split(
    train_subjects: Sequence[str],
    train_actions: Sequence[str],
    val_subjects: Sequence[str],
    val_actions: Sequence[str],
) -> MMFiSplit:
    """Subjects and actions per side; the protocol is ignored (as in the toolbox)."""
    for names, known, what in (
        (train_subjects, MMFI_SUBJECTS, "subject"),
        (val_subjects, MMFI_SUBJECTS, "subject"),
        (train_actions, MMFI_ACTION_IDS, "action"),
        (val_actions, MMFI_ACTION_IDS, "action"),
    ):
        _check_names(names, known, what)
    if not (train_subjects and train_actions and val_subjects and val_actions):
        raise ValueError(
            "manual_split needs data.train_subjects, data.train_actions, data.val_subjects and data.val_actions"
        )
    overlap = {(s, a) for s in train_subjects for a in train_actions} & {
        (s, a) for s in val_subjects for a in val_actions
    }
    if overlap:
        log.warning(
            "manual_split: %d sequence(s) are on both sides, e.g. %s", len(overlap), sorted(overlap)[0]
        )
    return _split(
        {s: list(train_actions) for s in train_subjects}, {s: list(val_actions) for s in val_subjects}
    )


def mmfi_split(cfg: DataConfig) -> MMFiSplit:
    """The split a :class:`DataConfig` names (``protocol``, ``split`` and its parameters)."""
    actions = PROTOCOL_ACTIONS[cfg.protocol]
    if cfg.split == "random_split":
        return random_split(actions, cfg.split_ratio, cfg.split_seed)
    if cfg.split == "cross_subject_split":
        return cross_subject_split(actions, cfg.val_subjects or CROSS_SUBJECT_VAL, cfg.train_subjects)
    if cfg.split == "cross_scene_split":
        return cross_scene_split(actions)
    if cfg.split == "manual_split":
        return manual_split(cfg.train_subjects, cfg.train_actions, cfg.val_subjects, cfg.val_actions)
    raise ValueError(f"unknown MM-Fi split {cfg.split!r}")


def _check_names(names: Sequence[str], known: Sequence[str], what: str) -> None:
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown MM-Fi {what}(s) {unknown}; expected {known[0]}..{known[-1]}")
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate MM-Fi {what} in {list(names)}")


def _warn_overlap(train: Sequence[str], val: Sequence[str], what: str) -> None:
    both = sorted(set(train) & set(val))
    if both:
        log.warning("split: %s %s are on both sides", what, both)
