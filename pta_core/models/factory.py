"""What each training method is: its network and its training objective, in one table.

Every network's forward is the inference interface ``(inputs, present) -> ModelOutput``. The
method names are ``config.Method``'s; :data:`TABLE` must cover exactly those.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from torch import nn

from pta_core.config import METHODS, Config
from pta_core.models.baselines import LateFusionModel, XFiModel
from pta_core.models.objectives import (
    LateFusionObjective,
    Objective,
    PTAObjective,
    SingleObjective,
    SupervisedObjective,
)
from pta_core.models.pta import PTAModel
from pta_core.skeleton import dataset_joint_set


def model_modalities(cfg: Config) -> tuple[str, ...]:
    """The modalities the network of ``cfg`` consumes."""
    if cfg.train.method == "single":
        if cfg.train.single_modality not in cfg.data.modalities:
            raise ValueError(
                f"train.single_modality {cfg.train.single_modality!r} must be one of data.modalities {cfg.data.modalities}"
            )
        return (cfg.train.single_modality,)
    return tuple(cfg.data.modalities)


def _pta(modalities, cfg: Config, common: dict) -> nn.Module:
    return PTAModel(modalities, purify_cfg=cfg.purify, **common)


def _single(modalities, cfg: Config, common: dict) -> nn.Module:
    return PTAModel(modalities, purify_cfg=replace(cfg.purify, enabled=False), **common)


# method → (network builder, objective builder)
TABLE: dict[str, tuple[Callable[..., nn.Module], Callable[[nn.Module, Config], Objective]]] = {
    "pta": (_pta, lambda model, cfg: PTAObjective(model, cfg)),
    "single": (_single, lambda model, cfg: SingleObjective(model, cfg.train)),
    "late_fusion": (lambda modalities, cfg, common: LateFusionModel(modalities, **common),
                    lambda model, cfg: LateFusionObjective(model, cfg.train)),
    "xfi": (lambda modalities, cfg, common: XFiModel(modalities, **common),
            lambda model, cfg: SupervisedObjective(model, cfg.train)),
}
if set(TABLE) != set(METHODS):  # a method added to config.Method without its entry here
    raise RuntimeError(f"models/factory.py TABLE covers {sorted(TABLE)}, config.Method names {sorted(METHODS)}")


def _entry(method: str):
    try:
        return TABLE[method]
    except KeyError:
        raise ValueError(f"unknown train.method {method!r}; known: {', '.join(METHODS)}") from None


def build_model(cfg: Config, num_classes: int) -> nn.Module:
    """The network for ``cfg.train.method``."""
    common = dict(
        model_cfg=cfg.model, preprocess_cfg=cfg.data.preprocess, activity_cfg=cfg.activity, tasks=cfg.train.tasks,
        num_classes=num_classes, num_joints=len(dataset_joint_set(cfg.data.dataset)),
    )
    return _entry(cfg.train.method)[0](model_modalities(cfg), cfg, common)


def build_objective(cfg: Config, model: nn.Module) -> Objective:
    """The training objective of ``cfg.train.method`` around ``model`` (from :func:`build_model`)."""
    return _entry(cfg.train.method)[1](model, cfg)
