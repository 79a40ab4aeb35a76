"""Write an MM-Fi-layout tree: ``<root>/E0x/Syy/Azz/{modality}/frameNNN.ext`` + ``ground_truth.npy``.

Sequences stream to disk one frame at a time (memory does not grow with the set). Each sequence
is written into a hidden ``.Azz.partial`` directory beside its final place and renamed when
complete, so an interrupted run leaves no half sequence visible and a rerun skips finished ones.
Hidden names are also what the official toolbox skips when it lists a subject's actions.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from pta_core.simulator import fileformats as ff
from pta_core.simulator.jobs import GenerationSummary, run_jobs
from pta_core.simulator.manifest import ensure_manifest
from pta_core.simulator.mmfi_sequence import MMFiSequence
from pta_core.simulator.rig import ENVIRONMENTS, mmfi_rig
from pta_core.simulator.spec import MMFiSpec, environment_of

log = logging.getLogger(__name__)



def write_sequence(root: Path, spec: MMFiSpec, subject: str, action: str) -> dict:
    """Render and write one sequence (skipped when its directory already exists)."""
    parent = Path(root) / environment_of(subject) / subject
    final = parent / action
    if final.is_dir():
        return {"skipped": True}
    seq = MMFiSequence(spec, subject, action)
    tmp = parent / f".{action}.partial"
    shutil.rmtree(tmp, ignore_errors=True)  # leftover of an interrupted run
    for modality in spec.modalities:
        (tmp / modality).mkdir(parents=True)
    written = ff.write_bytes(tmp / "ground_truth.npy", ff.npy_bytes(seq.ground_truth()))
    empty = {"lidar": 0, "mmwave": 0}
    for modality in ("rgb", "infra1", "infra2"):
        if modality in spec.modalities:
            for f, kp in enumerate(seq.keypoints(modality)):
                written += ff.write_bytes(tmp / modality / f"frame{f + 1:03d}.npy", ff.npy_bytes(kp))
    need = set(spec.modalities)
    for f, data in enumerate(seq.frames(need)):
        name = f"frame{f + 1:03d}"
        if "depth" in need:
            written += ff.write_bytes(tmp / "depth" / f"{name}.png", ff.png16_bytes(data.depth))
        for modality, cloud, channels in (("lidar", data.lidar, 3), ("mmwave", data.mmwave, 5)):
            if modality in need:
                written += ff.write_bytes(tmp / modality / f"{name}.bin", ff.cloud_bytes(cloud, channels))
                empty[modality] += len(cloud) == 0
        if "wifi-csi" in need:
            mat = ff.mat_bytes({"CSIamp": data.csi_amp, "CSIphase": data.csi_phase})
            written += ff.write_bytes(tmp / "wifi-csi" / f"{name}.mat", mat)
    os.rename(tmp, final)
    return {"skipped": False, "frames": spec.frames, "bytes": written, "empty": empty}


def _job(args: tuple[Path, MMFiSpec, str, str]) -> dict:
    return write_sequence(*args)


def rig_description(spec: MMFiSpec) -> dict:
    rigs = {env: mmfi_rig(env, spec.frame_period).describe() for env in ENVIRONMENTS}
    return {
        "frame_period_s": spec.frame_period,
        "ground_truth_frame": "camera_depth_optical_frame",
        "environments": rigs,
    }


def generate_mmfi(
    out_dir: str | Path, spec: MMFiSpec, *, workers: int = 1, progress: bool = False
) -> GenerationSummary:
    """Generate (or complete) an MM-Fi-layout synthetic set under ``out_dir``.

    Args:
        out_dir: dataset root (created). A root generated earlier with the same content settings is
            completed: finished sequences are skipped.
        spec: what to generate. workers: parallel processes (1 = in this process).
        progress: show a tqdm bar (sequences).

    Raises:
        SpecError: ``out_dir`` holds another set or foreign files.
    """
    root = Path(out_dir)
    ensure_manifest(root, "mmfi", spec.content_key(), rig_description(spec))
    jobs = [(root, spec, s, a) for _, s, a in spec.sequences()]
    summary = run_jobs(_job, jobs, root=root, workers=workers, progress=progress, desc="mmfi", unit="frames")
    log.info(
        "mmfi: %d sequences written, %d skipped, %d frames, %.1f MB in %.1f s",
        summary.items_written, summary.items_skipped, summary.frames_written, summary.bytes_written / 1e6, summary.seconds,
    )  # fmt: skip
    return summary
