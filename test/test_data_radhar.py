"""RadHAR as cloned: the driver's text dumps parsed into scans (two point_id-0 segments 1.5 ms apart are
one scan), labelled by folder, read by recording, and windows of scans that a model learns from."""
from __future__ import annotations

import numpy as np
import pytest
from radar_trees import radhar_scans, write_radhar_tree

from pta_core.config import load_config
from pta_core.data import open_split
from pta_core.data import radhar as radhar_data
from pta_core.data.records import ReadStats
from pta_core.data.sequences import sample_groups, sequence_windows
from pta_core.errors import DataFormatError

SCANS = 40


def config(root, cache, *overrides):
    return load_config(None, [f"data.root={root}", f"data.cache_dir={cache}", "data.dataset=radhar",
                              "data.modalities=[mmwave]", "purify.meta_group=sequence", *overrides])


def test_scans_join_their_halves_and_keep_the_drivers_values(tmp_path):
    root = write_radhar_tree(tmp_path / "RadHAR")
    stats = ReadStats()
    recordings = radhar_data.scan_radhar(root, "train", stats)
    assert [r.path.parent.name for r in recordings] == ["boxing", "boxing", "walk", "walk"]
    frames = radhar_data.read_recording(recordings[2], stats)
    assert len(frames) == SCANS and stats.events["half_scans_joined"] == SCANS
    expected = radhar_scans(radhar_data.ACTIVITIES.index("walk"), 0, SCANS)
    np.testing.assert_allclose(frames[3].points, expected[3])  # x, y, z, velocity, intensity as dumped
    assert frames[3].activity == radhar_data.ACTIVITIES.index("walk")
    assert np.diff([f.stamp_ns for f in frames]).tolist() == [58_200_000] * (SCANS - 1)


def test_a_split_packs_by_recording_and_windows_stay_inside_recordings(tmp_path):
    root = write_radhar_tree(tmp_path / "RadHAR")
    split = open_split(config(root, tmp_path / "cache").data, "train", progress=False)
    assert len(split) == 4 * SCANS and not split.has_pose
    assert len(np.unique(sample_groups(split, "sequence"))) == 4
    windows = sequence_windows(split, np.arange(len(split)), radhar_data.WINDOW_FRAMES)
    assert len(windows) == 4 * (SCANS - radhar_data.WINDOW_FRAMES + 1)
    recording = np.asarray(split.meta["recording"])
    assert (recording[windows] == recording[windows[:, :1]]).all()


def test_malformed_dumps_fail_naming_the_file(tmp_path):
    root = write_radhar_tree(tmp_path / "RadHAR", recordings=1)
    path = root / "Data/Test/walk/walk_0.txt"
    path.write_text(path.read_text().replace("velocity: ", "velocity: nan-ish", 1))
    with pytest.raises(DataFormatError, match="walk_0.txt: a value is not a number"):
        radhar_data.read_recording(radhar_data.scan_radhar(root, "test", ReadStats())[1], ReadStats())
    (root / "Data/Train").rename(root / "Data/Elsewhere")
    with pytest.raises(FileNotFoundError, match="Data/Train"):
        radhar_data.scan_radhar(root, "train", ReadStats())
