"""Physically grounded synthetic MM-Fi and XRF55 data, written in the official on-disk layouts.

A parametric human (H36M-17 skeleton, capsule surface, per-subject sizes) performs the 27 MM-Fi
actions and the 55 XRF55 classes; a sensor rig renders every modality from that body: camera
keypoints by projection, depth and LiDAR by ray casting, radar detections and range-Doppler maps
from moving surface patches, Wi-Fi CSI and RFID phase from a multipath channel model. Any modality
can be degraded on purpose (:mod:`contamination`). Output is deterministic per seed.

Typical use::

    from pta_core.simulator import MMFiSpec, generate_mmfi, parse_contamination
    spec = MMFiSpec.demo(contamination=parse_contamination(["wifi-csi=0.8"]))
    summary = generate_mmfi("data/mmfi_synth", spec, workers=2, progress=True)
"""

from pta_core.simulator.actions_mmfi import MMFI_ACTIONS, PROTOCOL_ACTIONS
from pta_core.simulator.contamination import (
    Contamination,
    at_level,
    load_contamination,
    parse_contamination,
)
from pta_core.simulator.jobs import GenerationSummary
from pta_core.simulator.manifest import RIG_FILENAME, read_manifest
from pta_core.simulator.mmfi_writer import generate_mmfi
from pta_core.simulator.spec import (
    MMFI_MODALITIES,
    XRF55_MODALITIES,
    MMFiSpec,
    SpecError,
    XRF55Spec,
    environment_of,
    subjects_round_robin,
)
from pta_core.simulator.xrf55_classes import XRF55_ACTIONS
from pta_core.simulator.xrf55_writer import generate_xrf55

__all__ = [
    "MMFI_ACTIONS",
    "MMFI_MODALITIES",
    "PROTOCOL_ACTIONS",
    "RIG_FILENAME",
    "XRF55_ACTIONS",
    "XRF55_MODALITIES",
    "Contamination",
    "GenerationSummary",
    "MMFiSpec",
    "SpecError",
    "XRF55Spec",
    "at_level",
    "environment_of",
    "generate_mmfi",
    "generate_xrf55",
    "load_contamination",
    "parse_contamination",
    "read_manifest",
    "subjects_round_robin",
]
