"""MM-Fi protocols and the four split kinds, against docs/datasets.md §1.6-1.7 and the toolbox's decode_config."""

from __future__ import annotations

import numpy as np
import pytest

from pta_core.config import DataConfig
from pta_core.data.mmfi import MMFI_ACTION_IDS, MMFI_ACTIONS, MMFI_SUBJECTS, PROTOCOL_ACTIONS, action_label
from pta_core.data.splits import (
    CROSS_SUBJECT_VAL,
    cross_scene_split,
    cross_subject_split,
    manual_split,
    mmfi_split,
    random_split,
    random_split_val_subjects,
)

# docs/datasets.md §1.7: validation subjects of random_split per seed (ratio 0.8).
ORACLE = {
    0: "01 04 07 10 20 22 24 39", 1: "01 06 09 10 12 13 16 38", 2: "08 09 12 16 19 23 32 36",
    3: "01 04 09 11 20 22 25 34", 4: "01 02 04 06 09 10 24 31", 5: "09 10 15 17 28 31 36 38",
    6: "02 10 11 16 17 21 26 36", 7: "04 05 15 20 24 26 29 36", 8: "04 06 09 11 20 21 22 27",
    9: "02 23 28 29 30 34 39 40", 10: "01 10 16 26 29 30 34 37", 11: "08 13 14 17 18 26 28 34",
    12: "03 04 07 12 13 23 28 36", 13: "03 11 14 17 19 26 27 35", 14: "08 11 13 17 23 25 27 29",
    15: "01 06 08 09 12 13 28 29", 16: "02 05 06 17 31 32 33 38", 17: "05 07 08 16 21 23 32 38",
    18: "03 06 09 18 20 25 35 39", 19: "03 06 11 20 23 30 32 35", 20: "10 16 21 27 29 32 36 39",
    21: "05 09 10 11 16 21 35 36", 22: "01 05 09 19 21 30 32 37", 23: "10 13 20 26 27 28 32 39",
    24: "01 02 04 16 18 24 35 36", 25: "05 09 16 24 26 27 29 40", 26: "02 05 07 14 18 20 27 33",
}  # fmt: skip


def _subjects(text: str) -> tuple[str, ...]:
    return tuple(f"S{n}" for n in text.split())


def _toolbox_decode(actions, ratio, rs):
    """Transcription of the toolbox's random_split branch (global legacy RNG), to compare orders."""
    all_subjects = list(MMFI_SUBJECTS)
    train_form, val_form = {}, {}
    for action in actions:
        np.random.seed(rs)
        idx = np.random.permutation(len(all_subjects))
        cut = int(np.floor(ratio * len(all_subjects)))
        subjects_train = np.array(all_subjects)[idx[:cut]].tolist()
        subjects_val = np.array(all_subjects)[idx[cut:]].tolist()
        for subject in all_subjects:
            if subject in subjects_train:
                train_form.setdefault(subject, []).append(action)
            if subject in subjects_val:
                val_form.setdefault(subject, []).append(action)
        rs += 1
    flat = lambda form: tuple((s, a) for s, acts in form.items() for a in acts)  # noqa: E731
    return flat(train_form), flat(val_form)


@pytest.mark.parametrize("seed", sorted(ORACLE))
def test_random_split_oracle_table(seed):
    assert random_split_val_subjects(seed) == _subjects(ORACLE[seed])
    # Protocol 3 action A(seed+1) uses seed `seed`: its validation side holds exactly those subjects.
    split = random_split(PROTOCOL_ACTIONS["protocol3"])
    action = MMFI_ACTION_IDS[seed]
    assert tuple(sorted(s for s, a in split.test if a == action)) == _subjects(ORACLE[seed])
    assert len([1 for s, a in split.train if a == action]) == 32


@pytest.mark.parametrize("protocol", ["protocol1", "protocol2", "protocol3"])
def test_random_split_matches_toolbox_order_and_sets(protocol):
    actions = PROTOCOL_ACTIONS[protocol]
    split = random_split(actions, 0.8, 0)
    train, val = _toolbox_decode(actions, 0.8, 0)
    assert split.train == train and split.test == val
    assert not set(split.train) & set(split.test)
    assert len(split.train) + len(split.test) == 40 * len(actions)
    # The first action of every protocol uses seed 0 (P1's A02, P2's A01).
    first = actions[0]
    assert tuple(sorted(s for s, a in split.test if a == first)) == _subjects(ORACLE[0])


def test_random_split_other_seed_and_ratio():
    split = random_split(PROTOCOL_ACTIONS["protocol1"], 0.5, 7)
    train, val = _toolbox_decode(PROTOCOL_ACTIONS["protocol1"], 0.5, 7)
    assert split.train == train and split.test == val
    assert len(split.test) == 20 * 14
    with pytest.raises(ValueError, match="ratio"):
        random_split(PROTOCOL_ACTIONS["protocol1"], 0.0)


def test_random_split_does_not_touch_global_rng():
    np.random.seed(123)
    expected = np.random.rand()
    np.random.seed(123)
    random_split(PROTOCOL_ACTIONS["protocol3"])
    assert np.random.rand() == expected


def test_protocol_lists_and_labels():
    assert len(PROTOCOL_ACTIONS["protocol1"]) == 14 and len(PROTOCOL_ACTIONS["protocol2"]) == 13
    assert sorted(PROTOCOL_ACTIONS["protocol1"] + PROTOCOL_ACTIONS["protocol2"]) == list(MMFI_ACTION_IDS)
    assert PROTOCOL_ACTIONS["protocol1"][:3] == ("A02", "A03", "A04")
    assert (
        len(MMFI_ACTIONS) == 27
        and MMFI_ACTIONS[0] == "Stretching and relaxing"
        and MMFI_ACTIONS[26] == "Bowing"
    )
    assert action_label("A01") == 0 and action_label("A27") == 26
    with pytest.raises(ValueError, match="A28"):
        action_label("A28")


def test_cross_subject_split():
    split = cross_subject_split(PROTOCOL_ACTIONS["protocol2"])
    assert {s for s, _ in split.test} == set(CROSS_SUBJECT_VAL)
    assert {s for s, _ in split.train} == set(MMFI_SUBJECTS) - set(CROSS_SUBJECT_VAL)
    assert {a for _, a in split.train} == set(PROTOCOL_ACTIONS["protocol2"])
    assert len(split.train) == 32 * 13 and len(split.test) == 8 * 13
    cfg = DataConfig(split="cross_subject_split", protocol="protocol1", val_subjects=("S01", "S02"))
    custom = mmfi_split(cfg)
    assert {s for s, _ in custom.test} == {"S01", "S02"} and len(custom.train) == 38 * 14


def test_cross_scene_split():
    split = mmfi_split(DataConfig(split="cross_scene_split", protocol="protocol3"))
    assert {s for s, _ in split.train} == {f"S{i:02d}" for i in range(1, 31)}
    assert {s for s, _ in split.test} == {f"S{i:02d}" for i in range(31, 41)}
    assert len(split.test) == 10 * 27
    assert split == cross_scene_split(MMFI_ACTION_IDS)


def test_manual_split_uses_subjects_and_actions_and_ignores_protocol():
    cfg = DataConfig(
        split="manual_split",
        protocol="protocol1",
        train_subjects=("S03", "S01"),
        train_actions=("A01", "A05"),
        val_subjects=("S40",),
        val_actions=("A27",),
    )
    split = mmfi_split(cfg)
    assert split.train == (("S03", "A01"), ("S03", "A05"), ("S01", "A01"), ("S01", "A05"))
    assert split.test == (("S40", "A27"),)
    assert split.side("test") == split.test
    with pytest.raises(ValueError, match="side"):
        split.side("validation")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"train_subjects": ("S41",)}, "unknown MM-Fi subject"),
        ({"train_actions": ("A00",)}, "unknown MM-Fi action"),
        ({"train_subjects": ("S01", "S01")}, "duplicate"),
        ({"val_actions": ()}, "manual_split needs"),
    ],
)
def test_manual_split_rejects_bad_lists(kwargs, message):
    args = {
        "train_subjects": ("S01",),
        "train_actions": ("A01",),
        "val_subjects": ("S02",),
        "val_actions": ("A01",),
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        manual_split(**args)
