"""Intrinsics invariance: the held-out scenes seen by a camera with another resolution and focal length.

    python bench/intrinsics_invariance.py [--model models/pta_bench_clean.pt]
                                          [--out docs/results/intrinsics_invariance]

The demo's held-out scenes (subject S08, actions A03 A12 A17 A26, 12 frames 0.25 s apart) rendered by
the simulator twice: with the training rig's cameras (depth 640×480, f 420 px; colour 640×480, f 460
px) and with a wide camera at 848×480 (depth f 400 px, colour f 420 px), the same bodies in the same
places. Each render goes through the node's pipeline (pta_ros.pipeline, without DDS) as messages:
keypoints (PoseArray), depth (16UC1, mm) and, for the wide one, the cameras' camera_info; and once
without camera_info (the model's camera assumed). Scored against the ground truth: MPJPE, and the
depth-alone skeletons' mean joint distance to the native render's.

Target (issue 29): the wide camera with its camera_info within 2 mm MPJPE of the native render; the
depth-alone skeletons within 5 mm of the native ones.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
from sensor_msgs.msg import CameraInfo

from pta_core.metrics import mpjpe
from pta_core.simulator import MMFiSpec
from pta_core.simulator.body import capsules
from pta_core.simulator.mmfi_sequence import MMFiSequence
from pta_core.simulator.render_depth import DepthRenderer
from pta_core.simulator.rig import Intrinsics
from pta_core.torch_predictor import TorchPredictor
from pta_ros.conversions import make_header, numpy_to_image, numpy_to_posearray
from pta_ros.frames import input_extrinsics
from pta_ros.inputs import SENSOR_BY_MODALITY, SENSORS, DecodeOptions
from pta_ros.params import SENSOR_FRAMES
from pta_ros.pipeline import InputOptions, SensingPipeline
from pta_ros.sync import SyncPolicy
from pta_ros.tools import demo

REPO = Path(__file__).resolve().parents[1]
WIDE_DEPTH = Intrinsics(848, 480, 400.0, 400.0, 423.5, 239.5)
WIDE_RGB = Intrinsics(848, 480, 420.0, 420.0, 423.5, 239.5)
SETS = {"depth alone": ("depth",), "keypoints alone": ("rgb",)}


def render(wide: bool, clean: bool = False, depth_seed: int | None = None) -> list[dict]:
    """Per frame: keypoints (17, 2) px, depth (H, W) mm and ground truth (17, 3) m. ``clean``: depth
    without sensor noise; ``depth_seed``: another draw of the depth noise."""
    spec = MMFiSpec(subjects=(demo.TEST_SUBJECT,), actions=demo.BAG_ACTIONS, frames=demo.FRAMES,
                    frame_period=demo.FRAME_PERIOD, modalities=("rgb", "depth"))
    frames = []
    for action in demo.BAG_ACTIONS:
        sequence = MMFiSequence(spec, demo.TEST_SUBJECT, action)
        if wide:
            sequence.rig = dataclasses.replace(sequence.rig, depth_intrinsics=WIDE_DEPTH, rgb_intrinsics=WIDE_RGB)
            sequence.depth_renderer = DepthRenderer(sequence.rig)
        if depth_seed is not None:
            sequence.rng["depth"] = np.random.default_rng(depth_seed)
        keypoints, truth = sequence.keypoints("rgb"), sequence.ground_truth()
        if clean:
            camera, (starts, ends, radii) = sequence.rig.camera, capsules(sequence.shape, sequence.pose)
            depths = [np.rint(sequence.depth_renderer.clean(camera.from_rig(starts[f]), camera.from_rig(ends[f]), radii)
                              * 1000).astype(np.uint16) for f in range(len(truth))]
        else:
            depths = [data.depth for data in sequence.frames({"depth"})]
        frames += [{"keypoints": keypoints[f], "depth": depths[f], "truth": truth[f]} for f in range(len(truth))]
    return frames


def camera_info(intrinsics: Intrinsics, frame_id: str) -> CameraInfo:
    i = intrinsics
    return CameraInfo(header=make_header(0, frame_id), width=i.width, height=i.height,
                      k=[i.fx, 0.0, i.cx, 0.0, i.fy, i.cy, 0.0, 0.0, 1.0])


def drive(predictor, frames: list[dict], modalities: tuple[str, ...], infos: dict[str, CameraInfo],
          served: set[str]) -> np.ndarray:
    """Each frame's messages through the pipeline with only ``modalities`` live: (N, 17, 3) skeletons;
    the sets the node chose among them (its best validated subset) are added to ``served``."""
    clock = [10**18]
    options = InputOptions(frame_ids=dict(SENSOR_FRAMES), extrinsics=input_extrinsics(predictor.card.rig),
                           decode=DecodeOptions(radar_features=tuple(predictor.preprocess_config.mmwave_features)))
    sensors = tuple(s for s in SENSORS if s.modality in modalities)
    pipeline = SensingPipeline(predictor, sensors, SyncPolicy(), lambda: clock[0], options)
    for modality, info in infos.items():
        if modality in modalities:
            assert pipeline.on_camera_info(SENSOR_BY_MODALITY[modality], info) is None
    skeletons = []
    for frame in frames:
        clock[0] += int(demo.FRAME_PERIOD * 1e9)
        for modality in modalities:
            header = make_header(clock[0], SENSOR_FRAMES[SENSOR_BY_MODALITY[modality].key])
            msg = (numpy_to_posearray(np.column_stack([frame["keypoints"], np.ones(17)]), header) if modality == "rgb"
                   else numpy_to_image(frame["depth"], "16UC1", header))
            rejection = pipeline.on_message(SENSOR_BY_MODALITY[modality], msg)
            if rejection is not None:
                raise RuntimeError(f"{modality} rejected: {rejection.detail}")
        step = pipeline.step()
        if step.output is None:
            raise RuntimeError(f"no output from {modalities}: {step.error}")
        skeletons.append(step.output.prediction.joints)
        served.add("+".join(pipeline.chosen))
    return np.stack(skeletons)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="intrinsics_invariance", description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=REPO / "models" / demo.SHIPPED_MODEL)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "results" / "intrinsics_invariance")
    args = parser.parse_args(argv)
    if not args.model.is_file():
        print(f"intrinsics_invariance: no model at {args.model}", file=sys.stderr)
        return 2
    predictor = TorchPredictor.from_checkpoint(args.model, "cpu", threads=1)
    native, wide = render(False), render(True)
    truth = np.stack([f["truth"] for f in native])
    infos = {"depth": camera_info(WIDE_DEPTH, SENSOR_FRAMES["depth"]), "rgb": camera_info(WIDE_RGB, SENSOR_FRAMES["camera"])}
    rows = {}
    for name, modalities in SETS.items():
        served: set[str] = set()
        reference = drive(predictor, native, modalities, {}, served)
        with_info = drive(predictor, wide, modalities, infos, served)
        without = drive(predictor, wide, modalities, {}, served)
        rows[name] = {
            "served": sorted(served),
            "native_mpjpe_mm": float(mpjpe(reference, truth)),
            "wide_camera_info_mpjpe_mm": float(mpjpe(with_info, truth)),
            "wide_no_camera_info_mpjpe_mm": float(mpjpe(without, truth)),
            "to_native_mm": float(mpjpe(with_info, reference)),  # mean joint distance between the skeletons
            "to_native_no_camera_info_mm": float(mpjpe(without, reference)),
        }
    # What moves the depth-alone skeletons besides the camera: another draw of the depth noise on the
    # native camera; and the camera change alone, on noise-free renders.
    depth_only, served = ("depth",), set()
    native_skeletons = drive(predictor, native, depth_only, {}, served)
    redrawn = drive(predictor, render(False, depth_seed=12345), depth_only, {}, served)
    clean_native = drive(predictor, render(False, clean=True), depth_only, {}, served)
    clean_wide = drive(predictor, render(True, clean=True), depth_only, infos, served)
    floors = {"native camera, another draw of the depth noise": float(mpjpe(redrawn, native_skeletons)),
              "noise-free renders, wide + camera_info against native": float(mpjpe(clean_wide, clean_native)),
              "noise-free native MPJPE": float(mpjpe(clean_native, truth)),
              "noise-free wide + camera_info MPJPE": float(mpjpe(clean_wide, truth))}
    lines = ["# Intrinsics invariance: the held-out scenes through a wide 848×480 camera", "",
             f"`python bench/intrinsics_invariance.py` (model `{args.model.name}`; the node's pipeline without DDS; "
             f"{len(truth)} frames of {demo.TEST_SUBJECT}). Native: depth 640×480 f 420 px, colour 640×480 f 460 px. "
             "Wide: depth 848×480 f 400 px, colour 848×480 f 420 px, the same bodies.", "",
             "| inputs (set served) | native MPJPE (mm) | wide + camera_info | wide, no camera_info | skeletons to native, + camera_info (mm) | no camera_info (mm) |",
             "|---|---|---|---|---|---|"]
    for name, r in rows.items():
        lines.append(f"| {name} ({', '.join(r['served'])}) | {r['native_mpjpe_mm']:.1f} | {r['wide_camera_info_mpjpe_mm']:.1f} | "
                     f"{r['wide_no_camera_info_mpjpe_mm']:.1f} | {r['to_native_mm']:.1f} | {r['to_native_no_camera_info_mm']:.1f} |")
    lines += ["", "Depth alone, what else moves the skeletons (mean joint distance, mm, or MPJPE where named):", ""]
    lines += [f"- {name}: {value:.1f}" for name, value in floors.items()]
    rows["depth alone, floors"] = floors
    text = "\n".join(lines) + "\n"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.md").write_text(text)
    (args.out / "summary.json").write_text(json.dumps(rows, indent=2))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
