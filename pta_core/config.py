"""Typed configuration: frozen dataclasses loaded from YAML (``safe_load``).

Unknown keys and wrong types are rejected with the dotted path of the offending key. Command-line
overrides use dotted keys (``--set train.lr=5e-4``); their values are parsed as YAML scalars.
Defaults are the project's recipe (``docs/method.md`` §13); the reference code's settings are flags (§12).

Why a hand-written loader (``from_dict`` / ``_convert``, about 110 lines) and not a library: the
configs use ``Literal`` choices and fixed-length tuples throughout (and a few ``X | None``). OmegaConf's
structured configs, the usual choice, support Literal and tuples only from 2.4 (a release
candidate in late 2026; 2.3 has neither), and pydantic would be a large dependency for what is
field-by-field type checking with the dotted path in the error. Revisit when OmegaConf 2.4 is final.

Why one module over 400 lines: the schema is one tree (data, model, Purify, Align, train, activity)
and its loader; split, a reader would have to assemble the tree from several files.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

CONFIG_VERSION = 1


class ConfigError(ValueError):
    """A configuration file or override that does not match the schema."""


# ---------------------------------------------------------------------------------------------
# Schema


Method = Literal["pta", "single", "late_fusion", "xfi"]  # training methods: pta_core/models/factory.py builds each
METHODS: tuple[str, ...] = typing.get_args(Method)


@dataclass(frozen=True)
class PreprocessConfig:
    """Parameters of the one preprocessing path shared by training and the ROS node.

    Recorded in every checkpoint so that serving uses exactly what training used.
    """

    image_width: int = 640  # keypoint pixel coordinates are normalised by the camera image size
    image_height: int = 480
    # The cameras the model was trained with (pinhole fx, fy, cx, cy in pixels): the keypoint camera at
    # image_width × image_height, the depth camera at depth_resolution (rows, cols). A robot's camera
    # with other intrinsics (its camera_info) is brought to these by the node (pta_ros.intrinsics).
    # Defaults: the synthetic MM-Fi rig's RealSense-like cameras (pta_core/simulator/rig.py).
    rgb_intrinsics: tuple[float, float, float, float] = (460.0, 460.0, 319.5, 239.5)
    depth_resolution: tuple[int, int] = (480, 640)
    # Depth as a model sees it (modalities/depth.py): "image", the map area-resized to depth_size (the
    # layout X-Fi's pretrained encoders take), or "points", the map back-projected through the camera
    # intrinsics into a 3-D cloud inside a fixed region of interest, encoded like a LiDAR cloud.
    depth_mode: Literal["image", "points"] = "image"
    # A fixed region of interest of the depth map (top, left, height, width) in pixels, cut first:
    # the area where people are, as a deployed camera is set up. (0, 0, 0, 0): the whole map.
    depth_crop: tuple[int, int, int, int] = (0, 0, 0, 0)
    depth_size: tuple[int, int] = (96, 128)  # image: (rows, cols) after area resize of the (cropped) map
    depth_intrinsics: tuple[float, float, float, float] = (420.0, 420.0, 319.5, 239.5)  # fx, fy, cx, cy (px)
    depth_stride: int = 4  # points: back-project every stride-th pixel of every stride-th row
    # points: region of interest in the camera's optical frame (x right, y down, z forward), metres:
    # x_min, x_max, y_min, y_max, z_min, z_max. The default keeps everything up to depth_max_m.
    depth_roi: tuple[float, float, float, float, float, float] = (-1e3, 1e3, -1e3, 1e3, 0.0, 1e3)
    depth_points: int = 256  # points: the cloud is sampled or padded to this many points (+ mask)
    depth_scale: float = 0.001  # uint16 depth units → metres (MM-Fi stores millimetres)
    depth_max_m: float = 6.0  # depth beyond this is clipped; the image is scaled to [0, 1] by it
    mmwave_points: int = 64  # radar clouds are sampled or padded to this many points (+ validity mask)
    # Radar values a model reads after x, y, z: Doppler "velocity" (m/s) and "intensity" (dB, as TI's
    # ROS driver publishes it), each, both or neither (a radar driver that publishes no Doppler, as
    # ti_mmwave_rospkg's radar_scan_pcl, is served by a model without it). Standardised as
    # (value - offset) / scale with (velocity, intensity) pairs: `pta stats` measures them on a training
    # split; (0, 0) and (1, 1) leave them as they are (the MM-Fi benchmark models).
    mmwave_features: tuple[str, ...] = ("velocity", "intensity")
    mmwave_offset: tuple[float, float] = (0.0, 0.0)
    mmwave_scale: tuple[float, float] = (1.0, 1.0)
    lidar_points: int = 256
    max_input_points: int = 100_000  # bound on work per cloud: larger clouds are rejected, not processed
    # Wi-Fi CSI amplitude standardisation, in the files' units (the synthetic generator writes dB):
    # csi = (amplitude - csi_offset) / csi_scale. `pta stats` measures both on a training split.
    # The NIC's CSI layout the model reads: antennas × subcarriers × packets per frame (MM-Fi's Atheros
    # pair: 3 × 114 × 10; an Intel 5300 gives 30 subcarriers, an ESP32 64). A dataset of another NIC is
    # trained by setting it; the node rejects another shape, naming both.
    csi_shape: tuple[int, int, int] = (3, 114, 10)
    csi_offset: float = 30.0
    csi_scale: float = 6.0


@dataclass(frozen=True)
class DataConfig:
    dataset: Literal["mmfi", "xrf55", "mars", "radhar"] = "mmfi"
    root: str = "data/mmfi"
    cache_dir: str = "cache"
    modalities: tuple[str, ...] = ("rgb", "depth", "mmwave", "lidar", "wifi-csi")
    # MM-Fi protocol and split (docs/datasets.md §1.6-1.7). MARS: time_split (the paper's) or
    # cross_subject_split with val_subjects the held-out subjects (e.g. [subject1]).
    protocol: Literal["protocol1", "protocol2", "protocol3"] = "protocol3"
    split: Literal["random_split", "cross_subject_split", "cross_scene_split", "manual_split", "time_split"] = "random_split"
    split_ratio: float = 0.8
    split_seed: int = 0
    train_subjects: tuple[str, ...] = ()  # manual_split only
    train_actions: tuple[str, ...] = ()
    val_subjects: tuple[str, ...] = ()
    val_actions: tuple[str, ...] = ()
    # XRF55 (docs/datasets.md §2.4).
    scenes: tuple[str, ...] = ("Scene1",)
    train_repetitions: int = 14  # repetitions 1..N train, the rest test
    lenient: bool = False  # skip and count corrupt files instead of raising
    frame_period: float = 0.1  # s between consecutive frames of a sequence (MM-Fi: 10 Hz); windows use it
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)


@dataclass(frozen=True)
class ModelConfig:
    tokens: int = 32  # L: tokens per modality after the projector
    dim: int = 512  # D: channels per token
    encoder_width: int = 64  # base width of the from-scratch encoders
    freeze_backbones: bool = False  # true: encoders get no gradient and stay in eval mode
    # Layer layouts (models/heads.py, models/projector.py): the defaults fit far better than the
    # reference code's, which stays available as head=mean_ln, projector=bn_relu.
    head: Literal["mlp", "flatten", "mean_ln"] = "mlp"
    head_hidden: int = 256  # head=mlp: width of the hidden layer (the per-frame embedding)
    projector: Literal["linear", "bn_relu"] = "linear"
    feature_norm: bool = True  # standardise each modality's projected tokens before fusion (models/projector.py)
    dropout: float = 0.0  # head=mlp: dropout on the hidden layer (training only)
    # PTA with two or more modalities: true gives each modality its own task heads, which read it
    # whenever it is the only one present (started from its single network's heads with
    # train.init_from); the shared heads then read fused sets only (docs/method.md §8).
    student_heads: bool = False
    # With student heads, how a fused set (two or more modalities) is read: "features" = the shared
    # heads on Σ w̃ F_m; "students" = the Purify-weighted average of the present students' poses,
    # plus a correction the shared pose head reads from Σ w̃ F_m (starting at zero), so a fused set
    # starts from its students' late fusion and Purify's meta step learns those weights (docs/method.md §8).
    fused_readout: Literal["features", "students"] = "features"
    # X-Fi baseline (method=xfi, docs/method.md §11): X-Fusion blocks and attention heads.
    fusion_depth: int = 4
    fusion_heads: int = 8


@dataclass(frozen=True)
class PurifyConfig:
    """Meta-learned modality weights (docs/method.md §3.3, §5)."""

    enabled: bool = True  # false: uniform weights (the "PTA without Purify" ablation)
    mode: Literal["alternating", "lookahead"] = "alternating"
    phi_init: Literal["ones", "uniform"] = "ones"
    renorm_present: bool = True
    meta_lr: float = 1e-2
    meta_weight_decay: float = 0.0
    meta_every: int = 0  # 0: once per epoch, after the epoch; N: every N training steps
    meta_batches: int = 0  # meta-val batches per meta step; 0: the whole meta-val split
    meta_batch_size: int = 16
    # true: one Adam step on the loss accumulated over the meta step's batches (HPE code);
    # false: one Adam step per meta-val batch (HAR code).
    meta_accumulate: bool = True
    meta_val_fraction: float = 0.2
    # Meta-val holds out whole groups, never single frames: "subject" (the strictest: model selection
    # then measures what the test split measures), "sequence" (when there are few subjects), or
    # "dataset": the dataset's own validation part (MARS's validate split; meta_val_fraction unused).
    meta_group: Literal["subject", "sequence", "dataset"] = "subject"
    meta_seed: int = 0
    lookahead_lr: float = 1e-3  # virtual SGD step size of the lookahead mode
    log_every: int = 1  # meta steps between lines of the run's purify_weights.jsonl


@dataclass(frozen=True)
class DDIMConfig:
    num_train_timesteps: int = 1000
    beta_start: float = 1e-4
    beta_end: float = 0.02
    num_inference_steps: int = 5
    start_timestep: int = 800
    eta: float = 0.0


@dataclass(frozen=True)
class AlignConfig:
    """Diffusion-based KD (docs/method.md §3.4)."""

    enabled: bool = True  # false: the "PTA without Align" ablation
    # What is aligned: "features" = DiffKD on each student F_m towards T = sg(Σ w̃ F_m) (the paper);
    # "predictions" = each present student's own heads' output towards the fused set's detached
    # prediction (pose MSE in the head's units, activity KL), on samples with ≥ 2 present modalities,
    # no DiffKD (a measured variant, docs/RESULTS.md "Align on the predictions"; with unlabelled
    # recordings, train.labelled_fraction, the form of Align that pays: "Align with unlabelled recordings").
    target: Literal["features", "predictions"] = "features"
    lambda_kd: float = 0.1
    ae_channels: int = 0  # 0: dim // 2
    sharing: Literal["shared", "per_modality"] = "shared"
    aggregate: Literal["sum", "mean"] = "mean"  # mean: KD does not grow with the number of modalities
    # What the heads see in training when |S| ≥ 2: "refined" = the mean of the AE-decoded refined
    # students (the reference code); "fused" = head(Σ w̃ F_m), the inference path, with Align's KD as
    # an auxiliary loss only (a deviation that removes the train/serve mismatch of the head's input).
    head_input: Literal["refined", "fused"] = "fused"
    # Who teaches: "sampled" = Σ w̃ F_m over the batch's sampled presence (the reference code: with a
    # dropped LiDAR the teacher is a mix of weak sensors); "available" = over every modality the
    # sample has data for, so each present student learns from the full multimodal teacher even when
    # presence sampling hides the other sensors from the heads. Needs head_input "fused". With
    # target "predictions" the teacher is then the fused prediction over every available modality.
    teacher: Literal["sampled", "available"] = "sampled"
    dist_beta: float = 1.0
    dist_gamma: float = 1.0
    dist_tau: float = 1.0
    ddim: DDIMConfig = field(default_factory=DDIMConfig)


@dataclass(frozen=True)
class ActivityConfig:
    """Activity over time (models/temporal.py): a window of per-frame embeddings → class.

    With ``window`` > 0 (MM-Fi) the activity head reads the last ``window`` frames, spaced by
    ``data.frame_period``; it is trained after the pose network, on that network's frozen
    embeddings (``steps`` more optimiser steps on windows of the training split, with sampled
    presence). With 0 (XRF55, whose samples are already 5-s sequences) a per-sample head trains
    jointly with the network (``train.activity_loss_weight``).
    """

    window: int = 0  # frames per window (0: one sample)
    width: int = 128  # channels of the temporal convolutions
    layers: int = 2
    dropout: float = 0.1
    steps: int = 1500
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.01
    # Frame features kept in memory while the window head trains (MB); beyond it a random subset of
    # the training windows is used (the whole training split fits at benchmark sizes).
    bank_mb: int = 1024
    # With student heads, how a fused set's activity is read: "shared" = the shared activity head on
    # the fused set's embeddings; "students" = the Purify-weighted average of the present students'
    # logits (each student's window head on its own frames) plus the shared head's correction, which
    # starts at zero, as model.fused_readout "students" does for the pose (docs/method.md §8).
    fused_readout: Literal["shared", "students"] = "shared"


@dataclass(frozen=True)
class TrainConfig:
    method: Method = "pta"
    single_modality: str = ""  # method=single: the modality trained alone
    tasks: tuple[str, ...] = ("pose", "activity")
    epochs: int = 100
    max_steps: int = 0  # 0: no limit besides epochs
    batch_size: int = 16
    eval_batch_size: int = 64
    optimizer: Literal["adam", "adamw"] = "adam"  # PTA: Adam; X-Fi: AdamW
    lr: float = 5e-4
    weight_decay: float = 0.0
    lr_schedule: Literal["none", "poly", "cosine"] = "none"
    warmup_steps: int = 0  # linear learning-rate warm-up from lr/warmup_steps, then lr_schedule
    grad_clip: float = 0.0
    pose_loss_weight: float = 1.0
    root_loss_weight: float = 1.0  # pose loss = root_loss_weight · MSE(root) + MSE(relative), standardised units
    # PTA: task loss of each present modality's own readout head(F_m), averaged over the modalities,
    # on samples with two or more (models/objectives.py). 0: the reference code (fused loss only).
    student_loss_weight: float = 1.0
    # Which rows a student's loss covers: "sampled" = where the sampled presence has its modality among
    # two or more; "available" = every row whose data has it, whatever the sampled mask (each student
    # learns from every frame it has, as its single network did; the mask then shapes only the fused
    # sets the shared heads see). "available" encodes every modality a batch has.
    student_presence: Literal["sampled", "available"] = "sampled"
    # The share of the training part's groups (whole ``purify.meta_group``s, drawn with
    # ``purify.meta_seed``) whose labels training may use; the others are unlabelled recordings.
    # Every task loss, the pose statistics and the activity stage read labelled frames only; PTA with
    # Align also draws a batch of unlabelled frames each step, on which only Align's KD acts
    # (semi-supervised distillation; docs/method.md §14). 1: every frame is labelled.
    labelled_fraction: float = 1.0
    # The share of each training recording's frames training uses, from its start (learning curves
    # with fewer labelled frames: docs/RESULTS.md, what the simulator is worth on real radar).
    frame_fraction: float = 1.0
    activity_loss_weight: float = 0.1
    presence_probs: dict[str, float] = field(default_factory=dict)  # empty: every modality 0.7
    # independent: one Bernoulli draw per modality (presence_probs), one mask per batch (MM-Fi code);
    # subset_size: size k ~ U{1..M}, then a uniform k-subset (XRF55 code). Redrawn while empty.
    presence_mode: Literal["independent", "subset_size"] = "independent"
    poly_power: float = 0.9  # lr_schedule=poly: lr · (1 − step/total)^power
    seed: int = 3407
    loader_seed: int = 0
    deterministic: bool = False
    num_workers: int = 0
    amp: bool = True  # used on CUDA only
    device: str = "auto"
    log_every: int = 20
    checkpoint_every: int = 200  # steps between resumable checkpoints
    eval_every: int = 0  # steps between meta-val evaluations (model selection); 0: after every epoch
    selection: Literal["best", "last"] = "best"  # model.pt: best mean meta-val score, or the last step
    out_dir: str = "runs/pta"
    # Single-modality model files (method=single runs of the same data and model config) whose
    # encoders and projectors start this network's: the pretrained backbones PTA and X-Fi fine-tune.
    init_from: tuple[str, ...] = ()
    # Steps during which the parts init_from loaded stay frozen (no update, encoders in eval mode)
    # while the new ones (heads, fusion, Align) train: linear probing, then fine-tuning (LP-FT, Kumar
    # et al., "Fine-Tuning can Distort Pretrained Features", ICLR 2022), so that gradients through
    # freshly initialised heads do not wreck the pretrained features.
    init_frozen_steps: int = 0
    # "best_single": the shared pose head starts from that of the init_from network with the best
    # meta-val score (its input space is that network's features), not from random weights.
    init_head: Literal["fresh", "best_single"] = "fresh"
    # With model.student_heads, where each student's pose head starts: "single" = as its init_from
    # network's, "fresh" = from its initialisation, as the shared head does (the recipe configs).
    init_student_heads: Literal["single", "fresh"] = "single"


@dataclass(frozen=True)
class EvalConfig:
    combinations: tuple[str, ...] = ()  # "depth+lidar" style names; empty: every combination
    batch_size: int = 64
    split: Literal["test", "meta_val"] = "test"  # pta eval's split (meta_val: the training run's held-out part)


@dataclass(frozen=True)
class Config:
    version: int = CONFIG_VERSION
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    purify: PurifyConfig = field(default_factory=PurifyConfig)
    align: AlignConfig = field(default_factory=AlignConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    activity: ActivityConfig = field(default_factory=ActivityConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)


def activity_window(cfg: Config) -> int:
    """Frames per activity window of the network ``cfg`` trains (0: no windowed activity head)."""
    return cfg.activity.window if "activity" in cfg.train.tasks else 0


# ---------------------------------------------------------------------------------------------
# Loading, overriding, dumping

T = typing.TypeVar("T")


def from_dict(cls: type[T], data: Any, path: str = "") -> T:
    """Build dataclass ``cls`` from a plain mapping, rejecting unknown keys and wrong types."""
    return _convert(cls, data, path or cls.__name__)


def to_dict(cfg: Any) -> dict[str, Any]:
    """Plain, YAML-safe mapping of a config (tuples become lists)."""
    return _plain(dataclasses.asdict(cfg))


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``a.b.c=value`` overrides to a nested mapping (values parsed as YAML)."""
    out = _deepcopy(data)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} is not of the form key.sub=value")
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"override {item!r}: {part!r} is not a section")
            node = child
        node[parts[-1]] = yaml.safe_load(raw)
    return out


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Load a :class:`Config` from YAML (or defaults when ``path`` is None) plus dotted overrides."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except UnicodeDecodeError as err:
            raise ConfigError(f"{path} is not UTF-8 text (byte {err.start}): not a YAML config") from None
        except OSError as err:
            raise ConfigError(f"cannot read config {path}: {err.strerror or err}") from None
        loaded = _parse_yaml(text, str(path))
        if loaded is None:
            raise ConfigError(f"{path} is empty: give the settings to change, or no --config for the defaults")
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: top level must be a mapping, got {type(loaded).__name__}")
        data = loaded
    data = apply_overrides(data, overrides or [])
    cfg = from_dict(Config, data)
    if cfg.version != CONFIG_VERSION:
        raise ConfigError(f"config version {cfg.version} is not supported (expected {CONFIG_VERSION})")
    check_config(cfg)
    return cfg


def _parse_yaml(text: str, where: str) -> Any:
    """``yaml.safe_load`` with its errors as one :class:`ConfigError` line (safe loading already refuses
    ``!!python/...`` tags: they would construct arbitrary objects)."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        place = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{where}: not valid YAML{place}: {problem}") from None


def check_config(cfg: Config) -> None:
    """Values the types allow but that cannot work, each refused with the key that holds it."""
    from pta_core.modalities import MODALITIES  # local: the registry imports this module

    unknown = [m for m in cfg.data.modalities if m not in MODALITIES]
    if unknown:
        raise ConfigError(f"data.modalities: unknown modality {unknown}; known: {', '.join(MODALITIES.names())}")
    pre = cfg.data.preprocess
    positive = {
        "data.preprocess.depth_size": min(pre.depth_size), "data.preprocess.lidar_points": pre.lidar_points,
        "data.preprocess.mmwave_points": pre.mmwave_points, "data.preprocess.depth_points": pre.depth_points,
        "data.preprocess.depth_stride": pre.depth_stride, "data.preprocess.csi_scale": pre.csi_scale,
        "data.preprocess.depth_max_m": pre.depth_max_m, "data.frame_period": cfg.data.frame_period,
        "data.preprocess.mmwave_scale": min(pre.mmwave_scale),
        "model.tokens": cfg.model.tokens, "model.dim": cfg.model.dim, "model.encoder_width": cfg.model.encoder_width,
        "model.head_hidden": cfg.model.head_hidden, "train.batch_size": cfg.train.batch_size,
        "train.eval_batch_size": cfg.train.eval_batch_size, "train.epochs": cfg.train.epochs,
        "train.lr": cfg.train.lr, "activity.batch_size": cfg.activity.batch_size,
    }
    for key, value in positive.items():
        if not value > 0:
            raise ConfigError(f"{key} must be positive, got {value}")
    non_negative = {
        "train.max_steps": cfg.train.max_steps, "train.warmup_steps": cfg.train.warmup_steps,
        "train.log_every": cfg.train.log_every, "train.eval_every": cfg.train.eval_every,
        "train.checkpoint_every": cfg.train.checkpoint_every, "activity.window": cfg.activity.window,
        "train.init_frozen_steps": cfg.train.init_frozen_steps,
        "activity.steps": cfg.activity.steps, "purify.meta_every": cfg.purify.meta_every,
        "purify.meta_batches": cfg.purify.meta_batches, "model.dropout": cfg.model.dropout,
        "data.preprocess.depth_crop": min(pre.depth_crop),
    }
    for key, value in non_negative.items():
        if value < 0:
            raise ConfigError(f"{key} must be >= 0, got {value}")
    if cfg.activity.window > 0 and cfg.activity.steps == 0:
        raise ConfigError("activity.steps must be positive with activity.window > 0 (the window head trains for that many steps)")
    if cfg.model.fused_readout == "students" and not cfg.model.student_heads:
        raise ConfigError('model.fused_readout "students" averages the students\' own heads: set model.student_heads true')
    if cfg.model.fused_readout == "students" and cfg.train.init_head != "fresh":
        raise ConfigError('model.fused_readout "students" starts the shared pose head as a zero correction: train.init_head must be fresh')
    if cfg.activity.fused_readout == "students" and not cfg.model.student_heads:
        raise ConfigError('activity.fused_readout "students" averages the students\' own heads: set model.student_heads true')
    if cfg.train.init_head != "fresh" and not cfg.train.init_from:
        raise ConfigError(f"train.init_head {cfg.train.init_head!r} starts the head from train.init_from: set it, or fresh")
    if cfg.train.init_frozen_steps > 0 and not cfg.train.init_from:
        raise ConfigError("train.init_frozen_steps freezes what train.init_from loads: set train.init_from, or 0")
    if cfg.align.teacher == "available" and cfg.align.head_input != "fused":
        raise ConfigError('align.teacher "available" needs align.head_input "fused" (the refined head input is per sampled set)')
    if cfg.align.target == "predictions" and cfg.align.head_input != "fused":
        raise ConfigError('align.target "predictions" distils the served prediction: it needs align.head_input "fused"')
    radar_values = ("velocity", "intensity")
    if any(f not in radar_values for f in pre.mmwave_features) or len(set(pre.mmwave_features)) != len(pre.mmwave_features):
        raise ConfigError(f"data.preprocess.mmwave_features {list(pre.mmwave_features)}: each of {list(radar_values)} at most once")
    if not 0.0 < cfg.train.frame_fraction <= 1.0:
        raise ConfigError(f"train.frame_fraction must be in (0, 1], got {cfg.train.frame_fraction}")
    if not 0.0 < cfg.train.labelled_fraction <= 1.0:
        raise ConfigError(f"train.labelled_fraction must be in (0, 1], got {cfg.train.labelled_fraction}")


def dump_config(cfg: Any, path: str | Path) -> None:
    """Write a config as YAML (atomically)."""
    from pta_core.io import atomic_write_text  # local: keeps this module dependency-free

    atomic_write_text(Path(path), yaml.safe_dump(to_dict(cfg), sort_keys=False))


def _convert(tp: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping, got {value!r}")
        hints = typing.get_type_hints(tp)
        names = {f.name for f in dataclasses.fields(tp)}
        unknown = sorted(set(value) - names)
        if unknown:
            raise ConfigError(f"{path}: unknown key(s) {unknown}; allowed: {sorted(names)}")
        kwargs = {k: _convert(hints[k], v, f"{path}.{k}") for k, v in value.items()}
        return tp(**kwargs)
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{path}: {value!r} is not one of {list(args)}")
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, path)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError("; ".join(errors))
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, f"{path}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise ConfigError(f"{path}: expected {len(args)} items, got {len(value)}")
        return tuple(_convert(a, v, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping, got {value!r}")
        key_tp, val_tp = args
        return {_convert(key_tp, k, f"{path}.{k}"): _convert(val_tp, v, f"{path}.{k}") for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true/false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, str):  # YAML 1.1 reads 5e-4 (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string, got {value!r}")
        return value
    if tp is Any:
        return value
    raise ConfigError(f"{path}: unsupported type {tp!r} in schema")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _deepcopy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deepcopy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deepcopy(v) for v in value]
    return value
