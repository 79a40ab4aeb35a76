"""Generated XRF55 trees: layout, shapes/dtypes through the registry and the data layer, determinism,
contamination, and that the body's motion is what the radio signals carry."""

from __future__ import annotations

import numpy as np
import pytest

from pta_core.config import PreprocessConfig
from pta_core.data.xrf55 import scan_xrf55
from pta_core.modalities import get_modality
from pta_core.simulator import (
    RIG_FILENAME,
    XRF55Spec,
    generate_xrf55,
    parse_contamination,
    read_manifest,
)

SPEC = XRF55Spec(volunteers=(2,), classes=(33, 46), repetitions=(1,))
SHAPES = {"WiFi": (270, 1000), "RFID": (23, 148), "mmWave": (1, 17, 256, 128)}
REGISTRY = {"WiFi": "xrf-wifi", "RFID": "xrf-rfid", "mmWave": "xrf-mmwave"}


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("xrf") / "set"
    summary = generate_xrf55(root, SPEC)
    assert summary.items_written == 2
    return root


@pytest.mark.slow
def test_layout_shapes_and_dtypes(tree):
    assert sorted(p.name for p in tree.iterdir()) == [RIG_FILENAME, "Scene1"]
    cfg = PreprocessConfig()
    for folder, shape in SHAPES.items():
        assert sorted(p.name for p in (tree / "Scene1" / folder).iterdir()) == ["2_33_1.npy", "2_46_1.npy"]
        modality = get_modality(REGISTRY[folder])
        array = modality.read_file(tree / "Scene1" / folder / "2_33_1.npy")
        assert array.shape == shape and array.dtype == np.float32 and np.isfinite(array).all()
        modality.preprocess(array, cfg)
    rfid = np.load(tree / "Scene1/RFID/2_33_1.npy")
    assert rfid.min() >= 0 and rfid.max() < 2 * np.pi
    assert (np.load(tree / "Scene1/WiFi/2_33_1.npy") >= 0).all()  # amplitudes
    assert read_manifest(tree)["dataset"] == "xrf55"
    assert len(read_manifest(tree)["rig"]["scenes"]["Scene1"]["rfid"]["tags"]) == 23


def test_the_project_data_layer_finds_every_sample(tree):
    samples = scan_xrf55(tree, ["Scene1"], ["xrf-wifi", "xrf-rfid", "xrf-mmwave"])
    assert sorted((k.volunteer, k.action, k.repetition) for k in samples) == [(2, 33, 1), (2, 46, 1)]
    assert all(len(files) == 3 for files in samples.values())


def test_motion_shows_in_the_signals(tree):
    # Falling (33) moves the whole body; shaking the head (46) barely moves anything.
    fall_w, head_w = (np.load(tree / f"Scene1/WiFi/2_{c}_1.npy") for c in (33, 46))
    assert np.std(np.diff(fall_w, axis=1)) > np.std(np.diff(head_w, axis=1))
    fall_m, head_m = (np.load(tree / f"Scene1/mmWave/2_{c}_1.npy")[0] for c in (33, 46))
    zero_doppler = 64
    moving = np.delete(np.arange(128), range(zero_doppler - 3, zero_doppler + 4))
    assert fall_m[:, :, moving].max() > head_m[:, :, moving].max() + 3.0  # dB of moving returns


@pytest.mark.slow
def test_deterministic_and_contamination_changes_only_its_modality(tree, tmp_path):
    generate_xrf55(tmp_path / "again", SPEC)
    for folder in SHAPES:
        assert (tmp_path / "again/Scene1" / folder / "2_46_1.npy").read_bytes() == (
            tree / "Scene1" / folder / "2_46_1.npy"
        ).read_bytes()
    dirty = XRF55Spec(
        volunteers=(2,),
        classes=(46,),
        repetitions=(1,),
        contamination=parse_contamination(["xrf-rfid=1.0"]),
    )
    generate_xrf55(tmp_path / "dirty", dirty)
    clean_rfid, dirty_rfid = (np.load(p / "Scene1/RFID/2_46_1.npy") for p in (tree, tmp_path / "dirty"))
    # Phase noise: read-to-read jumps grow (wrapped differences, so 2π wraps do not count).
    jumps = [np.abs(np.angle(np.exp(1j * np.diff(r, axis=1)))).mean() for r in (clean_rfid, dirty_rfid)]
    assert jumps[1] > 5 * jumps[0]
    for folder in ("WiFi", "mmWave"):
        assert (tmp_path / "dirty/Scene1" / folder / "2_46_1.npy").read_bytes() == (
            tree / "Scene1" / folder / "2_46_1.npy"
        ).read_bytes()


def test_rerun_skips_finished_samples(tree):
    summary = generate_xrf55(tree, SPEC)
    assert (summary.items_written, summary.items_skipped) == (0, 2)
