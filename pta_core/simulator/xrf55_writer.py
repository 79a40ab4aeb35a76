"""Write an XRF55-layout tree: ``<root>/<Scene>/<WiFi|RFID|mmWave>/<volunteer>_<class>_<repetition>.npy``.

Each file is written atomically (temporary name, then rename); a sample whose files all exist is
skipped, so an interrupted run can be repeated. Each sample is one 5 s execution of its class by
the volunteer's body, at a random spot in front of the sensors.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from pta_core.io import atomic_write_bytes
from pta_core.simulator import fileformats as ff
from pta_core.simulator import render_xrf55 as rx
from pta_core.simulator.actions_xrf55 import SAMPLE_SECONDS
from pta_core.simulator.body import BodyShape, Placement, capsules, draw_body, forward_kinematics
from pta_core.simulator.jobs import GenerationSummary, run_jobs
from pta_core.simulator.manifest import ensure_manifest
from pta_core.simulator.motions import draw_variation, personal
from pta_core.simulator.rig import xrf55_rig
from pta_core.simulator.spec import TAG_XRF_BODY, TAG_XRF_SAMPLE, XRF55_SCENES, XRF55Spec, seed_sequence
from pta_core.simulator.xrf55_classes import XRF55_ACTIONS

log = logging.getLogger(__name__)

STREAMS = ("motion", "WiFi", "RFID", "mmWave")


def volunteer_body(seed: int, scene: str, volunteer: int) -> BodyShape:
    """Volunteer ids may restart per scene (docs/datasets.md §2.2): a body is keyed by (scene, volunteer)."""
    key = seed_sequence(seed, TAG_XRF_BODY, XRF55_SCENES.index(scene) + 1, volunteer)
    return draw_body(np.random.default_rng(key))


def sample_arrays(spec: XRF55Spec, scene: str, volunteer: int, cls: int, rep: int) -> dict[str, np.ndarray]:
    """The arrays of one sample, by modality folder name (only the modalities in ``spec``)."""
    ids = (XRF55_SCENES.index(scene) + 1, volunteer, cls, rep)
    streams = seed_sequence(spec.seed, TAG_XRF_SAMPLE, *ids).spawn(len(STREAMS))
    rngs = {name: np.random.default_rng(s) for name, s in zip(STREAMS, streams)}
    rig = xrf55_rig(scene)
    shape = volunteer_body(spec.seed, scene, volunteer)
    motion_rng = rngs["motion"]
    place = Placement(
        float(motion_rng.uniform(*rig.spot_x)),
        float(motion_rng.uniform(*rig.spot_y)),
        float(np.pi + motion_rng.uniform(-0.3, 0.3)),
    )
    habit = np.random.default_rng(seed_sequence(spec.seed, TAG_XRF_BODY, ids[0], volunteer, 1))
    variation = personal(draw_variation(motion_rng), habit)
    motion = XRF55_ACTIONS[cls].motion

    def body_at(times: np.ndarray):
        pose = forward_kinematics(shape, motion(np.clip(times, 0.0, SAMPLE_SECONDS), variation), place)
        starts, ends, _ = capsules(shape, pose)
        return starts, ends, pose.joints

    radii = capsules(shape, forward_kinematics(shape, motion(np.zeros(1), variation), place))[2]
    knobs = spec.contamination
    render = {
        "WiFi": lambda: rx.wifi(body_at, radii, rig, rngs["WiFi"], knobs.xrf_wifi),
        "RFID": lambda: rx.rfid(body_at, radii, rig, rngs["RFID"], knobs.xrf_rfid),
        "mmWave": lambda: rx.mmwave(body_at, radii, rig, rngs["mmWave"], knobs.xrf_mmwave),
    }
    return {name: render[name]() for name in spec.modalities}


def write_sample(root: Path, spec: XRF55Spec, scene: str, volunteer: int, cls: int, rep: int) -> dict:
    name = f"{volunteer}_{cls}_{rep}.npy"
    paths = {m: Path(root) / scene / m / name for m in spec.modalities}
    if all(p.is_file() for p in paths.values()):
        return {"skipped": True}
    written = 0
    for modality, array in sample_arrays(spec, scene, volunteer, cls, rep).items():
        data = ff.npy_bytes(array)
        atomic_write_bytes(paths[modality], data)
        written += len(data)
    return {"skipped": False, "frames": 1, "bytes": written, "empty": {}}


def _job(args: tuple) -> dict:
    return write_sample(*args)


def generate_xrf55(
    out_dir: str | Path, spec: XRF55Spec, *, workers: int = 1, progress: bool = False
) -> GenerationSummary:
    """Generate (or complete) an XRF55-layout synthetic set; ``frames_written`` counts samples.

    Raises:
        SpecError: ``out_dir`` holds another set or foreign files.
    """
    root = Path(out_dir)
    rigs = {scene: xrf55_rig(scene).describe() for scene in XRF55_SCENES}
    ensure_manifest(root, "xrf55", spec.content_key(), {"sample_seconds": SAMPLE_SECONDS, "scenes": rigs})
    jobs = [(root, spec, *key) for key in spec.samples()]
    summary = run_jobs(
        _job, jobs, root=root, workers=workers, progress=progress, desc="xrf55", unit="samples"
    )
    log.info(
        "xrf55: %d samples written, %d skipped, %.1f MB in %.1f s",
        summary.items_written, summary.items_skipped, summary.bytes_written / 1e6, summary.seconds,
    )  # fmt: skip
    return summary
