"""Which recording each sample of a packed split belongs to, and windows of consecutive frames.

A *group* is a subject or a sequence (MM-Fi: one subject doing one action; XRF55: one 5-s sample).
Held-out parts (the meta-val split) take whole groups, never single frames, so that no near-copy of
a training frame is used to select models or to learn the modality weights. A *window* is a run
of consecutive frames of one MM-Fi sequence, the input of the windowed activity head.
"""
from __future__ import annotations

import numpy as np

from pta_core.data.packed import PackedSplit

GROUPS = ("subject", "sequence")


def sample_groups(split: PackedSplit, group: str) -> np.ndarray:
    """One integer group id per sample of ``split``: its ``subject`` or its ``sequence``."""
    if group not in GROUPS:
        raise ValueError(f"unknown group {group!r}; known: {', '.join(GROUPS)}")
    meta = split.meta
    keys = [meta["subject"] if "subject" in meta else meta["recording"]]  # RadHAR has recordings, not subjects
    if "scene" in meta:
        keys.insert(0, meta["scene"])  # XRF55 volunteer ids restart per scene
    if group == "sequence":
        keys += [meta["action"]] + ([meta["repetition"]] if "repetition" in meta else [])
    stacked = np.stack([np.asarray(k, dtype=np.int64) for k in keys], axis=1)
    return np.unique(stacked, axis=0, return_inverse=True)[1].reshape(-1)


def leading_frames(split: PackedSplit, positions: np.ndarray, fraction: float) -> np.ndarray:
    """The first ⌈``fraction`` · n⌉ of each sequence's n frames among ``positions``, in frame order (a
    smaller training set that covers less of each recording, not a thinned one: neighbouring frames of
    a recording are near-copies, so every k-th frame would keep almost all it teaches)."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"train.frame_fraction must be in (0, 1], got {fraction}")
    positions = np.asarray(positions, dtype=np.int64)
    if fraction == 1.0 or "frame" not in split.meta:
        return positions
    sequence = sample_groups(split, "sequence")[positions]
    frame = np.asarray(split.meta["frame"], dtype=np.int64)[positions]
    order = np.lexsort((frame, sequence))
    starts = np.r_[0, np.flatnonzero(np.diff(sequence[order])) + 1]
    counts = np.diff(np.r_[starts, len(order)])
    rank = np.arange(len(order)) - np.repeat(starts, counts)
    keep = rank < np.ceil(fraction * np.repeat(counts, counts))
    return np.sort(positions[order[keep]])


def sequence_windows(split: PackedSplit, positions: np.ndarray, length: int) -> np.ndarray:
    """Windows of ``length`` consecutive frames within ``positions`` (rows of ``split``).

    Returns (W, length) int64 indices *into* ``positions``, oldest frame first, one window ending at
    every frame that has ``length − 1`` consecutive predecessors of its sequence in ``positions``.
    """
    if length < 1:
        raise ValueError(f"window length must be >= 1, got {length}")
    if "frame" not in split.meta:
        raise ValueError("windows need per-frame sequences (MM-Fi); this split's samples are whole sequences")
    positions = np.asarray(positions, dtype=np.int64)
    if positions.size == 0:
        return np.zeros((0, length), dtype=np.int64)
    sequence = sample_groups(split, "sequence")[positions]
    frame = np.asarray(split.meta["frame"], dtype=np.int64)[positions]
    order = np.lexsort((frame, sequence))
    seq, frm = sequence[order], frame[order]
    # run[i]: how many consecutive frames of the same sequence end at sorted position i.
    follows = np.zeros(len(order), dtype=bool)
    follows[1:] = (seq[1:] == seq[:-1]) & (frm[1:] == frm[:-1] + 1)
    run = np.ones(len(order), dtype=np.int64)
    for i in np.flatnonzero(follows):  # short Python loop over frames, once per split
        run[i] = run[i - 1] + 1
    ends = np.flatnonzero(run >= length)
    sorted_windows = ends[:, None] - np.arange(length - 1, -1, -1)[None, :]
    return order[sorted_windows]
