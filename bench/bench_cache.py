"""Training-style read throughput: packed cache vs reading the raw MM-Fi tree file by file.

Writes (once) an MM-Fi tree in the official layout (full-size 480×640 depth PNGs, clouds, CSI .mat,
keypoints, ground truth), packs the train side, then times random batches three ways on the same
data, same machine, one run:

- ``toolbox``: the official toolbox's frame mode (``mmfi_lib/mmfi.py``): per item, load the whole
  ``ground_truth.npy`` and read every modality file as ``read_frame`` does (PIL in place of cv2 for
  the 16-bit PNG), then ``collate_fn_padd`` (clouds zero-padded to the batch maximum);
- ``raw+preprocess``: per item, the registry's ``read_file`` + ``preprocess`` (what training without a
  cache would have to do to get the model's inputs);
- ``packed``: ``PackedDataset`` + ``make_loader`` (one fancy-indexed memmap read per array).

Reports the median frames/s of several repetitions (paths interleaved, after one warm-up pass each, so
all read from the page cache) and the packed/toolbox ratio.

    python bench/bench_cache.py --work /tmp/pta_bench_cache --subjects 4 --actions 3 --reps 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import scipy.io
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "test"))
from data_trees import seq_dir, write_mmfi_tree

from pta_core.config import DataConfig
from pta_core.data import PackedDataset, make_loader, open_split
from pta_core.modalities import get_modality

MODALITIES = ("rgb", "depth", "mmwave", "lidar", "wifi-csi")


def toolbox_read_frame(path: str, modality: str) -> np.ndarray:
    """mmfi.py ``read_frame``, transcribed (cv2.imread(IMREAD_UNCHANGED) → PIL for the 16-bit PNG)."""
    if modality in ("rgb", "infra1", "infra2"):
        return np.load(path)
    if modality == "depth":
        with Image.open(path) as image:
            return np.array(image) * 0.001
    if modality in ("lidar", "mmwave"):
        with open(path, "rb") as f:
            data = np.frombuffer(f.read(), dtype=np.float64)
        return data.copy().reshape(-1, 3 if modality == "lidar" else 5)
    data = scipy.io.loadmat(path)["CSIamp"]
    data[np.isinf(data)] = np.nan
    for i in range(10):
        col = data[:, :, i]
        if np.count_nonzero(col != col):
            col[np.isnan(col)] = col[col == col].mean()
    return (data - np.min(data)) / (np.max(data) - np.min(data))


class ToolboxFrames(Dataset):
    """The toolbox's frame-mode ``__getitem__`` over (sequence dir, frame index) items."""

    def __init__(self, items):
        self.items = items

    def __len__(self):
        return len(self.items)

    def __getitem__(self, idx):
        folder, frame = self.items[idx]
        gt = torch.from_numpy(np.load(os.path.join(folder, "ground_truth.npy")))
        sample = {"output": gt[frame]}
        for m in MODALITIES:
            sample["input_" + m] = toolbox_read_frame(
                os.path.join(folder, m, f"frame{frame + 1:03d}{get_modality(m).extension}"), m
            )
        return sample


def collate_fn_padd(batch):
    """mmfi.py ``collate_fn_padd``, transcribed (metadata lists omitted)."""
    out = {"output": torch.FloatTensor(np.array([np.array(s["output"]) for s in batch]))}
    for m in MODALITIES:
        if m in ("mmwave", "lidar"):
            padded = torch.nn.utils.rnn.pad_sequence([torch.Tensor(s["input_" + m]) for s in batch])
            out["input_" + m] = padded.permute(1, 0, 2)
        else:
            out["input_" + m] = torch.FloatTensor(np.array([np.array(s["input_" + m]) for s in batch]))
    return out


class RawPreprocessed(Dataset):
    """Per item: registry read_file + preprocess for every modality (no cache)."""

    def __init__(self, items, cfg):
        self.items, self.cfg = items, cfg

    def __len__(self):
        return len(self.items)

    def __getitem__(self, idx):
        folder, frame = self.items[idx]
        sample = {"pose": np.load(os.path.join(folder, "ground_truth.npy"))[frame].astype(np.float32)}
        for m in MODALITIES:
            modality = get_modality(m)
            raw = modality.read_file(Path(folder) / m / f"frame{frame + 1:03d}{get_modality(m).extension}")
            sample[m] = modality.preprocess(raw, self.cfg.preprocess)
        return sample


def time_loader(loader, max_batches: int) -> float:
    """frames/s over ``max_batches`` batches (passes over the loader repeat until that many)."""
    frames = batches = 0
    start = time.perf_counter()
    while batches < max_batches:
        for batch in loader:
            key = "output" if "output" in batch else ("pose" if "pose" in batch else "index")
            frames += len(batch[key])
            batches += 1
            if batches >= max_batches:
                break
    return frames / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--work", default="/tmp/pta_bench_cache")
    parser.add_argument("--subjects", type=int, default=4)
    parser.add_argument("--actions", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument(
        "--raw-batches", type=int, default=15, help="batches per repetition for the file-by-file paths"
    )
    parser.add_argument(
        "--packed-epochs", type=int, default=10, help="passes per repetition for the packed path"
    )
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()

    work = Path(args.work)
    subjects = [f"S{i:02d}" for i in range(1, args.subjects + 1)]
    actions = [f"A{i:02d}" for i in range(1, args.actions + 1)]
    root = work / "mmfi"
    marker = work / f"tree-{args.subjects}x{args.actions}.done"
    if not marker.exists():
        start = time.perf_counter()
        write_mmfi_tree(root, subjects, actions, frames=297, modalities=MODALITIES, depth_shape=(480, 640))
        marker.write_text("ok")
        print(f"wrote the tree in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    cfg = DataConfig(
        root=str(root),
        cache_dir=str(work / "cache"),
        modalities=MODALITIES,
        split="manual_split",
        train_subjects=tuple(subjects),
        train_actions=tuple(actions),
        val_subjects=("S40",),
        val_actions=("A27",),
    )
    start = time.perf_counter()
    split = open_split(cfg, "train", progress=sys.stderr.isatty())
    open_seconds = time.perf_counter() - start
    items = [(str(seq_dir(root, s, a)), f) for s in subjects for a in actions for f in range(297)]
    assert len(items) == len(split)

    def loaders(seed):
        gen = lambda: torch.Generator().manual_seed(seed)  # noqa: E731 - same batches for every path
        return {
            "toolbox": (DataLoader(ToolboxFrames(items), args.batch, shuffle=True, drop_last=True, generator=gen(), collate_fn=collate_fn_padd), args.raw_batches),
            "raw+preprocess": (DataLoader(RawPreprocessed(items, cfg), args.batch, shuffle=True, drop_last=True, generator=gen()), args.raw_batches),
            "packed": (make_loader(PackedDataset(split), args.batch, shuffle=True, drop_last=True, generator=gen()), args.packed_epochs * (len(split) // args.batch)),
        }  # fmt: skip

    load_before = os.getloadavg()
    for loader, batches in loaders(123).values():  # warm the page cache for every path
        time_loader(loader, batches)
    rates: dict[str, list[float]] = {name: [] for name in ("toolbox", "raw+preprocess", "packed")}
    for rep in range(args.reps):
        for name, (loader, batches) in loaders(rep).items():
            rates[name].append(time_loader(loader, batches))
    median = {name: statistics.median(values) for name, values in rates.items()}
    report = {
        "frames": len(split),
        "batch": args.batch,
        "reps": args.reps,
        "open_split_seconds": round(open_seconds, 2),
        "pack_seconds": split.manifest["pack_seconds"],
        "median_frames_per_s": {k: round(v, 1) for k, v in median.items()},
        "all_frames_per_s": {k: [round(x, 1) for x in v] for k, v in rates.items()},
        "packed_over_toolbox": round(median["packed"] / median["toolbox"], 1),
        "packed_over_raw_preprocess": round(median["packed"] / median["raw+preprocess"], 1),
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
