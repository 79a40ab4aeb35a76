"""Summaries of the results suite (bench/run_results.sh) for docs/RESULTS.md.

Reads ``<work>/eval/<benchmark>/seed<seed>/results.csv`` (from ``pta eval``), the runs'
``purify_weights.jsonl``, ``model.pt`` (validation tables) and ``DONE`` (wall seconds), and writes
``<work>/summary.md``: per benchmark the method table (every cell "seed A / seed B"), the issue
targets checked one by one, PTA's single-modality students against the single-modality baselines,
the Purify weights against the modalities' stand-alone errors, the node's choice of modality set,
every combination's MPJPE, and the run times; plus ``<work>/purify_<benchmark>.png``, the Purify
weights over training.

    python bench/summarize_results.py --work out/results
"""
from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
import statistics
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MODALITIES = ("rgb", "depth", "mmwave", "lidar", "wifi-csi")
ALL = "+".join(MODALITIES)
METRICS = ("samples", "mpjpe_mm", "pa_mpjpe_mm", "root_mm", "rel_mpjpe_mm", "accuracy")
FUSED_RUNS = ("pta", "pta_no_purify", "pta_no_align", "pta_reference", "pta_reference_no_align", "pta_features_readout", "pta_align_predictions", "xfi", "late_fusion")
LABELS = {"pta": "PTA", "pta_no_purify": "PTA without Purify", "pta_no_align": "PTA without Align",
          "pta_reference": "PTA, reference code's layout",
          "pta_reference_no_align": "PTA, reference code's layout, without Align", "pta_features_readout": "PTA, fused sets read from Σ w̃ F_m",
          "pta_align_predictions": "PTA, Align on the predictions",
          "xfi": "X-Fi", "late_fusion": "late fusion"}
CONTAMINATED = {"clean": (), "contaminated": ("rgb", "depth"), "contaminated-clouds": ("lidar", "mmwave")}

Table = dict[str, dict[str, dict[str, float]]]  # run → combination → metric → value


def read_results(path: Path) -> Table:
    table: Table = defaultdict(dict)
    with path.open() as handle:
        for row in csv.DictReader(handle):
            table[row["run"]][row["combination"]] = {
                k: float(row[k]) if row.get(k) not in ("", None, "None") else math.nan for k in METRICS
            }
    return table


def fmt(value: float, digits: int = 1) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def mean(values) -> float:
    values = [v for v in values if not math.isnan(v)]
    return statistics.fmean(values) if values else math.nan


def joined(values) -> str:
    return " / ".join(values)


def run_dir(work: Path, bench: str, run: str, seed: int) -> Path:
    return work / "runs" / bench / (run if seed == 3407 else f"{run}_s{seed}")


def combos_of(modalities: tuple[str, ...]) -> list[str]:
    return ["+".join(c) for r in range(1, len(modalities) + 1) for c in itertools.combinations(modalities, r)]


def method_row(rows: dict[str, dict[str, float]]) -> list[float]:
    """Means over the 31, the 5 single and the 26 multi combinations; all five (MPJPE, PA, root,
    root-relative, accuracy); accuracy over the 31."""
    every = list(rows.values())
    return [
        mean(v["mpjpe_mm"] for v in every),
        mean(rows[m]["mpjpe_mm"] for m in MODALITIES),
        mean(v["mpjpe_mm"] for c, v in rows.items() if "+" in c),
        rows[ALL]["mpjpe_mm"], rows[ALL]["pa_mpjpe_mm"], rows[ALL]["root_mm"], rows[ALL]["rel_mpjpe_mm"],
        rows[ALL]["accuracy"], mean(v["accuracy"] for v in every),  # pta eval's CSV has accuracy in %
    ]


def references(work: Path, bench: str, config: str) -> str:
    """The mean pose, and the true root plus the mean root-relative pose, on the test split."""
    import numpy as np

    from pta_core.config import load_config
    from pta_core.data import open_split
    from pta_core.metrics import mpjpe, pa_mpjpe

    cfg = load_config(config, [f"data.root={work}/data/{bench}", f"data.cache_dir={work}/cache"])
    train, test = open_split(cfg.data, "train", progress=False), open_split(cfg.data, "test", progress=False)
    poses = np.asarray(train.pose, dtype=np.float64)
    truth = np.asarray(test.pose, dtype=np.float64)
    mean_pose = np.repeat(poses.mean(axis=0, keepdims=True), len(truth), axis=0)
    true_root = truth[:, :1] + (poses - poses[:, :1]).mean(axis=0, keepdims=True)
    return (f"References on the {len(truth)} test frames: the training mean pose gives MPJPE "
            f"{mpjpe(mean_pose, truth):.1f} mm (PA-MPJPE {pa_mpjpe(mean_pose, truth):.1f}); the true root plus "
            f"the mean root-relative pose gives {mpjpe(true_root, truth):.1f} mm (PA-MPJPE "
            f"{pa_mpjpe(true_root, truth):.1f}). Activity chance: 1/27 = 3.7 %.")


def weights_of(work: Path, bench: str, run: str, seed: int) -> list[dict]:
    path = run_dir(work, bench, run, seed) / "purify_weights.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.is_file() else []


def ranks(values: dict[str, float], high_first: bool) -> dict[str, int]:
    order = sorted(values, key=lambda m: -values[m] if high_first else values[m])
    return {m: order.index(m) + 1 for m in values}


def node_choice(work: Path, bench: str, run: str, seed: int, table: Table, config: str) -> dict[str, tuple]:
    """For every set of live sensors: the set the node picks from the checkpoint's validation table,
    its test MPJPE against that of the best single member. Two ways: "table", each combination in the
    run's test table (each on the frames that have it); "live", chosen set and members on the same
    frames, those where every live sensor has data (what the node faces). Per way: (violations,
    worst excess mm, worst case)."""
    from pta_core.checkpoint import load_checkpoint
    from pta_core.config import load_config
    from pta_core.data import PackedDataset, open_split
    from pta_core.torch_predictor import TorchPredictor
    from pta_core.training.evaluate import evaluate_combinations

    path = run_dir(work, bench, run, seed) / "model.pt"
    predictor = TorchPredictor.from_checkpoint(path, "cpu")
    lives = [tuple(c.split("+")) for c in combos_of(MODALITIES)]
    chosen = {live: predictor.best_subset(live) for live in lives}
    combos, frames = [], []
    for live in lives:
        for candidate in (chosen[live], *((m,) for m in live)):
            combos.append(candidate)
            frames.append(live)
    cfg = load_config(config, [f"data.root={work}/data/{bench}", f"data.cache_dir={work}/cache"])
    checkpoint = load_checkpoint(path)
    scores = iter(row.mpjpe_mm for row in evaluate_combinations(
        checkpoint.build(), PackedDataset(open_split(cfg.data, "test", progress=False)),
        modalities=checkpoint.modalities, combinations=combos, frames_with=frames, batch_size=256))
    excess = {"table": {}, "live": {}}
    for live in lives:
        picked, members = next(scores), [next(scores) for _ in live]
        excess["live"][live] = picked - min(members)
        excess["table"][live] = table[run]["+".join(chosen[live])]["mpjpe_mm"] - min(
            table[run][m]["mpjpe_mm"] for m in live)
    result = {}
    for way, values in excess.items():
        worst = max(values, key=values.get)
        result[way] = (sum(v > 0 for v in values.values()), values[worst],
                       f"live {'+'.join(worst)} → {'+'.join(chosen[worst])}")
    return result


def purify_plot(work: Path, bench: str, seeds: list[int]) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = {seed: weights_of(work, bench, "pta", seed) for seed in seeds}
    curves = {s: c for s, c in curves.items() if c}
    if not curves:
        return None
    fig, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 3.2), squeeze=False)
    for ax, (seed, records) in zip(axes[0], curves.items()):
        steps = [r["step"] for r in records]
        for m in MODALITIES:
            ax.plot(steps, [r["weights"][m] for r in records], label=m)
        ax.set_title(f"{bench}, seed {seed}")
        ax.set_xlabel("training step")
        ax.set_ylabel("Purify weight (softmax φ)")
        ax.grid(alpha=0.3)
    axes[0, -1].legend(fontsize=8)
    fig.tight_layout()
    path = work / f"purify_{bench}.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def equal_steps(tables, seeds, pta, alone, tuned, contaminated) -> list[str]:
    """PTA against single networks trained as long as its encoders (run_results.sh OTHERS=single_tuned)."""
    trained = {s: {m: tables[s][tuned[m]][m]["mpjpe_mm"] for m in MODALITIES} for s in seeds}
    lines = ["", "Equal steps: each single network trained on from its stage-1 weights for stage 2's steps (fresh "
             "heads, as PTA's; run `single_tuned_<modality>`), so that it has trained as long as PTA's students "
             "(MPJPE mm):", "", "| modality | contaminated | PTA student | single, stage 1 | single, tuned | change "
             "against tuned |", "|---" * 6 + "|"]
    for m in MODALITIES:
        student = [pta[s][m]["mpjpe_mm"] for s in seeds]
        change = [100 * (st / trained[s][m] - 1) for st, s in zip(student, seeds)]
        ok = all(c <= (-10 if m in contaminated else 2) for c in change)
        lines.append(f"| {m} | {'yes' if m in contaminated else 'no'} | {joined(fmt(v) for v in student)} | "
                     f"{joined(fmt(alone[s][m]) for s in seeds)} | {joined(fmt(trained[s][m]) for s in seeds)} | "
                     f"{joined(f'{c:+.1f} %' for c in change)} ({check(ok)}) |")
    best = [min(trained[s].values()) for s in seeds]
    teacher = [pta[s][ALL]["mpjpe_mm"] for s in seeds]
    gain = [100 * (1 - t / b) for t, b in zip(teacher, best)]
    lines += ["", f"- equal steps: the teacher (PTA, all five) beats the best tuned single network by ≥ 10 %: "
              f"{joined(fmt(t) for t in teacher)} mm vs {joined(fmt(b) for b in best)} mm "
              f"({joined(fmt(g) + ' %' for g in gain)}) — {check(all(g >= 10 for g in gain))}"]
    return lines


def labelled_fraction(work: Path, bench: str, seed: int) -> tuple[float, int, int]:
    """train.labelled_fraction of the benchmark's PTA run, its labelled and unlabelled training frames."""
    from pta_core.config import load_config

    folder = run_dir(work, bench, "pta", seed)
    if not (folder / "config.yaml").is_file():
        return 1.0, 0, 0
    info = json.loads((folder / "run_info.json").read_text())
    return (load_config(folder / "config.yaml").train.labelled_fraction, info["train_samples"],
            info.get("unlabelled_samples", 0))


def students_of_every_variant(work, bench, config, tables, seeds, runs, alone, tuned) -> list[str]:
    """Each modality alone in every PTA variant against its single networks, what Align is worth in
    each variant that has it (both against PTA without Align), and each variant's node check."""
    variants = [r for r in runs if r.startswith("pta")]
    has_tuned = all(tuned[m] in tables[s] for s in seeds for m in MODALITIES)
    lines = ["", "Each modality alone in every PTA variant (MPJPE mm):", "",
             "| modality | " + " | ".join(LABELS[r] for r in variants) + " | single network |"
             + (" single, tuned |" if has_tuned else ""), "|---" * (len(variants) + 2 + has_tuned) + "|"]
    for m in MODALITIES:
        cells = [joined(fmt(tables[s][r][m]["mpjpe_mm"]) for s in seeds) for r in variants]
        cells.append(joined(fmt(alone[s][m]) for s in seeds))
        if has_tuned:
            cells.append(joined(fmt(tables[s][tuned[m]][m]["mpjpe_mm"]) for s in seeds))
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    if "pta_no_align" in variants:
        lines.append("")
        for run in (r for r in variants if r in ("pta", "pta_align_predictions")):
            cost = [100 * (method_row(tables[s]["pta_no_align"])[0] / method_row(tables[s][run])[0] - 1) for s in seeds]
            per = {m: [100 * (tables[s]["pta_no_align"][m]["mpjpe_mm"] / tables[s][run][m]["mpjpe_mm"] - 1) for s in seeds]
                   for m in MODALITIES}
            lines.append(f"- removing Align from {LABELS[run]} costs on the mean over the 31: "
                         f"{joined(fmt(c) + ' %' for c in cost)}; on each modality alone: " + ", ".join(
                             f"{m} {joined(fmt(c) + ' %' for c in per[m])}" for m in MODALITIES))
    for run in (r for r in variants if r != "pta"):
        live = [node_choice(work, bench, run, s, tables[s], config)["live"] for s in seeds]
        lines.append(f"- {LABELS[run]}: the node's set worse on the test split than its best single member, on the "
                     f"frames where the sensors are live: {joined(str(n) for n, _, _ in live)} of 31 (worst "
                     f"{joined(f'{w:+.1f} mm' for _, w, _ in live)})")
    return lines


def check(ok: bool) -> str:
    return "met" if ok else "**missed**"


def summarize(work: Path, bench: str, seeds: list[int], config: str) -> str:
    tables = {seed: read_results(work / "eval" / bench / f"seed{seed}" / "results.csv") for seed in seeds}
    first = tables[seeds[0]]
    runs = [r for r in FUSED_RUNS if all(r in t for t in tables.values())]
    singles = {m: f"single_{m}" for m in MODALITIES}
    lines = [f"## Benchmark `{bench}` (seeds {', '.join(map(str, seeds))}; cells: " + " / ".join(
        f"seed {s}" for s in seeds) + ")", "", references(work, bench, config), ""]
    fraction, labelled, unlabelled = labelled_fraction(work, bench, seeds[0])
    if fraction < 1:
        lines += [f"Labels: `train.labelled_fraction` {fraction:g}: the networks learn from the labels of "
                  f"{labelled} training frames (whole subjects); PTA with Align also distils {unlabelled} unlabelled "
                  "ones (docs/method.md §14).", ""]
    header = ("| method | MPJPE, 31 | 5 single | 26 multi | all five | PA, all five | root, all five | "
              "relative, all five | activity, all five (%) | activity, 31 (%) |")
    lines += [header, "|---" * 10 + "|"]
    for run in runs:
        values = [method_row(tables[s][run]) for s in seeds]
        lines.append(f"| {LABELS[run]} | " + " | ".join(joined(fmt(v[i]) for v in values) for i in range(9)) + " |")
    lines.append("| single-modality networks | " + " | ".join(joined(
        fmt(mean(tables[s][singles[m]][m]["mpjpe_mm"] for m in MODALITIES)) for s in seeds) if i == 1 else "–"
        for i in range(9)) + " |")

    # Issue targets, PTA's numbers per seed.
    pta = {s: tables[s]["pta"] for s in seeds}
    alone = {s: {m: tables[s][singles[m]][m]["mpjpe_mm"] for m in MODALITIES} for s in seeds}
    lines += ["", "Targets (PTA; each seed):", ""]
    if bench == "clean":
        for label, value, limit in (
            ("all five: MPJPE ≤ 60 mm", lambda s: pta[s][ALL]["mpjpe_mm"], 60),
            ("all five: PA-MPJPE ≤ 40 mm", lambda s: pta[s][ALL]["pa_mpjpe_mm"], 40),
            ("LiDAR alone ≤ 70 mm", lambda s: pta[s]["lidar"]["mpjpe_mm"], 70),
            ("mean over the 31 combinations ≤ 90 mm", lambda s: method_row(pta[s])[0], 90),
        ):
            got = [value(s) for s in seeds]
            lines.append(f"- {label}: {joined(fmt(g) for g in got)} — {check(all(g <= limit for g in got))}")
        for label, index in (("activity (window), all five", 7), ("activity (window), mean over the 31", 8)):
            got = [method_row(pta[s])[index] for s in seeds]
            lines.append(f"- {label} ≥ 85 %: {joined(fmt(g) for g in got)} — {check(all(g >= 85 for g in got))}")
    else:
        got = [method_row(pta[s])[0] for s in seeds]
        lines.append(f"- mean over the 31 combinations ≤ 120 mm: {joined(fmt(g) for g in got)} — "
                     f"{check(all(g <= 120 for g in got))}")
        for s in seeds:
            excess = {c: v["mpjpe_mm"] - min(pta[s][m]["mpjpe_mm"] for m in c.split("+")) for c, v in pta[s].items()}
            worst = max(excess, key=excess.get)
            lines.append(f"- seed {s}: no combination worse than its best member alone (in PTA) by > 5 mm: worst "
                         f"{worst} {excess[worst]:+.1f} mm — {check(excess[worst] <= 5)}")
        for label, index in (("activity (window), all five", 7), ("activity (window), mean over the 31", 8)):
            got = [method_row(pta[s])[index] for s in seeds]
            lines.append(f"- {label} ≥ 75 %: {joined(fmt(g) for g in got)} — {check(all(g >= 75 for g in got))}")
        best = [min(alone[s].values()) for s in seeds]
        teacher = [pta[s][ALL]["mpjpe_mm"] for s in seeds]
        gain = [100 * (1 - t / b) for t, b in zip(teacher, best)]
        lines.append(f"- the teacher (PTA, all five) beats the best single-modality network by ≥ 10 %: "
                     f"{joined(fmt(t) for t in teacher)} mm vs {joined(fmt(b) for b in best)} mm "
                     f"({joined(fmt(g) + ' %' for g in gain)}) — {check(all(g >= 10 for g in gain))}")
        for run, name in (("pta_no_purify", "Purify"), ("pta_no_align", "Align")):
            if run in runs:
                cost = [100 * (method_row(tables[s][run])[0] / method_row(pta[s])[0] - 1) for s in seeds]
                lines.append(f"- removing {name} costs ≥ 5 % on the mean over the 31: "
                             f"{joined(fmt(c) + ' %' for c in cost)} — {check(all(c >= 5 for c in cost))}")
        if {"pta_reference", "pta_reference_no_align"} <= set(runs):  # Align where students have no loss of their own
            cost = [100 * (method_row(tables[s]["pta_reference_no_align"])[0] / method_row(tables[s]["pta_reference"])[0] - 1)
                    for s in seeds]
            lines.append(f"- (diagnostic) removing Align from the reference code's layout costs on the mean over the 31: "
                         f"{joined(fmt(c) + ' %' for c in cost)}")
    for s in seeds:
        choice = node_choice(work, bench, "pta", s, tables[s], config)
        (live, live_worst, live_case), (table, table_worst, table_case) = choice["live"], choice["table"]
        lines.append(f"- seed {s}: the node's set (validation table, one-standard-error rule) is never worse on the "
                     f"test split than its best single member: on the frames where the sensors are live, {live} of "
                     f"31 live sets worse (worst {live_worst:+.1f} mm, {live_case}) — {check(live == 0)}; "
                     f"in the test table (each combination on its own frames) {table} of 31 (worst "
                     f"{table_worst:+.1f} mm, {table_case}) — {check(table == 0)}")

    # Students against the single-modality networks.
    contaminated = CONTAMINATED.get(bench, ())
    lines += ["", "Each modality alone: PTA's student (PTA's network, that modality present) against the same "
              "architecture trained on it alone (MPJPE mm; change; PA-MPJPE mm; activity %):", "",
              "| modality | contaminated | PTA student | single network | change | PTA PA | single PA | PTA act. | "
              "single act. |", "|---" * 9 + "|"]
    for m in MODALITIES:
        student = [pta[s][m]["mpjpe_mm"] for s in seeds]
        change = [100 * (st / alone[s][m] - 1) for st, s in zip(student, seeds)]
        limit = "≤ −10 %" if m in contaminated else "≤ +2 %"
        ok = all(c <= (-10 if m in contaminated else 2) for c in change)
        lines.append(
            f"| {m} | {'yes' if m in contaminated else 'no'} | {joined(fmt(v) for v in student)} | "
            f"{joined(fmt(alone[s][m]) for s in seeds)} | {joined(f'{c:+.1f} %' for c in change)} "
            f"(target {limit}: {check(ok)}) | {joined(fmt(pta[s][m]['pa_mpjpe_mm']) for s in seeds)} | "
            f"{joined(fmt(tables[s][singles[m]][m]['pa_mpjpe_mm']) for s in seeds)} | "
            f"{joined(fmt(pta[s][m]['accuracy']) for s in seeds)} | "
            f"{joined(fmt(tables[s][singles[m]][m]['accuracy']) for s in seeds)} |")

    tuned = {m: f"single_tuned_{m}" for m in MODALITIES}
    if all(tuned[m] in tables[s] for s in seeds for m in MODALITIES):
        lines += equal_steps(tables, seeds, pta, alone, tuned, contaminated)
    if sum(r.startswith("pta") for r in runs) > 1:
        lines += students_of_every_variant(work, bench, config, tables, seeds, runs, alone, tuned)

    # Purify weights.
    lines += ["", "Purify weights at the end of training (rank; 1 = largest) against each modality's stand-alone "
              "test MPJPE (rank; 1 = best):", "", "| modality | single MPJPE (rank) | " + " | ".join(
                  f"PTA seed {s}" for s in seeds) + " |", "|---|---|" + "---|" * len(seeds)]
    final = {s: (weights_of(work, bench, "pta", s) or [{"weights": {m: math.nan for m in MODALITIES}}])[-1]["weights"]
             for s in seeds}
    rank_alone = ranks(alone[seeds[0]], high_first=False)
    for m in MODALITIES:
        lines.append(f"| {m}{' (contaminated)' if m in contaminated else ''} | {fmt(alone[seeds[0]][m])} "
                     f"({rank_alone[m]}) | " + " | ".join(
                         f"{final[s][m]:.3f} ({ranks(final[s], high_first=True)[m]})" for s in seeds) + " |")
    if contaminated:
        for s in seeds:
            r = ranks(final[s], high_first=True)
            lowest = sorted(MODALITIES, key=lambda m: -r[m])[: len(contaminated)]
            clean_informative = [m for m in MODALITIES if m not in contaminated and alone[s][m] < min(
                alone[s][c] for c in contaminated)]
            below = all(r[c] > r[m] for c in contaminated for m in clean_informative)
            lines.append(f"- seed {s}: the contaminated modalities rank lowest: lowest weights {', '.join(lowest)} — "
                         f"{check(set(lowest) == set(contaminated))}; they rank below every clean modality that is "
                         f"better alone ({', '.join(clean_informative) or 'none'}): {check(below)}")
            clean = (weights_of(work, "clean", "pta", s) or [None])[-1]
            if clean is not None:  # what the contamination did to each weight, same seed, same recipe
                lines.append(f"- seed {s}: each weight against the clean benchmark's: " + ", ".join(
                    f"{m} {clean['weights'][m]:.3f} → {final[s][m]:.3f} "
                    f"({100 * (final[s][m] / clean['weights'][m] - 1):+.0f} %)" for m in MODALITIES))
    for s in seeds:  # converged: the weights hardly move over the last quarter of training
        records = weights_of(work, bench, "pta", s)
        if records:
            last = records[-1]
            start = next(r for r in records if r["step"] >= 0.75 * last["step"])
            moved = {m: last["weights"][m] - start["weights"][m] for m in MODALITIES}
            largest = max(moved, key=lambda m: abs(moved[m]))
            lines.append(f"- seed {s}: Purify's convergence: the largest weight change over steps {start['step']}–"
                         f"{last['step']} ({len(records) - records.index(start) - 1} meta steps) is {largest} "
                         f"{moved[largest]:+.3f}")
    plot = purify_plot(work, bench, seeds)
    if plot is not None:
        lines += ["", f"Weights over training: `{plot.name}`."]

    # Every combination, first seed.
    lines += ["", f"MPJPE per combination (mm), seed {seeds[0]}:", "",
              "| combination | frames | " + " | ".join(LABELS[r] for r in runs) + " | single network |",
              "|---|---|" + "---|" * (len(runs) + 1)]
    for combo in combos_of(MODALITIES):
        single = first[singles[combo]][combo]["mpjpe_mm"] if combo in singles else math.nan
        lines.append(f"| {combo} | {int(first['pta'][combo]['samples'])} | " + " | ".join(
            fmt(first[r][combo]["mpjpe_mm"]) for r in runs) + f" | {fmt(single)} |")
    times = []
    for s in seeds:
        for run in (*runs, *singles.values(), *tuned.values()):
            done, reused = (run_dir(work, bench, run, s) / name for name in ("DONE", "REUSED"))
            if reused.is_file():  # the same training data as another benchmark's run (bench/run_results.sh)
                times.append(f"{run} (seed {s}) reused {Path(reused.read_text().strip()).parent.name}'s")
            elif done.is_file():
                times.append(f"{run} (seed {s}) {int(done.read_text())} s")
    lines += ["", "Wall time per run: " + ", ".join(times) + ".", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default="out/results")
    parser.add_argument("--config", default="config/results_mmfi.yaml")
    args = parser.parse_args()
    work = Path(args.work)
    parts = []
    for bench_dir in sorted((work / "eval").iterdir(), key=lambda p: list(CONTAMINATED).index(p.name)
                            if p.name in CONTAMINATED else 99):
        seeds = sorted((int(p.name[4:]) for p in bench_dir.glob("seed*")), key=lambda s: (s != 3407, s))
        if seeds:
            parts.append(summarize(work, bench_dir.name, seeds, args.config))
    text = "\n".join(parts)
    (work / "summary.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
