"""Builds the network a training method uses, from the resolved config (used by training and loading).

Every network's forward is the inference interface ``(inputs, present) -> ModelOutput``.
"""
from __future__ import annotations

from dataclasses import replace

from torch import nn

from pta_core.config import Config
from pta_core.models.baselines import LateFusionModel, XFiModel
from pta_core.models.pta import PTAModel

METHODS = ("pta", "single", "late_fusion", "xfi")


def model_modalities(cfg: Config) -> tuple[str, ...]:
    """The modalities the network of ``cfg`` consumes."""
    if cfg.train.method == "single":
        if cfg.train.single_modality not in cfg.data.modalities:
            raise ValueError(
                f"train.single_modality {cfg.train.single_modality!r} must be one of data.modalities {cfg.data.modalities}"
            )
        return (cfg.train.single_modality,)
    return tuple(cfg.data.modalities)


def build_model(cfg: Config, num_classes: int) -> nn.Module:
    """The network for ``cfg.train.method``."""
    modalities = model_modalities(cfg)
    method = cfg.train.method
    common = dict(
        model_cfg=cfg.model, preprocess_cfg=cfg.data.preprocess, activity_cfg=cfg.activity, tasks=cfg.train.tasks,
        num_classes=num_classes,
    )
    if method in ("pta", "single"):
        purify = cfg.purify if method == "pta" else replace(cfg.purify, enabled=False)
        return PTAModel(modalities, purify_cfg=purify, **common)
    if method == "late_fusion":
        return LateFusionModel(modalities, **common)
    if method == "xfi":
        return XFiModel(modalities, **common)
    raise ValueError(f"unknown train.method {method!r}; known: {', '.join(METHODS)}")
