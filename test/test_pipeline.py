"""The node's work without DDS: SensingPipeline message by message (real messages, a real model)."""
from __future__ import annotations

import numpy as np
import pytest
from node_helpers import make_checkpoint, raw_samples, sensor_message
from train_helpers import one_thread  # noqa: F401  (autouse fixture)

from pta_core.modalities import MMFI_MODALITIES
from pta_core.torch_predictor import TorchPredictor
from pta_ros.frames import Extrinsics, RigEdge, RigGraph, pose_matrix, read_rig, transform_points
from pta_ros.inputs import SENSOR_BY_MODALITY, SENSORS, DecodeOptions
from pta_ros.params import SENSOR_FRAMES
from pta_ros.pipeline import InputOptions, SensingPipeline
from pta_ros.sync import SyncPolicy

MS = 1_000_000


class Clock:
    def __init__(self, now_ns: int) -> None:
        self.now_ns = now_ns

    def __call__(self) -> int:
        return self.now_ns


@pytest.fixture(scope="module")
def predictor(tmp_path_factory):
    validation = {("lidar",): 150.0, ("rgb", "lidar"): 90.0, tuple(MMFI_MODALITIES): 80.0, ("rgb",): 200.0}
    path = make_checkpoint(tmp_path_factory.mktemp("pipeline") / "model.pt", validation)
    return TorchPredictor.from_checkpoint(path, "cpu")


def pipeline_for(predictor, clock, frame_ids=None, rig: RigGraph | None = None) -> SensingPipeline:
    options = InputOptions(frame_ids=dict(SENSOR_FRAMES) if frame_ids is None else frame_ids, decode=DecodeOptions(),
                           extrinsics=Extrinsics(rig or RigGraph()))
    return SensingPipeline(predictor, SENSORS, SyncPolicy(), clock, options)


def feed(pipeline, raws, stamp_ns, modalities=MMFI_MODALITIES):
    return {m: pipeline.on_message(SENSOR_BY_MODALITY[m], sensor_message(m, raws[m], stamp_ns)) for m in modalities}


def test_a_complete_frame_gives_the_predictors_output_for_the_best_set(predictor):
    clock = Clock(10_000 * MS)
    pipeline = pipeline_for(predictor, clock)
    raws = raw_samples(3)
    assert feed(pipeline, raws, clock.now_ns) == dict.fromkeys(MMFI_MODALITIES)  # all accepted
    step = pipeline.step()
    assert step.error is None and step.output is not None
    assert step.switched == (None, tuple(MMFI_MODALITIES))  # the best validated set of the five
    expected = predictor.predict({m: predictor.preprocess(m, raws[m]) for m in MMFI_MODALITIES})
    np.testing.assert_allclose(step.output.prediction.joints, expected.joints, atol=1e-6)
    assert step.output.stamp_ns == clock.now_ns
    assert pipeline.step().output is None  # each frame is used once

    # rgb and lidar only: the validated rgb+lidar beats lidar and rgb alone; the set switch is reported.
    clock.now_ns += 100 * MS
    feed(pipeline, raws, clock.now_ns, ("rgb", "lidar"))
    clock.now_ns += 150 * MS  # past max_wait_s: the silent sensors no longer hold the frame back
    step = pipeline.step()
    assert step.output is not None and step.switched == (tuple(MMFI_MODALITIES), ("rgb", "lidar"))
    report = pipeline.report("/sensing_node", lambda topic: "/" + topic, 2.0, 0.1)
    assert report.outputs == 2 and report.chosen == ("rgb", "lidar")
    assert {s.modality: s.accepted for s in report.sensors} == {"rgb": 2, "depth": 1, "mmwave": 1, "lidar": 2, "wifi-csi": 1}
    assert report.sensors[0].topic == "/camera/keypoints"


def test_bad_messages_are_rejected_with_a_reason_and_counted(predictor):
    clock = Clock(10_000 * MS)
    pipeline = pipeline_for(predictor, clock)
    raws = raw_samples(0)
    lidar = SENSOR_BY_MODALITY["lidar"]
    wrong_frame = sensor_message("lidar", raws["lidar"], clock.now_ns, frame_id="elsewhere")
    assert pipeline.on_message(lidar, wrong_frame).reason == "transform"
    stale = sensor_message("lidar", raws["lidar"], clock.now_ns - 5_000 * MS)
    assert pipeline.on_message(lidar, stale).reason == "stale"
    empty = sensor_message("lidar", np.full((10, 3), np.nan, dtype=np.float32), clock.now_ns)
    assert pipeline.on_message(lidar, empty).reason == "empty"
    keypoints = SENSOR_BY_MODALITY["rgb"]
    broken = sensor_message("rgb", raws["rgb"], clock.now_ns)
    broken.poses = broken.poses[:5]
    assert pipeline.on_message(keypoints, broken).reason == "shape"
    assert pipeline.sync.rejected()["lidar"] == {"transform": 1, "stale": 1, "empty": 1}
    step = pipeline.step()
    assert step.output is None and step.nothing_live  # nothing usable arrived


def test_any_frame_id_is_accepted_when_none_is_expected(predictor):
    clock = Clock(10_000 * MS)
    pipeline = pipeline_for(predictor, clock, frame_ids={})
    message = sensor_message("lidar", raw_samples(0)["lidar"], clock.now_ns, frame_id="elsewhere")
    assert pipeline.on_message(SENSOR_BY_MODALITY["lidar"], message) is None


def test_without_a_model_messages_only_count_and_steps_do_nothing(predictor):
    clock = Clock(10_000 * MS)
    pipeline = pipeline_for(predictor, clock)
    assert pipeline.set_predictor(None) is predictor
    assert feed(pipeline, raw_samples(0), clock.now_ns) == dict.fromkeys(MMFI_MODALITIES)
    assert pipeline.sync.accepted()["lidar"] == 0
    assert pipeline.step() == type(pipeline.step())()
    assert pipeline.report("/n", str, 2.0, 0.1).device == "none"


class Failing:
    """A predictor whose forward pass breaks (a bug, an exhausted device)."""

    def __init__(self, inner):
        self.inner = inner

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def predict(self, samples, stamp_s=None):
        raise RuntimeError("device lost")


def test_a_failing_step_is_reported_and_counted_not_raised(predictor):
    clock = Clock(10_000 * MS)
    pipeline = pipeline_for(Failing(predictor), clock)
    feed(pipeline, raw_samples(0), clock.now_ns)
    step = pipeline.step()
    assert step.output is None and step.error_kind == "RuntimeError" and "device lost" in step.error
    assert pipeline.errors == {"RuntimeError": 1}


# The LiDAR and the radar re-expressed in frames turned by 30° and shifted by 0.5 m from the model's.
MOVED = {"lidar": ("lidar_link", "velodyne", pose_matrix((0.5, 0.0, 0.0), rpy=(0.0, 0.0, np.radians(30)))),
         "mmwave": ("radar_link", "ti_mmwave", pose_matrix((0.0, 0.5, 0.1), rpy=(0.0, np.radians(30), 0.0)))}


def robot_rig(repo_root) -> RigGraph:
    """The training rig (config/rig.yaml) with the robot's sensors placed in sensor_rig, as a user's
    rig_file gives them: T(sensor_rig ← robot frame) = T(sensor_rig ← model frame) · T(model ← robot)."""
    trained = read_rig(repo_root / "config" / "rig.yaml")
    graph = RigGraph(trained)
    robot = [RigEdge("sensor_rig", frame, graph.lookup("sensor_rig", model) @ move) for model, frame, move in MOVED.values()]
    return RigGraph([*trained, *robot])


def moved_messages(raws, stamp_ns):
    return {m: sensor_message(m, transform_points(raws[m], np.linalg.inv(move)), stamp_ns, frame_id=frame)
            for m, (_, frame, move) in MOVED.items()}


def test_clouds_from_a_moved_mount_give_the_same_skeleton_through_its_transform(predictor, repo_root):
    raws = raw_samples(5)
    clock = Clock(10_000 * MS)
    reference = pipeline_for(predictor, clock)
    feed(reference, raws, clock.now_ns)
    expected = reference.step().output.prediction.joints

    moved = pipeline_for(predictor, clock, rig=robot_rig(repo_root))
    feed(moved, raws, clock.now_ns, ("rgb", "depth", "wifi-csi"))
    for m, msg in moved_messages(raws, clock.now_ns).items():
        assert moved.on_message(SENSOR_BY_MODALITY[m], msg) is None
    np.testing.assert_allclose(moved.step().output.prediction.joints, expected, atol=1e-4)
    frames = {s.modality: s.frame for s in moved.report("/n", lambda t: t, 2.0, 0.1).sensors}
    assert frames["lidar"] == "velodyne -> lidar_link (rig)" and frames["rgb"].endswith("(identity)")


def test_without_the_transform_a_moved_cloud_is_rejected_and_the_reason_reported(predictor):
    raws = raw_samples(5)
    clock = Clock(10_000 * MS)
    pipeline = pipeline_for(predictor, clock)  # the training rig only: velodyne is not in it
    for m, msg in moved_messages(raws, clock.now_ns).items():
        rejection = pipeline.on_message(SENSOR_BY_MODALITY[m], msg)
        assert rejection.reason == "transform" and repr(msg.header.frame_id) in rejection.detail
    assert pipeline.step().output is None
    lidar = next(s for s in pipeline.report("/n", lambda t: t, 2.0, 0.1).sensors if s.modality == "lidar")
    assert lidar.rejected == {"transform": 1} and "no transform from 'velodyne' to the model's 'lidar_link'" in lidar.last_rejection


def test_an_image_from_another_pose_is_rejected_and_from_an_alias_accepted(predictor):
    raws = raw_samples(5)
    clock = Clock(10_000 * MS)
    rig = RigGraph([RigEdge("camera_depth_optical_frame", "tilted", pose_matrix((0, 0, 0), rpy=(0.1, 0, 0))),
                    RigEdge("camera_depth_optical_frame", "alias", pose_matrix((0, 0, 0)))])
    pipeline = pipeline_for(predictor, clock, rig=rig)
    depth = SENSOR_BY_MODALITY["depth"]
    rejection = pipeline.on_message(depth, sensor_message("depth", raws["depth"], clock.now_ns, frame_id="tilted"))
    assert rejection.reason == "transform" and "cannot be re-expressed" in rejection.detail
    assert pipeline.on_message(depth, sensor_message("depth", raws["depth"], clock.now_ns, frame_id="alias")) is None


def test_live_quality_leaves_a_degraded_lidar_out_and_serves_it_again_once_it_recovers(repo_root, tmp_path):
    """The shipped model on simulated scenes of a person it never saw: the LiDAR degraded in frames
    4-7 (same scene, same seed) is left out after ``drop_after`` judged frames and served again after
    ``restore_after``; the sets, the log lines and /diagnostics' quality say so."""
    from pta_core.data import mmfi
    from pta_core.live_quality import QualityPolicy
    from pta_core.simulator import MMFiSpec, generate_mmfi, parse_contamination
    from pta_ros.conversions import make_header
    from pta_ros.tools.bag import ENCODERS

    def scenes(name: str, contamination: list[str]) -> list:
        spec = MMFiSpec(subjects=("S08",), actions=("A03",), frames=12, frame_period=0.25,
                        modalities=MMFI_MODALITIES, contamination=parse_contamination(contamination))
        generate_mmfi(tmp_path / name, spec, workers=1)
        return list(mmfi.iter_frames(tmp_path / name, [("S08", "A03")], MMFI_MODALITIES))

    clean, degraded = scenes("clean", []), scenes("lidar", ["lidar=0.5"])
    predictor = TorchPredictor.from_checkpoint(repo_root / "models" / "pta_bench_clean.pt", "cpu")
    clock = Clock(10_000 * MS)
    options = InputOptions(frame_ids=dict(SENSOR_FRAMES), decode=DecodeOptions(),
                           quality=QualityPolicy(tolerance=1.0, drop_after=2, restore_after=3))
    pipeline = SensingPipeline(predictor, SENSORS, SyncPolicy(), clock, options)
    served, changes, quality = [], [], []
    for i, (good, bad) in enumerate(zip(clean, degraded)):
        clock.now_ns += 250 * MS
        raws = {**good.raw, "lidar": bad.raw["lidar"] if 4 <= i < 8 else good.raw["lidar"]}
        for m in MMFI_MODALITIES:  # the messages mmfi_to_bag writes for the frame
            spec = SENSOR_BY_MODALITY[m]
            message = ENCODERS[m](raws[m], make_header(clock.now_ns, SENSOR_FRAMES[spec.key]))
            assert pipeline.on_message(spec, message) is None
        step = pipeline.step()
        assert step.error is None and step.output is not None
        served.append(step.output.prediction.modalities)
        changes += step.quality_changes
        quality.append(next(s.quality for s in pipeline.report("n", str, 2.0, 0.1).sensors if s.modality == "lidar"))
    with_lidar = ["lidar" in s for s in served]
    # out from the second degraded frame to the third recovered one (drop_after 2, restore_after 3)
    assert with_lidar == [True] * 5 + [False] * 5 + [True] * 2, served
    assert any(c.startswith("lidar left out: its readout disagrees") for c in changes), changes
    assert any(c.startswith("lidar served again") for c in changes), changes
    assert quality[6].startswith("left out: ") and quality[-1].startswith("served: score"), quality
