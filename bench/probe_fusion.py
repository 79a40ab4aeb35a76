"""How much fusing the students can gain: a PTA model's fused sets against its own students, on meta-val.

For a PTA model with student heads (``model.student_heads``), on the model's meta-val subjects:
- per combination of two or more modalities, on the frames that have all of it: the MPJPE of the
  shared head on Σ w̃ F_m (what the model serves), of an inverse-variance late fusion of the same
  students' poses (Σ α_m head_m(F_m), α_m ∝ 1 / e_m², e_m the student's own meta-val MPJPE) and of
  the best member alone on those frames;
- on the frames that have every modality: the correlation of each student's per-frame error with
  the best student's, and the per-frame oracle (the best student's pose on each frame, chosen with
  the ground truth): no way of choosing between the students' poses does better.

Meta-val only (the split the recipe selects on), so nothing here is tuned on the test subjects.

    python bench/probe_fusion.py --model out/results/runs/contaminated/pta/model.pt [--json out.json]
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

from pta_core.checkpoint import load_checkpoint  # noqa: E402
from pta_core.data import PackedDataset, collate, open_split  # noqa: E402
from pta_core.metrics import combination_name, modality_combinations, mpjpe  # noqa: E402
from pta_core.training.batching import model_batch  # noqa: E402
from pta_core.training.purify import split_meta_val  # noqa: E402


@torch.no_grad()
def student_poses(model, dataset: PackedDataset, batch_size: int):
    """Per meta-val frame: each student's pose (N, M, 17, 3) (zeros where the frame lacks the
    modality), the ground truth (N, 17, 3) and the data's presence (N, M)."""
    poses, truth, present = [], [], []
    for start in range(0, len(dataset), batch_size):
        raw = collate(dataset.__getitems__(list(range(start, min(start + batch_size, len(dataset))))))
        batch = model_batch(raw, dataset.split.modalities, model.modalities)
        features = model.encode(batch.inputs, batch.present)
        zeros = batch.targets.pose.new_zeros(batch.targets.pose.shape)
        poses.append(torch.stack([model.students[m](features[m]).pose if m in features else zeros
                                  for m in model.modalities], dim=1))
        truth.append(batch.targets.pose)
        present.append(batch.present)
    return torch.cat(poses), torch.cat(truth), torch.cat(present)


@torch.no_grad()
def served_poses(model, dataset: PackedDataset, combo: torch.Tensor, batch_size: int) -> torch.Tensor:
    """The model's output for the set ``combo`` (M,) bool on the frames that have all of it, NaN on
    the others (N, 17, 3)."""
    out = []
    for start in range(0, len(dataset), batch_size):
        raw = collate(dataset.__getitems__(list(range(start, min(start + batch_size, len(dataset))))))
        batch = model_batch(raw, dataset.split.modalities, model.modalities)
        present = batch.present & combo
        rows = (present == combo).all(dim=1)
        pose = batch.targets.pose.new_full(batch.targets.pose.shape, float("nan"))
        if bool(rows.any()):
            pose[rows] = model(batch.rows(rows).inputs, present[rows]).pose
        out.append(pose)
    return torch.cat(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a PTA model file with student heads")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    checkpoint = load_checkpoint(args.model)
    cfg = checkpoint.config
    model = checkpoint.build()
    if getattr(model, "students", None) is None:
        print(f"probe_fusion: {args.model} has no student heads (model.student_heads)", file=sys.stderr)
        return 2
    torch.manual_seed(0)
    split = open_split(cfg.data, "train", progress=False)
    _, meta = split_meta_val(split, cfg.purify)
    dataset = PackedDataset(split, meta)
    names = model.modalities
    poses, truth, present = student_poses(model, dataset, args.batch_size)
    errors = torch.stack([mpjpe(poses[:, i], truth, per_sample=True) for i in range(len(names))], dim=1)  # (N, M) mm
    alone = {m: float(errors[present[:, i], i].mean()) for i, m in enumerate(names)}
    alpha = torch.tensor([1.0 / alone[m] ** 2 for m in names])
    rows = []
    for combo in modality_combinations(names):
        if len(combo) < 2:
            continue
        mask = torch.tensor([m in combo for m in names])
        frames = present[:, mask].all(dim=1)  # as the evaluation scores a set: frames with every member
        weights = (mask * alpha) / (mask * alpha).sum()
        late = (weights[:, None, None] * poses[frames]).sum(dim=1)
        served = served_poses(model, dataset, mask, args.batch_size)[frames]
        rows.append({
            "combination": combination_name(combo),
            "frames": int(frames.sum()),
            "served_mm": float(mpjpe(served, truth[frames])),
            "late_fusion_mm": float(mpjpe(late, truth[frames])),
            "best_member_mm": float(errors[frames][:, mask].mean(dim=0).min()),  # on the same frames
        })
    every = present.all(dim=1)
    best = min(names, key=alone.get)
    best_index = names.index(best)
    correlation = {m: float(torch.corrcoef(torch.stack([errors[every, best_index], errors[every, i]]))[0, 1])
                   for i, m in enumerate(names) if m != best}
    figures = {
        "students_mm": alone,
        "combinations": rows,
        "mean_multi": {k: float(np.mean([r[k] for r in rows])) for k in ("served_mm", "late_fusion_mm", "best_member_mm")},
        "worse_than_best_member": {k: sum(r[k] > r["best_member_mm"] for r in rows) for k in ("served_mm", "late_fusion_mm")},
        "all_frames": int(every.sum()),
        "best_student": best,
        "best_student_mm_all_frames": float(errors[every, best_index].mean()),
        "oracle_mm_all_frames": float(errors[every].min(dim=1).values.mean()),
        "error_correlation_with_best": correlation,
    }
    print(f"{'combination':34s} {'served':>8s} {'late fusion':>12s} {'best member':>12s}")
    for r in rows:
        print(f"{r['combination']:34s} {r['served_mm']:8.1f} {r['late_fusion_mm']:12.1f} {r['best_member_mm']:12.1f}")
    mean = figures["mean_multi"]
    print(f"mean over {len(rows)}: served {mean['served_mm']:.1f}, late fusion {mean['late_fusion_mm']:.1f}, "
          f"best member {mean['best_member_mm']:.1f}; worse than the best member: served "
          f"{figures['worse_than_best_member']['served_mm']}, late fusion {figures['worse_than_best_member']['late_fusion_mm']}")
    print(f"frames with all {len(names)}: {figures['all_frames']}; {best} alone {figures['best_student_mm_all_frames']:.1f} mm, "
          f"per-frame oracle over the students {figures['oracle_mm_all_frames']:.1f} mm")
    print("per-frame error correlation with " + best + ": " + ", ".join(f"{m} {c:.2f}" for m, c in correlation.items()))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
