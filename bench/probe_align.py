"""How much Align's refined student depends on the student, for each DDIM start timestep.

DiffKD refines a student by DDIM sampling from x = γ·s + (1 − γ)·ε at a start timestep t₀. Started
from a high t₀ (PTA's code: 800, where √ᾱ ≈ 0.04), the sampler may all but generate a teacher-like
feature from the noise, whatever the student is; then the KD loss on the refined feature hardly
reaches the encoders. For a trained PTA run (its ``state.pt``: the network and the DiffKD
modules), on ``--batches`` meta-val batches with every modality present, this measures per t₀:

- ``student``: ‖r(s) − r(s′)‖ / ‖r(s)‖, the change of the refined feature when the student is
  swapped for another sample's (same noise);
- ``noise``: ‖r(s; ε) − r(s; ε′)‖ / ‖r(s)‖, its change under another noise draw (same student);
- ``dependence`` = student / (student + noise): 1 = set by the student, 0 = set by the noise;
- ``dist``: the DIST loss of the refined students against the teacher latent;
- ``grad``: ‖∂ DIST / ∂ F_m‖, the KD gradient that reaches the student features;
- ``gamma``: the noise adapter's mean γ, the share of the student in the starting point.

    python bench/probe_align.py --run runs/pta [--starts 100 200 400 600 800] [--json out.json]
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
from pta_core.models.diffusion.dist import dist_loss  # noqa: E402
from pta_core.models.factory import build_model, build_objective  # noqa: E402
from pta_core.training.batching import model_batch  # noqa: E402
from pta_core.training.purify import split_meta_val  # noqa: E402
from pta_core.training.runstate import load_state  # noqa: E402


def rows_dist(refined: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    latent = refined.shape[1]
    return dist_loss(refined.transpose(1, 2).reshape(-1, latent), teacher.transpose(1, 2).reshape(-1, latent))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a PTA training run folder with Align (config.yaml, state.pt)")
    parser.add_argument("--starts", type=int, nargs="+", default=[100, 200, 400, 600, 800])
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--json", help="write the table here")
    args = parser.parse_args()
    run = Path(args.run)
    cfg = load_config(run / "config.yaml")
    if not cfg.align.enabled:
        parser.error(f"{run} was trained without Align")
    split = open_split(cfg.data, "train", progress=False)
    _, meta = split_meta_val(split, cfg.purify)
    model = build_model(cfg, len(split.activity_classes))
    objective = build_objective(cfg, model)
    objective.load_state_dict(load_state(run)["objective"])
    objective.eval()  # BatchNorm in inference mode: the probe must not change the modules
    dataset = PackedDataset(split, meta)
    full = np.flatnonzero(np.asarray(split.present)[meta].all(axis=1))
    rng = np.random.default_rng(0)
    results = {}
    for start in args.starts:
        for module in objective.align.diffkd.values():
            module.scheduler.set_timesteps(cfg.align.ddim.num_inference_steps, start)
        sums = {"student": [], "noise": [], "dist": [], "grad": [], "gamma": []}
        for b in range(args.batches):
            rows = rng.choice(full, min(args.batch_size, len(full)), replace=False)
            batch = model_batch(collate(dataset.__getitems__(list(rows))), split.modalities, model.modalities)
            present = batch.present
            features = {m: f.detach().requires_grad_(True) for m, f in model.encode(batch.inputs, present).items()}
            teacher = model.fuse(features, present).detach().transpose(1, 2)
            perm = torch.roll(torch.arange(len(batch)), 1)
            for name, feature in features.items():
                module = objective.align.module_for(name)
                student = module.trans(feature.transpose(1, 2))
                latent = module.ae.encoder(teacher)
                sums["gamma"].append(float(module.noise_adapter(student).mean()))
                base = module.refine(student, torch.Generator().manual_seed(10 + b))
                other_noise = module.refine(student, torch.Generator().manual_seed(1000 + b))
                other_student = module.refine(student[perm], torch.Generator().manual_seed(10 + b))
                norm = base.detach().flatten(1).norm(dim=1).clamp(min=1e-8)
                sums["student"].append(float(((base - other_student).detach().flatten(1).norm(dim=1) / norm).mean()))
                sums["noise"].append(float(((base - other_noise).detach().flatten(1).norm(dim=1) / norm).mean()))
                dist = rows_dist(base, latent.detach())
                (grad,) = torch.autograd.grad(dist, feature)
                sums["dist"].append(float(dist.detach()))
                sums["grad"].append(float(grad.norm()))
        row = {k: float(np.mean(v)) for k, v in sums.items()}
        row["dependence"] = row["student"] / max(row["student"] + row["noise"], 1e-12)
        results[start] = row
        print(f"t0 {start:4d}: student {row['student']:.3f}  noise {row['noise']:.3f}  "
              f"dependence {row['dependence']:.3f}  DIST {row['dist']:.3f}  |grad| {row['grad']:.4g}  "
              f"gamma {row['gamma']:.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
