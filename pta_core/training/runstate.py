"""What a training run keeps on disk besides model.pt: the resumable state file and JSONL logs.

``state.pt`` holds everything a resumed run needs to continue exactly where the last save stopped:
weights of the whole objective (network + Align), optimisers, LR schedule, Purify state, every RNG
(python, numpy, torch, CUDA, and the explicit generators, per rank) and the position (epoch, step in
epoch, global step). It is written atomically and loads with ``weights_only=True``.
"""
from __future__ import annotations

import io
import json
import logging
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pta_core.config import Config, to_dict
from pta_core.io import atomic_write_bytes

log = logging.getLogger(__name__)

STATE_FILE = "state.pt"
STATE_FORMAT = "pta_ros.train_state"
STATE_VERSION = 1
# train.* keys that may change when a run is resumed (length, logging, hardware); all else must match.
RESUMABLE_CHANGES = {"epochs", "max_steps", "device", "num_workers", "log_every", "checkpoint_every", "out_dir"}


def global_rng_state() -> dict[str, Any]:
    """Python, numpy and torch (CPU + CUDA) global RNG states, in weights-only-loadable types."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_global_rng_state(state: dict[str, Any]) -> None:
    python = state["python"]
    random.setstate((python[0], tuple(python[1]), python[2]))
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_state(run_dir: Path, state: dict[str, Any]) -> Path:
    """Atomically write ``state`` (plain types and tensors) as the run's resumable state."""
    path = Path(run_dir) / STATE_FILE
    buffer = io.BytesIO()
    torch.save({"format": STATE_FORMAT, "version": STATE_VERSION, **state}, buffer)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def load_state(run_dir: Path) -> dict[str, Any]:
    """The run's resumable state; a clear error when it is missing, corrupt or foreign."""
    path = Path(run_dir) / STATE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no resumable state in {run_dir} ({STATE_FILE} is missing): nothing to resume")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # corrupt zip, truncated file, unpickler refusal
        from pta_core.checkpoint import load_failure  # local: checkpoint imports the model stack

        raise ValueError(f"{path} is not a loadable training state: {load_failure(err)}") from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT or state.get("version") != STATE_VERSION:
        raise ValueError(f"{path} is not a pta_ros training state of version {STATE_VERSION}")
    return state


class JsonlLog:
    """Append-only JSON-lines log (one dict per line), flushed per line; a no-op off the main rank."""

    def __init__(self, path: Path, enabled: bool = True):
        self.path = Path(path)
        self.enabled = enabled

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as handle:
            handle.write(json.dumps(record, allow_nan=True) + "\n")

    def truncate_after(self, step: int) -> None:
        """Drop lines logged after ``step`` (a killed run logs past its last saved state)."""
        if not self.enabled or not self.path.is_file():
            return
        kept = []
        for line in self.path.read_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:  # a line cut off by the kill
                continue
            if int(record.get("step", 0)) <= step:
                kept.append(line)
        self.path.write_text("".join(line + "\n" for line in kept))


class IntervalMeter:
    """Sums of the logged loss terms and the samples seen since the last log line."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.sums: dict[str, tuple[float, float]] = {}
        self.samples = 0
        self.start = time.perf_counter()

    def add(self, terms: dict[str, float], samples: int) -> None:
        for key, value in terms.items():
            total, count = self.sums.get(key, (0.0, 0.0))
            self.sums[key] = (total + value, count + 1)
        self.samples += samples

    def rate(self) -> float:
        return self.samples / max(time.perf_counter() - self.start, 1e-9)

    def state_dict(self) -> dict[str, Any]:
        """The partial interval, so a resumed run logs the same means as an uninterrupted one."""
        return {"sums": {k: [float(t), float(c)] for k, (t, c) in self.sums.items()}, "samples": self.samples}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sums = {k: (float(t), float(c)) for k, (t, c) in state["sums"].items()}
        self.samples = int(state["samples"])


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and key != "presence_probs":
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def check_resumable(saved: Config, new: Config) -> None:
    """A resumed run must use the saved config up to the keys in :data:`RESUMABLE_CHANGES`."""
    a, b = _flatten(to_dict(saved)), _flatten(to_dict(new))
    allowed = {f"train.{k}" for k in RESUMABLE_CHANGES}
    differing = sorted(k for k in set(a) | set(b) if k not in allowed and a.get(k) != b.get(k))
    if differing:
        raise ValueError(f"cannot resume: the config differs from the saved run in {differing[:8]}")
