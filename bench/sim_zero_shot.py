"""A radar network trained on the simulator, read on MARS's real radar as it is (zero-shot).

    python bench/sim_zero_shot.py --model runs/sim_pretrain/model.pt --mars PATH/TO/MARS
        [--reference runs/mars/model.pt] [--json out.json]

The simulator's network predicts Human3.6M-17 joints in its rig's depth-camera frame from points in
its radar's frame (x forward, y left, z up: the axes of MARS's ti_mmwave frame, where the reader puts
MARS's points). Its joints are moved into the radar's frame through the simulated rig's extrinsics
(environment E01) and scored against MARS's Kinect joints on the 16 joints both sets name (H36M's
thorax as Kinect's spine_shoulder, its head as Kinect's head; Kinect's neck and feet have no H36M
match): MPJPE, PA-MPJPE and MAE, on MARS's test frames. For scale, the same 16 joints of MARS's
training mean pose and, with ``--reference``, of a network trained on MARS.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pta_core.config import DataConfig  # noqa: E402
from pta_core.data.sources import split_source  # noqa: E402
from pta_core.metrics import mae, mpjpe, pa_mpjpe  # noqa: E402
from pta_core.serving import load_predictor  # noqa: E402
from pta_core.simulator.rig import mmfi_rig  # noqa: E402
from pta_core.skeleton import H36M_JOINTS, KINECT_19  # noqa: E402

# H36M joint → the Kinect joint of the same body point.
COMMON = {"pelvis": "spine_base", "right_hip": "right_hip", "right_knee": "right_knee", "right_ankle": "right_ankle",
          "left_hip": "left_hip", "left_knee": "left_knee", "left_ankle": "left_ankle", "spine": "spine_mid",
          "thorax": "spine_shoulder", "head": "head", "left_shoulder": "left_shoulder", "left_elbow": "left_elbow",
          "left_wrist": "left_wrist", "right_shoulder": "right_shoulder", "right_elbow": "right_elbow",
          "right_wrist": "right_wrist"}
H36M_INDEX = [H36M_JOINTS.index(h) for h in COMMON]
KINECT_INDEX = [KINECT_19.joints.index(k) for k in COMMON.values()]


def scores(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    return {"mpjpe_mm": round(float(mpjpe(pred, truth)), 1), "pa_mpjpe_mm": round(float(pa_mpjpe(pred, truth)), 1),
            "mae_mm": round(float(mae(pred, truth)), 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="a radar network trained on the simulator")
    parser.add_argument("--mars", type=Path, required=True, help="the MARS clone")
    parser.add_argument("--reference", type=Path, help="a MARS-trained network, scored on the same joints")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    predictor = load_predictor(args.model, "torch", "cpu", 0)
    rig = mmfi_rig("E01")
    cfg = DataConfig(dataset="mars", root=str(args.mars), modalities=("mmwave",), split="time_split")
    test, train = split_source(cfg, "test"), split_source(cfg, "train")
    truth, sim, ref = [], [], []
    reference = load_predictor(args.reference, "torch", "cpu", 0) if args.reference else None
    for record in test.records(0):
        raw = record.raw["mmwave"]
        joints = predictor.predict({"mmwave": predictor.preprocess("mmwave", raw)}).joints
        sim.append(rig.radar.from_rig(rig.camera.to_rig(joints))[H36M_INDEX])
        truth.append(record.pose[KINECT_INDEX])
        if reference is not None:
            ref.append(reference.predict({"mmwave": reference.preprocess("mmwave", raw)}).joints[KINECT_INDEX])
    truth, sim = np.asarray(truth), np.asarray(sim)
    mean_pose = np.mean([r.pose[KINECT_INDEX] for r in train.records(0)], axis=0)
    result = {"frames": len(truth), "joints": list(COMMON.values()),
              "simulator_zero_shot": scores(sim, truth),
              "mars_training_mean_pose": scores(np.broadcast_to(mean_pose, truth.shape).copy(), truth)}
    if reference is not None:
        result["mars_trained"] = scores(np.asarray(ref), truth)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
