"""Single-frame inference for serving (the ROS node): checkpoint → preprocessing → model → prediction.

Uses the checkpoint's own preprocessing parameters, so serving preprocesses exactly as training did.
"""
from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pta_core.checkpoint import Checkpoint, ValidationRow, load_checkpoint
from pta_core.config import PreprocessConfig, activity_window
from pta_core.errors import CheckpointError
from pta_core.modalities import empty_sample, get_modality

log = logging.getLogger(__name__)

Sample = dict[str, np.ndarray]


@dataclass(frozen=True)
class Prediction:
    joints: np.ndarray | None  # (17, 3) float32 metres, H36M order
    activity_probs: np.ndarray | None  # (K,) float32, checkpoint class order; None until a window is full enough
    modalities: tuple[str, ...]  # the modalities the prediction used


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


def resolve_device(device: str) -> torch.device:
    """``auto`` → CUDA when available, else CPU; anything else as torch spells it."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    return resolved


class Predictor:
    def __init__(self, checkpoint: Checkpoint, device: str | torch.device = "auto"):
        self.checkpoint = checkpoint
        self.device = resolve_device(device) if isinstance(device, str) else device
        self.model = checkpoint.build().to(self.device)
        self.modalities: tuple[str, ...] = checkpoint.modalities
        self.preprocess_config: PreprocessConfig = checkpoint.config.data.preprocess
        self.joint_names = checkpoint.joint_names
        self.activity_classes = checkpoint.activity_classes
        self.validation: list[ValidationRow] = list(checkpoint.validation)
        self._metric, self._lower_is_better = checkpoint.selection_metric
        # One activity window per modality set: an embedding depends on the set it came from, and the
        # window head was trained on windows of one set.
        self.window_length = activity_window(checkpoint.config)
        self.frame_period = checkpoint.config.data.frame_period
        self._windows: dict[tuple[str, ...], ActivityWindow] = {}
        # Zero inputs for absent modalities, built once (absent modalities are masked, not computed).
        self._empty = {
            name: {k: torch.from_numpy(v)[None].to(self.device) for k, v in empty_sample(get_modality(name), self.preprocess_config).items()}
            for name in self.modalities
        }

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "auto") -> Predictor:
        checkpoint = load_checkpoint(path)
        try:
            return cls(checkpoint, device)
        except (RuntimeError, ValueError) as err:
            raise CheckpointError(f"{path}: cannot build the model: {err}") from err

    def best_subset(self, live: Iterable[str]) -> tuple[str, ...] | None:
        """The validated combination of live modalities with the best score.

        Without a validation table (an untrained checkpoint) every live modality the model knows is used.
        """
        available = {m for m in live if m in self.modalities}
        if not available:
            return None
        scored = [
            row
            for row in self.validation
            if set(row.modalities) <= available and getattr(row, self._metric) is not None
        ]
        if not scored:
            return tuple(m for m in self.modalities if m in available)
        sign = 1.0 if self._lower_is_better else -1.0
        best = min(scored, key=lambda row: (sign * getattr(row, self._metric), -len(row.modalities)))
        return tuple(m for m in self.modalities if m in best.modalities)

    def preprocess(self, modality: str, raw: np.ndarray) -> Sample:
        """The training preprocessing; raises :class:`~pta_core.errors.InvalidInput` for unusable samples."""
        return get_modality(modality).preprocess(raw, self.preprocess_config)

    def predict(self, samples: dict[str, Sample], stamp_s: float | None = None) -> Prediction:
        """Predict one frame from preprocessed samples of any non-empty subset of the model's modalities.

        With a windowed activity head, the frame's embedding joins the activity window of its
        modality set at ``stamp_s`` (seconds; None: it does not), and the activity comes from that
        window once at least half of its instants have a frame (:class:`ActivityWindow`).
        """
        unknown = set(samples) - set(self.modalities)
        if unknown:
            raise ValueError(f"modalities {sorted(unknown)} are not in the model ({list(self.modalities)})")
        if not samples:
            raise ValueError("no modality to predict from")
        joints, probs, embedding = self._forward(samples)
        used = tuple(m for m in self.modalities if m in samples)
        if self.window_length and embedding is not None and stamp_s is not None:
            window = self._windows.setdefault(used, ActivityWindow(self.window_length, self.frame_period))
            window.push(stamp_s, embedding)
            frames = window.frames()
            probs = None
            if frames is not None and 2 * int(frames[1].sum()) >= window.length:
                probs = softmax(self._window_logits(*frames))
        return Prediction(joints=joints, activity_probs=probs, modalities=used)

    @torch.inference_mode()
    def _forward(self, samples: dict[str, Sample]) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
        """One frame → (joints (17, 3), activity probabilities of a per-frame head, embedding (E,))."""
        inputs = {}
        for name in self.modalities:
            if name in samples:
                inputs[name] = {k: torch.from_numpy(np.ascontiguousarray(v))[None].to(self.device) for k, v in samples[name].items()}
            else:
                inputs[name] = self._empty[name]
        present = torch.tensor([[name in samples for name in self.modalities]], device=self.device)
        output = self.model(inputs, present)
        joints = output.pose[0].float().cpu().numpy() if output.pose is not None else None
        probs = torch.softmax(output.activity[0].float(), 0).cpu().numpy() if output.activity is not None else None
        embedding = output.embedding[0].float().cpu().numpy() if output.embedding is not None else None
        return joints, probs, embedding

    @torch.inference_mode()
    def _window_logits(self, embeddings: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """(T, E) embeddings and (T,) validity of one window → (K,) logits."""
        logits = self.model.window_activity(torch.from_numpy(embeddings)[None].to(self.device),
                                            torch.from_numpy(valid)[None].to(self.device))
        return logits[0].float().cpu().numpy()

    @property
    def activity_window_s(self) -> float:
        """Seconds of motion an activity label describes (0: no windowed activity head)."""
        return self.window_length * self.frame_period

    def reset(self) -> None:
        """Forget the activity windows (a new stream, a jump in time)."""
        self._windows.clear()


BACKENDS = ("torch", "onnxruntime")


def load_predictor(path: str | Path, backend: str = "torch", device: str = "auto", threads: int = 1) -> Predictor:
    """The serving predictor for ``path``: a model.pt on PyTorch, or a ``pta export`` folder on onnxruntime.

    Raises:
        CheckpointError: a file or folder that is not what the backend serves (one line).
        ValueError: an unknown backend or device.
    """
    if backend == "onnxruntime":
        from pta_core.onnx_predictor import OnnxPredictor, is_export

        if not is_export(path):
            raise CheckpointError(f"{path}: backend onnxruntime serves a `pta export` folder (with model.json); "
                                  "make one with: pta export --checkpoint MODEL.pt --out FOLDER")
        return OnnxPredictor(path, threads=max(threads, 1))
    if backend != "torch":
        raise ValueError(f"backend {backend!r} is not one of {list(BACKENDS)}")
    return Predictor.from_checkpoint(path, device)
