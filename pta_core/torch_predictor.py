"""The serving :class:`~pta_core.serving.Predictor` on PyTorch, from a ``model.pt``."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pta_core.checkpoint import Checkpoint, load_checkpoint
from pta_core.config import activity_window
from pta_core.errors import CheckpointError
from pta_core.serving import Decoded, EncodedFrame, ModelCard, Predictor, Sample
from pta_core.training.distributed import resolve_device


def model_card(checkpoint: Checkpoint) -> ModelCard:
    return ModelCard(
        modalities=checkpoint.modalities,
        preprocess=checkpoint.config.data.preprocess,
        joint_names=tuple(checkpoint.joint_names),
        activity_classes=tuple(checkpoint.activity_classes),
        validation=tuple(checkpoint.validation),
        selection_metric=checkpoint.selection_metric,
        window_length=activity_window(checkpoint.config),
        frame_period=checkpoint.config.data.frame_period,
        rig=tuple(checkpoint.metadata.get("rig", ())),
        quality_verdicts=dict(checkpoint.metadata.get("live_quality", {}).get("verdicts", {})),
    )


class TorchPredictor(Predictor):
    def __init__(self, checkpoint: Checkpoint, device: str | torch.device = "auto"):
        super().__init__(model_card(checkpoint))
        self.checkpoint = checkpoint
        self.device = resolve_device(device) if isinstance(device, str) else device
        self.model = checkpoint.build().to(self.device)
        # Zero inputs for absent modalities, built once (absent modalities are masked, not computed).
        self._empty = {
            name: {k: torch.from_numpy(v)[None].to(self.device) for k, v in self.empty_sample(name).items()}
            for name in self.modalities
        }

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "auto", threads: int = 0) -> TorchPredictor:
        checkpoint = load_checkpoint(path)
        if threads > 0:
            torch.set_num_threads(threads)  # process-wide: a serving process is its own torch user
        try:
            return cls(checkpoint, device)
        except (RuntimeError, ValueError) as err:
            raise CheckpointError(f"{path}: cannot build the model: {err}") from err

    @torch.inference_mode()
    def _encode(self, modality: str, sample: Sample) -> dict[str, torch.Tensor]:
        inputs = {k: torch.from_numpy(np.ascontiguousarray(v))[None].to(self.device) for k, v in sample.items()}
        if not hasattr(self.model, "encode"):
            return inputs  # a network without a separate encoder (late fusion): decoded from its inputs
        present = torch.tensor([[name == modality for name in self.modalities]], device=self.device)
        return self.model.encode({modality: inputs}, present)[modality]

    @torch.inference_mode()
    def _decode(self, tokens: dict[str, torch.Tensor], sets: list[tuple[str, ...]]) -> Decoded:
        present = torch.tensor([[name in chosen for name in self.modalities] for chosen in sets], device=self.device)
        rows = len(sets)
        if hasattr(self.model, "decode"):
            features = {}
            for index, name in enumerate(self.modalities):
                if name in tokens and bool(present[:, index].any()):
                    column = present[:, index].to(tokens[name].dtype).view(-1, *([1] * (tokens[name].dim() - 1)))
                    features[name] = tokens[name].expand(rows, *tokens[name].shape[1:]) * column  # zero where absent
            output = self.model.decode(features, present)
        else:
            inputs = {name: {k: v.expand(rows, *v.shape[1:]) for k, v in (tokens.get(name) or self._empty[name]).items()}
                      for name in self.modalities}
            output = self.model(inputs, present)

        def numpy(value: torch.Tensor | None) -> np.ndarray | None:
            return None if value is None else value.float().cpu().numpy()

        probs = torch.softmax(output.activity.float(), 1) if output.activity is not None else None
        return Decoded(joints=numpy(output.pose), activity_probs=numpy(probs), embedding=numpy(output.embedding))

    @torch.inference_mode()
    def readouts(self, frame: EncodedFrame) -> dict[str, np.ndarray]:
        if not hasattr(self.model, "student") or self.model.task.pose_head is None:
            return super().readouts(frame)  # X-Fi, late fusion: the model on each modality alone
        return {name: self.model.student(name)(frame.tokens[name]).pose[0].float().cpu().numpy()
                for name in self.modalities if name in frame.tokens}

    @torch.inference_mode()
    def _window_logits(self, embeddings: np.ndarray, valid: np.ndarray) -> np.ndarray:
        logits = self.model.window_activity(torch.from_numpy(embeddings)[None].to(self.device),
                                            torch.from_numpy(valid)[None].to(self.device))
        return logits[0].float().cpu().numpy()

    def close(self) -> None:
        self.model = None
        self._empty = {}
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
