"""``pta stats``: what the raw inputs of a training split look like, and the preprocessing statistics
that depend on the data (the Wi-Fi CSI standardisation).

It reads ``--samples`` frames spread evenly over the training side of the split (raw files, not
the packed cache) and prints, per modality: how often it is present, and its value statistics
(CSI amplitude mean and standard deviation, point counts, depth pixels, the radar's velocity and
intensity). The last lines are the ``--set`` overrides to paste: ``data.preprocess.csi_offset`` and
``csi_scale``, ``mmwave_offset`` and ``mmwave_scale``.

Example::

    pta stats --config config/bench_clean.yaml --samples 400
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from pta_core.config import ConfigError, load_config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="YAML config (defaults when omitted)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="dotted override")
    parser.add_argument("--samples", type=int, default=300, help="frames to read (default %(default)s)")
    parser.add_argument("--json", action="store_true", help="print the statistics as one JSON object")


def raw_statistics(records, modalities: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """Per modality: the fraction present and the value statistics of the raw samples in ``records``."""
    values: dict[str, list[np.ndarray]] = {m: [] for m in modalities}
    counts: dict[str, list[int]] = {m: [] for m in modalities}
    radar: list[np.ndarray] = []  # the radar's velocity and intensity columns
    total = 0
    for record in records:
        total += 1
        for name in modalities:
            raw = record.raw.get(name)
            if raw is None:
                continue
            array = np.asarray(raw, dtype=np.float64)
            counts[name].append(len(array) if array.ndim == 2 and name in ("lidar", "mmwave") else int(array.size))
            finite = array[np.isfinite(array)]
            if name == "depth":
                finite = finite[finite > 0]
            if name == "mmwave" and array.ndim == 2 and array.shape[1] >= 5:
                radar.append(array[np.isfinite(array[:, 3:5]).all(axis=1), 3:5])
            values[name].append(finite.reshape(-1))
    out = {}
    for name in modalities:
        data = np.concatenate(values[name]) if values[name] else np.zeros(0)
        row = {"present": len(counts[name]) / max(total, 1)}
        if data.size:
            row.update(mean=float(data.mean()), std=float(data.std()), p1=float(np.percentile(data, 1)),
                       p99=float(np.percentile(data, 99)))
        if counts[name] and name in ("lidar", "mmwave"):
            row.update(points_median=float(np.median(counts[name])), points_min=float(np.min(counts[name])))
        if name == "mmwave" and radar:
            channels = np.concatenate(radar)
            row.update(velocity_mean=float(channels[:, 0].mean()), velocity_std=float(channels[:, 0].std()),
                       intensity_mean=float(channels[:, 1].mean()), intensity_std=float(channels[:, 1].std()))
        out[name] = row
    return out


def _spread(source, count: int):
    """``count`` records spread evenly over the source (one read each)."""
    starts = np.unique(np.linspace(0, source.num_samples - 1, min(count, source.num_samples)).astype(int))
    for start in starts:
        yield next(source.records(int(start)))


def run(args: argparse.Namespace) -> int:
    from pta_core.data.sources import split_source

    try:
        cfg = load_config(args.config, args.set).data
        if args.samples < 1:
            raise ConfigError(f"--samples must be at least 1, got {args.samples}")
        source = split_source(cfg, "train")
        stats = raw_statistics(_spread(source, args.samples), source.modalities)
    except (ConfigError, OSError, ValueError) as err:
        print(f"pta stats: {err}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(stats))
        return 0
    print(f"{source.num_samples} training samples; statistics of {min(args.samples, source.num_samples)} raw frames")
    for name, row in stats.items():
        cells = ", ".join(f"{k} {v:.4g}" for k, v in row.items())
        print(f"  {name:10s} {cells}")
    csi = stats.get("wifi-csi", {})
    if "mean" in csi:
        print(f"--set data.preprocess.csi_offset={csi['mean']:.4g} --set data.preprocess.csi_scale={csi['std']:.4g}")
    radar = stats.get("mmwave", {})
    if "intensity_mean" in radar:
        print(f"--set 'data.preprocess.mmwave_offset=[{radar['velocity_mean']:.3g}, {radar['intensity_mean']:.3g}]' "
              f"--set 'data.preprocess.mmwave_scale=[{max(radar['velocity_std'], 1e-3):.3g}, {max(radar['intensity_std'], 1e-3):.3g}]'")
    return 0
