"""Tiny MM-Fi trees and tiny-model overrides for the training and evaluation tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from data_trees import write_mmfi_tree

MODALITIES = ("rgb", "depth", "mmwave", "lidar", "wifi-csi")
TINY_MODEL = [
    "model.dim=32",
    "model.tokens=4",
    "model.encoder_width=8",
    "model.fusion_heads=4",
    "model.fusion_depth=1",
    "data.preprocess.depth_size=[24,32]",
    "data.preprocess.lidar_points=32",
    "data.preprocess.mmwave_points=16",
]


def write_tiny_mmfi(root: Path, frames: int = 10) -> Path:
    """4 subjects × 2 actions × ``frames`` frames, every MM-Fi modality the model uses."""
    return write_mmfi_tree(root, ["S01", "S02", "S03", "S04"], ["A01", "A02"], frames=frames, modalities=MODALITIES)


def tiny_overrides(tree: Path, cache: Path, out: Path, *extra: str) -> list[str]:
    """A manual split (S01–S03 train, S04 test), tiny model, small batches."""
    return [
        *TINY_MODEL,
        f"data.root={tree}",
        f"data.cache_dir={cache}",
        "data.split=manual_split",
        "data.train_subjects=[S01,S02,S03]",
        "data.val_subjects=[S04]",
        "data.train_actions=[A01,A02]",
        "data.val_actions=[A01,A02]",
        f"train.out_dir={out}",
        "train.batch_size=8",
        "train.eval_batch_size=32",
        "train.log_every=1",
        *extra,
    ]


def random_inputs(model, preprocess, batch: int, generator: torch.Generator | None = None):
    """Random model inputs in the batch format for ``model.modalities``."""
    from pta_core.modalities import get_modality

    inputs = {}
    for name in model.modalities:
        fields = {}
        for key, spec in get_modality(name).input_fields(preprocess).items():
            if spec.dtype is np.bool_:
                fields[key] = torch.ones(batch, *spec.shape, dtype=torch.bool)
            else:
                fields[key] = torch.rand(batch, *spec.shape, generator=generator)
        inputs[name] = fields
    return inputs


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: one intra-op thread is faster, and far faster when the cores are shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
