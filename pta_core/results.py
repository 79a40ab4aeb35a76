"""Comparison tables and plots of several runs over modality combinations (``pta eval`` output).

Long CSV (one line per run × combination), a wide Markdown table (one row per combination, a column
group per run) and a PNG of grouped bars (matplotlib, Agg backend: no display needed).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pta_core.io import atomic_write_bytes, atomic_write_text
from pta_core.metrics import combination_name, rows_to_csv, rows_to_markdown
from pta_core.validation import ValidationRow

METRIC_LABELS = {
    "mpjpe_mm": "MPJPE (mm)",
    "pa_mpjpe_mm": "PA-MPJPE (mm)",
    "root_mm": "root error (mm)",
    "rel_mpjpe_mm": "root-relative MPJPE (mm)",
    "mae_mm": "MAE (mm)",
    "accuracy": "accuracy (%)",
}

Runs = Mapping[str, Sequence[ValidationRow]]


def _value(metric: str, value: float | None) -> float | None:
    if value is None:
        return None
    return 100.0 * value if metric == "accuracy" else value


def present_metrics(runs: Runs) -> list[str]:
    """Metrics that at least one run reports, in a fixed order."""
    return [m for m in METRIC_LABELS if any(getattr(r, m) is not None for rows in runs.values() for r in rows)]


def combination_order(runs: Runs, order: Sequence[str]) -> list[tuple[str, ...]]:
    """Every combination any run reports: by size, then by ``order`` (the modality order)."""
    seen = {tuple(r.modalities) for rows in runs.values() for r in rows}
    rank = {m: i for i, m in enumerate(order)}
    return sorted(seen, key=lambda c: (len(c), [rank.get(m, len(rank)) for m in c]))


def long_rows(runs: Runs) -> list[dict[str, Any]]:
    return [
        {"run": name, "combination": "+".join(r.modalities), "samples": r.samples,
         **{m: _value(m, getattr(r, m)) for m in METRIC_LABELS}}
        for name, rows in runs.items()
        for r in rows
    ]


def wide_rows(runs: Runs, order: Sequence[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """One row per combination; columns ``<run> <metric>``; blank where a run lacks the combination."""
    metrics = present_metrics(runs)
    index = {name: {tuple(r.modalities): r for r in rows} for name, rows in runs.items()}
    columns = ["combination", "samples"] + [f"{name} {METRIC_LABELS[m]}" for name in runs for m in metrics]
    table = []
    for combo in combination_order(runs, order):
        row: dict[str, Any] = {"combination": combination_name(combo)}
        samples = {index[name][combo].samples for name in runs if combo in index[name]}
        row["samples"] = "/".join(str(s) for s in sorted(samples))
        for name in runs:
            entry = index[name].get(combo)
            for m in metrics:
                row[f"{name} {METRIC_LABELS[m]}"] = None if entry is None else _value(m, getattr(entry, m))
        table.append(row)
    return table, columns


def plot_runs(runs: Runs, order: Sequence[str], path: Path, title: str = "") -> None:
    """Grouped bars per combination, runs side by side, one panel per metric; PNG written atomically."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = present_metrics(runs)
    combos = combination_order(runs, order)
    index = {name: {tuple(r.modalities): r for r in rows} for name, rows in runs.items()}
    width = 0.8 / max(len(runs), 1)
    fig_width = min(24.0, max(8.0, 0.25 * len(combos) * max(1, len(runs)) ** 0.5 + 3.0))
    fig, axes = plt.subplots(len(metrics), 1, figsize=(fig_width, 3.0 * len(metrics) + 0.8), squeeze=False)
    colors = plt.get_cmap("tab10" if len(runs) <= 10 else "tab20").colors
    for ax, metric in zip(axes[:, 0], metrics):
        for k, name in enumerate(runs):
            xs, ys = [], []
            for i, combo in enumerate(combos):
                entry = index[name].get(combo)
                value = None if entry is None else _value(metric, getattr(entry, metric))
                if value is not None and math.isfinite(value):
                    xs.append(i - 0.4 + width * (k + 0.5))
                    ys.append(value)
            ax.bar(xs, ys, width=width, label=name, color=colors[k % len(colors)])
        ax.set_ylabel(METRIC_LABELS[metric])
        ax.set_xticks(range(len(combos)))
        ax.set_xticklabels([combination_name(c) for c in combos], rotation=60, ha="right", fontsize=7)
        ax.set_xlim(-0.6, len(combos) - 0.4)
        ax.grid(axis="y", alpha=0.3)
    axes[0, 0].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.005, 1.0), borderaxespad=0.0)
    if title:
        axes[0, 0].set_title(title)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(Path(path), buffer.getvalue())


def write_report(runs: Runs, order: Sequence[str], out_dir: Path, title: str = "") -> dict[str, Path]:
    """results.csv (long), results.md (wide) and results.png in ``out_dir``. Returns the paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table, columns = wide_rows(runs, order)
    paths = {"csv": out_dir / "results.csv", "markdown": out_dir / "results.md", "plot": out_dir / "results.png"}
    atomic_write_text(paths["csv"], rows_to_csv(long_rows(runs), ["run", "combination", "samples", *METRIC_LABELS]))
    header = f"# {title}\n\n" if title else ""
    atomic_write_text(paths["markdown"], header + rows_to_markdown(table, columns))
    plot_runs(runs, order, paths["plot"], title)
    return paths
