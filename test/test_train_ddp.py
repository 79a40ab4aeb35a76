"""DistributedDataParallel: a real 2-process run on the gloo backend (CPU) through the trainer."""
from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.multiprocessing as mp
from train_helpers import tiny_overrides, write_tiny_mmfi

from pta_core.checkpoint import load_checkpoint
from pta_core.config import activity_window
from pta_core.data import PackedDataset, open_split
from pta_core.training.evaluate import evaluate_combinations
from pta_core.training.purify import split_meta_val
from pta_core.training.runstate import read_jsonl


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rank_main(rank: int, world: int, port: int, overrides: list[str], out_dir: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from pta_core.config import load_config
    from pta_core.training import distributed
    from pta_core.training.train import Trainer

    try:
        trainer = Trainer(load_config(None, overrides), progress=False)
        trainer.run()
        params = {k: v.detach().clone() for k, v in trainer.objective.named_parameters()}
        seen = trainer.sampler.base.num_samples
        torch.save({"params": params, "per_rank_samples": seen, "world": trainer.world.size,
                    "batch": trainer.cfg.train.batch_size}, f"{out_dir}/rank{rank}.pt")
    finally:
        distributed.cleanup()


@pytest.mark.slow
def test_two_process_gloo_run_keeps_ranks_in_sync(tmp_path):
    write_tiny_mmfi(tmp_path / "tree")
    out = tmp_path / "run"
    overrides = tiny_overrides(tmp_path / "tree", tmp_path / "cache", out,
                               "train.max_steps=3", "purify.meta_every=2", "train.eval_every=2", "train.batch_size=4")
    mp.start_processes(_rank_main, args=(2, _free_port(), overrides, str(tmp_path)), nprocs=2, join=True,
                       start_method="spawn")
    a, b = torch.load(tmp_path / "rank0.pt"), torch.load(tmp_path / "rank1.pt")
    assert a["world"] == b["world"] == 2
    # Each rank sees its own half of the data (DistributedSampler), yet the weights stay identical:
    # DDP all-reduces the gradients; the meta step all-reduces φ's gradient.
    assert a["per_rank_samples"] == b["per_rank_samples"] == 20  # 40 meta-train samples (S01, S02) / 2 ranks
    for key, value in a["params"].items():
        torch.testing.assert_close(b["params"][key], value, msg=key)
    phi = a["params"]["model.weights.logits"]
    assert not torch.allclose(phi, torch.ones_like(phi))  # φ did move (one meta step at step 2)
    # Rank 0 alone wrote the run's files; metrics are all-reduced over the ranks.
    checkpoint = load_checkpoint(out / "model.pt")
    assert len(checkpoint.validation) == 31 and all(r.samples == 20 for r in checkpoint.validation)  # S03
    # The all-reduced table (standard errors too) is what one process measures on the whole meta-val part.
    cfg = checkpoint.config
    split = open_split(cfg.data, "train", progress=False)
    _, meta = split_meta_val(split, cfg.purify)
    alone = evaluate_combinations(checkpoint.build(), PackedDataset(split, meta), modalities=checkpoint.modalities,
                                  combinations=[r.modalities for r in checkpoint.validation],
                                  window=activity_window(cfg))
    for shared, single in zip(checkpoint.validation, alone):
        assert shared.mpjpe_se_mm is not None and shared.accuracy_se is not None
        for column in ("mpjpe_mm", "mpjpe_se_mm", "accuracy", "accuracy_se"):
            assert getattr(shared, column) == pytest.approx(getattr(single, column), rel=1e-4, abs=1e-6), column
    lines = [r for r in read_jsonl(out / "metrics.jsonl") if "loss" in r]
    assert [r["step"] for r in lines] == [1, 2, 3]
    info = (out / "run_info.json").read_text()
    assert '"world_size": 2' in info
