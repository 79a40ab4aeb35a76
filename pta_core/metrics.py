"""Metrics as pure functions, a per-sample-weighted accumulator, and modality-combination tables.

Units: poses go in as metres (N, 17, 3); MPJPE and PA-MPJPE come out in **millimetres**. The
definitions are the official MM-Fi toolbox's (``mmfi_lib/evaluate.py``, docs/datasets.md §1.10):
MPJPE without root alignment; PA-MPJPE after a per-frame similarity Procrustes (rotation without
reflection, scale, translation) of the prediction onto the ground truth.

Inputs may be numpy arrays or torch tensors (any device); per-sample results come back as the
same kind. Computation runs in float64.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

MM_PER_M = 1000.0

ArrayLike = np.ndarray | torch.Tensor


def _poses(pred: ArrayLike, gt: ArrayLike) -> tuple[torch.Tensor, torch.Tensor, bool]:
    numpy_in = isinstance(pred, np.ndarray)
    p = torch.as_tensor(pred).to(torch.float64)
    g = torch.as_tensor(gt).to(device=p.device, dtype=torch.float64)
    if p.shape != g.shape or p.ndim != 3 or p.shape[-1] != 3:
        raise ValueError(f"pred and gt must both be (N, J, 3), got {tuple(p.shape)} and {tuple(g.shape)}")
    return p, g, numpy_in


def _finish(per_sample: torch.Tensor, numpy_in: bool, keep: bool) -> Any:
    if not keep:
        return float(per_sample.mean()) if per_sample.numel() else math.nan
    return per_sample.cpu().numpy() if numpy_in else per_sample


def mpjpe(pred: ArrayLike, gt: ArrayLike, *, per_sample: bool = False) -> Any:
    """Mean per-joint position error, no root alignment.

    Args:
        pred, gt: (N, J, 3) metres.
        per_sample: return the (N,) per-sample errors instead of the mean.

    Returns:
        Millimetres: a float (mean over N×J), or (N,) per-sample means (numpy or torch, as ``pred``).
    """
    p, g, numpy_in = _poses(pred, gt)
    errors = torch.linalg.vector_norm(p - g, dim=-1).mean(dim=-1) * MM_PER_M
    return _finish(errors, numpy_in, per_sample)


def mae(pred: ArrayLike, gt: ArrayLike, *, per_sample: bool = False) -> Any:
    """Mean absolute error of the joints' coordinates, x, y and z alike (MARS's metric, An & Ogras 2021:
    the mean over its joints' x, y, z absolute errors). mm, as :func:`mpjpe`."""
    p, g, numpy_in = _poses(pred, gt)
    errors = (p - g).abs().mean(dim=(-2, -1)) * MM_PER_M
    return _finish(errors, numpy_in, per_sample)


def root_error(pred: ArrayLike, gt: ArrayLike, *, per_sample: bool = False) -> Any:
    """Euclidean error of the root joint (joint 0, the pelvis): where the person is. mm, as :func:`mpjpe`."""
    p, g, numpy_in = _poses(pred, gt)
    errors = torch.linalg.vector_norm(p[:, 0] - g[:, 0], dim=-1) * MM_PER_M
    return _finish(errors, numpy_in, per_sample)


def relative_mpjpe(pred: ArrayLike, gt: ArrayLike, *, per_sample: bool = False) -> Any:
    """MPJPE after moving the predicted root onto the true root: the body's shape and pose, without
    where it is (no rotation or scale alignment, unlike PA-MPJPE). mm, as :func:`mpjpe`."""
    p, g, numpy_in = _poses(pred, gt)
    p = p - p[:, :1] + g[:, :1]
    errors = torch.linalg.vector_norm(p - g, dim=-1).mean(dim=-1) * MM_PER_M
    return _finish(errors, numpy_in, per_sample)


def procrustes_align(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Similarity-align each predicted pose onto its ground truth (the toolbox's
    ``compute_similarity_transform(X=gt, Y=pred, compute_optimal_scale=True)``, batched).

    A degenerate prediction (all joints at one point) gets scale 0, i.e. collapses onto the ground
    truth's centroid, where the toolbox would divide by zero and return NaN.

    Args:
        pred, gt: (N, J, 3) float tensors.

    Returns:
        (N, J, 3) aligned predictions ``b · pred · T + c``.
    """
    mu_x, mu_y = gt.mean(dim=1, keepdim=True), pred.mean(dim=1, keepdim=True)
    x0, y0 = gt - mu_x, pred - mu_y
    norm_x = torch.sqrt((x0**2).sum(dim=(1, 2)))
    norm_y = torch.sqrt((y0**2).sum(dim=(1, 2)))
    safe_x = torch.where(norm_x > 0, norm_x, torch.ones_like(norm_x))
    safe_y = torch.where(norm_y > 0, norm_y, torch.ones_like(norm_y))
    x0 = x0 / safe_x[:, None, None]
    y0 = y0 / safe_y[:, None, None]
    a = x0.transpose(1, 2) @ y0  # (N, 3, 3) = X0ᵀ Y0
    u, s, vt = torch.linalg.svd(a)
    v = vt.transpose(1, 2)
    t = v @ u.transpose(1, 2)
    # No reflections: flip V's last column and the last singular value where det T < 0.
    sign = torch.sign(torch.linalg.det(t))
    v = torch.cat([v[:, :, :-1], v[:, :, -1:] * sign[:, None, None]], dim=2)
    s = torch.cat([s[:, :-1], s[:, -1:] * sign[:, None]], dim=1)
    t = v @ u.transpose(1, 2)
    scale = torch.where(norm_y > 0, s.sum(dim=1) * norm_x / safe_y, torch.zeros_like(norm_y))
    c = mu_x - scale[:, None, None] * (mu_y @ t)
    return scale[:, None, None] * (pred @ t) + c


def pa_mpjpe(pred: ArrayLike, gt: ArrayLike, *, per_sample: bool = False) -> Any:
    """MPJPE after per-frame similarity Procrustes alignment (rotation, scale, translation).

    Args:
        pred, gt: (N, J, 3) metres.
        per_sample: return (N,) per-sample errors instead of the mean.

    Returns:
        Millimetres, as :func:`mpjpe`.
    """
    p, g, numpy_in = _poses(pred, gt)
    aligned = procrustes_align(p, g)
    errors = torch.linalg.vector_norm(aligned - g, dim=-1).mean(dim=-1) * MM_PER_M
    return _finish(errors, numpy_in, per_sample)


def top1_accuracy(logits: ArrayLike, labels: ArrayLike, *, per_sample: bool = False) -> Any:
    """Fraction of samples whose highest logit is the label.

    Args:
        logits: (N, C) scores; labels: (N,) integer class indices.
        per_sample: return (N,) 0/1 correctness instead of the mean.
    """
    numpy_in = isinstance(logits, np.ndarray)
    scores = torch.as_tensor(logits)
    target = torch.as_tensor(labels, device=scores.device)
    if scores.ndim != 2 or target.shape != scores.shape[:1]:
        raise ValueError(
            f"logits must be (N, C) and labels (N,), got {tuple(scores.shape)} and {tuple(target.shape)}"
        )
    correct = (scores.argmax(dim=1) == target).to(torch.float64)
    return _finish(correct, numpy_in, per_sample)


class MetricAccumulator:
    """Per-sample-weighted running means: a short last batch weighs what its samples weigh.

    ``update("mpjpe", per_sample_errors)`` adds every sample; ``update_mean("acc", 0.5, count=8)``
    adds a batch mean with its sample count.
    """

    def __init__(self) -> None:
        self._sum: dict[str, float] = {}
        self._count: dict[str, float] = {}

    def update(
        self, name: str, values: ArrayLike | Sequence[float], weights: ArrayLike | None = None
    ) -> None:
        v = torch.as_tensor(values).detach().to("cpu", torch.float64).reshape(-1)
        w = (
            torch.ones_like(v)
            if weights is None
            else torch.as_tensor(weights).detach().to("cpu", torch.float64).reshape(-1)
        )
        if w.shape != v.shape:
            raise ValueError(f"{name}: {v.numel()} values but {w.numel()} weights")
        self._add(name, float((v * w).sum()), float(w.sum()))

    def update_mean(self, name: str, mean: float, count: int) -> None:
        self._add(name, float(mean) * count, float(count))

    def _add(self, name: str, total: float, count: float) -> None:
        self._sum[name] = self._sum.get(name, 0.0) + total
        self._count[name] = self._count.get(name, 0.0) + count

    def count(self, name: str) -> float:
        return self._count.get(name, 0.0)

    def mean(self, name: str) -> float:
        count = self._count.get(name, 0.0)
        return self._sum[name] / count if count else math.nan

    def compute(self) -> dict[str, float]:
        return {name: self.mean(name) for name in self._sum}

    def reset(self) -> None:
        self._sum.clear()
        self._count.clear()


class ClusterSums:
    """Per-cluster sums of per-sample values: the standard error of a mean over correlated samples.

    Frames of one sequence share a subject, an action and a sensor's noise, so treating them as
    independent understates the uncertainty of a mean. :meth:`moments` reduces the clusters to four
    numbers that add up over disjoint sets of clusters (DDP ranks evaluate whole sequences);
    :func:`clustered_standard_error` turns them into the cluster-robust standard error.
    """

    def __init__(self) -> None:
        self._clusters: dict[str, dict[int, list[float]]] = {}  # name → cluster id → [sum, count]

    def update(self, name: str, values: ArrayLike, clusters: np.ndarray) -> None:
        v = torch.as_tensor(values).detach().to("cpu", torch.float64).reshape(-1).numpy()
        clusters = np.asarray(clusters).reshape(-1)
        if clusters.shape != v.shape:
            raise ValueError(f"{name}: {v.size} values but {clusters.size} cluster ids")
        ids, inverse = np.unique(clusters, return_inverse=True)
        sums, counts = np.bincount(inverse, weights=v), np.bincount(inverse)
        table = self._clusters.setdefault(name, {})
        for cluster, total, count in zip(ids.tolist(), sums.tolist(), counts.tolist()):
            entry = table.setdefault(cluster, [0.0, 0.0])
            entry[0] += total
            entry[1] += count

    def moments(self, name: str) -> np.ndarray:
        """(Σ S², Σ S·n, Σ n², clusters) over the clusters' sums S and counts n."""
        entries = np.asarray(list(self._clusters.get(name, {}).values()), dtype=np.float64).reshape(-1, 2)
        sums, counts = entries[:, 0], entries[:, 1]
        return np.array([(sums**2).sum(), (sums * counts).sum(), (counts**2).sum(), len(entries)])


def clustered_standard_error(mean: float, count: float, moments: Sequence[float]) -> float | None:
    """Cluster-robust standard error of a per-sample mean (CR1: G/(G−1) · Σ_g (S_g − mean·n_g)² / N²; Cameron &
    Miller, "A Practitioner's Guide to Cluster-Robust Inference", 2015). None with fewer than two clusters."""
    sq, cross, n_sq, clusters = (float(x) for x in moments)
    if clusters < 2 or count <= 0 or not math.isfinite(mean):
        return None
    spread = sq - 2.0 * mean * cross + mean * mean * n_sq  # Σ_g (S_g − mean·n_g)²
    return math.sqrt(max(spread, 0.0) * clusters / (clusters - 1)) / count


# ---------------------------------------------------------------------------------------------
# Modality combinations and result tables


def modality_combinations(modalities: Sequence[str]) -> list[tuple[str, ...]]:
    """Every non-empty subset (2ⁿ − 1), smallest first, members in the given order."""
    if len(set(modalities)) != len(modalities):
        raise ValueError(f"duplicate modality in {list(modalities)}")
    return [c for r in range(1, len(modalities) + 1) for c in itertools.combinations(modalities, r)]


def combination_name(subset: Iterable[str], order: Sequence[str] | None = None) -> str:
    """Canonical name such as ``"depth+lidar"``: members joined by ``+`` in ``order`` (default: as given)."""
    members = list(subset)
    if order is not None:
        unknown = [m for m in members if m not in order]
        if unknown:
            raise ValueError(f"{unknown} not in {list(order)}")
        members = sorted(members, key=list(order).index)
    if not members:
        raise ValueError("a combination needs at least one modality")
    return "+".join(members)


def parse_combination(name: str) -> tuple[str, ...]:
    members = tuple(name.split("+"))
    if not name or any(not m for m in members):
        raise ValueError(f"bad combination name {name!r}; expected e.g. 'depth+lidar'")
    return members


def _columns(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None) -> list[str]:
    if columns is not None:
        return list(columns)
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def _cell(value: Any, float_format: str) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else format(value, float_format)
    return "" if value is None else str(value)


def rows_to_markdown(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None, float_format: str = ".2f"
) -> str:
    """A Markdown table (header + one line per row); floats formatted with ``float_format``."""
    cols = _columns(rows, columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(_cell(row.get(c), float_format) for c in cols) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def rows_to_csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """CSV text with a header; floats at full precision."""
    cols = _columns(rows, columns)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
