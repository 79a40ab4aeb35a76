"""MARS as cloned: the time split rule, .mat radar paired with the split CSVs' Kinect rows and checked
against the radar CSVs, the axes and units, the quirks counted, and a split that packs and trains."""
from __future__ import annotations

import numpy as np
import pytest
from radar_trees import mars_frames, write_mars_tree

from pta_core.config import load_config
from pta_core.data import PackedDataset, open_split
from pta_core.data import mars as mars_data
from pta_core.data.records import ReadStats
from pta_core.data.sources import split_source
from pta_core.errors import DataFormatError
from pta_core.skeleton import KINECT_19
from pta_core.training.purify import split_meta_val

FRAMES = 12  # per movement: 8 train, 3 validate, 1 test (⌈0.6·12⌉, ⌈0.2·12⌉, the rest)


def config(root, cache, *overrides):
    return load_config(None, [f"data.root={root}", f"data.cache_dir={cache}", "data.dataset=mars",
                              "data.modalities=[mmwave]", "data.split=time_split", "purify.meta_group=dataset",
                              *overrides])


def test_the_split_rule_matches_the_papers_counts():
    # Subject 1's movement 1 in the published copy: 996 frames → 598 / 200 / 198.
    assert mars_data.part_sizes(996) == (598, 200, 198)
    assert mars_data.part_sizes(883) == (530, 177, 176)
    assert mars_data.part_sizes(FRAMES) == (8, 3, 1)


def test_frames_pair_in_order_in_the_reference_frame(tmp_path):
    root = write_mars_tree(tmp_path / "MARS")
    stats = ReadStats()
    listings = mars_data.scan_mars(root, stats)
    frames = list(mars_data.part_frames(listings[1], mars_data.VALIDATE, stats))
    assert len(frames) == 2 * 3 and [f.frame for f in frames] == [8, 9, 10] * 2
    radar, kinect = mars_frames(2, 1, FRAMES)
    first = frames[0]
    # ti_mmwave axes: x forward = MARS y, y left = −MARS x, z up; intensity 10·log10(peak + 1) dB.
    np.testing.assert_allclose(first.points[:, :3], radar[8][:, [3, 2, 4]] * [1, -1, 1])
    np.testing.assert_allclose(first.points[:, 3], radar[8][:, 5])
    np.testing.assert_allclose(first.points[:, 4], 10 * np.log10(radar[8][:, 6] + 1))
    scored = kinect[8][list(mars_data.SCORED)]
    np.testing.assert_allclose(first.joints, scored[:, [1, 0, 2]] * [1, -1, 1], atol=1e-4)
    assert first.joints.shape == (len(KINECT_19), 3)
    assert stats.events["frames_checked_against_radar_csv"] == 6


def test_sides_meta_val_and_quirks(tmp_path):
    root = write_mars_tree(tmp_path / "MARS", radar_csv=("validate",))
    (root / "synced_data/woutlier/subject1/timesplit/kinect_data_train.csv").unlink()  # as in the published copy
    cfg = config(root, tmp_path / "cache")
    train, test = split_source(cfg.data, "train"), split_source(cfg.data, "test")
    # Subject 1 lacks its train Kinect rows: its 2 × 8 train radar frames are unpaired, not used.
    assert train.num_samples == 8 * 2 + 3 * 2 * 2 and test.num_samples == 1 * 2 * 2
    assert train.scan_stats.events["unpaired_radar_frames"] == 16
    assert train.scan_stats.events["kinect_csv_missing"] == 1 and train.scan_stats.events["radar_csv_missing"] == 4
    split = open_split(cfg.data, "train", progress=False)
    assert split.manifest["joints"] == list(KINECT_19.joints) and split.pose.shape[1:] == (19, 3)
    meta_train, meta_val = split_meta_val(split, cfg.purify)
    assert len(meta_val) == 12 and (np.asarray(split.meta["part"])[meta_val] == mars_data.VALIDATE).all()
    assert len(meta_train) == 16
    loso = config(root, tmp_path / "cache", "data.split=cross_subject_split", "data.val_subjects=[subject2]")
    assert split_source(loso.data, "test").num_samples == 2 * FRAMES  # every part of the held-out subject
    with pytest.raises(ValueError, match="val_subjects"):
        split_source(config(root, tmp_path / "c", "data.split=cross_subject_split").data, "train")


def test_a_radar_csv_that_disagrees_with_the_mat_file_fails_naming_it(tmp_path):
    root = write_mars_tree(tmp_path / "MARS")
    path = root / "synced_data/woutlier/subject1/timesplit/radar_data_test.csv"
    rows = np.loadtxt(path, delimiter=",", skiprows=1)
    rows[0, 2] += 0.5  # one point moved
    np.savetxt(path, rows, delimiter=",", header="Frame #,# Obj,X,Y,Z,Doppler,Intensity,Abs Time", comments="", fmt="%.5g")
    with pytest.raises(DataFormatError, match="radar_data_test.csv.*differ"):
        split_source(config(root, tmp_path / "cache").data, "test")


def test_renumbered_frames_are_counted_not_refused(tmp_path):
    root = write_mars_tree(tmp_path / "MARS")
    path = root / "synced_data/woutlier/subject2/timesplit/radar_data_validate.csv"
    rows = np.loadtxt(path, delimiter=",", skiprows=1)
    rows[:, 0] += 50_000  # subject 4's movements 5-9 in the published copy: other numbers, same points
    np.savetxt(path, rows, delimiter=",", header="Frame #,# Obj,X,Y,Z,Doppler,Intensity,Abs Time", comments="", fmt="%.10g")
    source = split_source(config(root, tmp_path / "cache").data, "train")
    assert source.scan_stats.events["renumbered_frames"] == 6


def test_kinect_rows_that_do_not_fit_the_split_fail(tmp_path):
    root = write_mars_tree(tmp_path / "MARS")
    path = root / "synced_data/woutlier/subject1/timesplit/kinect_data_test.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(DataFormatError, match="kinect_data_test.csv: 1 rows"):
        split_source(config(root, tmp_path / "cache").data, "test")


def test_one_training_subject_with_subject_meta_val_is_one_clear_error(tmp_path):
    root = write_mars_tree(tmp_path / "MARS", subjects=(1,))
    cfg = config(root, tmp_path / "cache", "purify.meta_group=subject")
    split = open_split(cfg.data, "train", progress=False)
    with pytest.raises(ValueError, match="1 group.*holds out none"):
        split_meta_val(split, cfg.purify)
    assert len(PackedDataset(split, split_meta_val(split, config(root, tmp_path / "cache").purify)[1])) == 6
