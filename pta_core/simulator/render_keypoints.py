"""Camera keypoints: COCO-17 body landmarks projected through a pinhole camera, with detector errors.

The 2-D detector is modelled, not run: the true landmarks are projected and then jittered, with
occasional wild outliers and left/right label swaps (the classic errors of 2-D pose detectors).
"""

from __future__ import annotations

import numpy as np

from pta_core.simulator import body as b
from pta_core.simulator.body import Pose
from pta_core.simulator.contamination import KeypointKnobs
from pta_core.simulator.rig import Frame, Intrinsics

# COCO-17 keypoint i comes from face landmark (i < 5) or from an H36M joint.
COCO_FROM_H36M = (
    b.L_SHOULDER, b.R_SHOULDER, b.L_ELBOW, b.R_ELBOW, b.L_WRIST, b.R_WRIST,
    b.L_HIP, b.R_HIP, b.L_KNEE, b.R_KNEE, b.L_ANKLE, b.R_ANKLE,
)  # fmt: skip
COCO_FLIP = np.array([0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15])


def coco_points(pose: Pose) -> np.ndarray:
    """COCO-17 3-D landmarks (T, 17, 3), world frame (m)."""
    return np.concatenate([pose.face, pose.joints[:, list(COCO_FROM_H36M)]], axis=1)


def project_keypoints(pose: Pose, frame: Frame, intr: Intrinsics) -> np.ndarray:
    """True COCO-17 pixel positions (T, 17, 2) float64 (may lie outside the image)."""
    cam = frame.from_rig(coco_points(pose))
    cam[..., 2] = np.maximum(cam[..., 2], 0.05)  # the person is always in front; guard the division
    return intr.project(cam)


def detect_keypoints(
    pose: Pose, frame: Frame, intr: Intrinsics, rng: np.random.Generator, knobs: KeypointKnobs
) -> np.ndarray:
    """Detector output per frame: (T, 17, 2) float64 pixels, clipped to the image.

    Jitter is Gaussian (``noise_px``); an outlier lands uniformly in the person's box enlarged 1.5×;
    a swapped frame exchanges every left/right pair; a dropped frame is all zeros.
    """
    true = project_keypoints(pose, frame, intr)
    n = true.shape[0]
    out = true + rng.normal(0.0, knobs.noise_px, true.shape)
    lo, hi = true.min(axis=1), true.max(axis=1)  # (T, 2) person box
    centre, half = (lo + hi) / 2, (hi - lo) * 0.75 + 10.0
    wild = rng.random((n, 17)) < knobs.outlier_prob
    spots = centre[:, None] + half[:, None] * rng.uniform(-1.0, 1.0, (n, 17, 2))
    out = np.where(wild[..., None], spots, out)
    swapped = rng.random(n) < knobs.swap_prob
    out[swapped] = out[swapped][:, COCO_FLIP]
    out[..., 0] = np.clip(out[..., 0], 0.0, intr.width - 1.0)
    out[..., 1] = np.clip(out[..., 1], 0.0, intr.height - 1.0)
    out[rng.random(n) < knobs.dropout] = 0.0
    return out
