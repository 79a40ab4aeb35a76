"""Model speed on this CPU: inference latency (batch 1) per modality and fused, and training throughput.

Inference (the serving path: encoder → projector → Purify fusion → heads, no diffusion) with the
default config (``config/train_mmfi.yaml``: D = 512, L = 32, encoder_width = 64), randomly initialised,
``torch.inference_mode``, intra-op threads as given (default 2). Reports median and p90 over
``--iters`` timed calls after a warm-up, for each modality alone and all five fused; also the same
through :class:`pta_core.serving.Predictor` (numpy in, numpy out, as the ROS node calls it) and the
baselines' fused forward.

Training: samples/s of full optimiser steps (PTA objective with Align and sampled presence masks,
batch ``--batch``) on random inputs, for the default config and for the small results config.

    python bench/bench_model.py --threads 2 --iters 200 --json docs/bench_model.json
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pta_core.checkpoint import Checkpoint, inference_state_dict  # noqa: E402
from pta_core.config import Config, load_config  # noqa: E402
from pta_core.modalities import get_modality  # noqa: E402
from pta_core.models.factory import build_model, build_objective  # noqa: E402
from pta_core.models.objectives import Targets  # noqa: E402
from pta_core.torch_predictor import TorchPredictor  # noqa: E402
from pta_core.training.presence import PresenceSampler  # noqa: E402

CLASSES = tuple(f"A{i:02d}" for i in range(1, 28))


def random_inputs(cfg: Config, modalities, batch: int, seed: int = 0) -> dict:
    generator = torch.Generator().manual_seed(seed)
    inputs = {}
    for name in modalities:
        fields = {}
        for key, spec in get_modality(name).input_fields(cfg.data.preprocess).items():
            if spec.dtype is np.bool_:
                fields[key] = torch.ones(batch, *spec.shape, dtype=torch.bool)
            else:
                fields[key] = torch.rand(batch, *spec.shape, generator=generator)
        inputs[name] = fields
    return inputs


def timed(fn, iters: int, warmup: int) -> dict[str, float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    times.sort()
    return {"median_ms": statistics.median(times), "p90_ms": times[int(0.9 * (len(times) - 1))], "n": iters}


def inference(cfg: Config, iters: int, warmup: int, onnx: bool = False) -> dict[str, dict]:
    results = {}
    model = build_model(cfg, len(CLASSES)).eval()
    modalities = model.modalities
    inputs = random_inputs(cfg, modalities, 1)
    with torch.inference_mode():
        for index, name in enumerate(modalities):
            present = torch.zeros(1, len(modalities), dtype=torch.bool)
            present[0, index] = True
            results[f"pta {name}"] = timed(lambda p=present: model(inputs, p), iters, warmup)
        everything = torch.ones(1, len(modalities), dtype=torch.bool)
        results["pta fused (5)"] = timed(lambda: model(inputs, everything), iters, warmup)
    # The serving call: Predictor.predict on preprocessed numpy samples.
    predictor = TorchPredictor(Checkpoint(config=cfg, state_dict=inference_state_dict(model), activity_classes=CLASSES), "cpu")
    samples = {m: {k: v[0].numpy() for k, v in f.items()} for m, f in inputs.items()}
    for name in modalities:
        results[f"Predictor {name}"] = timed(lambda n=name: predictor.predict({n: samples[n]}), iters, warmup)
    results["Predictor fused (5)"] = timed(lambda: predictor.predict(samples), iters, warmup)
    if onnx:  # the same network exported (pta export) and served by onnxruntime, 1 and 2 intra-op threads
        import tempfile

        from pta_core.checkpoint import save_checkpoint
        from pta_core.export import export_onnx
        from pta_core.onnx_predictor import OnnxPredictor

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.pt"
            save_checkpoint(path, predictor.checkpoint)
            export_onnx(predictor.checkpoint, path, Path(tmp) / "onnx")
            for threads in (1, 2):
                served = OnnxPredictor(Path(tmp) / "onnx", threads=threads)
                for name in modalities:
                    results[f"onnxruntime {threads}t {name}"] = timed(
                        lambda n=name, s=served: s.predict({n: samples[n]}), iters, warmup)
                results[f"onnxruntime {threads}t fused (5)"] = timed(lambda s=served: s.predict(samples), iters, warmup)
    for method in ("late_fusion", "xfi"):
        other = build_model(replace(cfg, train=replace(cfg.train, method=method)), len(CLASSES)).eval()
        with torch.inference_mode():
            results[f"{method} fused (5)"] = timed(lambda m=other: m(inputs, everything), max(iters // 4, 10), warmup)
    return results


def training(cfg: Config, batch: int, steps: int, warmup: int) -> dict[str, float]:
    torch.manual_seed(0)
    model = build_model(cfg, len(CLASSES))
    objective = build_objective(cfg, model).train()
    objective.generator = torch.Generator().manual_seed(0)
    phi = dict(model.named_parameters()).get("weights.logits")
    optimizer = torch.optim.Adam([p for p in objective.parameters() if p is not phi], lr=cfg.train.lr)
    sampler = PresenceSampler.for_model(model.modalities, cfg.train.presence_probs,
                                        cfg.train.presence_mode,
                                        torch.Generator().manual_seed(0))
    inputs = random_inputs(cfg, model.modalities, batch)
    targets = Targets(pose=torch.randn(batch, 17, 3), activity=torch.randint(0, len(CLASSES), (batch,)))
    data_present = torch.ones(batch, len(model.modalities), dtype=torch.bool)

    def step():
        present, _ = sampler.apply(data_present)
        loss = objective(inputs, present, targets).total
        optimizer.zero_grad(set_to_none=True)
        objective.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    stats = timed(step, steps, warmup)
    return {"batch": batch, "step_median_ms": stats["median_ms"], "samples_per_s": batch / (stats["median_ms"] / 1e3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iters", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--train-steps", type=int, default=10)
    parser.add_argument("--config", default=str(REPO / "config/train_mmfi.yaml"))
    parser.add_argument("--results-config", default=str(REPO / "config/results_mmfi.yaml"))
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--onnx", action="store_true", help="also time the exported graphs on onnxruntime")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = load_config(args.config)
    report = {
        "torch": torch.__version__, "threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
        "loadavg_before": os.getloadavg(), "config": args.config,
        "model": {"dim": cfg.model.dim, "tokens": cfg.model.tokens, "encoder_width": cfg.model.encoder_width},
        "inference": inference(cfg, args.iters, args.warmup, args.onnx),
        "training": {"default": training(cfg, args.batch, args.train_steps, 2)} if args.train_steps > 0 else {},
    }
    if args.train_steps > 0 and Path(args.results_config).is_file():
        report["training"]["results_config"] = training(load_config(args.results_config), args.batch, args.train_steps * 3, 3)
    report["loadavg_after"] = os.getloadavg()
    print(f"threads={report['threads']} load avg before {report['loadavg_before']} after {report['loadavg_after']}")
    print("| call (batch 1) | median ms | p90 ms |\n|---|---|---|")
    for name, stats in report["inference"].items():
        print(f"| {name} | {stats['median_ms']:.2f} | {stats['p90_ms']:.2f} |")
    for name, stats in report["training"].items():
        print(f"training ({name}): batch {stats['batch']}, {stats['step_median_ms']:.0f} ms/step, "
              f"{stats['samples_per_s']:.1f} samples/s")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
