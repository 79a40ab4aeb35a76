"""Which recording a sample belongs to (held-out groups never split a sequence) and windows of
consecutive frames (the windowed activity head's input)."""

from __future__ import annotations

import numpy as np
import pytest
from data_trees import frame_path, write_mmfi_tree, write_xrf55_tree

from pta_core.config import DataConfig
from pta_core.data import open_split
from pta_core.data.sequences import sample_groups, sequence_windows
from pta_core.training.purify import meta_split


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("seq")
    root = write_mmfi_tree(tmp / "mmfi", ["S01", "S02", "S03"], ["A02", "A04"], frames=6, modalities=("lidar",))
    frame_path(root, "S02", "A04", "lidar", 4).unlink()  # the frame stays, with its LiDAR absent
    cfg = DataConfig(
        root=str(root), cache_dir=str(tmp / "cache"), modalities=("lidar",), split="manual_split",
        train_subjects=("S01", "S02", "S03"), train_actions=("A02", "A04"),
        val_subjects=("S04",), val_actions=("A01",),
    )
    return open_split(cfg, "train", progress=False)


def _key(split, rows):
    return [(int(split.meta["subject"][r]), int(split.meta["action"][r])) for r in rows]


def test_groups_are_subjects_or_sequences(split):
    subjects = sample_groups(split, "subject")
    sequences = sample_groups(split, "sequence")
    assert len(np.unique(subjects)) == 3 and len(np.unique(sequences)) == 6
    for group in np.unique(sequences):
        rows = np.flatnonzero(sequences == group)
        assert len(set(_key(split, rows))) == 1  # one group = one (subject, action)
    with pytest.raises(ValueError, match="unknown group"):
        sample_groups(split, "frame")


@pytest.mark.parametrize("group", ["subject", "sequence"])
def test_meta_split_holds_out_whole_groups(split, group):
    groups = sample_groups(split, group)
    train, meta = meta_split(groups, 0.34, seed=3)
    assert len(train) + len(meta) == len(split) and not set(train) & set(meta)
    assert not set(groups[train]) & set(groups[meta])  # no group on both sides
    again_train, again_meta = meta_split(groups, 0.34, seed=3)
    np.testing.assert_array_equal(meta, again_meta)
    with pytest.raises(ValueError, match="leaves none"):
        meta_split(groups, 0.99, seed=3)


def test_windows_are_consecutive_frames_of_one_sequence(split):
    positions = np.arange(len(split))[::-1].copy()  # any order in, windows still run forward in time
    windows = sequence_windows(split, positions, 3)
    rows = positions[windows]
    frames = np.asarray(split.meta["frame"])[rows]
    np.testing.assert_array_equal(np.diff(frames, axis=1), 1)
    for window in rows:
        assert len(set(_key(split, window))) == 1
    assert len(windows) == 6 * 4  # 6 sequences of 6 frames (a frame without data is still a frame)
    gap = positions[np.asarray(split.meta["frame"])[positions] != 4]  # frame 4 of every sequence left out
    # Frames 1-3 and 5-6 remain: one window of 3 (1-2-3) and three of 2 per sequence, none of 4.
    assert [len(sequence_windows(split, gap, n)) for n in (2, 3, 4)] == [6 * 3, 6, 0]


def test_windows_respect_the_given_positions(split):
    sequences = sample_groups(split, "sequence")
    keep = np.flatnonzero(sequences == sequences[0])[:4]  # the first 4 frames of one sequence
    windows = sequence_windows(split, keep, 2)
    assert windows.shape == (3, 2) and windows.max() < len(keep)
    assert sequence_windows(split, keep, 5).shape == (0, 5)
    with pytest.raises(ValueError, match=">= 1"):
        sequence_windows(split, keep, 0)


def test_xrf55_samples_are_whole_sequences(tmp_path):
    write_xrf55_tree(tmp_path / "xrf" / "Scene1", [1, 2], [1, 2], [1, 15], ("xrf-rfid",))
    cfg = DataConfig(dataset="xrf55", root=str(tmp_path / "xrf"), cache_dir=str(tmp_path / "cache"),
                     modalities=("xrf-rfid",))
    split = open_split(cfg, "train", progress=False)
    assert len(np.unique(sample_groups(split, "sequence"))) == len(split)
    assert len(np.unique(sample_groups(split, "subject"))) == 2
    with pytest.raises(ValueError, match="whole sequences"):
        sequence_windows(split, np.arange(len(split)), 2)


def test_leading_frames_keep_the_start_of_each_recording():
    from types import SimpleNamespace

    from pta_core.data.sequences import leading_frames

    # Two recordings of 10 frames, rows shuffled: a quarter keeps each one's first ⌈2.5⌉ = 3 frames.
    rng = np.random.default_rng(0)
    order = rng.permutation(20)
    meta = {"subject": np.r_[np.ones(10), 2 * np.ones(10)][order].astype(int),
            "action": np.ones(20, int), "frame": np.r_[np.arange(10), np.arange(10)][order]}
    split = SimpleNamespace(meta=meta)
    kept = leading_frames(split, np.arange(20), 0.25)
    assert sorted(zip(meta["subject"][kept], meta["frame"][kept])) == [(1, 0), (1, 1), (1, 2), (2, 0), (2, 1), (2, 2)]
    assert len(leading_frames(split, np.arange(20), 1.0)) == 20
    with pytest.raises(ValueError, match="frame_fraction"):
        leading_frames(split, np.arange(20), 0.0)
