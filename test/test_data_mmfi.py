"""MM-Fi reader: formats, frame/sequence units, and the real-data quirks (docs/datasets.md §1.2-1.5)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io
from data_trees import frame_path, seq_dir, write_mmfi_sequence, write_mmfi_tree

from pta_core.data.mmfi import MMFI_FOLDERS, iter_frames, iter_sequences, read_sequence, scan_sequences
from pta_core.data.records import ReadStats
from pta_core.errors import DataFormatError

SEQS = [("S01", "A01"), ("S01", "A02")]


@pytest.fixture
def tree(tmp_path):
    return write_mmfi_tree(tmp_path / "mmfi", ["S01"], ["A01", "A02"], frames=4)


def test_frames_have_official_shapes_dtypes_and_units(tree):
    frames = list(iter_frames(tree, SEQS, MMFI_FOLDERS))
    assert [(f.subject, f.action, f.frame) for f in frames] == [
        (s, a, i) for s, a in SEQS for i in range(1, 5)
    ]
    frame = frames[5]
    assert frame.environment == "E01" and frame.activity == 1 and frame.absent == {}
    for name in ("rgb", "infra1", "infra2"):
        assert frame.raw[name].shape == (17, 2) and frame.raw[name].dtype == np.float64
    assert frame.raw["depth"].dtype == np.uint16 and frame.raw["depth"].shape == (48, 64)
    assert frame.raw["depth"].min() > 1000  # millimetres as stored
    assert frame.raw["lidar"].ndim == 2 and frame.raw["lidar"].shape[1] == 3
    assert frame.raw["mmwave"].shape[1] == 5 and frame.raw["mmwave"].dtype == np.float64
    assert frame.raw["wifi-csi"].shape == (3, 114, 10)
    gt = np.load(seq_dir(tree, "S01", "A02") / "ground_truth.npy")
    np.testing.assert_array_equal(frame.pose, gt[1])  # frame 2 of A02, metres
    expected = np.frombuffer(frame_path(tree, "S01", "A02", "lidar", 2).read_bytes(), np.float64).reshape(
        -1, 3
    )
    np.testing.assert_array_equal(frame.raw["lidar"], expected)


def test_zero_byte_file_is_an_empty_frame(tree):
    frame_path(tree, "S01", "A01", "mmwave", 2).write_bytes(b"")
    frames = list(iter_frames(tree, SEQS[:1], ["mmwave", "depth"]))
    assert len(frames) == 4  # kept: presence handles it, unlike the toolbox
    assert frames[1].raw["mmwave"] is None and frames[1].absent == {"mmwave": "empty"}
    assert frames[1].raw["depth"] is not None


def test_short_sequence_is_aligned_by_frame_number(tree):
    frame_path(tree, "S01", "A01", "mmwave", 2).unlink()
    frames = list(iter_frames(tree, SEQS[:1], ["mmwave"]))
    assert [f.frame for f in frames] == [1, 2, 3, 4]
    assert frames[1].raw["mmwave"] is None and frames[1].absent["mmwave"] == "missing"
    third = np.frombuffer(frame_path(tree, "S01", "A01", "mmwave", 3).read_bytes(), np.float64).reshape(-1, 5)
    np.testing.assert_array_equal(frames[2].raw["mmwave"], third)  # not shifted onto frame 2


def test_missing_modality_folder_is_absent_everywhere(tree):
    import shutil

    shutil.rmtree(seq_dir(tree, "S01", "A02") / "wifi-csi")
    frames = list(iter_frames(tree, SEQS[1:], ["wifi-csi", "rgb"]))
    assert all(f.absent == {"wifi-csi": "missing"} for f in frames) and len(frames) == 4


def test_csi_non_finite_values_are_kept_raw(tree):
    path = frame_path(tree, "S01", "A01", "wifi-csi", 1)
    amp = scipy.io.loadmat(path)["CSIamp"]
    amp[0, 0, 0], amp[1, 2, 3] = np.inf, np.nan
    scipy.io.savemat(path, {"CSIamp": amp})
    raw = next(iter_frames(tree, SEQS[:1], ["wifi-csi"])).raw["wifi-csi"]
    assert np.isinf(raw[0, 0, 0]) and np.isnan(raw[1, 2, 3])  # normalisation is the modality's job


def _corrupt(kind, tree):
    if kind == "truncated_bin":
        path = frame_path(tree, "S01", "A01", "lidar", 2)
        path.write_bytes(path.read_bytes()[:-5])
        return "lidar", path
    if kind == "bad_png":
        path = frame_path(tree, "S01", "A01", "depth", 2)
        path.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
        return "depth", path
    if kind == "bad_mat":
        path = frame_path(tree, "S01", "A01", "wifi-csi", 2)
        path.write_bytes(b"MATLAB 5.0 garbage" * 3)
        return "wifi-csi", path
    if kind == "bad_npy":
        path = frame_path(tree, "S01", "A01", "rgb", 2)
        path.write_bytes(b"\x93NUMPY garbage")
        return "rgb", path
    if kind == "wrong_shape_npy":
        path = frame_path(tree, "S01", "A01", "rgb", 2)
        np.save(path, np.zeros((5, 2)))
        return "rgb", path
    if kind == "wrong_shape_mat":
        path = frame_path(tree, "S01", "A01", "wifi-csi", 2)
        scipy.io.savemat(path, {"CSIamp": np.ones((3, 114, 9))})
        return "wifi-csi", path
    if kind == "rgb_png":
        path = frame_path(tree, "S01", "A01", "depth", 2)
        from PIL import Image

        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(path)
        return "depth", path
    raise AssertionError(kind)


CORRUPT_KINDS = [
    "truncated_bin",
    "bad_png",
    "bad_mat",
    "bad_npy",
    "wrong_shape_npy",
    "wrong_shape_mat",
    "rgb_png",
]


@pytest.mark.parametrize("kind", CORRUPT_KINDS)
def test_corrupt_file_strict_raises_naming_the_file(kind, tree):
    modality, path = _corrupt(kind, tree)
    with pytest.raises(DataFormatError) as info:
        list(iter_frames(tree, SEQS[:1], [modality]))
    assert str(path) in str(info.value)


@pytest.mark.parametrize("kind", CORRUPT_KINDS)
def test_corrupt_file_lenient_is_skipped_and_marked(kind, tree):
    modality, _ = _corrupt(kind, tree)
    frames = list(iter_frames(tree, SEQS[:1], [modality], lenient=True))
    assert [f.absent.get(modality) for f in frames] == [None, "corrupt", None, None]
    assert frames[1].raw[modality] is None and frames[2].raw[modality] is not None


def test_stray_files_and_folders_do_not_break_the_scan(tree):
    (tree / "synthetic_rig.yaml").write_text("rig: 1\n")
    (tree / ".DS_Store").write_bytes(b"\0\1")
    (tree / "E01" / "notes.txt").write_text("x")
    (tree / "E01" / "S01" / ".DS_Store").write_bytes(b"\0")
    (seq_dir(tree, "S01", "A01") / "notes.txt").write_text("x")
    (seq_dir(tree, "S01", "A01") / "depth" / ".DS_Store").write_bytes(b"\0")
    (seq_dir(tree, "S01", "A01") / "depth" / "._frame001.png").write_bytes(b"\0")
    (seq_dir(tree, "S01", "A01") / "depth" / "frame002.png.bak").write_bytes(b"\0")
    (seq_dir(tree, "S01", "A01") / "depth" / "thumbs").mkdir()
    stats = ReadStats()
    frames = list(iter_frames(tree, SEQS, ["depth", "rgb"], stats=stats))
    assert len(frames) == 8 and all(not f.absent for f in frames)
    assert stats.events["stray_files"] == 4


def test_partial_tree_counts_missing_sequences(tree):
    stats = ReadStats()
    frames = list(
        iter_frames(
            tree, [("S01", "A01"), ("S02", "A01"), ("S40", "A27"), ("S01", "A02")], ["rgb"], stats=stats
        )
    )
    assert len(frames) == 8 and {f.action for f in frames} == {"A01", "A02"}
    assert stats.events["sequences_missing"] == 2 and stats.events["sequences_found"] == 2


@pytest.mark.parametrize("problem", ["longer_modality", "shape", "missing", "non_finite", "unreadable"])
def test_bad_ground_truth_raises_or_skips_the_sequence(problem, tree):
    gt = seq_dir(tree, "S01", "A01") / "ground_truth.npy"
    if problem == "longer_modality":
        np.save(gt, np.load(gt)[:3])  # 4 depth frames on disk, 3 in the ground truth
        match = "frame004.png: frame number outside 1..3"
    elif problem == "shape":
        np.save(gt, np.zeros((4, 16, 3)))
        match = r"must be \(T, 17, 3\)"
    elif problem == "missing":
        gt.unlink()
        match = "missing"
    elif problem == "non_finite":
        array = np.load(gt)
        array[1, 2, 0] = np.nan
        np.save(gt, array)
        match = "non-finite"
    else:
        gt.write_bytes(b"not numpy")
        match = "not a readable"
    with pytest.raises(DataFormatError, match=match):
        list(iter_frames(tree, SEQS, ["depth"]))
    stats = ReadStats()
    frames = list(iter_frames(tree, SEQS, ["depth"], lenient=True, stats=stats))
    assert {f.action for f in frames} == {"A02"} and stats.events["sequences_skipped"] == 1


def test_shorter_modality_than_ground_truth_is_fine(tree):
    gt = seq_dir(tree, "S01", "A01") / "ground_truth.npy"
    np.save(gt, np.concatenate([np.load(gt), np.load(gt)[:2]]))  # 6 poses, 4 files per modality
    frames = list(iter_frames(tree, SEQS[:1], ["lidar"]))
    assert len(frames) == 6 and frames[5].absent == {"lidar": "missing"}


def test_duplicate_frame_number_raises(tree):
    folder = seq_dir(tree, "S01", "A01") / "rgb"
    (folder / "frame0001.npy").write_bytes((folder / "frame001.npy").read_bytes())
    with pytest.raises(DataFormatError, match="frame 1 appears twice"):
        list(iter_frames(tree, SEQS[:1], ["rgb"]))


def test_start_skips_frames_without_reading_them(tree):
    frame_path(tree, "S01", "A01", "rgb", 1).write_bytes(b"corrupt, but skipped")
    frames = list(iter_frames(tree, SEQS, ["rgb"], start=3))
    assert [(f.action, f.frame) for f in frames] == [
        ("A01", 4),
        ("A02", 1),
        ("A02", 2),
        ("A02", 3),
        ("A02", 4),
    ]
    assert list(iter_frames(tree, SEQS, ["rgb"], start=8)) == []


def test_sequence_unit(tree):
    frame_path(tree, "S01", "A01", "mmwave", 3).unlink()
    frame_path(tree, "S01", "A01", "lidar", 1).write_bytes(b"")
    seq = read_sequence(tree, "S01", "A01", ["mmwave", "lidar", "wifi-csi"])
    assert seq.pose.shape == (4, 17, 3) and seq.environment == "E01"
    assert [r is None for r in seq.raw["mmwave"]] == [False, False, True, False]
    assert seq.absent == {"mmwave": {3: "missing"}, "lidar": {1: "empty"}, "wifi-csi": {}}
    assert np.stack(seq.raw["wifi-csi"]).shape == (4, 3, 114, 10)
    with pytest.raises(FileNotFoundError, match="S02"):
        read_sequence(tree, "S02", "A01", ["rgb"])
    stats = ReadStats()
    seqs = list(
        iter_sequences(tree, [("S01", "A02"), ("S03", "A01"), ("S01", "A01")], ["mmwave"], stats=stats)
    )
    assert [s.action for s in seqs] == ["A02", "A01"] and stats.events["sequences_missing"] == 1
    assert seqs[1].absent == {"mmwave": {3: "missing"}} and seqs[0].pose.shape == (4, 17, 3)


def test_unknown_modality_and_subject_are_rejected(tree):
    with pytest.raises(KeyError, match="known"):
        list(iter_frames(tree, SEQS, ["thermal"]))
    with pytest.raises(ValueError, match="not an MM-Fi modality"):
        list(iter_frames(tree, SEQS, ["xrf-wifi"]))
    with pytest.raises(ValueError, match="S41"):
        list(scan_sequences(tree, [("S41", "A01")], ["rgb"]))


def test_more_frames_than_three_digits(tmp_path):
    root = tmp_path / "m"
    write_mmfi_sequence(root, "S12", "A03", frames=2, modalities=["rgb"])
    folder = seq_dir(root, "S12", "A03") / "rgb"
    (folder / "frame002.npy").rename(folder / "frame0002.npy")  # any digit count parses
    frames = list(iter_frames(root, [("S12", "A03")], ["rgb"]))
    assert [f.environment for f in frames] == ["E02", "E02"] and frames[1].absent == {}
