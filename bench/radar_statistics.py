"""Real and simulated radar side by side: points per frame, where the points lie around the body,
intensity, Doppler, how far the body stands and which part of it the points cover (docs/RESULTS.md, "What the simulator is worth on real radar").

    python bench/radar_statistics.py --mars PATH/TO/MARS --sim PATH/TO/SIM_MMFI [--sim NAME=PATH ...]
        [--frames 3000] [--out docs/results/real_radar]

Reads the raw frames (not a packed cache) of MARS's training side and of one or more synthetic MM-Fi
trees (``pta generate mmfi --modalities mmwave``), every point in its radar's frame (MARS: ti_mmwave;
simulator: its radar frame, same axes), and the ground-truth joints in that frame too (the simulator's
through its rig's camera → radar extrinsics). Writes ``radar_statistics.json`` (percentiles) and
``radar_statistics.png`` (six histograms).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pta_core.config import DataConfig  # noqa: E402
from pta_core.data import mmfi  # noqa: E402
from pta_core.data.records import ReadStats  # noqa: E402
from pta_core.data.sources import split_source  # noqa: E402
from pta_core.simulator.rig import mmfi_rig  # noqa: E402

PANELS = {
    "points": ("points per frame", np.arange(0, 130, 4)),
    "to_body": ("distance of a point to the nearest joint (m)", np.linspace(0, 2.0, 41)),
    "intensity": ("intensity (dB)", np.linspace(0, 60, 41)),
    "velocity": ("Doppler velocity (m/s)", np.linspace(-2, 2, 41)),
    "range": ("range of the body's centre (m)", np.linspace(0, 5, 51)),
    "above_centre": ("points' median height above the body's centre (m)", np.linspace(-1, 1, 41)),
}


def frame_statistics(points: np.ndarray, joints: np.ndarray) -> dict[str, np.ndarray]:
    """One frame's values per panel; ``points`` (N, 5) and ``joints`` (J, 3) in the same radar frame."""
    distance = np.linalg.norm(points[:, None, :3] - joints[None], axis=-1).min(axis=1) if len(points) else np.zeros(0)
    centre = joints.mean(axis=0)
    above = np.array([np.median(points[:, 2]) - centre[2]]) if len(points) else np.zeros(0)
    return {"points": np.array([len(points)]), "to_body": distance, "intensity": points[:, 4], "velocity": points[:, 3],
            "range": np.array([np.linalg.norm(centre)]), "above_centre": above}


def mars_frames(root: Path, count: int):
    source = split_source(DataConfig(dataset="mars", root=str(root), modalities=("mmwave",), split="time_split"), "train")
    stride = max(source.num_samples // count, 1)
    for index, record in enumerate(source.records(0)):  # one pass: a record's start re-reads its part
        if index % stride == 0:
            yield record.raw["mmwave"], record.pose


def sim_frames(root: Path, count: int):
    """A synthetic MM-Fi tree's radar frames with its joints moved into the radar's frame."""
    listings = list(mmfi.scan_sequences(root, [(s, a) for s in mmfi.MMFI_SUBJECTS for a in mmfi.MMFI_ACTION_IDS],
                                        ("mmwave",), lenient=True, stats=ReadStats()))
    total = sum(x.num_frames for x in listings)
    stride = max(total // count, 1)
    seen = 0
    for listing in listings:
        rig = mmfi_rig(listing.environment)
        for frame in mmfi.iter_frames(root, [(listing.subject, listing.action)], ("mmwave",), lenient=True):
            seen += 1
            if seen % stride or frame.raw["mmwave"] is None:
                continue
            joints = rig.radar.from_rig(rig.camera.to_rig(frame.pose))
            yield frame.raw["mmwave"], joints


def summarise(frames) -> dict[str, np.ndarray]:
    values: dict[str, list[np.ndarray]] = {name: [] for name in PANELS}
    for points, joints in frames:
        for name, array in frame_statistics(np.asarray(points, np.float64), np.asarray(joints, np.float64)).items():
            values[name].append(array)
    return {name: np.concatenate(parts) for name, parts in values.items()}


def percentiles(values: np.ndarray) -> dict[str, float]:
    return {f"p{q}": round(float(np.percentile(values, q)), 3) for q in (5, 25, 50, 75, 95)} | {"mean": round(float(values.mean()), 3)}


def plot(datasets: dict[str, dict[str, np.ndarray]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, (len(PANELS) + 1) // 2, figsize=(4.2 * ((len(PANELS) + 1) // 2), 6.8))
    axes = axes.ravel()
    for ax, (name, (label, bins)) in zip(axes, PANELS.items()):
        for dataset, values in datasets.items():
            ax.hist(np.clip(values[name], bins[0], bins[-1]), bins=bins, density=True, histtype="step", linewidth=1.6,
                    label=dataset)
        ax.set_xlabel(label)
        ax.set_yticks([])
    axes[0].legend(fontsize=8)
    fig.suptitle("Real (MARS) and simulated radar, every point in its radar's frame")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mars", type=Path, required=True, help="the MARS clone")
    parser.add_argument("--sim", action="append", default=[], help="[NAME=]PATH of a synthetic MM-Fi tree (repeatable)")
    parser.add_argument("--frames", type=int, default=3000, help="frames read per dataset, spread evenly")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "results" / "real_radar")
    args = parser.parse_args(argv)
    datasets = {"MARS (real)": summarise(mars_frames(args.mars, args.frames))}
    for item in args.sim:
        name, _, path = item.rpartition("=")
        datasets[name or f"simulator ({Path(path).name})"] = summarise(sim_frames(Path(path), args.frames))
    args.out.mkdir(parents=True, exist_ok=True)
    table = {dataset: {name: percentiles(v) for name, v in values.items()} for dataset, values in datasets.items()}
    (args.out / "radar_statistics.json").write_text(json.dumps(table, indent=2) + "\n")
    plot(datasets, args.out / "radar_statistics.png")
    for dataset, rows in table.items():
        print(dataset)
        for name, row in rows.items():
            print(f"  {name:10s} median {row['p50']:8.3f}  p5 {row['p5']:8.3f}  p95 {row['p95']:8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
