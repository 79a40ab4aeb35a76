"""Summaries of the results suite (bench/run_results.sh) for docs/RESULTS.md.

Reads ``<work>/eval[_s<seed>]/results.csv`` (from ``pta eval``) and the runs' ``purify_weights.jsonl``
and ``DONE`` (wall seconds), and prints Markdown: MPJPE per combination for every run, per-method
means, PTA's single-modality students against the single-modality baselines, the learned Purify
weights against the modalities' stand-alone errors, and the run times. Also writes it to
``<work>/summary.md``.

    python bench/summarize_results.py --work out/results --seeds 3407
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
from collections import defaultdict
from pathlib import Path

MODALITIES = ("rgb", "depth", "mmwave", "lidar", "wifi-csi")
RUN_DIRS = {"PTA": "pta", "PTA-lookahead": "pta_lookahead", "PTA-fused-head": "pta_fused_head",
            "PTA-no-Purify": "pta_no_purify",
            "PTA-no-Align": "pta_no_align", "PTA-reference-layers": "pta_reference_layers", "X-Fi": "xfi", **{f"single-{m}": f"single_{m}" for m in MODALITIES}}


PURIFIED = ("PTA", "PTA-lookahead", "PTA-fused-head", "PTA-no-Align", "PTA-reference-layers")  # runs with learned weights


def read_results(path: Path) -> dict[str, dict[str, dict[str, float]]]:
    """run → combination → metric → value."""
    table: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
    with path.open() as handle:
        for row in csv.DictReader(handle):
            table[row["run"]][row["combination"]] = {
                k: float(row[k]) if row[k] not in ("", "None") else math.nan
                for k in ("samples", "mpjpe_mm", "pa_mpjpe_mm", "accuracy")
            }
    return table


def fmt(value: float, digits: int = 1) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def mean(values) -> float:
    values = [v for v in values if not math.isnan(v)]
    return statistics.fmean(values) if values else math.nan


def reference_errors(work: Path, config: str) -> str:
    """Context for the absolute numbers: predicting the training split's mean pose for every test frame."""
    import numpy as np

    from pta_core.config import load_config
    from pta_core.data import open_split
    from pta_core.metrics import mpjpe, pa_mpjpe

    cfg = load_config(config, [f"data.root={work}/mmfi", f"data.cache_dir={work}/cache"])
    train, test = open_split(cfg.data, "train", progress=False), open_split(cfg.data, "test", progress=False)
    mean_pose = np.asarray(train.pose).mean(axis=0, keepdims=True)
    truth = np.asarray(test.pose)
    guess = np.repeat(mean_pose, len(truth), axis=0)
    classes = np.bincount(np.asarray(train.activity), minlength=len(train.activity_classes))
    majority = float((np.asarray(test.activity) == classes.argmax()).mean())
    return (f"Reference on the test split ({len(truth)} frames): the training mean pose for every frame gives MPJPE "
            f"{mpjpe(guess, truth):.1f} mm, PA-MPJPE {pa_mpjpe(guess, truth):.1f} mm; the majority class gives "
            f"{100 * majority:.1f} % accuracy (chance 1/{len(train.activity_classes)} = "
            f"{100 / len(train.activity_classes):.1f} %).\n")


def summarize(work: Path, seed: int) -> str:
    suffix = "" if seed == 3407 else f"_s{seed}"
    table = read_results(work / f"eval{suffix}" / "results.csv")
    runs = list(table)
    multi = [r for r in runs if not r.startswith("single-")]
    combos = list(table[multi[0]])
    lines = [f"### Seed {seed}", "", "MPJPE (mm) on the test split, per combination:", ""]
    lines.append("| combination | n | " + " | ".join(multi) + " | single |")
    lines.append("|---|---" + "|---" * (len(multi) + 1) + "|")
    for combo in combos:
        single = table.get(f"single-{combo}", {}).get(combo, {}).get("mpjpe_mm", math.nan)
        n = int(table[multi[0]][combo]["samples"])
        cells = [fmt(table[r][combo]["mpjpe_mm"]) for r in multi]
        lines.append(f"| {combo} | {n} | " + " | ".join(cells) + f" | {fmt(single)} |")
    lines += ["", "Means over combinations (MPJPE, PA-MPJPE in mm; accuracy in %):", "",
              "| run | MPJPE all 31 | MPJPE 5 singles | MPJPE 26 multi | PA-MPJPE all | accuracy all |",
              "|---|---|---|---|---|---|"]
    for r in multi:
        rows = table[r]
        singles = [rows[m]["mpjpe_mm"] for m in MODALITIES if m in rows]
        multis = [v["mpjpe_mm"] for c, v in rows.items() if "+" in c]
        lines.append(f"| {r} | {fmt(mean(v['mpjpe_mm'] for v in rows.values()))} | {fmt(mean(singles))} | "
                     f"{fmt(mean(multis))} | {fmt(mean(v['pa_mpjpe_mm'] for v in rows.values()))} | "
                     f"{fmt(mean(v['accuracy'] for v in rows.values()))} |")
    lines += ["", "Single modality: PTA's students (one trained network, one modality present) against the "
              "same architecture trained on that modality alone:", "",
              "| modality | PTA MPJPE | single MPJPE | PTA PA-MPJPE | single PA-MPJPE | PTA acc. | single acc. |",
              "|---|---|---|---|---|---|---|"]
    for m in MODALITIES:
        pta, alone = table["PTA"][m], table[f"single-{m}"][m]
        lines.append(f"| {m} | {fmt(pta['mpjpe_mm'])} | {fmt(alone['mpjpe_mm'])} | {fmt(pta['pa_mpjpe_mm'])} | "
                     f"{fmt(alone['pa_mpjpe_mm'])} | {fmt(pta['accuracy'])} | {fmt(alone['accuracy'])} |")
    lines += ["", "Purify weights (softmax of φ at the end of training) against each modality's stand-alone "
              "test MPJPE (single-modality baseline; lower = more informative):", ""]
    alone = {m: table[f"single-{m}"][m]["mpjpe_mm"] for m in MODALITIES}
    rank_alone = {m: i + 1 for i, m in enumerate(sorted(MODALITIES, key=lambda m: alone[m]))}
    weights = {}
    for r in PURIFIED:
        path = work / "runs" / f"{RUN_DIRS[r]}{suffix}" / "purify_weights.jsonl"
        if path.is_file():
            records = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
            weights[r] = records[-1]["weights"]
    ranks = {r: {m: i + 1 for i, m in enumerate(sorted(MODALITIES, key=lambda m: -weights[r][m]))} for r in weights}
    lines += ["| modality | single MPJPE | rank | " + " | ".join(f"{r} w (rank)" for r in weights) + " |",
              "|---|---|---|" + "---|" * len(weights)]
    for m in MODALITIES:
        lines.append(f"| {m} | {fmt(alone[m])} | {rank_alone[m]} | " + " | ".join(
            f"{weights[r][m]:.3f} ({ranks[r][m]})" for r in weights) + " |")
    lines += ["", "Wall time per run (s): " + ", ".join(
        f"{r} {(work / 'runs' / f'{d}{suffix}' / 'DONE').read_text().strip()}"
        for r, d in RUN_DIRS.items() if (work / "runs" / f"{d}{suffix}" / "DONE").is_file()), ""]
    return "\n".join(lines)


def _seed_data(work: Path, seed: int):
    suffix = "" if seed == 3407 else f"_s{seed}"
    table = read_results(work / f"eval{suffix}" / "results.csv")
    weights = {}
    for r in PURIFIED:
        path = work / "runs" / f"{RUN_DIRS[r]}{suffix}" / "purify_weights.jsonl"
        if path.is_file():
            weights[r] = json.loads(path.read_text().splitlines()[-1])["weights"]
    return table, weights


def _ranks(values: dict[str, float], reverse: bool) -> dict[str, int]:
    order = sorted(values, key=lambda m: -values[m] if reverse else values[m])
    return {m: order.index(m) + 1 for m in values}


def _run_means(rows: dict[str, dict[str, float]]) -> list[float]:
    """MPJPE over all, single and multi combinations, all five, PA-MPJPE and accuracy over all."""
    return [
        mean(v["mpjpe_mm"] for v in rows.values()),
        mean(rows[m]["mpjpe_mm"] for m in MODALITIES),
        mean(v["mpjpe_mm"] for c, v in rows.items() if "+" in c),
        rows["+".join(MODALITIES)]["mpjpe_mm"],
        mean(v["pa_mpjpe_mm"] for v in rows.values()),
        mean(v["accuracy"] for v in rows.values()),
    ]


def doc_tables(work: Path, seeds: list[int]) -> str:
    """The tables of docs/RESULTS.md: every cell 'seed A / seed B' (in --seeds order)."""
    data = [_seed_data(work, seed) for seed in seeds]
    joined = lambda values: " / ".join(values)  # noqa: E731
    multi = [r for r in data[0][0] if not r.startswith("single-")]
    lines = ["| run | MPJPE, all 31 | MPJPE, 5 single | MPJPE, 26 multi | all five together | PA-MPJPE, all 31 | "
             "accuracy, all 31 |", "|---|---|---|---|---|---|---|"]
    for r in multi:
        per_seed = [_run_means(table[r]) for table, _ in data]
        cells = [joined(fmt(values[i]) for values in per_seed) for i in range(6)]
        lines.append(f"| {r} | " + " | ".join(cells) + " |")
    lines += ["", "| modality | PTA MPJPE | single MPJPE | PTA PA-MPJPE | single PA-MPJPE | PTA acc. | single acc. |",
              "|---|---|---|---|---|---|---|"]
    for m in MODALITIES:
        cells = [joined(fmt(t[run][m][metric]) for t, _ in data)
                 for metric in ("mpjpe_mm", "pa_mpjpe_mm", "accuracy") for run in ("PTA", f"single-{m}")]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    runs = [r for r in PURIFIED if all(r in w for _, w in data)]
    lines += ["", "| modality | single MPJPE (rank) | " + " | ".join(runs) + " |", "|---|---|" + "---|" * len(runs)]
    for seed, (table, weights) in zip(seeds, data):
        lines.append(f"| seed {seed} | |" + " |" * len(runs))
        alone = {m: table[f"single-{m}"][m]["mpjpe_mm"] for m in MODALITIES}
        rank_alone = _ranks(alone, reverse=False)
        ranks = {r: _ranks(weights[r], reverse=True) for r in runs}
        for m in MODALITIES:
            lines.append(f"| {m} | {fmt(alone[m])} ({rank_alone[m]}) | " + " | ".join(
                f"{weights[r][m]:.3f} ({ranks[r][m]})" for r in runs) + " |")
    table = data[0][0]
    lines += ["", f"MPJPE per combination, seed {seeds[0]}:", "",
              "| combination | n | " + " | ".join(multi) + " |", "|---|---|" + "---|" * len(multi)]
    for combo in table[multi[0]]:
        n = int(table[multi[0]][combo]["samples"])
        lines.append(f"| {combo} | {n} | " + " | ".join(fmt(table[r][combo]["mpjpe_mm"]) for r in multi) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default="out/results")
    parser.add_argument("--seeds", nargs="+", type=int, default=[3407])
    parser.add_argument("--config", default="config/results_mmfi.yaml")
    args = parser.parse_args()
    work = Path(args.work)
    text = reference_errors(work, args.config) + "\n" + "\n".join(summarize(work, seed) for seed in args.seeds)
    (work / "summary.md").write_text(text)
    (work / "doc_tables.md").write_text(doc_tables(work, args.seeds))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
