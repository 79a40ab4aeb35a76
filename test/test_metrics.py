"""Metrics against a transcription of the official toolbox's evaluate.py, invariances, accumulator, tables."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pta_core.metrics import (
    ClusterSums,
    MetricAccumulator,
    clustered_standard_error,
    combination_name,
    modality_combinations,
    mpjpe,
    pa_mpjpe,
    parse_combination,
    rows_to_csv,
    rows_to_markdown,
    top1_accuracy,
)


# --- mmfi_lib/evaluate.py, transcribed (inputs in metres, results in metres) ---------------------
def _compute_similarity_transform(X, Y):
    muX, muY = X.mean(0), Y.mean(0)
    X0, Y0 = X - muX, Y - muY
    normX, normY = np.sqrt((X0**2.0).sum()), np.sqrt((Y0**2.0).sum())
    X0, Y0 = X0 / normX, Y0 / normY
    A = np.dot(X0.T, Y0)
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    V = Vt.T
    T = np.dot(V, U.T)
    detT = np.linalg.det(T)
    V[:, -1] *= np.sign(detT)
    s[-1] *= np.sign(detT)
    T = np.dot(V, U.T)
    b = s.sum() * normX / normY
    c = muX - b * np.dot(muY, T)
    return T, b, c


def _calculate_error(preds, gts):
    mpjpe_m = np.mean(np.sqrt(np.sum(np.square(preds - gts), axis=2)))
    pa = np.zeros(preds.shape[:2])
    for n in range(preds.shape[0]):
        T, b, c = _compute_similarity_transform(gts[n], preds[n])
        aligned = (b * preds[n].dot(T)) + c
        pa[n] = np.sqrt(np.sum(np.square(aligned - gts[n]), axis=1))
    return mpjpe_m, np.mean(pa)


def _rotation(rng, reflect=False):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    if reflect:
        q[:, 0] *= -1
    return q


@pytest.mark.parametrize("seed", range(5))
def test_matches_the_toolbox_on_random_poses(seed):
    rng = np.random.default_rng(seed)
    gt = rng.normal(0, 0.4, size=(64, 17, 3))
    pred = gt + rng.normal(0, 0.05 * (seed + 1), size=gt.shape)
    ref_mpjpe, ref_pa = _calculate_error(pred, gt)
    assert mpjpe(pred, gt) == pytest.approx(ref_mpjpe * 1000, abs=1e-6)
    assert pa_mpjpe(pred, gt) == pytest.approx(ref_pa * 1000, abs=1e-6)
    # torch float32 inputs give the same numbers (computed in float64)
    assert pa_mpjpe(
        torch.tensor(pred, dtype=torch.float32), torch.tensor(gt, dtype=torch.float32)
    ) == pytest.approx(ref_pa * 1000, abs=1e-3)


def test_mpjpe_worked_example():
    gt = np.zeros((2, 17, 3))
    pred = np.zeros((2, 17, 3))
    pred[0, :, 0] = 0.003  # every joint 3 mm off
    pred[1, 0] = [0.0, 0.3, 0.4]  # one joint 500 mm off
    per = mpjpe(pred, gt, per_sample=True)
    assert isinstance(per, np.ndarray)
    np.testing.assert_allclose(per, [3.0, 500.0 / 17], rtol=1e-12)
    assert mpjpe(pred, gt) == pytest.approx((3.0 * 17 + 500.0) / 34)


def test_pa_mpjpe_is_invariant_to_similarity_transforms():
    rng = np.random.default_rng(1)
    gt = rng.normal(0, 0.4, size=(16, 17, 3))
    pred = np.stack([2.5 * g @ _rotation(rng) + rng.normal(size=3) for g in gt])
    assert pa_mpjpe(pred, gt) < 1e-9
    assert mpjpe(pred, gt) > 100  # MPJPE has no alignment
    noisy = gt + rng.normal(0, 0.02, gt.shape)
    moved = np.stack([0.5 * n @ _rotation(rng) - 3.0 for n in noisy])
    assert pa_mpjpe(moved, gt) == pytest.approx(pa_mpjpe(noisy, gt), rel=1e-9)


def test_pa_mpjpe_removes_reflections_like_the_toolbox():
    rng = np.random.default_rng(2)
    gt = rng.normal(0, 0.4, size=(8, 17, 3))
    mirrored = np.stack([g @ _rotation(rng, reflect=True) for g in gt])
    ours = pa_mpjpe(mirrored, gt, per_sample=True)
    assert (ours > 1.0).all()  # a mirror image cannot be aligned by a proper rotation
    np.testing.assert_allclose(ours.mean(), _calculate_error(mirrored, gt)[1] * 1000, atol=1e-6)


def test_degenerate_prediction_is_finite():
    gt = np.random.default_rng(3).normal(size=(2, 17, 3))
    pred = np.zeros_like(gt)
    out = pa_mpjpe(pred, gt, per_sample=True)
    centroid = np.linalg.norm(gt - gt.mean(1, keepdims=True), axis=-1).mean(-1) * 1000
    np.testing.assert_allclose(out, centroid)


def test_torch_in_torch_out_and_shape_errors():
    gt = torch.randn(4, 17, 3, dtype=torch.float64)
    per = pa_mpjpe(gt + 0.01, gt, per_sample=True)
    assert isinstance(per, torch.Tensor) and per.shape == (4,)
    assert per.max() < 1e-6  # a pure translation
    with pytest.raises(ValueError, match="N, J, 3"):
        mpjpe(np.zeros((4, 17, 3)), np.zeros((4, 17, 2)))


def test_top1_accuracy():
    logits = np.array([[0.1, 0.9, 0.0], [2.0, 1.0, 0.0], [0.0, 0.2, 0.1], [0.3, 0.3, 0.9]])
    labels = np.array([1, 0, 2, 2])
    assert top1_accuracy(logits, labels) == pytest.approx(0.75)
    assert top1_accuracy(torch.tensor(logits), torch.tensor(labels), per_sample=True).tolist() == [1, 1, 0, 1]
    with pytest.raises(ValueError):
        top1_accuracy(logits, labels[:3])


def test_accumulator_weights_samples_not_batches():
    rng = np.random.default_rng(4)
    errors = rng.uniform(10, 100, size=70)
    acc = MetricAccumulator()
    for start in range(0, 70, 32):  # batches of 32, 32, 6
        batch = errors[start : start + 32]
        acc.update("mpjpe", batch)
        acc.update_mean("mpjpe_from_means", float(batch.mean()), len(batch))
    assert acc.count("mpjpe") == 70
    assert acc.mean("mpjpe") == pytest.approx(errors.mean(), rel=1e-12)
    assert acc.mean("mpjpe_from_means") == pytest.approx(errors.mean(), rel=1e-12)
    per_batch = np.mean([errors[:32].mean(), errors[32:64].mean(), errors[64:].mean()])
    assert abs(per_batch - errors.mean()) > 1e-3  # what per-batch averaging would have reported
    acc.update("acc", torch.tensor([1.0, 0.0]), weights=torch.tensor([3.0, 1.0]))
    assert acc.compute()["acc"] == pytest.approx(0.75)
    assert math.isnan(MetricAccumulator().mean("none"))
    acc.reset()
    assert acc.compute() == {}


def _clustered_se(values, clusters):
    sums = ClusterSums()
    sums.update("x", values, clusters)
    return clustered_standard_error(float(np.mean(values)), len(values), sums.moments("x"))


def test_clustered_standard_error_of_independent_and_of_repeated_samples():
    rng = np.random.default_rng(7)
    x = rng.normal(50.0, 8.0, size=40)
    # One sample per cluster: the textbook standard error of the mean, s / √n.
    assert _clustered_se(x, np.arange(40)) == pytest.approx(x.std(ddof=1) / math.sqrt(40), rel=1e-9)
    # Every value five times in its own cluster (frames that say the same): no more certain than 40 values.
    repeated = np.repeat(x, 5)
    assert _clustered_se(repeated, np.repeat(np.arange(40), 5)) == pytest.approx(x.std(ddof=1) / math.sqrt(40),
                                                                                  rel=1e-9)
    # ...while treating them as 200 independent frames would claim √5 × the certainty.
    assert _clustered_se(repeated, np.arange(200)) == pytest.approx(_clustered_se(x, np.arange(40)) / math.sqrt(5),
                                                                     rel=0.02)
    assert _clustered_se(x[:3], np.zeros(3)) is None  # one cluster: no estimate


def test_cluster_moments_add_up_over_disjoint_clusters_in_any_batching():
    rng = np.random.default_rng(8)
    values, clusters = rng.uniform(0, 100, size=90), rng.integers(0, 12, size=90)
    whole = ClusterSums()
    whole.update("x", torch.from_numpy(values), clusters)
    batched = ClusterSums()  # a cluster split over batches is merged
    for start in range(0, 90, 16):
        batched.update("x", values[start : start + 16], clusters[start : start + 16])
    np.testing.assert_allclose(batched.moments("x"), whole.moments("x"))
    low, high = ClusterSums(), ClusterSums()  # two ranks with disjoint clusters
    low.update("x", values[clusters < 6], clusters[clusters < 6])
    high.update("x", values[clusters >= 6], clusters[clusters >= 6])
    np.testing.assert_allclose(low.moments("x") + high.moments("x"), whole.moments("x"))
    assert whole.moments("x")[3] == len(np.unique(clusters))
    np.testing.assert_array_equal(ClusterSums().moments("none"), np.zeros(4))
    with pytest.raises(ValueError, match="cluster ids"):
        whole.update("x", values, clusters[:-1])


def test_modality_combinations_and_names():
    five = ["rgb", "depth", "mmwave", "lidar", "wifi-csi"]
    combos = modality_combinations(five)
    assert len(combos) == 31 and len(set(combos)) == 31
    assert combos[0] == ("rgb",) and combos[-1] == tuple(five)
    assert len(modality_combinations(["depth", "lidar", "wifi-csi"])) == 7
    assert combination_name(("lidar", "depth"), order=five) == "depth+lidar"
    assert combination_name(["wifi-csi"]) == "wifi-csi"
    assert parse_combination("depth+lidar") == ("depth", "lidar")
    with pytest.raises(ValueError):
        parse_combination("depth++lidar")
    with pytest.raises(ValueError):
        combination_name(["thermal"], order=five)
    with pytest.raises(ValueError):
        modality_combinations(["depth", "depth"])


def test_tables_render_markdown_and_csv():
    rows = [
        {"combination": "depth", "mpjpe_mm": 101.234, "pa_mpjpe_mm": 70.0},
        {"combination": "depth+lidar", "mpjpe_mm": 90.5, "pa_mpjpe_mm": float("nan")},
    ]
    md = rows_to_markdown(rows)
    assert md.splitlines()[0] == "| combination | mpjpe_mm | pa_mpjpe_mm |"
    assert md.splitlines()[1] == "|---|---|---|"
    assert md.splitlines()[2] == "| depth | 101.23 | 70.00 |"
    assert md.splitlines()[3] == "| depth+lidar | 90.50 | nan |"
    csv_text = rows_to_csv(rows, columns=["combination", "mpjpe_mm"])
    assert csv_text == "combination,mpjpe_mm\ndepth,101.234\ndepth+lidar,90.5\n"
