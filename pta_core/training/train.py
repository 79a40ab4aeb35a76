"""The training harness: one loop for PTA, its ablations and the baselines.

``train(cfg)`` trains ``cfg.train.method`` on the training split minus a seeded meta-val part
(``purify.meta_val_fraction``, ``purify.meta_seed``), which serves Purify's meta steps and model
selection for every method alike; the test split is never touched. With ``train.labelled_fraction``
< 1 only a share of the remaining subjects keeps its labels (docs/method.md §14). The run directory
(``train.out_dir``) receives:

    config.yaml          the resolved config           run_info.json   versions, world, device, data
    metrics.jsonl        losses, lr, throughput, evals purify_weights.jsonl  φ's softmax weights per meta step
    state.pt             resumable state (atomic)      model.pt        the selected model + meta-val table
    train.log            (written by the CLI)

``resume=True`` continues exactly where the last saved state stopped. Under torchrun the objective
is wrapped in DistributedDataParallel; rank 0 logs and writes files; metrics are all-reduced.

Why one module over 400 lines: it is the loop and its bookkeeping (run directory, resume, logging,
evaluation cadence) in the order a step runs them; the parts with a concept of their own (schedule,
presence, Purify's meta steps, run state, batching, evaluation) are already their own modules here.
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from pta_core import __version__
from pta_core.checkpoint import (
    Checkpoint,
    inference_state_dict,
    load_checkpoint,
    save_checkpoint,
)
from pta_core.config import Config, activity_window, dump_config, load_config, to_dict
from pta_core.data import PackedDataset, PackedSplit, collate, open_split
from pta_core.data.sequences import leading_frames, sample_groups
from pta_core.io import atomic_write_text, remove_stale_temporaries
from pta_core.metrics import modality_combinations
from pta_core.models.factory import build_model, build_objective
from pta_core.models.objectives import Objective
from pta_core.models.pta import PTAModel
from pta_core.simulator.manifest import training_rig
from pta_core.training.activity_training import train_window_head
from pta_core.training.batching import ModelBatch, concat_batches, model_batch
from pta_core.training.distributed import World, barrier, gather_means, init_distributed, resolve_device
from pta_core.training.evaluate import evaluate_combinations, selection_score
from pta_core.training.presence import PresenceSampler
from pta_core.training.purify import PHI, MetaBatches, MetaUpdater, meta_split, split_meta_val
from pta_core.training.runstate import (
    IntervalMeter,
    JsonlLog,
    check_resumable,
    global_rng_state,
    load_state,
    save_state,
    set_global_rng_state,
)
from pta_core.training.schedule import (
    STREAM_ACTIVITY,
    STREAM_DIFFUSION,
    STREAM_LOADER,
    STREAM_META,
    STREAM_PRESENCE,
    STREAM_UNLABELLED,
    SkipSampler,
    lr_factor,
    stream_seed,
)
from pta_core.training.seeding import seed_everything, worker_init_fn
from pta_core.validation import ValidationRow

log = logging.getLogger(__name__)

MODEL_FILE = "model.pt"


@dataclass
class TrainResult:
    run_dir: Path
    model_path: Path
    steps: int
    score: float  # selection score of model.pt (mean over combinations; MPJPE mm or accuracy)
    validation: list[ValidationRow]


class Trainer:
    """Owns one run: data, objective, optimisers, Purify, logs and checkpoints (see the module docstring)."""

    def __init__(self, cfg: Config, *, resume: bool = False, progress: bool = True):
        self.cfg = cfg
        self.device = resolve_device(cfg.train.device)
        self.world: World = init_distributed(self.device)
        if self.device.type == "cuda" and self.world.distributed:
            self.device = torch.device("cuda", self.world.local_rank)
        self.run_dir = Path(cfg.train.out_dir)
        self.resume = resume
        self._prepare_run_dir()
        seed_everything(cfg.train.seed, cfg.train.deterministic)  # same on every rank: identical init
        self.progress = progress and self.world.is_main
        self.amp = cfg.train.amp and self.device.type == "cuda"
        self._open_data()
        self._build()
        self.metrics = JsonlLog(self.run_dir / "metrics.jsonl", self.world.is_main)
        self.weights_log = JsonlLog(self.run_dir / "purify_weights.jsonl", self.world.is_main)
        self.step = self.epoch = self.step_in_epoch = 0
        self.best_score: float | None = None
        self.best_rows: list[ValidationRow] = []
        self.last_eval_step = -1
        self.meter = IntervalMeter()
        if resume:
            self._load_state()

    # ----------------------------------------------------------------------------------------- setup

    def _prepare_run_dir(self) -> None:
        config_file = self.run_dir / "config.yaml"
        if self.resume:
            if not config_file.is_file():
                raise FileNotFoundError(f"cannot resume: {config_file} does not exist")
            check_resumable(load_config(config_file), self.cfg)
        elif (self.run_dir / "state.pt").exists() or (self.run_dir / MODEL_FILE).exists():
            raise FileExistsError(f"{self.run_dir} already holds a run: pass --resume, or set train.out_dir elsewhere")
        if self.world.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            for stale in remove_stale_temporaries(self.run_dir):  # a kill mid-write left it
                log.info("removed %s, left by an interrupted write", stale.name)
            dump_config(self.cfg, config_file)
        barrier()

    def _open_data(self) -> None:
        cfg = self.cfg
        # Rank 0 packs (if needed) before the others open the cache.
        if self.world.is_main:
            split = open_split(cfg.data, "train", progress=self.progress)
        barrier()
        if not self.world.is_main:
            split = open_split(cfg.data, "train", progress=False)
        self.split: PackedSplit = split
        if cfg.data.dataset == "mmfi" and "pose" in cfg.train.tasks and not split.has_pose:
            raise ValueError("train.tasks includes pose but the training split has no pose")
        self.train_positions, self.meta_positions = split_meta_val(split, cfg.purify)
        if cfg.train.frame_fraction < 1:
            kept = leading_frames(split, self.train_positions, cfg.train.frame_fraction)
            log.info("train.frame_fraction %g: the first %d of %d training frames of each recording",
                     cfg.train.frame_fraction, len(kept), len(self.train_positions))
            self.train_positions = kept
        self.unlabelled_positions = np.empty(0, dtype=np.int64)
        if cfg.train.labelled_fraction < 1:  # train_positions keeps the labelled part
            group = "sequence" if cfg.purify.meta_group == "dataset" else cfg.purify.meta_group
            unlabelled, labelled = meta_split(
                sample_groups(split, group)[self.train_positions], cfg.train.labelled_fraction,
                cfg.purify.meta_seed, key="train.labelled_fraction",
            )
            self.train_positions, self.unlabelled_positions = self.train_positions[labelled], self.train_positions[unlabelled]
        self.train_set = PackedDataset(split, self.train_positions)
        self.meta_set = PackedDataset(split, self.meta_positions)
        log.info(
            "training split: %d samples → %d train, %d meta-val (%s: %s, seed %d)%s",
            len(split), len(self.train_set), len(self.meta_set), "purify.meta_group", cfg.purify.meta_group, cfg.purify.meta_seed,
            f"; {len(self.unlabelled_positions)} more unlabelled (train.labelled_fraction {cfg.train.labelled_fraction})"
            if len(self.unlabelled_positions) else "",
        )

    def _generator(self, seed: int, stream: int, device: torch.device | None = None) -> torch.Generator:
        generator = torch.Generator(device=device or "cpu")
        generator.manual_seed(stream_seed(seed, stream, self.world.rank))
        return generator

    def _build(self) -> None:
        cfg = self.cfg
        self.model = build_model(cfg, len(self.split.activity_classes))
        self._fit_pose_targets()
        self._init_from_singles()
        self.objective: Objective = build_objective(cfg, self.model).to(self.device)
        self.modalities: tuple[str, ...] = tuple(self.model.modalities)
        # Semi-supervised Align: each step also draws a batch of unlabelled frames for the KD terms.
        self.with_unlabelled = self.objective.learns_from_unlabelled and len(self.unlabelled_positions) > 0
        if len(self.unlabelled_positions) and not self.with_unlabelled:
            log.info("%s learns from labels only: the %d unlabelled frames are not used",
                     "PTA without Align" if cfg.train.method == "pta" else cfg.train.method, len(self.unlabelled_positions))
        if cfg.model.freeze_backbones:
            for encoder in _encoders(self.model):
                encoder.requires_grad_(False)
        phi = self._phi()
        params = [p for p in self.objective.parameters() if p.requires_grad and p is not phi]
        optimizer = torch.optim.AdamW if cfg.train.optimizer == "adamw" else torch.optim.Adam
        self.optimizer = optimizer(params, lr=cfg.train.lr, weight_decay=cfg.train.weight_decay)
        self.presence = PresenceSampler.for_model(self.modalities, cfg.train.presence_probs, cfg.train.presence_mode,
            self._generator(cfg.train.seed, STREAM_PRESENCE),
        )
        self.objective.generator = self._generator(cfg.train.seed, STREAM_DIFFUSION, self.device)
        self.loader_generator = self._generator(cfg.train.loader_seed, STREAM_LOADER)
        base = DistributedSampler(
            self.train_set, num_replicas=self.world.size, rank=self.world.rank, shuffle=True,
            seed=cfg.train.loader_seed, drop_last=True,
        )
        self.sampler = SkipSampler(base)
        self.loader = DataLoader(
            self.train_set, batch_size=cfg.train.batch_size, sampler=self.sampler, drop_last=True,
            collate_fn=collate, num_workers=cfg.train.num_workers, generator=self.loader_generator,
            worker_init_fn=worker_init_fn if cfg.train.num_workers else None,
        )
        self.steps_per_epoch = len(base) // cfg.train.batch_size
        if self.steps_per_epoch == 0:
            raise ValueError(
                f"{len(self.train_set)} training samples over {self.world.size} rank(s) make no batch of "
                f"{cfg.train.batch_size}: lower train.batch_size or add data"
            )
        total = self.steps_per_epoch * cfg.train.epochs
        self.total_steps = min(total, cfg.train.max_steps) if cfg.train.max_steps > 0 else total
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: lr_factor(
                cfg.train.lr_schedule, s, self.total_steps, cfg.train.poly_power, cfg.train.warmup_steps
            ),
        )
        self.meta: MetaUpdater | None = None
        if phi is not None:
            meta_sampler = PresenceSampler.for_model(self.modalities, cfg.train.presence_probs, cfg.train.presence_mode,
                self._generator(cfg.purify.meta_seed, STREAM_META),
            )
            batches = MetaBatches(self.meta_set, cfg.purify.meta_batch_size, cfg.purify.meta_seed, self.world)
            self.meta = MetaUpdater(
                self.model, cfg.purify, cfg.train, batches, meta_sampler, self.split.modalities, self.device
            )
        self.trained = self.objective
        if self.world.distributed:
            # Absent modalities leave encoders without gradient, so unused parameters are expected.
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            self.trained = DistributedDataParallel(self.objective, device_ids=device_ids, find_unused_parameters=True)

    def _fit_pose_targets(self) -> None:
        """Fit the pose head(s)' target statistics to the training poses (models/heads.py says why)."""
        if "pose" not in self.cfg.train.tasks or self.split.pose is None or not hasattr(self.model, "fit_pose_targets"):
            return
        pose = np.asarray(self.split.pose[self.train_positions], dtype=np.float64)  # (N, 17, 3) metres
        self.model.fit_pose_targets(torch.from_numpy(pose))

    def _init_from_singles(self) -> None:
        """Start encoders and projectors from single-modality models (``train.init_from``); note the
        parameters that came from them (frozen for ``train.init_frozen_steps``)."""
        self.pretrained: list[torch.nn.Parameter] = []
        self.pretrained_modules: list[torch.nn.Module] = []
        if not self.cfg.train.init_from:
            return
        keys = init_from_singles(self.model, self.cfg, self.cfg.train.init_from, copy=not self.resume)
        if not self.resume:
            own_heads = getattr(self.model, "students", None) is not None and self.cfg.train.init_student_heads == "single"
            parts = "encoders, projectors and own pose heads" if own_heads else "encoders and projectors"
            log.info("%s of %s start from %s", parts, list(keys), list(self.cfg.train.init_from))
            if self.cfg.train.init_head == "best_single":
                source = init_head_from_best_single(self.model, self.cfg.train.init_from)
                log.info("the pose head starts from %s (the best single network on meta-val)", source)
        copied = {key for names in keys.values() for key in names}
        self.pretrained = [p for name, p in self.model.named_parameters() if name in copied]
        modules = dict(self.model.named_modules())
        owners = sorted({".".join(key.split(".")[:2]) for key in copied})  # "encoders.lidar", "projectors.lidar"
        self.pretrained_modules = [modules[name] for name in owners if name in modules]  # eval mode while frozen
        if self.cfg.train.init_frozen_steps:
            log.info("the loaded parts stay frozen for the first %d steps (LP-FT)", self.cfg.train.init_frozen_steps)

    def _phi(self) -> torch.nn.Parameter | None:
        """Purify's φ when it is learned (PTA with purify.enabled)."""
        if isinstance(self.model, PTAModel) and self.cfg.train.method == "pta" and self.cfg.purify.enabled:
            return dict(self.model.named_parameters())[PHI]
        return None

    # ------------------------------------------------------------------------------------- state

    def _rank_rng(self) -> dict[str, Any]:
        state = {
            "global": global_rng_state(),
            "presence": self.presence.generator.get_state(),
            "diffusion": self.objective.generator.get_state(),
            "loader": self.loader_generator.get_state(),
        }
        if self.meta is not None:
            state["meta_presence"] = self.meta.sampler.generator.get_state()
        return state

    def _save_state(self) -> None:
        rng = [self._rank_rng()]
        if self.world.distributed:
            rng = [None] * self.world.size
            torch.distributed.all_gather_object(rng, self._rank_rng())
        if self.world.is_main:
            save_state(self.run_dir, {
                "config": to_dict(self.cfg),
                "position": {"step": self.step, "epoch": self.epoch, "step_in_epoch": self.step_in_epoch},
                "objective": self.objective.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "meta": self.meta.state_dict() if self.meta is not None else None,
                "best_score": self.best_score,
                "meter": self.meter.state_dict(),
                "world_size": self.world.size,
                "rng": rng,
            })
        barrier()

    def _load_state(self) -> None:
        state = load_state(self.run_dir)
        if state["world_size"] != self.world.size:
            raise ValueError(f"the run was saved with {state['world_size']} process(es); resume with the same number")
        self.objective.load_state_dict(state["objective"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if self.meta is not None:
            self.meta.load_state_dict(state["meta"])
        position = state["position"]
        self.step, self.epoch, self.step_in_epoch = position["step"], position["epoch"], position["step_in_epoch"]
        self.best_score = state["best_score"]
        self.meter.load_state_dict(state["meter"])
        rng = state["rng"][self.world.rank]
        set_global_rng_state(rng["global"])
        self.presence.generator.set_state(rng["presence"])
        self.objective.generator.set_state(rng["diffusion"])
        self.loader_generator.set_state(rng["loader"])
        if self.meta is not None:
            self.meta.sampler.generator.set_state(rng["meta_presence"])
        self.metrics.truncate_after(self.step)
        self.weights_log.truncate_after(self.step)
        log.info("resumed %s at step %d (epoch %d, step %d in epoch)", self.run_dir, self.step, self.epoch, self.step_in_epoch)

    # -------------------------------------------------------------------------------------- loop

    def _autocast(self):
        return torch.autocast("cuda", dtype=torch.bfloat16) if self.amp else contextlib.nullcontext()

    def _train_step(self, batch: ModelBatch) -> tuple[dict[str, float], ModelBatch, torch.Tensor] | None:
        """One optimiser step. Returns loss terms, the batch and its sampled presence (for lookahead)."""
        if self.objective.uses_presence_sampling:
            present, keep = self.presence.apply(batch.present)
        else:
            present, keep = batch.present, batch.present.any(dim=1)
        if not bool(keep.all()):
            log.debug("dropped %d samples without any modality data", int((~keep).sum()))
        batch, present = batch.rows(keep), present[keep]
        batch = batch.to(self.device)
        present = present.to(self.device)
        available = batch.present.to(self.device)
        self.objective.train()
        probing = self.step < self.cfg.train.init_frozen_steps  # LP-FT's first phase
        if self.cfg.model.freeze_backbones:
            for encoder in _encoders(self.model):
                encoder.eval()
        if probing:
            for module in self.pretrained_modules:
                module.eval()
        with self._autocast():
            output = self.trained(batch.inputs, present, batch.targets, available)
        self.optimizer.zero_grad(set_to_none=True)
        self.objective.zero_grad(set_to_none=True)  # also φ, which only the meta step updates
        output.total.backward()
        if probing:
            for param in self.pretrained:
                param.grad = None  # the optimiser skips them: no update, no moment, no weight decay
        if self.cfg.train.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.objective.parameters(), self.cfg.train.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        if not torch.isfinite(output.total.detach()):
            raise FloatingPointError(f"non-finite training loss at step {self.step + 1}: {float(output.total)}")
        terms = {"loss": float(output.total.detach()), **{k: float(v) for k, v in output.terms.items()}}
        if batch.targets.labelled is not None:  # the lookahead meta step reads labels: the labelled rows
            keep = batch.targets.labelled
            batch, present = batch.rows(keep), present[keep]
        return terms, batch, present

    def _unlabelled_batch(self, size: int) -> ModelBatch:
        """This step's unlabelled frames (``train.labelled_fraction``): drawn from a generator seeded by
        the step, so a resumed run draws the same ones without saving a sampler's state."""
        rng = np.random.default_rng([stream_seed(self.cfg.train.loader_seed, STREAM_UNLABELLED, self.world.rank), self.step])
        rows = np.sort(rng.choice(self.unlabelled_positions, size=min(size, len(self.unlabelled_positions)), replace=False))
        return model_batch(collate(self.split.gather(rows)), self.split.modalities, self.modalities).unlabelled()

    def _meta_step(self, batch: ModelBatch | None, present: torch.Tensor | None) -> None:
        if self.meta is None or self.meta.cfg.meta_lr == 0:
            return
        if self.meta.cfg.mode == "lookahead" and batch is None:
            log.warning("step %d: no training batch for the lookahead meta step (resumed at an epoch end); skipped", self.step)
            return
        result = self.meta.step(batch, present)
        if self.meta.steps % max(self.cfg.purify.log_every, 1) == 0:
            self.weights_log.write({"step": self.step, "epoch": self.epoch, "meta_step": self.meta.steps,
                                    "weights": self.model.weights.as_dict(), **result})

    def _evaluate(self, window: int = 0) -> list[ValidationRow]:
        return evaluate_combinations(
            self.model, self.meta_set, modalities=self.modalities,
            combinations=modality_combinations(self.modalities), batch_size=self.cfg.train.eval_batch_size,
            window=window, device=self.device, world=self.world, amp=self.amp, progress=False,
        )

    def _train_activity(self) -> None:
        """Stage 2 (pta_core.training.activity_training): the window head, on the selected network's frozen
        embeddings; then model.pt is written again with the activity column of the validation table.

        Every rank runs the same seeded stage (rank 0's stream), so all keep identical weights.
        """
        window = activity_window(self.cfg)
        if window == 0 or not hasattr(self.model, "task"):
            return
        model_path = self.run_dir / MODEL_FILE
        barrier()
        if self.cfg.train.selection == "best" and model_path.exists():
            self.model.load_state_dict(load_checkpoint(model_path).state_dict, strict=False)
        generator = torch.Generator().manual_seed(stream_seed(self.cfg.train.seed, STREAM_ACTIVITY, 0))
        stats = train_window_head(self.model, self.cfg, self.split, self.train_positions, device=self.device,
                                  generator=generator, progress=self.progress and sys.stderr.isatty())
        rows = self._evaluate(window)
        metric, _ = selection_metric(self.cfg)
        score = selection_score(rows, metric)
        self.metrics.write({"step": self.step, "epoch": self.epoch, "event": "activity", **stats,
                            "rows": [r.to_dict() for r in rows]})
        log.info("activity head: meta-val accuracy %.3f over the combinations (%d training windows)",
                 selection_score(rows, "accuracy"), stats["windows"])
        self.best_score, self.best_rows = score, rows
        self._export(rows, score)

    def _select(self, final: bool) -> None:
        """Evaluate on meta-val; write model.pt if this is the best (or, with selection=last, the final) model."""
        if self.last_eval_step == self.step and not (final and self.cfg.train.selection == "last"):
            return
        self.last_eval_step = self.step
        rows = self._evaluate()
        metric, lower = selection_metric(self.cfg)
        score = selection_score(rows, metric)
        self.metrics.write({"step": self.step, "epoch": self.epoch, "event": "eval", "score": score, "metric": metric,
                            "rows": [r.to_dict() for r in rows]})
        improved = self.best_score is None or (score < self.best_score if lower else score > self.best_score)
        best = self.cfg.train.selection == "best" and improved and math.isfinite(score)
        if best or (self.cfg.train.selection == "last" and final):
            self.best_score, self.best_rows = score, rows
            self._export(rows, score)
        log.info("step %d: meta-val %s %.4f (best %.4f)", self.step, metric, score, self.best_score or float("nan"))

    def _export(self, rows: list[ValidationRow], score: float) -> None:
        if not self.world.is_main:
            return
        checkpoint = Checkpoint(
            config=self.cfg,
            state_dict=inference_state_dict(self.model),
            activity_classes=self.split.activity_classes,
            modality_weights=self.model.weights.as_dict() if isinstance(self.model, PTAModel) else {},
            validation=rows,
            metadata={"step": self.step, "epoch": self.epoch, "selection_score": score,
                      "validation_split": "meta_val", "meta_val_samples": len(self.meta_set),
                      "train_samples": len(self.train_set), "data_cache": str(self.split.path),
                      # The rig the data was recorded with (the node's frames, pta_ros.frames) and the
                      # frame the robot's rig YAML or tf2 tree must reach; [] where the tree has no rig file.
                      "rig": training_rig(Path(self.cfg.data.root)), "reference_frame": "sensor_rig"},
        )
        save_checkpoint(self.run_dir / MODEL_FILE, checkpoint)

    def _write_run_info(self) -> None:
        if not self.world.is_main:
            return
        info = {
            "pta_ros": __version__, "torch": torch.__version__, "python": platform.python_version(),
            "numpy": np.__version__, "host": platform.node(), "argv": sys.argv, "device": str(self.device),
            "world_size": self.world.size, "threads": torch.get_num_threads(), "amp": self.amp,
            "steps_per_epoch": self.steps_per_epoch, "total_steps": self.total_steps,
            "train_samples": len(self.train_set), "meta_val_samples": len(self.meta_set),
            "unlabelled_samples": len(self.unlabelled_positions), "unlabelled_used": self.with_unlabelled,
            "data_cache": str(self.split.path), "resumed_at_step": self.step if self.resume else None,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        name = "run_info.json" if not self.resume else f"run_info.resume{self.step}.json"
        atomic_write_text(self.run_dir / name, json.dumps(info, indent=2) + "\n")

    def _due(self, every: int) -> bool:
        return every > 0 and self.step % every == 0

    def _log_interval(self, meter: IntervalMeter, bar: tqdm) -> None:
        """One metrics.jsonl line: means over the interval and all ranks, global samples/s."""
        means = gather_means(meter.sums)
        rate = gather_means({"rate": (meter.rate(), 1.0)})["rate"] * self.world.size
        self.metrics.write({"step": self.step, "epoch": self.epoch, "lr": self.scheduler.get_last_lr()[0],
                            "samples_per_s": rate, **means})
        bar.set_postfix(loss=f"{means.get('loss', float('nan')):.4f}")
        meter.reset()

    def _end_of_epoch(self, last: tuple[ModelBatch, torch.Tensor] | None) -> None:
        if self.cfg.purify.meta_every == 0:
            self._meta_step(*(last or (None, None)))
        if self.cfg.train.eval_every == 0:
            self._select(final=False)
        self.epoch += 1
        self.step_in_epoch = 0

    def run(self) -> TrainResult:
        """The loop; see the numbered steps. Returns where model.pt is and its selection score."""
        cfg = self.cfg.train
        self._write_run_info()
        if self.step == 0 and self.meta is not None:
            self.weights_log.write({"step": 0, "epoch": 0, "meta_step": 0, "weights": self.model.weights.as_dict()})
        bar = tqdm(total=self.total_steps, initial=self.step, desc="train", unit="step",
                   disable=not (self.progress and sys.stderr.isatty()), dynamic_ncols=True)
        meter = self.meter
        last: tuple[ModelBatch, torch.Tensor] | None = None
        try:
            while self.step < self.total_steps:
                # 1. Continue the epoch where it was left (only a resumed run starts mid-epoch).
                self.sampler.set_position(self.epoch, self.step_in_epoch * cfg.batch_size)
                for raw in self.loader:
                    # 2. One optimiser step, then what falls due after it: log, meta step, evaluation, state.
                    batch = model_batch(raw, self.split.modalities, self.modalities)
                    if self.with_unlabelled:
                        batch = concat_batches(batch, self._unlabelled_batch(len(batch)))
                    terms, batch, present = self._train_step(batch)
                    last = (batch, present)
                    self.step += 1
                    self.step_in_epoch += 1
                    bar.update(1)
                    meter.add(terms, len(batch))
                    if self._due(cfg.log_every) or self.step == self.total_steps:
                        self._log_interval(meter, bar)
                    if self._due(self.cfg.purify.meta_every):
                        self._meta_step(batch, present)
                    if self._due(cfg.eval_every):
                        self._select(final=False)
                    if self.step >= self.total_steps:
                        break
                    if self._due(cfg.checkpoint_every):
                        self._save_state()
                else:
                    # 3. The epoch ran to its end: per-epoch meta step and evaluation.
                    self._end_of_epoch(last)
            # 4. The final evaluation (export with selection=last), the window head, resumable state.
            self._select(final=True)
            self._train_activity()
            self._save_state()
        finally:
            bar.close()
        model_path = self.run_dir / MODEL_FILE
        if self.world.is_main and not model_path.exists():
            raise RuntimeError(f"no model was exported to {model_path} (every meta-val score was NaN?)")
        score = math.nan if self.best_score is None else float(self.best_score)
        return TrainResult(self.run_dir, model_path, self.step, score, self.best_rows)


def init_from_singles(model: torch.nn.Module, cfg: Config, paths: tuple[str, ...], *, copy: bool = True) -> dict[str, list[str]]:
    """Copy ``encoders.<m>`` (and ``projectors.<m>`` where their layout matches) of single-modality
    model files into ``model``, and with ``model.student_heads`` their heads into ``students.<m>``
    (all but a windowed activity head, which the activity stage trains from its initialisation).

    Each file must be a ``method=single`` model of a modality ``model`` has, with the same encoder
    width and preprocessing (so the encoder layers match). Returns, per modality loaded, the state
    keys that came from its file; ``copy=False`` only returns them (a resumed run has its weights).

    Raises:
        ValueError: a file that does not fit, or two files for one modality.
    """
    loaded: dict[str, list[str]] = {}
    state = model.state_dict()
    for path in paths:
        single = load_checkpoint(path)
        name = single.config.train.single_modality
        if single.config.train.method != "single" or name not in getattr(model, "modalities", ()):
            raise ValueError(f"train.init_from: {path} is not a single-modality model of one of {list(model.modalities)}")
        if name in loaded:
            raise ValueError(f"train.init_from: two models for {name!r}")
        if single.config.model.encoder_width != cfg.model.encoder_width or single.config.data.preprocess != cfg.data.preprocess:
            raise ValueError(f"train.init_from: {path} has another model.encoder_width or data.preprocess than this run")
        prefixes = [f"encoders.{name}."]
        projector = ("tokens", "dim", "projector", "feature_norm")
        if all(getattr(single.config.model, k) == getattr(cfg.model, k) for k in projector):
            prefixes.append(f"projectors.{name}.")
        source = {key: key for key in single.state_dict if key.startswith(tuple(prefixes))}
        mismatched = [key for key in source if key not in state or state[key].shape != single.state_dict[key].shape]
        if not source or mismatched:
            raise ValueError(f"train.init_from: {path}'s encoder does not fit this network ({mismatched[:3]})")
        if getattr(model, "students", None) is not None:
            # train.init_student_heads "single": the modality's own heads start as its single network's,
            # but a window head: the activity stage fits it to this network's frozen embeddings, and one
            # already fitted to the single network's starts that stage overfitted (docs/RESULTS.md)
            fresh = ("task.",) if cfg.train.init_student_heads == "fresh" else (
                ("task.activity_head.",) if model.students[name].windowed else ())
            heads = {f"students.{name}.{key[len('task.'):]}": key for key in single.state_dict
                     if key.startswith("task.") and not key.startswith(fresh)
                     and f"students.{name}.{key[len('task.'):]}" in state}
            mismatched = [key for key, old in heads.items() if state[key].shape != single.state_dict[old].shape]
            if (not heads and cfg.train.init_student_heads == "single") or mismatched:
                raise ValueError(f"train.init_from: {path}'s heads do not fit this network's {name} heads ({mismatched[:3]})")
            source.update(heads)
        loaded[name] = list(source)
        state.update({key: single.state_dict[old] for key, old in source.items()})
    if copy:
        model.load_state_dict(state)
    return loaded


def init_head_from_best_single(model: torch.nn.Module, paths: tuple[str, ...]) -> str:
    """Copy the pose head (``task.pose_head.*``) of the single-modality model file with the lowest
    meta-val MPJPE into ``model``; returns its path."""
    scored = []
    for path in paths:
        rows = [r for r in load_checkpoint(path).validation if r.mpjpe_mm is not None]
        if rows:
            scored.append((rows[0].mpjpe_mm, path))
    if not scored:
        raise ValueError("train.init_head best_single: no train.init_from model has a meta-val MPJPE")
    best = min(scored)[1]
    state = model.state_dict()
    head = {k: v for k, v in load_checkpoint(best).state_dict.items() if k.startswith("task.pose_head.")}
    mismatched = [k for k, v in head.items() if k not in state or state[k].shape != v.shape]
    if not head or mismatched:
        raise ValueError(f"train.init_head best_single: {best}'s pose head does not fit this network ({mismatched[:3]})")
    model.load_state_dict({**state, **head})
    return best


def _encoders(model: torch.nn.Module) -> list[torch.nn.Module]:
    return [m.encoders for m in model.modules() if hasattr(m, "encoders") and isinstance(m.encoders, torch.nn.ModuleDict)]


def selection_metric(cfg: Config) -> tuple[str, bool]:
    return ("mpjpe_mm", True) if "pose" in cfg.train.tasks else ("accuracy", False)


def train(cfg: Config, *, resume: bool = False, progress: bool = True) -> TrainResult:
    """Train (or resume) the run ``cfg`` describes; returns where model.pt is and its selection score."""
    return Trainer(cfg, resume=resume, progress=progress).run()

