"""Which live signals tell a sensor that went bad from one that is merely hard (issue: live sensor quality).

    python bench/sensor_quality_signals.py [--model models/pta_bench_clean.pt] [--work out/quality_signals]
                                           [--subject S08] [--level 0.8] [--out docs/results/quality_signals]

For one subject (4 actions × 12 frames, the demo's held-out scenes by default) the simulator renders
the clean scenes and, for each sensor, the same scenes with that sensor alone degraded at ``--level``
(test-time contamination, pta_core.simulator.contamination). For every frame and sensor m it computes
what a node could compute live:

- ``disagreement``: the mean joint distance (mm) between m's own readout (its student, the model on
  m alone) and the readout of the best validated set of the other sensors;
- ``ratio``: that distance over m's validated MPJPE alone (what m is expected to miss by);
- ``input``: one input statistic per sensor (keypoints: share outside the image; depth: share of
  pixels with a reading; clouds: points; CSI: mean |standardised amplitude| of the finite values);
- ``pairwise``: the median over the other sensors o of the distance between m's and o's own readouts
  over the sum of their validated MPJPEs alone (a reference a bad sensor cannot be part of);
- how often m has the highest ratio (pairwise) among the frame's sensors, degraded and clean.

It reports each signal's median on clean and degraded frames and the area under the ROC curve that
separates them (1.0: a threshold separates every frame; 0.5: chance), plus the error of m's readout
(MPJPE against the ground truth) in both. No threshold is fitted here.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

import numpy as np
from scipy.stats import mannwhitneyu

from pta_core.data import mmfi
from pta_core.errors import InvalidInput
from pta_core.metrics import mpjpe
from pta_core.simulator import MMFiSpec, generate_mmfi, parse_contamination
from pta_core.torch_predictor import TorchPredictor

REPO = Path(__file__).resolve().parents[1]
ACTIONS = ("A03", "A12", "A17", "A26")  # the demo's held-out bag
MODALITIES = ("rgb", "depth", "mmwave", "lidar", "wifi-csi")


def generate(root: Path, subject: str, contamination: list[str]) -> Path:
    spec = MMFiSpec(subjects=(subject,), actions=ACTIONS, frames=12, frame_period=0.25, modalities=MODALITIES,
                    contamination=parse_contamination(contamination))
    generate_mmfi(root, spec, workers=1)
    return root


def input_statistic(modality: str, raw: np.ndarray, predictor) -> float:
    cfg = predictor.preprocess_config
    if modality == "rgb":
        kp = np.asarray(raw, dtype=np.float64)
        outside = (kp[:, 0] < 0) | (kp[:, 0] >= cfg.image_width) | (kp[:, 1] < 0) | (kp[:, 1] >= cfg.image_height)
        return float(outside.mean())
    if modality == "depth":
        return float((np.asarray(raw) > 0).mean())
    if modality in ("mmwave", "lidar"):
        return float(len(raw))
    amplitude = np.asarray(raw, dtype=np.float64)
    return float(np.abs((amplitude[np.isfinite(amplitude)] - cfg.csi_offset) / cfg.csi_scale).mean())


def frame_signals(predictor, raws: dict, pose: np.ndarray, expected_mm: dict[str, float]) -> dict[str, dict]:
    """Each usable sensor's signals for one frame (a sensor whose input the node would reject, e.g. no
    keypoint detected, is absent: the node already leaves it out)."""
    samples = {}
    for m in MODALITIES:
        with contextlib.suppress(InvalidInput):  # the node rejects it: absent for this frame
            samples[m] = predictor.preprocess(m, raws[m])
    own = {m: predictor.predict({m: samples[m]}).joints for m in samples}

    def distance_mm(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.linalg.norm(a - b, axis=-1).mean() * 1e3)

    out = {}
    for m in samples:
        others = predictor.best_subset([o for o in samples if o != m])
        if others is None:
            continue
        reference = predictor.predict({o: samples[o] for o in others}).joints
        distance = distance_mm(own[m], reference)
        # each other sensor's own readout, the distance scaled by what the two are expected to miss by
        pairwise = [distance_mm(own[m], own[o]) / (expected_mm[m] + expected_mm[o]) for o in own if o != m]
        out[m] = {"disagreement": distance, "ratio": distance / expected_mm[m], "pairwise": float(np.median(pairwise)),
                  "input": input_statistic(m, raws[m], predictor), "error_mm": float(mpjpe(own[m][None], pose[None]))}
    return out


def signals(predictor, root: Path, subject: str) -> list[dict]:
    expected_mm = {m: next(r.mpjpe_mm for r in predictor.validation if r.modalities == (m,)) for m in MODALITIES}
    return [frame_signals(predictor, frame.raw, frame.pose, expected_mm)
            for frame in mmfi.iter_frames(root, [(subject, a) for a in ACTIONS], MODALITIES)]


def auc(clean: list[float], bad: list[float]) -> float:
    """P(a degraded frame's signal > a clean frame's): the ROC area of 'higher = worse'."""
    return float(mannwhitneyu(bad, clean).statistic / (len(bad) * len(clean)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sensor_quality_signals", description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=REPO / "models" / "pta_bench_clean.pt")
    parser.add_argument("--work", type=Path, default=REPO / "out" / "quality_signals")
    parser.add_argument("--subject", default="S08")
    parser.add_argument("--level", type=float, default=0.8)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "results" / "quality_signals")
    args = parser.parse_args(argv)
    predictor = TorchPredictor.from_checkpoint(args.model, "cpu", threads=1)
    clean = signals(predictor, generate(args.work / "clean", args.subject, []), args.subject)
    rows = {}
    for m in MODALITIES:
        root = generate(args.work / f"{m}_{args.level:g}", args.subject, [f"{m}={args.level}"])
        bad = signals(predictor, root, args.subject)
        clean_m, bad_m = [f[m] for f in clean if m in f], [f[m] for f in bad if m in f]
        row = {"frames_clean": len(clean_m), "frames_degraded_usable": len(bad_m),
               "error_clean_mm": float(np.median([f["error_mm"] for f in clean_m])),
               "error_degraded_mm": float(np.median([f["error_mm"] for f in bad_m])) if bad_m else None}
        for name in ("disagreement", "ratio", "pairwise", "input"):
            c, b = [f[name] for f in clean_m], [f[name] for f in bad_m]
            row[name] = {"clean_median": float(np.median(c)), "degraded_median": float(np.median(b)) if b else None,
                         "auc": auc(c, b) if b else None}
        # how often m has the highest ratio of the frame's sensors: degraded, and clean (a false alarm's base)
        row["worst_share"] = {signal: {
            "degraded": float(np.mean([max(f, key=lambda o: f[o][signal]) == m for f in bad if m in f])),
            "clean": float(np.mean([max(f, key=lambda o: f[o][signal]) == m for f in clean if m in f]))}
            for signal in ("ratio", "pairwise")}
        # the other sensors when m goes bad: a good sensor must not look bad
        row["others_disagreement_auc"] = {
            o: auc([f[o]["disagreement"] for f in clean if o in f], [f[o]["disagreement"] for f in bad if o in f])
            for o in MODALITIES if o != m}
        rows[m] = row
    lines = [f"# Live signals of a sensor gone bad ({args.subject}, 48 frames, level {args.level:g})", "",
             f"`python bench/sensor_quality_signals.py --subject {args.subject} --level {args.level:g}` "
             f"(model `{args.model.name}`). AUC: the share of (degraded, clean) frame pairs the signal orders "
             "correctly, higher = worse (for `input`, below 0.5 means it falls when the sensor goes bad).", "",
             "| sensor degraded (usable frames of 48) | its error alone, clean → degraded (mm) | disagreement median clean → degraded (mm), AUC "
             "| ratio AUC | highest ratio of the frame, degraded / clean | pairwise AUC | highest pairwise of the frame, "
             "degraded / clean | input statistic clean → degraded, AUC | other sensors' disagreement AUC |",
             "|---|---|---|---|---|---|---|---|---|"]
    def fmt(value, spec):
        return "–" if value is None else format(value, spec)

    for m, r in rows.items():
        d, q, i = r["disagreement"], r["ratio"], r["input"]
        others = ", ".join(f"{o} {v:.2f}" for o, v in r["others_disagreement_auc"].items())
        lines.append(f"| {m} ({r['frames_degraded_usable']}) | {r['error_clean_mm']:.0f} → {fmt(r['error_degraded_mm'], '.0f')} | "
                     f"{d['clean_median']:.0f} → {fmt(d['degraded_median'], '.0f')}, {fmt(d['auc'], '.2f')} | "
                     f"{fmt(q['auc'], '.2f')} | {r['worst_share']['ratio']['degraded']:.0%} / {r['worst_share']['ratio']['clean']:.0%} | "
                     f"{fmt(r['pairwise']['auc'], '.2f')} | {r['worst_share']['pairwise']['degraded']:.0%} / "
                     f"{r['worst_share']['pairwise']['clean']:.0%} | "
                     f"{i['clean_median']:.3g} → {fmt(i['degraded_median'], '.3g')}, "
                     f"{fmt(i['auc'], '.2f')} | {others} |")
    text = "\n".join(lines) + "\n"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.subject}_{args.level:g}.md").write_text(text)
    (args.out / f"{args.subject}_{args.level:g}.json").write_text(json.dumps(rows, indent=2))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
