"""Packed cache: contents, units, quirks through packing, staleness, interruption, XRF55, pta pack."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.io
from data_trees import frame_path, seq_dir, write_mmfi_tree, write_xrf55_sample, write_xrf55_tree

from pta_core.config import DataConfig, PreprocessConfig, to_dict
from pta_core.data.cache import JOURNAL, cache_key, cache_path, open_split, pack
from pta_core.data.mmfi import MMFI_ACTIONS
from pta_core.data.packed import MANIFEST
from pta_core.data.sources import split_source
from pta_core.data.xrf55 import XRF55_CLASSES
from pta_core.errors import DataFormatError
from pta_core.modalities import MMFI_MODALITIES, get_modality

SUBJECTS, ACTIONS, FRAMES = ("S01", "S02"), ("A01", "A03"), 4


def mmfi_cfg(root, cache, **changes) -> DataConfig:
    base = {
        "root": str(root),
        "cache_dir": str(cache),
        "split": "manual_split",
        "train_subjects": SUBJECTS,
        "train_actions": ACTIONS,
        "val_subjects": ("S05",),
        "val_actions": ("A01",),
    }
    base.update(changes)
    return DataConfig(**base)


@pytest.fixture
def tree(tmp_path):
    root = write_mmfi_tree(tmp_path / "mmfi", SUBJECTS, ACTIONS, frames=FRAMES)
    write_mmfi_tree(root, ["S05"], ["A01"], frames=FRAMES)
    return root


def _arrays(split):
    out = {f"{m}.{f}": np.array(a) for m, fields in split.arrays.items() for f, a in fields.items()}
    out.update(present=np.array(split.present), activity=np.array(split.activity))
    if split.has_pose:
        out["pose"] = np.array(split.pose)
    out.update({f"meta.{k}": np.array(v) for k, v in split.meta.items()})
    return out


def test_packed_arrays_shapes_dtypes_units_and_values(tree, tmp_path):
    cfg = mmfi_cfg(tree, tmp_path / "cache")
    split = open_split(cfg, "train", progress=False)
    n = len(SUBJECTS) * len(ACTIONS) * FRAMES
    assert len(split) == n and split.modalities == MMFI_MODALITIES and split.has_pose
    assert split.activity_classes == MMFI_ACTIONS
    for m in split.modalities:
        for f, spec in get_modality(m).input_fields(cfg.preprocess).items():
            assert split.arrays[m][f].shape == (n, *spec.shape) and split.arrays[m][f].dtype == spec.dtype
    assert split.present.shape == (n, 5) and split.present.dtype == bool and split.present.all()
    assert split.pose.shape == (n, 17, 3) and split.pose.dtype == np.float32
    assert split.activity.dtype == np.int64
    # Sample order: subjects, their actions, frames (toolbox order); labels = action number - 1.
    i = FRAMES * 3 + 1  # S02, A03, frame 2
    assert [int(split.meta[k][i]) for k in ("environment", "subject", "action", "frame")] == [1, 2, 3, 2]
    assert split.activity[i] == 2
    gt = np.load(seq_dir(tree, "S02", "A03") / "ground_truth.npy")
    np.testing.assert_allclose(split.pose[i], gt[1], rtol=1e-6)  # metres, float32
    # Every field is exactly the modality's own preprocessing of the file (no reimplementation).
    for m in split.modalities:
        modality = get_modality(m)
        expected = modality.preprocess(
            modality.read_file(frame_path(tree, "S02", "A03", m, 2)), cfg.preprocess
        )
        for f, value in expected.items():
            np.testing.assert_array_equal(split.arrays[m][f][i], value)
    manifest = split.manifest
    assert manifest["counts"]["present"] == dict.fromkeys(MMFI_MODALITIES, n)
    assert manifest["arrays"]["pose"] == {"file": "pose.npy", "shape": [n, 17, 3], "dtype": "<f4"}
    assert manifest["preprocess"]["lidar_points"] == 256 and manifest["source_root"] == str(tree.resolve())
    assert len(manifest["source_fingerprint"]) == 64 and manifest["key"]["split"] == "manual_split"
    test = open_split(cfg, "test", progress=False)
    assert len(test) == FRAMES and set(np.asarray(test.meta["subject"])) == {5}


def _toolbox_csi(data, offset=30.0, scale=6.0):
    """mmfi.py read_frame's wifi-csi hole filling, transcribed; then the project's standardisation
    with dataset statistics (PreprocessConfig.csi_offset / csi_scale) where the toolbox min–max scales."""
    data = data.copy()
    data[np.isinf(data)] = np.nan
    for i in range(10):
        temp_col = data[:, :, i]
        if np.count_nonzero(temp_col != temp_col):
            temp_col[np.isnan(temp_col)] = temp_col[temp_col == temp_col].mean()
    return (data - offset) / scale


def test_quirks_become_absent_modalities_counted_by_reason(tree, tmp_path, caplog):
    frame_path(tree, "S01", "A01", "mmwave", 2).write_bytes(b"")  # empty radar frame
    frame_path(tree, "S01", "A01", "mmwave", 3).unlink()  # short mmWave sequence
    frame_path(tree, "S01", "A03", "lidar", 1).write_bytes(b"\0" * 7)  # truncated .bin
    np.save(frame_path(tree, "S02", "A01", "rgb", 4), np.full((17, 2), np.nan))  # rejected by preprocess
    csi_path = frame_path(tree, "S02", "A03", "wifi-csi", 1)
    amp = scipy.io.loadmat(csi_path)["CSIamp"]
    amp[0, 0, 0], amp[2, 5, 9], amp[1, 1, 1] = np.inf, -np.inf, np.nan
    scipy.io.savemat(csi_path, {"CSIamp": amp})
    bad_csi = frame_path(tree, "S02", "A03", "wifi-csi", 2)
    amp2 = scipy.io.loadmat(bad_csi)["CSIamp"]
    amp2[:, :, 4] = np.inf  # a packet with no finite value: the toolbox would produce NaN
    scipy.io.savemat(bad_csi, {"CSIamp": amp2})

    cfg = mmfi_cfg(tree, tmp_path / "cache")
    with pytest.raises(DataFormatError, match="frame001.bin"):
        open_split(cfg, "train", progress=False)
    assert not cache_path(cfg, "train").exists()  # nothing that looks complete

    cfg = mmfi_cfg(tree, tmp_path / "cache", lenient=True)
    with caplog.at_level(logging.WARNING):
        split = open_split(cfg, "train", progress=False)
    assert "frame001.bin" in caplog.text
    n = len(split)
    assert n == 16  # every frame is kept
    col = {m: split.modalities.index(m) for m in split.modalities}
    present = np.asarray(split.present)
    assert not present[1, col["mmwave"]] and not present[2, col["mmwave"]]
    assert not present[4, col["lidar"]] and not present[8 + 3, col["rgb"]]
    assert not present[12 + 1, col["wifi-csi"]] and present[12, col["wifi-csi"]]
    assert present.sum() == 5 * n - 5
    assert not split.arrays["mmwave"]["points"][1].any() and not split.arrays["mmwave"]["mask"][2].any()
    np.testing.assert_allclose(split.arrays["wifi-csi"]["csi"][12], _toolbox_csi(amp), rtol=1e-6, atol=1e-7)
    counts = split.manifest["counts"]["absent"]
    assert counts["mmwave"] == {"empty": 1, "missing": 1}
    assert counts["lidar"] == {"corrupt": 1}
    assert counts["rgb"] == {"invalid_empty": 1}
    assert counts["wifi-csi"] == {"invalid_non_finite": 1}
    assert split.manifest["counts"]["present"]["mmwave"] == n - 2


def test_random_split_on_a_partial_tree(tree, tmp_path):
    # Official random split over 40 subjects; only S01, S02 (A01, A03) and S05 (A01) are on disk.
    cfg = DataConfig(root=str(tree), cache_dir=str(tmp_path / "c"), modalities=("rgb",), protocol="protocol3")
    train, test = open_split(cfg, "train", progress=False), open_split(cfg, "test", progress=False)
    # Seed 0 (A01) sends S01 to validation; seed 2 (A03) sends neither S01 nor S02 there.
    on_test = {(int(s), int(a)) for s, a in zip(test.meta["subject"], test.meta["action"])}
    on_train = {(int(s), int(a)) for s, a in zip(train.meta["subject"], train.meta["action"])}
    assert on_test == {(1, 1)} and on_train == {(2, 1), (5, 1), (1, 3), (2, 3)}
    scan = train.manifest["counts"]["scan"]
    assert scan["sequences_in_split"] == 27 * 32 and scan["sequences_found"] == 4
    assert scan["sequences_missing"] == 27 * 32 - 4


def _packed_mtime(split):
    return os.stat(split.path / MANIFEST).st_mtime_ns


def test_staleness_unchanged_touched_modified_and_reconfigured(tree, tmp_path):
    cfg = mmfi_cfg(tree, tmp_path / "cache", modalities=("lidar", "depth"))
    first = open_split(cfg, "train", progress=False)
    stamp = _packed_mtime(first)
    again = open_split(cfg, "train", progress=False)
    assert again.path == first.path and _packed_mtime(again) == stamp  # reused

    (tree / "E01" / "notes.txt").write_text("stray files do not make a cache stale")
    assert _packed_mtime(open_split(cfg, "train", progress=False)) == stamp

    path = frame_path(tree, "S01", "A01", "lidar", 1)
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # touched: same bytes, new mtime
    touched = open_split(cfg, "train", progress=False)
    assert (
        touched.path == first.path
        and touched.manifest["source_fingerprint"] != first.manifest["source_fingerprint"]
    )
    assert _packed_mtime(touched) != stamp

    path.write_bytes(np.ones((3, 3)).tobytes())  # modified content → rebuilt with the new values
    modified = open_split(cfg, "train", progress=False)
    assert modified.arrays["lidar"]["mask"][0].sum() == 3
    np.testing.assert_array_equal(modified.arrays["lidar"]["points"][0, :3], np.ones((3, 3)))

    cfg2 = mmfi_cfg(
        tree, tmp_path / "cache", modalities=("lidar", "depth"), preprocess=PreprocessConfig(lidar_points=32)
    )
    changed = open_split(cfg2, "train", progress=False)
    assert changed.path != first.path and changed.arrays["lidar"]["points"].shape == (16, 32, 3)
    assert changed.manifest["preprocess"]["lidar_points"] == 32

    stamp = _packed_mtime(modified)
    forced = open_split(cfg, "train", rebuild=True, progress=False)
    assert _packed_mtime(forced) != stamp


def test_incomplete_or_foreign_cache_folders_are_rebuilt(tree, tmp_path):
    cfg = mmfi_cfg(tree, tmp_path / "cache", modalities=("rgb",))
    final = open_split(cfg, "train", progress=False).path
    (final / MANIFEST).unlink()  # e.g. a copy that stopped half-way
    assert (open_split(cfg, "train", progress=False).path / MANIFEST).is_file()
    manifest = json.loads((final / MANIFEST).read_text())
    manifest["format_version"] = 99
    (final / MANIFEST).write_text(json.dumps(manifest))
    assert open_split(cfg, "train", progress=False).manifest["format_version"] == 1
    np.save(final / "present.npy", np.zeros((3, 1), bool))  # array disagrees with the manifest
    assert open_split(cfg, "train", progress=False).present.shape == (16, 1)


def _pack_args(cfg):
    return split_source(cfg, "train"), cfg, cache_path(cfg, "train"), cache_key(cfg, "train")


def test_interrupted_pack_is_not_complete_and_resumes(tree, tmp_path, caplog):
    cfg = mmfi_cfg(tree, tmp_path / "cache")
    reference = _arrays(open_split(mmfi_cfg(tree, tmp_path / "ref"), "train", progress=False))

    def interrupt(done):
        if done >= 6:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pack(*_pack_args(cfg), progress=False, on_chunk=interrupt, chunk_bytes=3 * 200_000)
    final = cache_path(cfg, "train")
    partial = final.with_name(final.name + ".partial")
    assert not final.exists() and not (partial / MANIFEST).exists()
    done = json.loads((partial / JOURNAL).read_text())["done"]
    assert 6 <= done < 16
    with caplog.at_level(logging.INFO):
        resumed = open_split(cfg, "train", progress=False)
    assert f"resuming an interrupted pack at sample {done}" in caplog.text
    assert not partial.exists()
    got = _arrays(resumed)
    assert got.keys() == reference.keys()
    for name in reference:
        np.testing.assert_array_equal(got[name], reference[name], err_msg=name)
    assert resumed.manifest["counts"]["present"] == dict.fromkeys(MMFI_MODALITIES, 16)


KILL_SCRIPT = """
import json, os, signal, sys
from pta_core.config import DataConfig, from_dict
from pta_core.data.cache import cache_key, cache_path, pack
from pta_core.data.sources import split_source
cfg = from_dict(DataConfig, json.loads(sys.argv[1]))
def kill(done):
    if done >= 5:
        os.kill(os.getpid(), signal.SIGKILL)
pack(split_source(cfg, "train"), cfg, cache_path(cfg, "train"), cache_key(cfg, "train"),
     progress=False, on_chunk=kill, chunk_bytes=1)
"""


@pytest.mark.slow
def test_killed_pack_resumes_to_the_same_arrays(tree, tmp_path):
    cfg = mmfi_cfg(tree, tmp_path / "cache", modalities=("depth", "mmwave"))
    proc = subprocess.run([sys.executable, "-c", KILL_SCRIPT, json.dumps(to_dict(cfg))], capture_output=True)
    assert proc.returncode == -9, proc.stderr.decode()
    final = cache_path(cfg, "train")
    journal = json.loads((final.with_name(final.name + ".partial") / JOURNAL).read_text())
    assert journal["done"] == 5 and not final.exists()
    resumed = _arrays(open_split(cfg, "train", progress=False))
    fresh = _arrays(
        open_split(mmfi_cfg(tree, tmp_path / "ref", modalities=("depth", "mmwave")), "train", progress=False)
    )
    for name in fresh:
        np.testing.assert_array_equal(resumed[name], fresh[name], err_msg=name)


def test_partial_of_a_changed_source_starts_over(tree, tmp_path, caplog):
    cfg = mmfi_cfg(tree, tmp_path / "cache", modalities=("rgb",))

    def interrupt(done):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pack(*_pack_args(cfg), progress=False, on_chunk=interrupt, chunk_bytes=1)
    np.save(frame_path(tree, "S02", "A03", "rgb", 4), np.full((17, 2), 7.0))
    with caplog.at_level(logging.INFO):
        split = open_split(cfg, "train", progress=False)
    assert "discarding an interrupted pack" in caplog.text and "resuming" not in caplog.text
    assert split.arrays["rgb"]["keypoints"][15][0, 0] == pytest.approx(7.0 / 640 * 2 - 1)


def test_missing_root_opens_existing_cache_or_fails_clearly(tree, tmp_path, caplog):
    cfg = mmfi_cfg(tree, tmp_path / "cache", modalities=("rgb",))
    open_split(cfg, "train", progress=False)
    tree.rename(tmp_path / "moved")
    with caplog.at_level(logging.WARNING):
        assert len(open_split(cfg, "train", progress=False)) == 16
    assert "without checking the source" in caplog.text
    with pytest.raises(FileNotFoundError, match="does not exist"):
        open_split(cfg, "test", progress=False)


def test_split_with_nothing_on_disk_is_a_clear_error(tree, tmp_path):
    cfg = mmfi_cfg(tree, tmp_path / "cache", train_subjects=("S30",))
    with pytest.raises(ValueError, match="no sample"):
        open_split(cfg, "train", progress=False)


def test_xrf55_pack(tmp_path):
    root = tmp_path / "xrf"
    write_xrf55_tree(root / "Scene1", [1, 2], [1, 55], [1, 15], ["xrf-wifi", "xrf-rfid"])
    write_xrf55_tree(root / "Scene2", [1], [9], [3], ["xrf-wifi", "xrf-rfid"])
    write_xrf55_sample(root / "Scene1", "xrf-mmwave", 2, 55, 1)
    (root / "Scene1" / "RFID" / "1_1_1.npy").write_bytes(b"")
    cfg = DataConfig(
        dataset="xrf55",
        root=str(root),
        cache_dir=str(tmp_path / "c"),
        modalities=("xrf-mmwave", "xrf-wifi", "xrf-rfid"),
        scenes=("Scene1", "Scene2"),
    )
    train = open_split(cfg, "train", progress=False)
    assert len(train) == 5 and not train.has_pose and train.pose is None
    assert train.activity_classes == XRF55_CLASSES
    assert train.arrays["xrf-mmwave"]["heatmap"].shape == (5, 17, 256, 128)
    assert train.arrays["xrf-wifi"]["signal"].dtype == np.float32
    assert list(train.activity) == [0, 54, 0, 54, 8]
    assert list(train.meta["scene"]) == [0, 0, 0, 0, 1] and train.manifest["meta_labels"]["scene"] == [
        "Scene1",
        "Scene2",
    ]
    assert list(train.meta["subject"]) == [1, 1, 2, 2, 1] and list(train.meta["repetition"]) == [
        1,
        1,
        1,
        1,
        3,
    ]
    assert train.present.tolist()[0] == [False, True, False] and train.present.tolist()[3] == [
        True,
        True,
        True,
    ]
    raw = np.load(root / "Scene1" / "mmWave" / "2_55_1.npy")
    np.testing.assert_array_equal(train.arrays["xrf-mmwave"]["heatmap"][3], raw[0])
    assert train.manifest["counts"]["absent"]["xrf-rfid"] == {"empty": 1}
    test = open_split(cfg, "test", progress=False)
    assert len(test) == 4 and set(np.asarray(test.meta["repetition"])) == {15}


def test_pta_pack_command(tree, tmp_path):
    from pta_core.cli import main

    args = [
        "pack",
        "--set",
        f"data.root={tree}",
        "--set",
        f"data.cache_dir={tmp_path / 'c'}",
        "--no-progress",
        "--json",
    ]
    assert (
        main(args + ["--set", "data.split=cross_scene_split"]) == 1
    )  # nothing of E04 on disk for the test side
    args += [
        "--side",
        "train",
        "--set",
        "data.split=cross_scene_split",
        "--set",
        "data.modalities=[rgb, mmwave]",
    ]
    assert main(args) == 0
    cfg = DataConfig(
        root=str(tree), cache_dir=str(tmp_path / "c"), split="cross_scene_split", modalities=("rgb", "mmwave")
    )
    assert len(open_split(cfg, "train", progress=False)) == 20
    missing = [
        "pack",
        "--set",
        f"data.root={tmp_path / 'nope'}",
        "--set",
        f"data.cache_dir={tmp_path / 'c2'}",
    ]
    assert main(missing) == 1 and not (tmp_path / "c2").exists()
    assert main(["pack", "--set", "data.split=nonsense"]) == 2


def test_parallel_pack_equals_serial_and_reports_corrupt_files(tree, tmp_path):
    serial = _arrays(open_split(mmfi_cfg(tree, tmp_path / "serial"), "train", progress=False))
    cfg = mmfi_cfg(tree, tmp_path / "parallel")
    done = []
    pack(*_pack_args(cfg), progress=False, workers=2, on_chunk=done.append, chunk_bytes=9 * 70_000)
    assert done == [3, 6, 9, 12, 15, 16]  # 3-row blocks (budget / 3 in flight), journaled in order
    parallel = _arrays(open_split(cfg, "train", progress=False))
    for name in serial:
        np.testing.assert_array_equal(parallel[name], serial[name], err_msg=name)
    bad = frame_path(tree, "S02", "A01", "wifi-csi", 3)
    bad.write_bytes(b"garbage")
    with pytest.raises(DataFormatError, match="frame003.mat") as info:  # raised in a worker, re-raised here
        pack(*_pack_args(cfg), progress=False, fresh=True, workers=2, chunk_bytes=9 * 70_000)
    assert info.value.path == bad
