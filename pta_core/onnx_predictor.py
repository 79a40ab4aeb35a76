"""The serving :class:`~pta_core.serving.Predictor` on onnxruntime, from a ``pta export`` folder.

Same interface and the same selection, preprocessing and activity windows as the PyTorch predictor;
only the two forward calls differ: the chosen modalities' encoder graphs, then the fusion graph with
the present mask (``pta_core/export.py`` says why that layout).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pta_core.config import PreprocessConfig, from_dict
from pta_core.errors import CheckpointError
from pta_core.serving import Decoded, EncodedFrame, ModelCard, Predictor, Sample, softmax
from pta_core.validation import ValidationRow

FORMAT = "pta_ros.onnx"  # model.json's format and layout version, written by pta_core/export.py
FORMAT_VERSION = 1
METADATA = "model.json"


def is_export(path: str | Path) -> bool:
    return (Path(path) / METADATA).is_file()


def session(path: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads  # 0: onnxruntime's default, one per core
    options.inter_op_num_threads = 1
    # Idle pool threads sleep instead of spinning: a robot's CPU is shared, and spinning threads
    # made two threads several times slower than one on 2 cores (docs/BENCHMARKS.md).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OnnxPredictor(Predictor):
    device = "onnxruntime-cpu"

    def __init__(self, folder: str | Path, threads: int = 1):
        folder = Path(folder)
        try:
            meta = json.loads((folder / METADATA).read_text())
        except (OSError, ValueError) as err:
            raise CheckpointError(f"{folder}: not a pta export ({METADATA}: {err})") from None
        if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
            raise CheckpointError(f"{folder}: {METADATA} is not a {FORMAT} v{FORMAT_VERSION} description")
        super().__init__(ModelCard(
            modalities=tuple(meta["modalities"]),
            preprocess=from_dict(PreprocessConfig, meta["preprocess"], "preprocess"),
            joint_names=tuple(meta["joint_names"]),
            activity_classes=tuple(meta["activity_classes"]),
            validation=tuple(ValidationRow.from_dict(row) for row in meta["validation"]),
            selection_metric=(meta["selection_metric"]["name"], meta["selection_metric"]["lower_is_better"]),
            window_length=int(meta["activity_window"]["frames"]),
            frame_period=float(meta["activity_window"]["frame_period_s"]),
            rig=tuple(meta.get("rig", ())),
            quality_verdicts=dict(meta.get("live_quality", {}).get("verdicts", {})),
        ))
        self._fields = {name: list(fields) for name, fields in meta["inputs"].items()}
        self._tokens = tuple(meta["tokens"])
        graphs = meta["graphs"]
        try:
            self._encoders = {name: session(folder / file, threads) for name, file in graphs["encoders"].items()}
            self._fusion = session(folder / graphs["fusion"], threads)
            self._outputs = [output.name for output in self._fusion.get_outputs()]
            self._window = session(folder / graphs["activity_window"], threads) if graphs["activity_window"] else None
            self._students = session(folder / graphs["students"], threads) if graphs.get("students") else None
        except Exception as err:  # onnxruntime raises its own exception types for missing or corrupt graphs
            raise CheckpointError(f"{folder}: cannot load the ONNX graphs: {str(err).splitlines()[0]}") from None

    def _encode(self, modality: str, sample: Sample) -> np.ndarray:
        feeds = {key: np.ascontiguousarray(sample[key])[None] for key in self._fields[modality]}
        return self._encoders[modality].run(None, feeds)[0][0]

    def _decode(self, tokens: dict[str, np.ndarray], sets: list[tuple[str, ...]]) -> Decoded:
        stacked = np.zeros((len(sets), len(self.modalities), *self._tokens), dtype=np.float32)
        present = np.zeros((len(sets), len(self.modalities)), dtype=bool)
        for row, chosen in enumerate(sets):
            for index, name in enumerate(self.modalities):
                if name in chosen:
                    stacked[row, index] = tokens[name]
                    present[row, index] = True
        outputs = dict(zip(self._outputs, self._fusion.run(None, {"tokens": stacked, "present": present})))
        activity = outputs.get("activity")
        probs = np.stack([softmax(row) for row in activity]) if activity is not None else None
        return Decoded(joints=outputs["pose"], activity_probs=probs, embedding=outputs.get("embedding"))

    def readouts(self, frame: EncodedFrame) -> dict[str, np.ndarray]:
        if self._students is None:  # an export from before the students graph
            return super().readouts(frame)
        stacked = np.zeros((1, len(self.modalities), *self._tokens), dtype=np.float32)
        for index, name in enumerate(self.modalities):
            if name in frame.tokens:
                stacked[0, index] = frame.tokens[name]
        poses = self._students.run(None, {"tokens": stacked})[0][0]
        return {name: poses[index] for index, name in enumerate(self.modalities) if name in frame.tokens}

    def _window_logits(self, embeddings: np.ndarray, valid: np.ndarray) -> np.ndarray:
        return self._window.run(None, {"embeddings": embeddings[None].astype(np.float32), "valid": valid[None]})[0][0]
