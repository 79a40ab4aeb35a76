"""The node's choice under live sensor quality, offline: sensors degraded at test time, clean-trained model.

    python bench/live_quality.py [--model models/pta_bench_clean.pt] [--work out/quality_signals]
                                 [--out docs/results/live_quality]

1. The tolerance (pta_core.live_quality.fit_tolerance) is fitted on a validation subject (S09, in
   neither the model's training nor its test split): its clean scenes and, for each sensor, the same
   scenes with that sensor degraded at level 0.8; then, with it, each sensor's verdict tolerance
   (its scores on the clean scenes against those where it was degraded). ``--store`` writes the
   verdicts into the model file, where the node and ``pta export`` find them.
2. The held-out subject (S08 by default, the demo's four actions, 48 frames 0.25 s apart, played in order as the
   bag is) is served under patterns of test-time degradation: whole-sequence (the camera: keypoints
   and depth together; the LiDAR; the radar; Wi-Fi; the LiDAR at level 0.5, a level not fitted on) and
   mid-sequence (a sensor degraded from the 4th to the 8th frame of each sequence, then recovered).
3. Per frame, as the node would: the live sensors (those whose input is usable), each one's own
   readout, the scores, the hysteresis, and the best validated set of the sensors not left out.

Reported per pattern: MPJPE and PA-MPJPE of today's choice (the best validated set of all live
sensors), of the choice under live quality, and of the oracle (the fixed set of sensors with the
lowest MPJPE on the pattern, chosen in hindsight); set switches; for mid-sequence patterns, how long
after the onset the sensor was out and after the recovery back in.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

from pta_core.checkpoint import load_checkpoint, save_checkpoint
from pta_core.data import mmfi
from pta_core.live_quality import (
    QualityPolicy,
    disagreements,
    expected_errors,
    fit_tolerance,
    pair_values,
    quality_scores,
)
from pta_core.metrics import mpjpe, pa_mpjpe
from pta_core.node_choice import replay_choice
from pta_core.simulator import MMFiSpec, generate_mmfi, parse_contamination
from pta_core.torch_predictor import TorchPredictor

REPO = Path(__file__).resolve().parents[1]
ACTIONS = ("A03", "A12", "A17", "A26")
MODALITIES = ("rgb", "depth", "mmwave", "lidar", "wifi-csi")
FRAMES, PERIOD_S = 12, 0.25
# Thresholds are fitted on S09: a person the shipped model never saw and outside its test split (the
# benchmarks use 32 of MM-Fi's 40 subject ids). A training subject's own readouts are better than an
# unseen person's, so thresholds fitted there raise false alarms on new people (measured: fitted on S01,
# the clean held-out bag lost its keypoints in 17 of 48 frames).
# The rule's design (group vs second peer, hysteresis lengths) was chosen on S10's patterns, also unseen and
# outside the test split; S08's are the held-out result.
FIT_SUBJECT, DESIGN_SUBJECT, TEST_SUBJECT, LEVEL = "S09", "S10", "S08", 0.8
ONSET, CLEAR = 3, 7  # mid-sequence patterns: frames 4..7 of each sequence degraded (0-based 3..6)


def tree(work: Path, contamination: list[str], subject: str) -> Path:
    name = "+".join(sorted(c.split("=")[0] for c in contamination)) + f"_{contamination[0].split('=')[1]}" if contamination else "clean"
    root = work / name
    spec = MMFiSpec(subjects=(subject,), actions=ACTIONS, frames=FRAMES, frame_period=PERIOD_S, modalities=MODALITIES,
                    contamination=parse_contamination(contamination))
    generate_mmfi(root, spec, workers=1)
    return root


def frames_of(root: Path, subject: str) -> list:
    return list(mmfi.iter_frames(root, [(subject, a) for a in ACTIONS], MODALITIES))


def expected_mm(predictor) -> dict[str, float]:
    return expected_errors(predictor.validation, MODALITIES)


def fit(predictor, work: Path) -> float:
    """The tolerance, from D of sensor pairs on the fit subject: every pair on its clean scenes, and each
    sensor degraded at LEVEL paired with the others."""
    expected = expected_mm(predictor)

    def pair_scores(frames: list) -> list[dict]:
        return [disagreements({s[0]: j for s, j in f.joints.items() if len(s) == 1}, expected)
                for f in replay_choice(predictor, [frame.raw for frame in frames], None)]

    agreeing = [d for pairs in pair_scores(frames_of(tree(work, [], FIT_SUBJECT), FIT_SUBJECT))
                 for _, _, d in pair_values(pairs)]
    disagreeing = []
    for m in MODALITIES:
        for pairs in pair_scores(frames_of(tree(work, [f"{m}={LEVEL}"], FIT_SUBJECT), FIT_SUBJECT)):
            disagreeing += [d for a, b, d in pair_values(pairs) if m in (a, b)]
    return fit_tolerance(agreeing, disagreeing)


def fit_verdicts(predictor, work: Path, policy: QualityPolicy) -> dict[str, float]:
    """Per sensor, the score separating its clean frames from its degraded ones on the fit subject."""
    expected = expected_mm(predictor)

    def scores(frames: list) -> list[dict]:
        return [quality_scores({s[0]: j for s, j in f.joints.items() if len(s) == 1}, expected, policy)
                for f in replay_choice(predictor, [frame.raw for frame in frames], None)]

    clean = {m: [] for m in MODALITIES}
    for frame_scores in scores(frames_of(tree(work, [], FIT_SUBJECT), FIT_SUBJECT)):
        for m, score in frame_scores.items():
            if score.worst is not None:
                clean[m].append(score.worst)
    verdicts = {}
    for m in MODALITIES:
        bad = [s[m].worst for s in scores(frames_of(tree(work, [f"{m}={LEVEL}"], FIT_SUBJECT), FIT_SUBJECT))
               if m in s and s[m].worst is not None]
        verdicts[m] = fit_tolerance(clean[m], bad)
    return verdicts


def store(model: Path, policy: QualityPolicy) -> None:
    checkpoint = load_checkpoint(model)
    checkpoint.metadata["live_quality"] = {
        "verdicts": {m: round(v, 4) for m, v in policy.verdict.items()}, "tolerance_fitted": round(policy.tolerance, 4),
        "fitted_on": f"{FIT_SUBJECT}: actions {', '.join(ACTIONS)}, {FRAMES} frames each, clean and each sensor at {LEVEL}",
        "by": "bench/live_quality.py --store"}
    save_checkpoint(model, checkpoint)
    print(f"{model}: per-sensor verdicts stored", file=sys.stderr)


def serve(predictor, frames: list, policy: QualityPolicy) -> dict:
    """Today's choice and the choice under live quality over ``frames`` in order; every subset's joints."""
    today, quality, left_out, per_subset = [], [], [], {}
    for i, served in enumerate(replay_choice(predictor, [frame.raw for frame in frames], policy, every_set=True)):
        today.append((served.today, served.joints[served.today]))
        quality.append((served.chosen, served.joints[served.chosen]))
        left_out.append(list(served.left_out))
        for s, joints in served.joints.items():
            per_subset.setdefault(s, {})[i] = joints
    return {"today": today, "quality": quality, "truth": np.stack([f.pose for f in frames]), "left_out": left_out,
            "per_subset": per_subset}


def summary(run: dict) -> dict:
    truth = run["truth"]

    def scores(choice: list) -> dict:
        joints = np.stack([j for _, j in choice])
        sets = [s for s, _ in choice]
        return {"mpjpe_mm": float(mpjpe(joints, truth)), "pa_mpjpe_mm": float(pa_mpjpe(joints, truth)),
                "switches": sum(a != b for a, b in zip(sets, sets[1:])), "sets": sorted({"+".join(s) for s in sets})}

    # the oracle: the fixed set with the lowest MPJPE, over the frames where it is live (at least 90 %)
    oracle = None
    for s, by_frame in run["per_subset"].items():
        if len(by_frame) < 0.9 * len(truth):
            continue
        frames = sorted(by_frame)
        error = float(mpjpe(np.stack([by_frame[i] for i in frames]), truth[frames]))
        if oracle is None or error < oracle["mpjpe_mm"]:
            pa = float(pa_mpjpe(np.stack([by_frame[i] for i in frames]), truth[frames]))
            oracle = {"set": "+".join(s), "mpjpe_mm": error, "pa_mpjpe_mm": pa, "frames": len(frames)}
    return {"today": scores(run["today"]), "quality": scores(run["quality"]), "oracle": oracle}


def onset_timing(run: dict, sensor: str) -> dict:
    """Seconds from each sequence's onset to the sensor being left out, and from the recovery back in."""
    out_after, back_after = [], []
    for start in range(0, len(run["left_out"]), FRAMES):
        flags = [sensor in run["left_out"][start + f] for f in range(FRAMES)]
        out = next((f for f in range(ONSET, FRAMES) if flags[f]), None)
        out_after.append(None if out is None else (out - ONSET + 1) * PERIOD_S)
        back = next((f for f in range(CLEAR, FRAMES) if not flags[f]), None) if out is not None else CLEAR
        back_after.append(None if back is None else (back - CLEAR + 1) * PERIOD_S)
    return {"out_after_s": out_after, "back_after_s": back_after}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="live_quality", description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=REPO / "models" / "pta_bench_clean.pt")
    parser.add_argument("--work", type=Path, default=REPO / "out" / "quality_signals")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "results" / "live_quality")
    parser.add_argument("--subject", default=TEST_SUBJECT,
                        help=f"whose scenes are served ({TEST_SUBJECT}, held out; {DESIGN_SUBJECT} chose the rule)")
    parser.add_argument("--drop-after", type=int, default=QualityPolicy.drop_after, help="frames outside before left out")
    parser.add_argument("--restore-after", type=int, default=QualityPolicy.restore_after, help="frames inside before served again")
    parser.add_argument("--peer-ratio", type=float, default=QualityPolicy.peer_ratio,
                        help="a sensor is judged by peers at most this many times less accurate")
    parser.add_argument("--store", action="store_true",
                        help="write the fitted per-sensor verdicts into the model file (the node reads them)")
    parser.add_argument("--drop-at", type=float, default=QualityPolicy.drop_at,
                        help="a score above this many tolerances leaves the sensor out at once")
    args = parser.parse_args(argv)
    predictor = TorchPredictor.from_checkpoint(args.model, "cpu", threads=1)
    tolerance = fit(predictor, args.work)
    policy = QualityPolicy(tolerance, drop_after=args.drop_after, restore_after=args.restore_after,
                           peer_ratio=args.peer_ratio, drop_at=args.drop_at)
    policy = dataclasses.replace(policy, verdict=fit_verdicts(predictor, args.work, policy))
    if args.store:
        store(args.model, policy)
    subject = args.subject
    clean = frames_of(tree(args.work, [], subject), subject)

    def degraded(items: list[str]) -> list:
        return frames_of(tree(args.work, items, subject), subject)

    def mid_sequence(sensor: str) -> list:
        bad = degraded([f"{sensor}={LEVEL}"])
        mixed = []
        for i, (good, worse) in enumerate(zip(clean, bad)):
            frame = good
            if ONSET <= i % FRAMES < CLEAR:
                frame = dataclasses.replace(good, raw={**good.raw, sensor: worse.raw[sensor]})
            mixed.append(frame)
        return mixed

    patterns = {
        "clean": clean,
        "camera (keypoints + depth) 0.8, whole": degraded(["rgb=0.8", "depth=0.8"]),
        "LiDAR 0.8, whole": degraded(["lidar=0.8"]),
        "radar 0.8, whole": degraded(["mmwave=0.8"]),
        "Wi-Fi 0.8, whole": degraded(["wifi-csi=0.8"]),
        "LiDAR 0.5, whole (level not fitted)": degraded(["lidar=0.5"]),
        "depth 0.8, mid-sequence": mid_sequence("depth"),
        "LiDAR 0.8, mid-sequence": mid_sequence("lidar"),
    }
    results = {}
    for name, frames in patterns.items():
        run = serve(predictor, frames, policy)
        results[name] = summary(run)
        if "mid-sequence" in name:
            sensor = {"depth": "depth", "LiDAR": "lidar"}[name.split()[0]]
            results[name]["timing"] = onset_timing(run, sensor)
        fine = set(MODALITIES) - bad_sensors(name)
        # served without a sensor that was fine: today's set had it, the set under live quality has not
        results[name]["frames_served_without_a_fine_sensor"] = sum(
            bool((set(t) - set(q)) & fine) for (t, _), (q, _) in zip(run["today"], run["quality"]))
        results[name]["frames_left_out"] = {m: sum(m in out for out in run["left_out"]) for m in MODALITIES}
    text = markdown(results, policy, args.model.name, subject)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.md").write_text(text)
    (args.out / "summary.json").write_text(json.dumps({"policy": dataclasses.asdict(policy), "subject": subject,
                                                       "results": results}, indent=2))
    print(text)
    return 0


def bad_sensors(pattern: str) -> set[str]:
    words = pattern.lower()
    return {m for m, key in (("rgb", "camera"), ("depth", "camera"), ("depth", "depth"), ("lidar", "lidar"),
                             ("mmwave", "radar"), ("wifi-csi", "wi-fi")) if key in words}


def markdown(results: dict, policy: QualityPolicy, model: str, subject: str) -> str:
    lines = ["# The node's choice under live sensor quality (offline)", "",
             f"`python bench/live_quality.py --subject {subject}` (model `{model}`; tolerance fitted on {FIT_SUBJECT}: "
             f"{policy.tolerance:.2f}; drop after {policy.drop_after}, restore after {policy.restore_after} frames, "
             f"at once above {policy.drop_at:g} tolerances; peer ratio {policy.peer_ratio:g}"
             + ("; per-sensor verdicts " + ", ".join(f"{m} {v:.2f}" for m, v in policy.verdict.items()) if policy.verdict else "")
             + f"; patterns on {subject}: 48 frames 0.25 s apart).", "",
             "| pattern | today: MPJPE / PA (mm), switches | live quality: MPJPE / PA (mm), switches | oracle set: MPJPE / PA (mm) "
             "| live quality / oracle | frames served without a fine sensor of today's set | frames each sensor was left out |",
             "|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        t, q, o = r["today"], r["quality"], r["oracle"]
        lines.append(f"| {name} | {t['mpjpe_mm']:.1f} / {t['pa_mpjpe_mm']:.1f}, {t['switches']} | "
                     f"{q['mpjpe_mm']:.1f} / {q['pa_mpjpe_mm']:.1f}, {q['switches']} | {o['set']}: {o['mpjpe_mm']:.1f} / "
                     f"{o['pa_mpjpe_mm']:.1f} | {q['mpjpe_mm'] / o['mpjpe_mm']:.2f}× | {r['frames_served_without_a_fine_sensor']} | "
                     + ", ".join(f"{m} {n}" for m, n in r["frames_left_out"].items() if n) + " |")
    lines += ["", "Mid-sequence patterns (each of the 4 sequences: degraded from its 4th to its 8th frame):", ""]
    for name, r in results.items():
        if "timing" in r:
            lines.append(f"- {name}: out after {r['timing']['out_after_s']} s, back after {r['timing']['back_after_s']} s")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
