"""Evaluation over modality combinations: per-sample averaging, skipped samples, the fast PTA path,
and ``pta eval`` comparing several runs (Markdown, CSV, PNG)."""
from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from PIL import Image
from train_helpers import one_thread, tiny_overrides, write_tiny_mmfi  # noqa: F401  (autouse fixture)

from pta_core import cli
from pta_core.config import load_config
from pta_core.data import PackedDataset, open_split
from pta_core.data.sequences import sample_groups
from pta_core.metrics import mpjpe, top1_accuracy
from pta_core.models.factory import build_model
from pta_core.models.pta import PTAModel
from pta_core.training.evaluate import evaluate_combinations, selection_score
from pta_core.training.train import train
from pta_core.validation import ValidationRow


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A tiny tree and two 1-step runs: PTA and single-modality depth."""
    root = tmp_path_factory.mktemp("eval")
    write_tiny_mmfi(root / "tree")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    paths = {}
    for name, extra in {"pta": (), "depth": ("train.method=single", "train.single_modality=depth")}.items():
        cfg = load_config(None, tiny_overrides(root / "tree", root / "cache", root / name, "train.max_steps=1", *extra))
        paths[name] = train(cfg, progress=False).model_path
    torch.set_num_threads(threads)
    return root, paths


class _Generic(torch.nn.Module):
    """Wraps a PTA network so that the evaluator takes its generic path (one forward per combination)."""

    def __init__(self, model: PTAModel):
        super().__init__()
        self.model = model
        self.modalities = model.modalities

    def forward(self, inputs, present):
        return self.model(inputs, present)


@pytest.mark.slow
def test_fast_pta_path_equals_the_generic_path_and_per_sample_means(runs):
    root, _ = runs
    cfg = load_config(None, tiny_overrides(root / "tree", root / "cache", root / "x"))
    dataset = PackedDataset(open_split(cfg.data, "test", progress=False))
    torch.manual_seed(0)
    model = build_model(cfg, 27).eval()
    combos = [("depth",), ("lidar", "wifi-csi"), ("rgb", "depth", "mmwave", "lidar", "wifi-csi")]
    fast = evaluate_combinations(model, dataset, modalities=model.modalities, combinations=combos, batch_size=7)
    slow = evaluate_combinations(_Generic(model).eval(), dataset, modalities=model.modalities, combinations=combos,
                                 batch_size=64)
    assert not model.training  # the evaluator restores the mode it found
    for a, b in zip(fast, slow):
        assert a.modalities == b.modalities and a.samples == b.samples == len(dataset)
        assert a.mpjpe_mm == pytest.approx(b.mpjpe_mm, rel=1e-5)
        assert a.accuracy == pytest.approx(b.accuracy)
    # Per-sample means (the short last batch of 7 weighs what its samples weigh), by hand:
    batch = dataset.split.gather(np.arange(len(dataset)))
    inputs = {m: {k: torch.from_numpy(np.array(v)) for k, v in f.items()} for m, f in batch["inputs"].items()}
    present = torch.zeros(len(dataset), 5, dtype=torch.bool)
    present[:, [3, 4]] = True
    with torch.no_grad():
        out = model(inputs, present)
    assert fast[1].mpjpe_mm == pytest.approx(mpjpe(out.pose, torch.from_numpy(np.array(batch["pose"]))), rel=1e-5)
    assert fast[1].accuracy == pytest.approx(top1_accuracy(out.activity, torch.from_numpy(np.array(batch["activity"]))))
    # Standard errors with the frames clustered by sequence, by hand: G/(G−1) Σ_g (S_g − m n_g)² / N².
    errors = mpjpe(out.pose, torch.from_numpy(np.array(batch["pose"])), per_sample=True).numpy()
    sequence = sample_groups(dataset.split, "sequence")
    groups = np.unique(sequence)
    residual = [errors[sequence == g].sum() - errors.mean() * (sequence == g).sum() for g in groups]
    by_hand = np.sqrt(len(groups) / (len(groups) - 1) * np.sum(np.square(residual))) / len(errors)
    assert 2 <= len(groups) < len(errors)
    assert fast[1].mpjpe_se_mm == pytest.approx(by_hand, rel=1e-5)
    assert slow[1].mpjpe_se_mm == pytest.approx(by_hand, rel=1e-5)
    assert all(r.accuracy_se is not None and r.accuracy_se >= 0 for r in fast)
    with pytest.raises(ValueError, match="not in the network"):
        evaluate_combinations(model, dataset, modalities=("depth",), combinations=[("lidar",)])


@pytest.mark.slow
def test_samples_without_a_combination_s_data_are_skipped_and_counted(runs):
    root, _ = runs
    cfg = load_config(None, tiny_overrides(root / "tree", root / "cache", root / "x"))
    split = open_split(cfg.data, "test", progress=False)

    class Holey(PackedDataset):
        """The packed test split with lidar marked absent in every other sample."""

        def __getitems__(self, items):
            batch = super().__getitems__(items)
            present = np.array(batch["present"])
            present[np.asarray(batch["index"]) % 2 == 1, split.modalities.index("lidar")] = False
            return {**batch, "present": present}

    model = build_model(cfg, 27).eval()
    rows = evaluate_combinations(model, Holey(split), modalities=model.modalities,
                                 combinations=[("depth",), ("depth", "lidar"), ("lidar",)])
    assert [r.samples for r in rows] == [len(split), len(split) // 2, len(split) // 2]
    # A subset scored where a larger set is live: depth on the frames that also have lidar (the even
    # ones), twice in one call, equals depth on those frames alone.
    twice = evaluate_combinations(model, Holey(split), modalities=model.modalities,
                                  combinations=[("depth",), ("depth",)], frames_with=[("depth",), ("depth", "lidar")])
    even = evaluate_combinations(model, PackedDataset(split, np.arange(0, len(split), 2)), modalities=model.modalities,
                                 combinations=[("depth",)])
    assert [r.samples for r in twice] == [len(split), len(split) // 2]
    assert twice[0].mpjpe_mm == pytest.approx(rows[0].mpjpe_mm)
    assert twice[1].mpjpe_mm == pytest.approx(even[0].mpjpe_mm) and twice[1].mpjpe_se_mm == pytest.approx(
        even[0].mpjpe_se_mm)
    whole = PackedDataset(split)
    with pytest.raises(ValueError, match="superset"):
        evaluate_combinations(model, whole, modalities=model.modalities, combinations=[("depth", "lidar")],
                              frames_with=[("depth",)])
    with pytest.raises(ValueError, match="outside the network"):
        evaluate_combinations(model, whole, modalities=model.modalities, combinations=[("depth",)],
                              frames_with=[("depth", "sonar")])
    assert selection_score(rows, "mpjpe_mm") == pytest.approx(np.mean([r.mpjpe_mm for r in rows]))
    assert np.isnan(selection_score([ValidationRow(("a",), 0)], "mpjpe_mm"))


@pytest.mark.slow
def test_pta_eval_compares_runs_in_one_table(runs, tmp_path, capsys):
    root, paths = runs
    out = tmp_path / "report"
    code = cli.main(["eval", "--checkpoint", str(paths["pta"]), str(paths["depth"]), "--names", "PTA", "depth-only",
                     "--combinations", "depth", "depth+lidar", "lidar", "--out", str(out), "--no-progress",
                     "--title", "tiny"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "| combination | samples | PTA MPJPE (mm)" in printed
    with (out / "results.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert {(r["run"], r["combination"]) for r in rows} == {
        ("PTA", "depth"), ("PTA", "lidar"), ("PTA", "depth+lidar"), ("depth-only", "depth")}
    assert all(float(r["mpjpe_mm"]) > 0 and 0 <= float(r["accuracy"]) <= 100 for r in rows)
    table = (out / "results.md").read_text().splitlines()
    assert table[0] == "# tiny" and len([line for line in table if line.startswith("| depth")]) == 2
    lidar_line = next(line for line in table if line.startswith("| lidar |"))
    assert lidar_line.rstrip().endswith("|  |  |  |")  # the depth-only run has no lidar entry
    with Image.open(out / "results.png") as image:
        assert image.size[0] > 400 and image.size[1] > 300
    # Errors are reported, not raised.
    assert cli.main(["eval", "--checkpoint", str(tmp_path / "missing.pt"), "--out", str(out)]) == 1
    assert "not found" in capsys.readouterr().err


@pytest.mark.slow
def test_store_validation_rewrites_an_old_model_file_s_table_with_standard_errors(runs, tmp_path, capsys):
    import dataclasses
    import shutil

    from pta_core.checkpoint import load_checkpoint, save_checkpoint

    _, paths = runs
    model = tmp_path / "model.pt"
    shutil.copy(paths["pta"], model)
    checkpoint = load_checkpoint(model)
    original = list(checkpoint.validation)
    checkpoint.validation = [dataclasses.replace(r, mpjpe_se_mm=None, accuracy_se=None) for r in original]
    save_checkpoint(model, checkpoint)  # as written before the table carried standard errors
    args = ["eval", "--checkpoint", str(model), "--split", "meta_val", "--no-progress", "--out", str(tmp_path / "e")]
    assert cli.main([*args, "--store-validation"]) == 0
    assert "validation table stored" in capsys.readouterr().out
    restored = load_checkpoint(model).validation
    assert [r.modalities for r in restored] == [r.modalities for r in original]
    for new, old in zip(restored, original):
        assert new.mpjpe_mm == pytest.approx(old.mpjpe_mm, rel=1e-4)
        assert new.mpjpe_se_mm == pytest.approx(old.mpjpe_se_mm, rel=1e-4)
    # A table that the data does not reproduce is left alone, with one line that says why.
    checkpoint.validation = [dataclasses.replace(r, mpjpe_mm=r.mpjpe_mm + 5.0) for r in original]
    save_checkpoint(model, checkpoint)
    before = model.read_bytes()
    assert cli.main([*args, "--store-validation"]) == 1
    err = capsys.readouterr().err
    assert "not the data it was trained on" in err and len(err.strip().splitlines()) == 1
    assert model.read_bytes() == before
    assert cli.main([*args[:3], "--out", str(tmp_path / "e"), "--store-validation"]) == 2  # the test split
    assert "--split meta_val" in capsys.readouterr().err
