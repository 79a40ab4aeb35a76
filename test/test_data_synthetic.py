"""Integration: the synthetic generator's trees pack through the official-format readers."""

from __future__ import annotations

import numpy as np
import pytest

from pta_core import simulator
from pta_core.config import DataConfig
from pta_core.data import PackedDataset, collate, open_split


@pytest.mark.slow
def test_generated_mmfi_set_packs_with_presence_and_units(tmp_path):
    spec = simulator.MMFiSpec(
        subjects=("S01", "S31"),
        actions=("A01", "A02"),
        frames=5,
        contamination=simulator.parse_contamination(["mmwave.dropout=0.5", "wifi-csi.inf_fraction=0.05"]),
    )
    summary = simulator.generate_mmfi(tmp_path / "mmfi", spec)
    modalities = ("rgb", "infra1", "depth", "lidar", "mmwave", "wifi-csi")
    cfg = DataConfig(
        root=str(tmp_path / "mmfi"),
        cache_dir=str(tmp_path / "cache"),
        split="cross_scene_split",
        modalities=modalities,
    )
    train, test = open_split(cfg, "train", progress=False), open_split(cfg, "test", progress=False)
    assert len(train) == len(test) == 2 * 5  # S01 (E01) trains, S31 (E04) tests
    assert set(np.asarray(train.meta["environment"])) == {1} and set(
        np.asarray(test.meta["environment"])
    ) == {4}
    # Every 0-byte radar frame the generator wrote is a counted absence, never a dropped frame.
    empty = sum(s.manifest["counts"]["absent"]["mmwave"].get("empty", 0) for s in (train, test))
    assert empty == summary.empty_files["mmwave"] > 0
    mm = train.modalities.index("mmwave")
    assert (
        np.asarray(train.present)[:, mm].sum()
        == len(train) - train.manifest["counts"]["absent"]["mmwave"]["empty"]
    )
    batch = collate(PackedDataset(train).__getitems__(list(range(len(train)))))
    csi = batch["inputs"]["wifi-csi"]["csi"]
    assert np.isfinite(csi.numpy()).all()  # inf handled as the toolbox does
    # Standardised with the dataset statistics the config carries: about zero mean, unit spread.
    assert abs(float(csi.mean())) < 1.0 and 0.3 < float(csi.std()) < 3.0
    pose = batch["pose"].numpy()
    bone = np.linalg.norm(pose[:, 1] - pose[:, 0], axis=-1)  # pelvis → right hip, metres
    assert ((bone > 0.05) & (bone < 0.3)).all()
    assert batch["activity"].tolist() == [0] * 5 + [1] * 5


@pytest.mark.slow
def test_generated_xrf55_set_packs(tmp_path):
    spec = simulator.XRF55Spec(volunteers=(1,), classes=(1, 55), repetitions=(1, 15))
    simulator.generate_xrf55(tmp_path / "xrf", spec)
    cfg = DataConfig(
        dataset="xrf55",
        root=str(tmp_path / "xrf"),
        cache_dir=str(tmp_path / "cache"),
        modalities=("xrf-mmwave", "xrf-wifi", "xrf-rfid"),
    )
    train = open_split(cfg, "train", progress=False)
    assert len(train) == 2 and list(train.activity) == [0, 54] and train.present.all()
    assert train.arrays["xrf-mmwave"]["heatmap"].shape == (2, 17, 256, 128)
    assert list(open_split(cfg, "test", progress=False).meta["repetition"]) == [15, 15]
