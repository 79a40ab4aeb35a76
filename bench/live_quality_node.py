"""Live sensor quality through the node: bags of held-out people with sensors degraded at test time,
replayed through ``pta_bringup --evaluate`` with live quality off (today's choice) and on.

    python bench/live_quality_node.py [--model models/pta_bench_clean.pt] [--work out/live_quality_node]
                                      [--out docs/results/live_quality_node]

The scenes: the benchmark's held-out subjects S08 and S18, six actions, 12 frames 0.25 s apart each
(144 frames, 36 s of bag), generated clean and with a sensor degraded at level 0.8 (the same scenes:
same seed). Each becomes an ``mmfi_to_bag`` bag, replayed at its own rate with reliable input QoS
(no frame lost to transport: the comparison is the node's choice, not DDS). The node's parameters
are config/sensing.yaml's, with ``quality_tolerance: 0`` for today's choice. The oracle is the fixed
sensor set with the lowest MPJPE on the same frames offline (pta_core.node_choice), in hindsight.
Writes summary.md and summary.json to ``--out``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from live_quality import summary as offline_summary

from pta_core.data import mmfi
from pta_core.node_choice import replay_choice
from pta_core.serving import load_predictor
from pta_core.simulator import MMFiSpec, generate_mmfi, parse_contamination
from pta_ros.inputs import SENSORS

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
SUBJECTS = ("S08", "S18")  # held out by every benchmark (pta_core.simulator.benchmarks.TEST_SUBJECTS)
ACTIONS = ("A02", "A03", "A12", "A17", "A21", "A26")
MODALITIES = ("rgb", "depth", "mmwave", "lidar", "wifi-csi")
FRAMES, PERIOD_S = 12, 0.25
PATTERNS = {
    "clean": [],
    "camera (keypoints + depth) 0.8": ["rgb=0.8", "depth=0.8"],
    "LiDAR 0.8": ["lidar=0.8"],
    "radar 0.8": ["mmwave=0.8"],
}


def scenes(work: Path, name: str, contamination: list[str]) -> Path:
    root = work / "trees" / name.split()[0]
    if not root.exists():
        spec = MMFiSpec(subjects=SUBJECTS, actions=ACTIONS, frames=FRAMES, frame_period=PERIOD_S,
                        modalities=MODALITIES, contamination=parse_contamination(contamination))
        generate_mmfi(root, spec, workers=1)
    return root


def bag_of(work: Path, name: str, root: Path) -> Path:
    bag = work / "bags" / name.split()[0]
    if not bag.exists():
        bag.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([PY, "-m", "pta_ros.tools.bag", str(root), str(bag), "--frame-period", str(PERIOD_S),
                        "--no-progress"], cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    return bag


def params_file(work: Path, quality_tolerance: float | None) -> Path:
    """Reliable, deep input queues (nothing lost to QoS); live quality off (0) or the default (None)."""
    lines = ["/**:", "  ros__parameters:"]
    for spec in SENSORS:
        lines += [f"    qos_overrides./{spec.topic}.subscription.reliability: reliable",
                  f"    qos_overrides./{spec.topic}.subscription.depth: 100"]
    if quality_tolerance is not None:
        lines.append(f"    quality_tolerance: {quality_tolerance}")
    path = work / f"params_{'default' if quality_tolerance is None else quality_tolerance}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def through_the_node(work: Path, model: Path, bag: Path, params: Path, tag: str) -> dict:
    summary = work / f"{bag.name}_{tag}.json"
    if not summary.is_file():
        subprocess.run([PY, "-m", "pta_ros.tools.bringup", "--model", str(model), "--bag", str(bag),
                        "--params-file", str(params), "--evaluate", "--json", str(summary)],
                       cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "2"}, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return json.loads(summary.read_text())


def oracle(predictor, root: Path) -> dict:
    """The fixed set with the lowest MPJPE on these frames, offline (live at least 90 % of them)."""
    frames = list(mmfi.iter_frames(root, [(s, a) for s in SUBJECTS for a in ACTIONS], MODALITIES))
    per_subset: dict = {}
    for i, served in enumerate(replay_choice(predictor, [f.raw for f in frames], None, every_set=True)):
        for s, joints in served.joints.items():
            per_subset.setdefault(s, {})[i] = joints
    today = [(("rgb",), np.zeros((17, 3)))] * len(frames)  # unused by the oracle
    run = {"today": today, "quality": today, "truth": np.stack([f.pose for f in frames]), "per_subset": per_subset}
    return offline_summary(run)["oracle"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="live_quality_node", description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=REPO / "models" / "pta_bench_clean.pt")
    parser.add_argument("--work", type=Path, default=REPO / "out" / "live_quality_node")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "results" / "live_quality_node")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    predictor = load_predictor(args.model, "torch", "cpu", 1)
    off, on = params_file(args.work, 0.0), params_file(args.work, None)
    results = {}
    for name, contamination in PATTERNS.items():
        root = scenes(args.work, name, contamination)
        bag = bag_of(args.work, name, root)
        results[name] = {"today": through_the_node(args.work, args.model, bag, off, "today"),
                         "live_quality": through_the_node(args.work, args.model, bag, on, "quality"),
                         "oracle": oracle(predictor, root)}
        print(name, json.dumps({k: v.get("overall", v) for k, v in results[name].items()}), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(results, indent=2))
    text = markdown(results, args.model.name)
    (args.out / "summary.md").write_text(text)
    print(text)
    return 0


def markdown(results: dict, model: str) -> str:
    sequences = len(SUBJECTS) * len(ACTIONS)
    lines = ["# Live sensor quality through the node", "",
             f"`python bench/live_quality_node.py` (model `{model}`; {', '.join(SUBJECTS)} × {len(ACTIONS)} actions × "
             f"{FRAMES} frames {PERIOD_S} s apart, {sequences} sequences, replayed through `pta_bringup --evaluate`).", "",
             "| pattern | today: MPJPE / PA (mm), switches | live quality: MPJPE / PA (mm), switches | frames scored (today / quality) "
             "| oracle set: MPJPE / PA (mm) | live quality / oracle |", "|---|---|---|---|---|---|"]
    for name, r in results.items():
        t, q, o = r["today"], r["live_quality"], r["oracle"]
        lines.append(f"| {name} | {t['overall']['mpjpe_mm']:.1f} / {t['overall']['pa_mpjpe_mm']:.1f}, {t['set_switches']} | "
                     f"{q['overall']['mpjpe_mm']:.1f} / {q['overall']['pa_mpjpe_mm']:.1f}, {q['set_switches']} | "
                     f"{t['frames_scored']} / {q['frames_scored']} | {o['set']}: {o['mpjpe_mm']:.1f} / {o['pa_mpjpe_mm']:.1f} | "
                     f"{q['overall']['mpjpe_mm'] / o['mpjpe_mm']:.2f}× |")
    lines += ["", "Sets served under live quality (frames, MPJPE mm):", ""]
    for name, r in results.items():
        sets = r["live_quality"]["per_set"]
        lines.append(f"- {name}: " + ", ".join(f"{s} {v['frames']} ({v['mpjpe_mm']:.1f})" for s, v in
                                               sorted(sets.items(), key=lambda kv: -kv[1]["frames"])))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
