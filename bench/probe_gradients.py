"""Gradient magnitude of each loss term on the network's shared parts (how the task weights were set).

For a config, takes ``--batches`` training batches (with the training presence sampling) and, for
each loss term of the method's objective separately, the L2 norm of its gradient on the encoders +
projectors and on the heads. PTA's terms: ``fused`` (head(Σ w̃ F_m)), ``students`` (each present
modality's own readout), ``kd`` (Align's λ-free KD term: DIST + L_diff + L_ae) and, within it,
``kd_dist``. Ratios to the fused pose term are what ``train.student_loss_weight`` and
``align.lambda_kd`` are chosen from. Run it on a trained model (``--state run_dir/state.pt``) and
on a fresh one: the balance changes as training goes.

    python bench/probe_gradients.py --config config/bench_clean.yaml [--state runs/pta/state.pt]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pta_core.config import load_config  # noqa: E402
from pta_core.data import PackedDataset, collate, open_split  # noqa: E402
from pta_core.models.factory import build_model, build_objective  # noqa: E402
from pta_core.models.objectives import task_loss  # noqa: E402
from pta_core.training.batching import model_batch  # noqa: E402
from pta_core.training.presence import PresenceSampler  # noqa: E402
from pta_core.training.purify import split_meta_val  # noqa: E402
from pta_core.training.runstate import load_state  # noqa: E402


def grad_norm(loss: torch.Tensor, params: list[torch.nn.Parameter]) -> float:
    grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    return float(torch.sqrt(sum(((g.float() ** 2).sum() for g in grads if g is not None), torch.tensor(0.0))))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--state", help="a run's state.pt: probe the trained objective instead of a fresh one")
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--json", help="write the medians here")
    args = parser.parse_args()
    cfg = load_config(args.config, args.set)
    torch.manual_seed(cfg.train.seed)
    split = open_split(cfg.data, "train", progress=False)
    train_pos, _ = split_meta_val(split, cfg.purify)
    model = build_model(cfg, len(split.activity_classes))
    model.fit_pose_targets(torch.from_numpy(np.asarray(split.pose[train_pos], dtype=np.float64)))
    objective = build_objective(cfg, model)
    if args.state:
        objective.load_state_dict(load_state(Path(args.state).parent)["objective"])
    objective.train()
    objective.generator = torch.Generator().manual_seed(0)
    sampler = PresenceSampler.for_model(model.modalities, cfg.train.presence_probs,
                                        cfg.train.presence_mode, torch.Generator().manual_seed(1))
    shared = [p for n, p in model.named_parameters() if n.startswith(("encoders.", "projectors."))]
    heads = [p for n, p in model.named_parameters() if n.startswith(("task.", "students."))]
    rng = np.random.default_rng(0)
    dataset = PackedDataset(split, train_pos)
    rows: dict[str, list[tuple[float, float]]] = {}
    for _ in range(args.batches):
        batch = model_batch(collate(dataset.__getitems__(list(rng.choice(len(dataset), cfg.train.batch_size)))),
                            split.modalities, model.modalities)
        present, keep = sampler.apply(batch.present)
        batch, present = batch.rows(keep), present[keep]
        features = model.encode(batch.inputs, present)
        fused = model.fuse(features, present)
        terms = {"fused": task_loss(model.read(fused, features, present), batch.targets, cfg.train, model.pose_scale)[0]}
        several = present.sum(1) >= 2
        student = [task_loss(model.student(m)(features[m][rows]), batch.targets.rows(rows), cfg.train, model.pose_scale)[0]
                   for i, m in enumerate(model.modalities) if m in features
                   for rows in [torch.nonzero(present[:, i] & several).squeeze(1)] if rows.numel()]
        if student:
            terms["students"] = torch.stack(student).mean()
        align = getattr(objective, "align", None)
        if align is not None and bool(several.any()):
            kd = align(features, present, fused.detach(), objective.generator)
            terms["kd"] = kd.kd_loss
            rows.setdefault("kd_dist_value", []).append((float(kd.terms["dist"]), float("nan")))
        for name, loss in terms.items():
            rows.setdefault(name, []).append((grad_norm(loss, shared), grad_norm(loss, heads) if heads else 0.0))
            rows.setdefault(f"{name}_value", []).append((float(loss), float("nan")))
    medians = {name: [float(np.nanmedian([v[0] for v in values])), float(np.nanmedian([v[1] for v in values]))]
               for name, values in rows.items()}
    base = medians["fused"][0]
    print(f"{'term':18s} {'|grad| encoders':>16s} {'ratio to fused':>15s} {'|grad| heads':>13s}")
    for name, (enc, head) in medians.items():
        if name.endswith("_value"):
            continue
        print(f"{name:18s} {enc:16.4g} {enc / base:15.3f} {head:13.4g}")
    print("loss values: " + ", ".join(f"{k[:-6]} {v[0]:.4g}" for k, v in medians.items() if k.endswith("_value")))
    if args.json:
        Path(args.json).write_text(json.dumps(medians, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
