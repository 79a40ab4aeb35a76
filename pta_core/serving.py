"""Single-frame serving (the ROS node): raw sample → the training preprocessing → a backend → prediction.

:class:`Predictor` is the one serving interface: which modality set to use for the live sensors
(the validation table), the preprocessing, the activity windows, each sensor's own readout (live
quality). A backend supplies three calls: encode one modality, decode a batch of modality sets from
those encodings, and the window head: :class:`~pta_core.torch_predictor.TorchPredictor` (a
``model.pt`` on PyTorch) and :class:`~pta_core.onnx_predictor.OnnxPredictor` (a ``pta export``
folder on onnxruntime).
Numpy only: a node on onnxruntime never imports torch.
"""
from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pta_core.config import PreprocessConfig
from pta_core.errors import CheckpointError
from pta_core.modalities import empty_sample, get_modality
from pta_core.validation import ValidationRow, best_subset

Sample = dict[str, np.ndarray]
BACKENDS = ("torch", "onnxruntime")


@dataclass(frozen=True)
class Prediction:
    joints: np.ndarray | None  # (17, 3) float32 metres, H36M order
    activity_probs: np.ndarray | None  # (K,) float32, checkpoint class order; None until a window is full enough
    modalities: tuple[str, ...]  # the modalities the prediction used


@dataclass(frozen=True)
class EncodedFrame:
    """One frame's samples and their encodings (backend tensors), reusable across decodes."""

    samples: dict[str, Sample]
    tokens: dict[str, Any]


@dataclass(frozen=True)
class Decoded:
    """A batch of decodes, row i for the i-th modality set asked for."""

    joints: np.ndarray | None  # (B, 17, 3)
    activity_probs: np.ndarray | None  # (B, K), a per-frame activity head
    embedding: np.ndarray | None  # (B, E), a windowed activity head's per-frame state


@dataclass(frozen=True)
class ModelCard:
    """What serving needs to know about a model besides its weights (from a checkpoint or model.json)."""

    modalities: tuple[str, ...]
    preprocess: PreprocessConfig
    joint_names: tuple[str, ...]
    activity_classes: tuple[str, ...]
    validation: tuple[ValidationRow, ...]
    selection_metric: tuple[str, bool]  # (validation column, lower_is_better)
    window_length: int  # frames of the windowed activity head (0: none)
    frame_period: float  # seconds between a window's frames
    # The training rig's static transforms ({parent, child, xyz, xyzw}, pta_ros.frames): where each
    # sensor frame the model reads sat. Empty: the MM-Fi rig of config/rig.yaml.
    rig: tuple[dict, ...] = ()
    # Live quality's per-sensor verdict tolerances, fitted on a validation subject and stored in the
    # model file (bench/live_quality.py --store); empty: every sensor uses the node's quality_tolerance.
    quality_verdicts: dict[str, float] = dataclasses.field(default_factory=dict)


class ActivityWindow:
    """The recent per-frame embeddings of a stream, resampled to the training frame period.

    A windowed activity head was trained on ``length`` frames ``period`` seconds apart. A live
    stream runs at its own rate (and drops frames), so :meth:`frames` takes, for each of the
    ``length`` instants t_k = t_newest − k·period, the embedding stamped nearest to t_k within half
    a period; instants without one are invalid (masked by the head). Stamps going backwards (a bag
    replayed from its start) clear the window.
    """

    def __init__(self, length: int, period_s: float):
        if length < 1 or period_s <= 0:
            raise ValueError(f"an activity window needs length >= 1 and period > 0, got {length}, {period_s}")
        self.length, self.period = length, period_s
        self._stamps: deque[float] = deque()
        self._embeddings: deque[np.ndarray] = deque()

    def push(self, stamp_s: float, embedding: np.ndarray) -> None:
        if self._stamps and stamp_s < self._stamps[-1]:
            self.clear()
        self._stamps.append(stamp_s)
        self._embeddings.append(embedding)
        horizon = stamp_s - (self.length - 0.5) * self.period
        while self._stamps and self._stamps[0] < horizon:  # older than the window's first instant
            self._stamps.popleft()
            self._embeddings.popleft()

    def clear(self) -> None:
        self._stamps.clear()
        self._embeddings.clear()

    def frames(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(length, E) embeddings oldest first and (length,) validity; None when empty."""
        if not self._stamps:
            return None
        stamps = np.asarray(self._stamps)
        instants = stamps[-1] - self.period * np.arange(self.length - 1, -1, -1)
        nearest = np.abs(stamps[None, :] - instants[:, None]).argmin(axis=1)
        valid = np.abs(stamps[nearest] - instants) <= self.period / 2
        embeddings = np.stack([self._embeddings[i] for i in nearest])
        embeddings[~valid] = 0.0
        return embeddings, valid


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max())
    return (shifted / shifted.sum()).astype(np.float32)


class Predictor:
    """The serving interface; subclasses implement :meth:`_encode`, :meth:`_decode` and :meth:`_window_logits`."""

    device = "cpu"  # where the backend computes, for logs and diagnostics

    def __init__(self, card: ModelCard):
        self.card = card
        self.modalities = card.modalities
        self.preprocess_config = card.preprocess
        self.joint_names = card.joint_names
        self.activity_classes = card.activity_classes
        self.validation = list(card.validation)
        self.window_length = card.window_length
        self.frame_period = card.frame_period
        # One activity window per modality set: an embedding depends on the set it came from, and the
        # window head was trained on windows of one set.
        self._windows: dict[tuple[str, ...], ActivityWindow] = {}

    def best_subset(self, live: Iterable[str]) -> tuple[str, ...] | None:
        """The validated combination of live modalities with the best score (:func:`~pta_core.validation.best_subset`)."""
        metric, lower_is_better = self.card.selection_metric
        return best_subset(self.validation, metric, lower_is_better, self.modalities, live)

    def set_depth_scale(self, metres_per_unit: float) -> None:
        """Units of integer depth images *at this input* (a ROS camera's 16UC1 may differ from the dataset's)."""
        self.preprocess_config = dataclasses.replace(self.preprocess_config, depth_scale=metres_per_unit)

    def preprocess(self, modality: str, raw: np.ndarray) -> Sample:
        """The training preprocessing; raises :class:`~pta_core.errors.InvalidInput` for unusable samples."""
        return get_modality(modality).preprocess(raw, self.preprocess_config)

    def empty_sample(self, modality: str) -> Sample:
        """Zero input of ``modality`` (what an absent modality is filled with; masked by the fusion)."""
        return empty_sample(get_modality(modality), self.preprocess_config)

    def warm_up(self, modalities: Iterable[str]) -> None:
        """One throw-away pass of every call a frame makes (encode, each sensor's readout, predict): the
        first call is far slower than the next (allocations, kernel selection)."""
        frame = self.encode({m: self.empty_sample(m) for m in modalities})
        self.readouts(frame)
        self.predict(frame)

    def encode(self, samples: dict[str, Sample], reuse: EncodedFrame | None = None) -> EncodedFrame:
        """Encode each sample; a sample that is the very object ``reuse`` encoded keeps its encoding."""
        unknown = set(samples) - set(self.modalities)
        if unknown:
            raise ValueError(f"modalities {sorted(unknown)} are not in the model ({list(self.modalities)})")
        if not samples:
            raise ValueError("no modality to predict from")
        tokens = {}
        for m, sample in samples.items():
            if reuse is not None and reuse.samples.get(m) is sample:
                tokens[m] = reuse.tokens[m]
            else:
                tokens[m] = self._encode(m, sample)
        return EncodedFrame(dict(samples), tokens)

    def decode(self, frame: EncodedFrame, sets: list[tuple[str, ...]]) -> Decoded:
        """One decode per modality set (each of ``frame``'s modalities), batched; no activity windows."""
        missing = {m for s in sets for m in s} - set(frame.samples)
        if missing:
            raise ValueError(f"modalities {sorted(missing)} are not in the encoded frame")
        return self._decode(frame.tokens, sets)

    def readouts(self, frame: EncodedFrame) -> dict[str, np.ndarray]:
        """Each modality's own pose readout (the model on it alone: its student), in one decode."""
        order = [m for m in self.modalities if m in frame.samples]
        joints = self.decode(frame, [(m,) for m in order]).joints
        return {} if joints is None else dict(zip(order, joints))

    def predict(self, samples: dict[str, Sample] | EncodedFrame, stamp_s: float | None = None) -> Prediction:
        """Predict one frame from preprocessed samples (or their :meth:`encode`) of any non-empty subset
        of the model's modalities.

        With a windowed activity head, the frame's embedding joins the activity window of its
        modality set at ``stamp_s`` (seconds; None: it does not), and the activity comes from that
        window once at least half of its instants have a frame (:class:`ActivityWindow`).
        """
        frame = samples if isinstance(samples, EncodedFrame) else self.encode(samples)
        used = tuple(m for m in self.modalities if m in frame.samples)
        decoded = self._decode(frame.tokens, [used])
        joints = None if decoded.joints is None else decoded.joints[0]
        probs = None if decoded.activity_probs is None else decoded.activity_probs[0]
        embedding = None if decoded.embedding is None else decoded.embedding[0]
        if self.window_length and embedding is not None and stamp_s is not None:
            window = self._windows.setdefault(used, ActivityWindow(self.window_length, self.frame_period))
            window.push(stamp_s, embedding)
            frames = window.frames()
            probs = None
            if frames is not None and 2 * int(frames[1].sum()) >= window.length:
                probs = softmax(self._window_logits(*frames))
        return Prediction(joints=joints, activity_probs=probs, modalities=used)

    def _encode(self, modality: str, sample: Sample) -> Any:
        """One modality's sample → its encoding (a backend tensor)."""
        raise NotImplementedError

    def _decode(self, tokens: dict[str, Any], sets: list[tuple[str, ...]]) -> Decoded:
        """Encodings → one decode per modality set (each a subset of ``tokens``), batched."""
        raise NotImplementedError

    def _window_logits(self, embeddings: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """(T, E) embeddings and (T,) validity of one window → (K,) logits."""
        raise NotImplementedError

    @property
    def activity_window_s(self) -> float:
        """Seconds of motion an activity label describes (0: no windowed activity head)."""
        return self.window_length * self.frame_period

    def reset(self) -> None:
        """Forget the activity windows (a new stream, a jump in time)."""
        self._windows.clear()

    def close(self) -> None:
        """Release what the backend holds beyond Python objects (GPU caches)."""


def load_predictor(path: str | Path, backend: str = "torch", device: str = "auto", threads: int = 0) -> Predictor:
    """The serving predictor for ``path``: a model.pt on PyTorch, or a ``pta export`` folder on onnxruntime.

    ``threads`` > 0 sets the backend's intra-op threads (PyTorch: process-wide; onnxruntime: the
    sessions'); 0 keeps the backend's default (one per core). Only the chosen backend is imported.

    Raises:
        CheckpointError: a file or folder that is not what the backend serves (one line).
        ValueError: an unknown backend or device.
    """
    if backend == "onnxruntime":
        from pta_core.onnx_predictor import OnnxPredictor, is_export

        if not is_export(path):
            raise CheckpointError(f"{path}: backend onnxruntime serves a `pta export` folder (with model.json); "
                                  "make one with: pta export --checkpoint MODEL.pt --out FOLDER")
        return OnnxPredictor(path, threads=threads)
    if backend != "torch":
        raise ValueError(f"backend {backend!r} is not one of {list(BACKENDS)}")
    from pta_core.torch_predictor import TorchPredictor

    return TorchPredictor.from_checkpoint(path, device, threads)
