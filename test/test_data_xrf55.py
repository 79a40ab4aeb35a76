"""XRF55 reader: both raw layouts, the repetition split, classes, corrupt and stray files (docs/datasets.md §2)."""

from __future__ import annotations

import numpy as np
import pytest
from data_trees import write_xrf55_sample, write_xrf55_tree

from pta_core.data.records import ReadStats
from pta_core.data.xrf55 import XRF55_CLASSES, XRFKey, iter_samples, scan_xrf55, scene_dirs, split_keys
from pta_core.errors import DataFormatError

LIGHT = ("xrf-wifi", "xrf-rfid")


def test_class_names():
    assert len(XRF55_CLASSES) == 55 and len(set(XRF55_CLASSES)) == 55
    assert XRF55_CLASSES[0] == "carrying weight" and XRF55_CLASSES[54] == "swiping down"
    assert XRF55_CLASSES[23] == "Tai Chi" and XRF55_CLASSES[41] == "playing Er-Hu"


def test_per_scene_layout_split_and_shapes(tmp_path):
    root = tmp_path / "xrf"
    write_xrf55_tree(root / "Scene1", [1, 2], [1, 55], [1, 14, 15, 20], LIGHT)
    write_xrf55_tree(root / "Scene2", [1], [3], [2, 16], LIGHT)
    write_xrf55_sample(root / "Scene1", "xrf-mmwave", 1, 1, 1)
    files = scan_xrf55(root, ["Scene1", "Scene2"], ("xrf-mmwave",) + LIGHT)
    assert len(files) == 2 * 2 * 4 + 2
    train = split_keys(list(files), "train", 14)
    test = split_keys(list(files), "test", 14)
    assert {k.repetition for k in train} == {1, 2, 14} and {k.repetition for k in test} == {15, 16, 20}
    assert len(train) + len(test) == len(files) and train == sorted(train)
    # Subjects are keyed by (scene, volunteer): volunteer 1 of Scene1 and of Scene2 are different people.
    assert {(k.scene, k.volunteer) for k in train} == {(0, 1), (0, 2), (1, 1)}
    samples = list(iter_samples(files, train, ["Scene1", "Scene2"], ("xrf-mmwave",) + LIGHT))
    first = samples[0]
    assert first.key == XRFKey(0, 1, 1, 1) and first.scene == "Scene1" and first.activity == 0
    assert first.raw["xrf-mmwave"].shape == (1, 17, 256, 128)
    assert first.raw["xrf-wifi"].shape == (270, 1000) and first.raw["xrf-rfid"].shape == (23, 148)
    assert samples[1].absent == {"xrf-mmwave": "missing"}
    assert {s.activity for s in samples} == {0, 54, 2}


def test_single_scene_layout_takes_the_scene_from_config(tmp_path):
    root = tmp_path / "raw"
    write_xrf55_tree(root, [7], [5], [3, 18], ["xrf-rfid"])
    (root / "synthetic_rig.yaml").write_text("x: 1\n")
    files = scan_xrf55(root, ["Scene3"], ["xrf-rfid"])
    assert sorted(files) == [XRFKey(0, 7, 5, 3), XRFKey(0, 7, 5, 18)]
    sample = next(iter_samples(files, sorted(files), ["Scene3"], ["xrf-rfid"]))
    assert sample.scene == "Scene3" and sample.raw["xrf-rfid"].shape == (23, 148)
    with pytest.raises(ValueError, match="single scene"):
        scan_xrf55(root, ["Scene1", "Scene2"], ["xrf-rfid"])


def test_kaggle_part_folders_belong_to_their_scene(tmp_path):
    write_xrf55_tree(tmp_path / "Scene1_part1", [1], [1], [1], ["xrf-rfid"])
    write_xrf55_tree(tmp_path / "Scene1_part2", [2], [1], [1], ["xrf-rfid"])
    write_xrf55_tree(tmp_path / "Scene10", [3], [1], [1], ["xrf-rfid"])  # not Scene1
    assert [p.name for p in scene_dirs(tmp_path, ["Scene1"])["Scene1"]] == ["Scene1_part1", "Scene1_part2"]
    assert {k.volunteer for k in scan_xrf55(tmp_path, ["Scene1"], ["xrf-rfid"])} == {1, 2}


def test_no_layout_is_a_clear_error(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match="no XRF55 data"):
        scan_xrf55(tmp_path, ["Scene1"], ["xrf-rfid"])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        scan_xrf55(tmp_path / "nope", ["Scene1"], ["xrf-rfid"])


def test_stray_files_and_bad_names(tmp_path):
    base = tmp_path / "Scene1"
    write_xrf55_tree(base, [1], [1], [1, 2], ["xrf-rfid"])
    (base / "RFID" / ".DS_Store").write_bytes(b"\0")
    (base / "RFID" / "readme.txt").write_text("x")
    (base / "RFID" / "1_1_1.npy.bak").write_text("x")
    stats = ReadStats()
    assert len(scan_xrf55(tmp_path, ["Scene1"], ["xrf-rfid"], stats=stats)) == 2
    assert stats.events["stray_files"] == 3
    np.save(base / "RFID" / "1_56_1.npy", np.zeros((23, 148)))
    with pytest.raises(DataFormatError, match="1_56_1.npy: class must be"):
        scan_xrf55(tmp_path, ["Scene1"], ["xrf-rfid"])
    stats = ReadStats()
    assert len(scan_xrf55(tmp_path, ["Scene1"], ["xrf-rfid"], lenient=True, stats=stats)) == 2
    assert stats.events["bad_file_names"] == 1


def test_duplicate_sample_names_raise(tmp_path):
    base = tmp_path / "Scene1"
    write_xrf55_tree(base, [5], [1], [1], ["xrf-rfid"])
    np.save(base / "RFID" / "05_1_1.npy", np.zeros((23, 148)))
    with pytest.raises(DataFormatError, match="same sample"):
        scan_xrf55(tmp_path, ["Scene1"], ["xrf-rfid"])


@pytest.mark.parametrize("kind", ["truncated", "wrong_shape", "zero_byte"])
def test_corrupt_and_empty_files(kind, tmp_path):
    base = tmp_path / "Scene1"
    write_xrf55_tree(base, [1], [2], [1, 2], LIGHT)
    path = base / "WiFi" / "1_2_2.npy"
    if kind == "truncated":
        path.write_bytes(path.read_bytes()[:200])
    elif kind == "wrong_shape":
        np.save(path, np.zeros((270, 999)))
    else:
        path.write_bytes(b"")
    files = scan_xrf55(tmp_path, ["Scene1"], LIGHT)
    keys = sorted(files)
    if kind == "zero_byte":
        samples = list(iter_samples(files, keys, ["Scene1"], LIGHT))
        assert samples[1].absent == {"xrf-wifi": "empty"}
        return
    with pytest.raises(DataFormatError) as info:
        list(iter_samples(files, keys, ["Scene1"], LIGHT))
    assert str(path) in str(info.value)
    samples = list(iter_samples(files, keys, ["Scene1"], LIGHT, lenient=True))
    assert samples[1].absent == {"xrf-wifi": "corrupt"} and samples[1].raw["xrf-rfid"] is not None


def test_split_side_and_repetitions_are_validated():
    keys = [XRFKey(0, 1, 1, r) for r in range(1, 21)]
    assert len(split_keys(keys, "train", 14)) == 14 and len(split_keys(keys, "test", 14)) == 6
    assert len(split_keys(keys, "train", 10)) == 10
    with pytest.raises(ValueError, match="side"):
        split_keys(keys, "val", 14)
    with pytest.raises(ValueError, match="train_repetitions"):
        split_keys(keys, "train", 21)


def test_mmfi_modality_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="not an XRF55 modality"):
        scan_xrf55(tmp_path, ["Scene1"], ["wifi-csi"])
