"""The batch format the trainer depends on: PackedDataset, collate, make_loader, subsets, pickling."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from data_trees import frame_path, write_mmfi_tree, write_xrf55_tree

from pta_core.config import DataConfig
from pta_core.data import PackedDataset, collate, make_loader, open_split
from pta_core.modalities import get_modality


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ds")
    root = write_mmfi_tree(tmp / "mmfi", ["S01", "S02"], ["A02", "A04"], frames=5)
    frame_path(root, "S01", "A02", "mmwave", 3).write_bytes(b"")
    frame_path(root, "S02", "A04", "depth", 5).unlink()
    cfg = DataConfig(
        root=str(root),
        cache_dir=str(tmp / "cache"),
        split="manual_split",
        train_subjects=("S01", "S02"),
        train_actions=("A02", "A04"),
        val_subjects=("S03",),
        val_actions=("A01",),
    )
    return open_split(cfg, "train", progress=False)


def _check_batch(batch, split, size):
    assert set(batch) == {"inputs", "present", "pose", "activity", "index"}
    assert list(batch["inputs"]) == list(split.modalities)
    for m in split.modalities:
        fields = get_modality(m).input_fields(DataConfig().preprocess)
        assert list(batch["inputs"][m]) == list(fields)
        for f, spec in fields.items():
            tensor = batch["inputs"][m][f]
            assert tensor.shape == (size, *spec.shape)
            assert tensor.dtype == (torch.bool if spec.dtype is np.bool_ else torch.float32)
    assert batch["present"].shape == (size, len(split.modalities)) and batch["present"].dtype == torch.bool
    assert batch["pose"].shape == (size, 17, 3) and batch["pose"].dtype == torch.float32
    assert batch["activity"].dtype == torch.int64 and batch["index"].dtype == torch.int64


def test_loader_batches_have_the_documented_format(split):
    loader = make_loader(PackedDataset(split), 6, shuffle=True, generator=torch.Generator().manual_seed(0))
    batches = list(loader)
    assert [len(b["index"]) for b in batches] == [6, 6, 6, 2]  # the uneven last batch is kept
    for b in batches:
        _check_batch(b, split, len(b["index"]))
    seen = torch.cat([b["index"] for b in batches])
    assert sorted(seen.tolist()) == list(range(20))
    for b in batches:  # rows match the packed arrays at the reported index
        idx = b["index"].numpy()
        np.testing.assert_array_equal(b["pose"].numpy(), split.pose[idx])
        np.testing.assert_array_equal(b["present"].numpy(), split.present[idx])
        np.testing.assert_array_equal(
            b["inputs"]["depth"]["image"].numpy(), split.arrays["depth"]["image"][idx]
        )
        np.testing.assert_array_equal(b["activity"].numpy(), np.asarray(split.meta["action"])[idx] - 1)
    assert [len(b["index"]) for b in make_loader(PackedDataset(split), 6, shuffle=False, drop_last=True)] == [
        6,
        6,
        6,
    ]


def test_absent_modalities_are_zero_filled_and_flagged(split):
    batch = collate(PackedDataset(split).__getitems__([2, 19, 0]))
    mm, depth = split.modalities.index("mmwave"), split.modalities.index("depth")
    assert batch["present"][:, mm].tolist() == [False, True, True]
    assert batch["present"][:, depth].tolist() == [True, False, True]
    assert not batch["inputs"]["mmwave"]["points"][0].any() and not batch["inputs"]["mmwave"]["mask"][0].any()
    assert not batch["inputs"]["depth"]["image"][1].any() and batch["inputs"]["depth"]["image"][0].any()


def test_per_item_path_equals_batched_path(split):
    dataset = PackedDataset(split, indices=[7, 3, 11])
    listed = collate([dataset[i] for i in range(3)])
    gathered = collate(dataset.__getitems__([0, 1, 2]))
    assert listed["index"].tolist() == [7, 3, 11] == gathered["index"].tolist()

    def flat(b):
        inputs = {f"{m}.{f}": t for m, fs in b["inputs"].items() for f, t in fs.items()}
        return inputs | {k: v for k, v in b.items() if k != "inputs"}

    for key, value in flat(listed).items():
        assert torch.equal(value, flat(gathered)[key]), key
    assert dataset[0]["inputs"]["lidar"]["points"].shape == (256, 3)  # unbatched item
    with pytest.raises(IndexError):
        PackedDataset(split, indices=[20])


def test_subset_views_compose_and_pickle_by_path(split):
    sub = split.subset([10, 2, 5, 7])
    assert len(sub) == 4 and sub.pose.shape == (4, 17, 3)
    np.testing.assert_array_equal(sub.arrays["rgb"]["keypoints"][1], split.arrays["rgb"]["keypoints"][2])
    assert np.asarray(sub.arrays["lidar"]["mask"]).shape == (4, 256)
    subsub = sub.subset([3, 0])
    np.testing.assert_array_equal(subsub.meta["frame"], np.asarray(split.meta["frame"])[[7, 10]])
    batch = subsub.gather([1])
    assert batch["index"].tolist() == [1]  # position within the view
    np.testing.assert_array_equal(batch["pose"][0], split.pose[10])
    data = pickle.dumps(sub)
    assert len(data) < 10_000  # path + indices, not the arrays
    clone = pickle.loads(data)
    np.testing.assert_array_equal(clone.present, sub.present)
    with pytest.raises(IndexError):
        split.subset([99])


def test_worker_processes_read_the_same_batches(split):
    dataset = PackedDataset(split)
    single = list(make_loader(dataset, 8, shuffle=False))
    multi = list(make_loader(dataset, 8, shuffle=False, num_workers=2))
    for a, b in zip(single, multi):
        assert torch.equal(a["inputs"]["wifi-csi"]["csi"], b["inputs"]["wifi-csi"]["csi"])
        assert torch.equal(a["index"], b["index"])


def test_xrf55_batches_have_no_pose(tmp_path):
    write_xrf55_tree(tmp_path / "x" / "Scene1", [1], [4, 5], [1, 2], ["xrf-rfid"])
    cfg = DataConfig(
        dataset="xrf55", root=str(tmp_path / "x"), cache_dir=str(tmp_path / "c"), modalities=("xrf-rfid",)
    )
    split = open_split(cfg, "train", progress=False)
    batch = next(iter(make_loader(PackedDataset(split), 4, shuffle=False)))
    assert set(batch) == {"inputs", "present", "activity", "index"}
    assert batch["inputs"]["xrf-rfid"]["signal"].shape == (4, 23, 148)
    assert batch["activity"].tolist() == [3, 3, 4, 4]
