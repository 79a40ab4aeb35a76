"""Synthetic data generation speed and size: ``pta generate mmfi|xrf55`` through its Python API.

Measures, on this machine:

- MM-Fi end to end (render + encode + write, all 7 modalities): frames/s and MB/s for each
  ``--workers`` value, MB per sequence and per frame, and bytes per modality;
- per-frame cost of each renderer/encoder in one process (median ms): depth ray casting + sensor
  model, depth PNG encoding, LiDAR, radar, Wi-Fi CSI (channel + measurement + MAT encoding), keypoints;
- XRF55 end to end: samples/s, MB/s and MB per sample per modality.

    python bench/bench_generate.py --work /tmp/pta_bench_generate --frames 60 --workers 1,2

Prints a table and, last, one JSON line with every figure.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from pathlib import Path

import numpy as np

from pta_core.simulator import MMFiSpec, XRF55Spec, generate_mmfi, generate_xrf55
from pta_core.simulator import fileformats as ff
from pta_core.simulator.body import capsules
from pta_core.simulator.contamination import Contamination
from pta_core.simulator.mmfi_sequence import DOPPLER_DT, MMFiSequence
from pta_core.simulator.render_csi import PACKETS, CsiRenderer
from pta_core.simulator.render_keypoints import detect_keypoints
from pta_core.simulator.spec import subjects_round_robin


def tree_bytes(root: Path) -> dict[str, int]:
    """Bytes per modality folder name (and ground truth) under a generated tree."""
    sizes: dict[str, int] = {}
    for path in root.rglob("*"):
        if path.is_file() and not path.name.startswith("."):
            key = (
                path.parent.name
                if path.suffix != ".npy" or path.name != "ground_truth.npy"
                else "ground_truth"
            )
            sizes[key] = sizes.get(key, 0) + path.stat().st_size
    return sizes


def bench_mmfi(work: Path, subjects: int, actions: tuple[str, ...], frames: int, workers: list[int]) -> dict:
    spec = MMFiSpec(subjects=subjects_round_robin(subjects), actions=actions, frames=frames)
    runs = []
    for w in workers:
        root = work / f"mmfi_w{w}"
        shutil.rmtree(root, ignore_errors=True)
        summary = generate_mmfi(root, spec, workers=w)
        runs.append(
            {
                "workers": w,
                "seconds": round(summary.seconds, 2),
                "frames_per_s": round(summary.frames_written / summary.seconds, 1),
                "mb_per_s": round(summary.bytes_written / 1e6 / summary.seconds, 1),
            }
        )
    sizes = tree_bytes(work / f"mmfi_w{workers[0]}")
    total = sum(sizes.values())
    sequences = len(spec.sequences())
    return {
        "sequences": sequences,
        "frames": sequences * frames,
        "runs": runs,
        "mb_per_sequence": round(total / 1e6 / sequences, 2),
        "kb_per_frame": round(total / 1e3 / (sequences * frames), 1),
        "kb_per_frame_by_modality": {
            k: round(v / 1e3 / (sequences * frames), 1) for k, v in sorted(sizes.items())
        },
    }


def bench_components(frames: int) -> dict:
    """Median per-frame milliseconds of each stage, one process (renderer caches warm)."""
    spec = MMFiSpec(subjects=("S01",), actions=("A06",), frames=frames)
    seq = MMFiSequence(spec, "S01", "A06")
    knobs = Contamination()
    rig = seq.rig
    starts, ends, radii = capsules(seq.shape, seq.pose)
    later = capsules(seq.shape, seq.pose_at(seq.times + DOPPLER_DT))
    v_starts, v_ends = (later[0] - starts) / DOPPLER_DT, (later[1] - ends) / DOPPLER_DT
    packet_times = (seq.times[:, None] + np.arange(PACKETS) * spec.frame_period / PACKETS).reshape(-1)
    packet_pose = seq.pose_at(packet_times)
    p_starts, p_ends, _ = capsules(seq.shape, packet_pose)
    csi = CsiRenderer(rig, np.random.default_rng(0))
    rng = np.random.default_rng(0)
    times: dict[str, list[float]] = {
        k: [] for k in ("depth_render", "depth_png", "lidar", "mmwave", "wifi_csi", "keypoints_3cams")
    }
    for f in range(frames):
        t0 = time.perf_counter()
        depth = seq.depth_renderer.render(
            rig.camera.from_rig(starts[f]), rig.camera.from_rig(ends[f]), radii, rng, knobs.depth
        )
        t1 = time.perf_counter()
        ff.png16_bytes(depth)
        t2 = time.perf_counter()
        seq.lidar_renderer.render(starts[f], ends[f], radii, seq.pose.joints[f, 0, :2], rng, knobs.lidar)
        t3 = time.perf_counter()
        seq.radar_renderer.render(starts[f], ends[f], radii, v_starts[f], v_ends[f], rng, knobs.mmwave)
        t4 = time.perf_counter()
        block = slice(f * PACKETS, (f + 1) * PACKETS)
        amp, phase = csi.measure(
            csi.channel(p_starts[block], p_ends[block], radii, packet_pose.joints[block]), rng, knobs.wifi_csi
        )
        ff.mat_bytes({"CSIamp": amp, "CSIphase": phase})
        t5 = time.perf_counter()
        for frame, intr in (
            (rig.rgb, rig.rgb_intrinsics),
            (rig.camera, rig.depth_intrinsics),
            (rig.infra2, rig.depth_intrinsics),
        ):
            detect_keypoints(seq.pose, frame, intr, rng, knobs.rgb)
        t6 = time.perf_counter()
        for key, dt in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, (t6 - t5) / frames)):
            times[key].append(dt * 1e3)
    return {k: round(statistics.median(v), 2) for k, v in times.items()}


def bench_xrf55(work: Path, classes: int, workers: int) -> dict:
    spec = XRF55Spec(classes=tuple(range(1, classes + 1)), repetitions=(1,))
    root = work / "xrf55"
    shutil.rmtree(root, ignore_errors=True)
    summary = generate_xrf55(root, spec, workers=workers)
    sizes = tree_bytes(root)
    n = summary.items_written
    return {
        "samples": n,
        "workers": workers,
        "seconds": round(summary.seconds, 2),
        "samples_per_s": round(n / summary.seconds, 2),
        "mb_per_s": round(summary.bytes_written / 1e6 / summary.seconds, 1),
        "mb_per_sample": round(sum(sizes.values()) / 1e6 / n, 3),
        "mb_per_sample_by_modality": {k: round(v / 1e6 / n, 3) for k, v in sorted(sizes.items())},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--work", type=Path, default=Path("/tmp/pta_bench_generate"))
    parser.add_argument("--subjects", type=int, default=2)
    parser.add_argument("--actions", default="A01,A06,A12,A17,A20,A26")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts for the MM-Fi runs")
    parser.add_argument("--xrf-classes", type=int, default=12)
    parser.add_argument("--keep", action="store_true", help="keep the generated trees")
    args = parser.parse_args()
    workers = [int(w) for w in args.workers.split(",")]
    args.work.mkdir(parents=True, exist_ok=True)
    result = {
        "mmfi": bench_mmfi(args.work, args.subjects, tuple(args.actions.split(",")), args.frames, workers),
        "mmfi_ms_per_frame": bench_components(min(args.frames, 60)),
        "xrf55": bench_xrf55(args.work, args.xrf_classes, workers[-1]),
    }
    m, x = result["mmfi"], result["xrf55"]
    print(f"MM-Fi: {m['sequences']} sequences x {args.frames} frames, all 7 modalities")
    for run in m["runs"]:
        print(
            f"  workers={run['workers']}: {run['frames_per_s']} frames/s, {run['mb_per_s']} MB/s ({run['seconds']} s)"
        )
    print(
        f"  {m['mb_per_sequence']} MB per sequence, {m['kb_per_frame']} kB per frame: {m['kb_per_frame_by_modality']}"
    )
    print(f"  per-frame ms (1 process): {result['mmfi_ms_per_frame']}")
    print(
        f"XRF55: {x['samples']} samples, workers={x['workers']}: {x['samples_per_s']} samples/s, {x['mb_per_s']} MB/s"
    )
    print(f"  {x['mb_per_sample']} MB per sample: {x['mb_per_sample_by_modality']}")
    print(json.dumps(result))
    if not args.keep:
        shutil.rmtree(args.work, ignore_errors=True)


if __name__ == "__main__":
    main()
