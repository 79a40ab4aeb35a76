"""One prepared GPU benchmark: CUDA training throughput and inference latency of the PTA model.

Everything runs on random inputs (no dataset needed) with the default config
(``config/train_mmfi.yaml``: D = 512, L = 32, encoder_width = 64):

- training samples/s of full optimiser steps (PTA objective with Align, sampled presence masks;
  also PTA without Align and the X-Fi baseline) at batch 16 (the paper's) and 64, bf16 autocast on CUDA;
- inference latency at batch 1 (each modality alone, all five fused; CUDA-synchronised, median/p90)
  and fused throughput at batch 256.

It prints a Markdown summary and writes JSON (``--out``). Test it anywhere with ``--device cpu``
(``--quick`` shortens every loop); on the lent GPU:

    python bench/gpu_bench.py --device cuda --out gpu_bench.json
"""
from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pta_core.config import Config, load_config  # noqa: E402
from pta_core.modalities import get_modality  # noqa: E402
from pta_core.models.factory import build_model, build_objective  # noqa: E402
from pta_core.models.objectives import Targets  # noqa: E402
from pta_core.training.presence import PresenceSampler  # noqa: E402

NUM_CLASSES = 27


def inputs_for(cfg: Config, modalities, batch: int, device: torch.device) -> dict:
    generator = torch.Generator().manual_seed(0)
    out = {}
    for name in modalities:
        fields = {}
        for key, spec in get_modality(name).input_fields(cfg.data.preprocess).items():
            if spec.dtype is np.bool_:
                fields[key] = torch.ones(batch, *spec.shape, dtype=torch.bool, device=device)
            else:
                fields[key] = torch.rand(batch, *spec.shape, generator=generator).to(device)
        out[name] = fields
    return out


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, iters: int, warmup: int, device: torch.device) -> dict[str, float]:
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append((time.perf_counter() - start) * 1e3)
    times.sort()
    return {"median_ms": statistics.median(times), "p90_ms": times[int(0.9 * (len(times) - 1))], "n": iters}


def train_throughput(cfg: Config, batch: int, device: torch.device, steps: int, warmup: int, amp: bool) -> dict:
    torch.manual_seed(0)
    model = build_model(cfg, NUM_CLASSES)
    objective = build_objective(cfg, model).to(device).train()
    objective.generator = torch.Generator(device=device).manual_seed(0)
    phi = dict(model.named_parameters()).get("weights.logits")
    optimizer = torch.optim.Adam([p for p in objective.parameters() if p is not phi], lr=cfg.train.lr)
    sampler = PresenceSampler.for_model(model.modalities, cfg.train.presence_probs,
                                        cfg.train.presence_mode,
                                        torch.Generator().manual_seed(0))
    inputs = inputs_for(cfg, model.modalities, batch, device)
    targets = Targets(pose=torch.randn(batch, 17, 3, device=device),
                      activity=torch.randint(0, NUM_CLASSES, (batch,), device=device))
    data_present = torch.ones(batch, len(model.modalities), dtype=torch.bool)
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if amp else contextlib.nullcontext

    def step():
        present, _ = sampler.apply(data_present)
        with autocast():
            loss = objective(inputs, present.to(device), targets).total
        optimizer.zero_grad(set_to_none=True)
        objective.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    stats = timed(step, steps, warmup, device)
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    return {"batch": batch, "step_median_ms": stats["median_ms"], "step_p90_ms": stats["p90_ms"],
            "samples_per_s": batch / (stats["median_ms"] / 1e3), "peak_mem_mib": peak}


@torch.inference_mode()
def inference(cfg: Config, device: torch.device, iters: int, warmup: int, big_batch: int) -> dict:
    model = build_model(cfg, NUM_CLASSES).to(device).eval()
    modalities = model.modalities
    one = inputs_for(cfg, modalities, 1, device)
    results = {}
    for index, name in enumerate(modalities):
        present = torch.zeros(1, len(modalities), dtype=torch.bool, device=device)
        present[0, index] = True
        results[f"{name} (batch 1)"] = timed(lambda p=present: model(one, p), iters, warmup, device)
    everything = torch.ones(1, len(modalities), dtype=torch.bool, device=device)
    results["fused 5 (batch 1)"] = timed(lambda: model(one, everything), iters, warmup, device)
    many = inputs_for(cfg, modalities, big_batch, device)
    all_big = torch.ones(big_batch, len(modalities), dtype=torch.bool, device=device)
    stats = timed(lambda: model(many, all_big), max(iters // 5, 3), max(warmup // 5, 1), device)
    stats["samples_per_s"] = big_batch / (stats["median_ms"] / 1e3)
    results[f"fused 5 (batch {big_batch})"] = stats
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu (to test this script)")
    parser.add_argument("--config", default=str(REPO / "config/train_mmfi.yaml"))
    parser.add_argument("--out", default="gpu_bench.json")
    parser.add_argument("--quick", action="store_true", help="few iterations (a smoke test of the script)")
    parser.add_argument("--no-amp", action="store_true", help="float32 training on CUDA")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("gpu_bench: CUDA is not available (use --device cpu to test the script)", file=sys.stderr)
        return 2
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    cfg = load_config(args.config)
    amp = device.type == "cuda" and not args.no_amp
    steps, warmup, iters = (3, 1, 5) if args.quick else (30, 5, 200)
    report = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__, "amp_bf16": amp,
        "model": {"dim": cfg.model.dim, "tokens": cfg.model.tokens, "encoder_width": cfg.model.encoder_width},
        "training": {},
    }
    variants = {
        "pta": cfg,
        "pta_without_align": replace(cfg, align=replace(cfg.align, enabled=False)),
        "xfi": replace(cfg, train=replace(cfg.train, method="xfi")),
    }
    for name, variant in variants.items():
        for batch in ((16,) if args.quick else (16, 64)):
            key = f"{name} batch {batch}"
            report["training"][key] = train_throughput(variant, batch, device, steps, warmup, amp)
            print(f"training {key}: {report['training'][key]['samples_per_s']:.1f} samples/s", flush=True)
    report["inference"] = inference(cfg, device, iters, warmup * 4, 16 if args.quick else 256)
    print(f"\n{report['device']} (torch {report['torch']}, bf16 autocast in training: {amp})")
    print("| training | samples/s | ms/step | peak MiB |\n|---|---|---|---|")
    for key, stats in report["training"].items():
        peak = "" if stats["peak_mem_mib"] is None else f"{stats['peak_mem_mib']:.0f}"
        print(f"| {key} | {stats['samples_per_s']:.1f} | {stats['step_median_ms']:.1f} | {peak} |")
    print("| inference (fp32) | median ms | p90 ms |\n|---|---|---|")
    for key, stats in report["inference"].items():
        print(f"| {key} | {stats['median_ms']:.2f} | {stats['p90_ms']:.2f} |")
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
