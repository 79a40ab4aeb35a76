"""The real sensing node over DDS: publishers → node → subscribers, checked against the Predictor.

The node runs on its own executor thread and rclpy context (its own DDS participant);
the test's publishers and subscribers live in another context. No part of the pipeline is mocked.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from node_helpers import Harness, make_checkpoint, raw_samples, sensor_message

pytest.importorskip("rclpy")
from diagnostic_msgs.msg import DiagnosticStatus
from visualization_msgs.msg import Marker

from pta_core.modalities import MMFI_MODALITIES
from pta_core.torch_predictor import TorchPredictor
from pta_ros.conversions import posearray_to_numpy, stamp_to_ns
from pta_ros.diagnostics import status_values

MS = 1_000_000
S = 1_000_000_000
# Each sensor's stamp lags the frame a little (all within the 50 ms slop): outputs carry the newest.
LAG_MS = {"rgb": 0, "depth": 4, "mmwave": 9, "lidar": 2, "wifi-csi": 7}


def publish_frame(h: Harness, raws: dict, t_ns: int, modalities=MMFI_MODALITIES) -> None:
    for m in modalities:
        h.publish_frame(raws, t_ns - LAG_MS[m] * MS, modalities=[m])


def expected(predictor: TorchPredictor, raws: dict, modalities) -> tuple[np.ndarray, np.ndarray]:
    pred = predictor.predict({m: predictor.preprocess(m, raws[m]) for m in modalities})
    return pred.joints, pred.activity_probs


def pipeline_status(h: Harness) -> DiagnosticStatus:
    return next(s for s in h.out.diagnostics[-1].status if s.name.endswith(": pipeline"))


def output_counts(h: Harness) -> dict[str, int]:
    return {name: len(getattr(h.out, name)) for name in ("skeleton", "scores", "activity", "markers", "inference")}


def wait_for_every_output_topic(h: Harness, count: int) -> None:
    """Each step publishes once on every output topic; the topics arrive independently."""
    h.wait_for(lambda: set(output_counts(h).values()) == {count}, what=f"{count} messages on every output topic",
               seen=lambda: output_counts(h))


def all_live_then_frames(h: Harness, count: int) -> dict[int, dict]:
    """Make every sensor live (all five chosen), clear the outputs, then publish ``count`` frames, each
    once the previous one's outputs are in; returns the frames by stamp."""
    warmup = h.now_ns()
    publish_frame(h, raw_samples(100), warmup)
    h.wait_for_output(warmup, "the warm-up frame")
    assert h.node.chosen_modalities == MMFI_MODALITIES
    wait_for_every_output_topic(h, 1)
    for received in (h.out.skeleton, h.out.scores, h.out.activity, h.out.markers, h.out.inference):
        received.clear()
    frames, t = {}, warmup
    for k in range(count):
        # Frames further apart than slop_s, so that no frame's match can take the previous frame's messages.
        raws, t = raw_samples(k), max(h.now_ns(), t + 100 * MS)
        frames[t] = raws
        publish_frame(h, raws, t)
        h.wait_for_output(t, f"frame {k}")
    wait_for_every_output_topic(h, count)
    return frames


# Stamps are the wall clock here: a loaded machine must not make a frame stale before the node reads
# it, nor let a frame's wait for its last sensors run out (max_wait_s) while DDS still delivers them
# (the soak caught a frame served as two partial sets), and the diagnostics levels are not what these
# tests check (test_pipeline.py, test_diagnostics).
PATIENT = {"max_age_s": 10.0, "max_wait_s": 5.0, "input_timeout_s": 60.0, "latency_warn_s": 10.0}


@pytest.mark.slow
def test_outputs_equal_the_predictor_on_the_same_inputs(tmp_path):
    model = make_checkpoint(tmp_path / "model.pt")
    predictor = TorchPredictor.from_checkpoint(model, "cpu")
    h = Harness(model, extra=PATIENT).start()
    try:
        frames = all_live_then_frames(h, 6)
        # ~/inference: one record per output, same stamp, naming the modality set used.
        assert [i.header.stamp for i in h.out.inference] == [s.header.stamp for s in h.out.skeleton]
        for record in h.out.inference:
            values = status_values(record.status[0])
            assert values["modalities"] == "+".join(MMFI_MODALITIES) and float(values["step_ms"]) > 0
        for skeleton, scores, activity in zip(h.out.skeleton, h.out.scores, h.out.activity):
            stamp = stamp_to_ns(skeleton.header.stamp)
            assert stamp in frames, "the output stamp is the newest input stamp of its frame"
            joints, probs = expected(predictor, frames[stamp], MMFI_MODALITIES)
            assert skeleton.header.frame_id == "camera_depth_optical_frame"  # where MM-Fi joints live
            np.testing.assert_allclose(posearray_to_numpy(skeleton), joints, atol=1e-5)
            assert all(p.orientation.w == 1.0 for p in skeleton.poses) and len(skeleton.poses) == 17
            np.testing.assert_allclose(np.array(scores.data), probs, atol=1e-6)
            assert activity.data == predictor.activity_classes[int(np.argmax(probs))]

        markers = h.out.markers[-1].markers
        assert [m.type for m in markers] == [Marker.LINE_LIST, Marker.SPHERE_LIST, Marker.TEXT_VIEW_FACING]
        assert markers[1].header.stamp == h.out.skeleton[-1].header.stamp
        np.testing.assert_allclose(
            [(p.x, p.y, p.z) for p in markers[1].points], posearray_to_numpy(h.out.skeleton[-1])
        )
        assert markers[2].text.startswith(h.out.activity[-1].data + " ")

        h.out.diagnostics.clear()
        h.wait_for(lambda: h.out.diagnostics, what="a diagnostics report after the frames")
        status = pipeline_status(h)
        values = status_values(status)
        assert status.level == DiagnosticStatus.OK, status.message
        assert values["chosen_modalities"] == values["live_modalities"] == "+".join(MMFI_MODALITIES)
        assert float(values["latency_p50_ms"]) > 0
        sensors = [s for s in h.out.diagnostics[-1].status if not s.name.endswith(": pipeline")]
        assert len(sensors) == 5
        for sensor in sensors:
            v = status_values(sensor)
            # Reliable inputs (the harness's QoS override): the warm-up frame and six more, each accepted.
            assert v["accepted"] == "7" and v["rejected_total"] == "0" and v["live"] == "True"
            assert float(v["rate_hz"]) > 0
    finally:
        h.close()


@pytest.mark.slow
def test_chosen_set_follows_sensors_that_stop_and_return(tmp_path):
    """Sim time, driven frame by frame: the test sets the clock, sends a frame, moves the clock on by
    max_wait_s (what a frame waits for a live sensor that has not delivered) and waits for that frame's
    output. Nothing depends on how fast the machine is."""
    # The validation table decides: rgb+depth beats all five; without depth, rgb alone is best.
    table = {
        MMFI_MODALITIES: 50.0,
        ("rgb", "depth"): 40.0,
        ("rgb",): 60.0,
        ("mmwave", "lidar", "wifi-csi"): 80.0,
    }
    model = make_checkpoint(tmp_path / "model.pt", validation=table)
    predictor = TorchPredictor.from_checkpoint(model, "cpu")
    # On the MultiThreadedExecutor (the other tests use the default single-threaded one).
    extra = {"max_age_s": 0.5, "max_wait_s": 0.1, "input_timeout_s": 0.8, "marker_lifetime_s": 0.0,
             "executor_threads": 4}
    t0, period, wait = 1_000 * S, S // 5, S // 10
    h = Harness(model, sim_time=True, extra=extra).start(clock_ns=t0)
    try:
        frames: dict[int, dict] = {}
        phases: dict[str, list[int]] = {"all": [], "no_depth": [], "back": []}

        def run(phase: str, count: int, modalities) -> None:
            for _ in range(count):
                t = t0 + len(frames) * period
                raws = raw_samples(len(frames))
                frames[t] = raws
                phases[phase].append(t)
                h.set_clock(t)
                # Depth first, buffered before the rest: a sensor that is not live is not waited for, so
                # the frame it returns in would otherwise be served without it whenever it arrived last.
                for group in ([m for m in modalities if m == "depth"], [m for m in modalities if m != "depth"]):
                    publish_frame(h, raws, t, group)
                    # Buffered before the clock moves on (or a frame would be ready, and served, with
                    # the sensors that happened to be in by then).
                    h.wait_for(lambda t=t, group=group: all(h.node.synchronizer.newest_stamp(m) == t - LAG_MS[m] * MS
                                                            for m in group),
                               what=f"{phase} frame's {group} in the node's buffers")
                h.set_clock(t + wait)  # a frame missing a live sensor is ready now
                h.wait_for_output(t, f"{phase} frame")

        run("all", 4, MMFI_MODALITIES)
        run("no_depth", 6, [m for m in MMFI_MODALITIES if m != "depth"])
        run("back", 4, MMFI_MODALITIES)

        # Every frame gave exactly one output, from the set the table picks among the sensors it had.
        assert sorted(h.output_stamps()) == sorted(frames)
        for phase, subset in (("all", ("rgb", "depth")), ("no_depth", ("rgb",)), ("back", ("rgb", "depth"))):
            for t in phases[phase]:
                assert h.modalities_of(t) == "+".join(subset), (phase, t)
                joints, _ = expected(predictor, frames[t], subset)
                skeleton = next(s for s in h.out.skeleton if stamp_to_ns(s.header.stamp) == t)
                np.testing.assert_allclose(posearray_to_numpy(skeleton), joints, atol=1e-5)
        assert h.node.chosen_modalities == ("rgb", "depth")

        def reported() -> list[str]:
            return [status_values(s)["chosen_modalities"] for d in h.out.diagnostics for s in d.status
                    if s.name.endswith(": pipeline")]

        # /diagnostics (1 Hz, wall clock) reports the set chosen now.
        h.out.diagnostics.clear()
        h.wait_for(lambda: "rgb+depth" in reported(), what="rgb+depth in /diagnostics", seen=reported)

        # All inputs stop (sim time moves past max_age_s): the markers are cleared exactly once after the
        # last skeleton, and diagnostics report the silence as ERROR.
        h.set_clock(t0 + len(frames) * period + S)
        h.wait_for(lambda: any(m.markers[0].action == Marker.DELETEALL for m in h.out.markers), what="DELETEALL")
        h.wait_for(lambda: h.out.diagnostics and pipeline_status(h).level == DiagnosticStatus.ERROR,
                   what="diagnostics ERROR", seen=lambda: h.out.diagnostics and pipeline_status(h).message)
        assert "no valid input" in pipeline_status(h).message
        actions = [m.markers[0].action for m in h.out.markers]
        last_shown = max(i for i, a in enumerate(actions) if a != Marker.DELETEALL)
        assert actions[last_shown + 1 :].count(Marker.DELETEALL) == 1
    finally:
        h.close()


@pytest.mark.slow
def test_diagnostics_keep_beating_under_sim_time_without_a_clock(tmp_path):
    # A bag paused or ended: /clock stops. The heartbeat runs on the wall clock, so the input-timeout
    # ERROR still reaches /diagnostics, named by the node's fully qualified name.
    model = make_checkpoint(tmp_path / "model.pt")
    h = Harness(model, sim_time=True, extra={"input_timeout_s": 0.5}, name="sensing_node").start(clock_ns=10**9)
    try:
        h.wait_for(lambda: h.out.diagnostics and pipeline_status(h).level == DiagnosticStatus.ERROR,
                   what="a diagnostics ERROR with /clock stopped")
        names = {s.name for d in h.out.diagnostics for s in d.status}
        assert "/sensing_node: pipeline" in names
        count, clock = len(h.out.diagnostics), h.now_ns()
        h.wait_for(lambda: len(h.out.diagnostics) >= count + 2, what="two more beats while sim time stands still")
        assert h.now_ns() == clock
    finally:
        h.close()


@pytest.mark.slow
def test_diagnostics_count_the_publishers_matched_on_each_input(tmp_path):
    """Each input's status says how many publishers the node's side has matched (the subscription's
    matched event): one per test publisher, and zero again once a publisher goes away; the node lists
    the inputs still unmatched."""
    model = make_checkpoint(tmp_path / "model.pt")
    h = Harness(model).start()

    def publishers() -> dict[str, str]:
        if not h.out.diagnostics:
            return {}
        return {s.name.split(": ", 1)[1]: status_values(s).get("publishers") for s in h.out.diagnostics[-1].status}

    try:
        h.wait_for(lambda: all(publishers().get(m) == "1" for m in MMFI_MODALITIES), what="every input matched",
                   seen=publishers)
        assert h.node.unmatched_inputs() == []
        rgb_topic = h.publishers["rgb"].topic_name
        h.client.destroy_publisher(h.publishers.pop("rgb"))
        h.wait_for(lambda: publishers().get("rgb") == "0", what="rgb's publisher unmatched", seen=publishers)
        assert h.node.unmatched_inputs() == [rgb_topic]  # what a player waits on (pta_bringup)
        status = next(s for s in h.out.diagnostics[-1].status if s.name.endswith(": rgb"))
        assert status.message == "no message yet: no publisher matched"
        assert publishers()["lidar"] == "1"
    finally:
        h.close()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A model.pt and its `pta export` folder."""
    pytest.importorskip("onnxruntime")
    from pta_core import cli

    root = tmp_path_factory.mktemp("export")
    model = make_checkpoint(root / "model.pt")
    assert cli.main(["export", "--checkpoint", str(model), "--out", str(root / "onnx"), "--no-check"]) == 0
    return model, root / "onnx"


@pytest.mark.slow
def test_the_onnxruntime_backend_serves_an_export_like_pytorch(exported):
    model, folder = exported
    predictor = TorchPredictor.from_checkpoint(model, "cpu")
    h = Harness(folder, extra={"backend": "onnxruntime", **PATIENT}).start()
    try:
        frames = all_live_then_frames(h, 3)
        for skeleton in h.out.skeleton:
            joints, _ = expected(predictor, frames[stamp_to_ns(skeleton.header.stamp)], MMFI_MODALITIES)
            np.testing.assert_allclose(posearray_to_numpy(skeleton), joints, atol=1e-4)
    finally:
        h.close()


# The node process on onnxruntime: configured and warmed up, it has served a forward pass without torch.
NO_TORCH_NODE = """
import sys
import rclpy
from rclpy.parameter import Parameter
from pta_ros.sensing_node import SensingNode

rclpy.init()
node = SensingNode(parameter_overrides=[Parameter("model_path", value=sys.argv[1]),
                                        Parameter("backend", value="onnxruntime")])
started = node.start()
print(started, sorted(name for name in sys.modules if name.split(".")[0] == "torch"))
node.destroy_node()
rclpy.try_shutdown()
"""


@pytest.mark.slow
def test_the_onnxruntime_node_process_never_imports_torch(exported):
    _, folder = exported
    result = subprocess.run([sys.executable, "-c", NO_TORCH_NODE, str(folder)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "True []", result.stdout + result.stderr


def test_a_depth_camera_with_its_camera_info_is_brought_to_the_models_camera(tmp_path):
    """camera_info beside the depth topic (image_transport naming) over DDS: an 848×480 wide camera's
    depth gives the predictor's output on that depth resampled into the model's camera."""
    from sensor_msgs.msg import CameraInfo

    from pta_ros.intrinsics import DepthResampler, Pinhole, model_depth_camera

    model = make_checkpoint(tmp_path / "model.pt", {("depth",): 50.0})
    predictor = TorchPredictor.from_checkpoint(model, "cpu")
    wide = Pinhole(848, 480, 400.0, 400.0, 423.5, 239.5)
    info = CameraInfo(width=wide.width, height=wide.height, k=[wide.fx, 0.0, wide.cx, 0.0, wide.fy, wide.cy, 0.0, 0.0, 1.0])
    info.header.frame_id = "camera_depth_optical_frame"
    depth = np.random.default_rng(3).integers(500, 4000, (480, 848)).astype(np.uint16)
    h = Harness(model, extra={**PATIENT, "max_wait_s": 0.0}).start()
    try:
        info_pub = h.client.create_publisher(CameraInfo, "depth/camera_info", 10)
        h.wait_for(lambda: info_pub.get_subscription_count() > 0, what="the node's depth/camera_info subscription")

        def depth_camera() -> str:
            h.out.diagnostics.clear()
            h.wait_for(lambda: h.out.diagnostics, what="a diagnostics report")
            status = next(s for s in h.out.diagnostics[-1].status if s.name.endswith(": depth"))
            return status_values(status).get("camera", "")

        t = h.now_ns()
        while True:  # camera_info and depth travel on two topics: send both until the node has paired them
            info_pub.publish(info)
            t = max(h.now_ns(), t + 100 * MS)
            h.publish_frame({"depth": depth}, t, modalities=["depth"])
            skeleton = h.wait_for_output(t, "a depth frame")
            if depth_camera().startswith("848×480 fx 400"):
                break
        resampled = DepthResampler()(depth, wide, model_depth_camera(predictor.preprocess_config))
        joints, _ = expected(predictor, {"depth": resampled}, ("depth",))
        np.testing.assert_allclose(posearray_to_numpy(skeleton), joints, atol=1e-5)
    finally:
        h.close()


def test_clouds_from_moved_mounts_through_the_rig_file_give_the_predictors_output(tmp_path):
    """rig_file over DDS: the LiDAR and radar published in frames turned 30° and shifted 0.5 m give the
    predictor's output on the original points; without the rig file they are rejected, the reason shown."""

    from pta_ros.frames import pose_matrix, transform_points

    moved = {"lidar": ("lidar_link", "velodyne", pose_matrix((0.5, 0, 0), rpy=(0, 0, np.radians(30)))),
             "mmwave": ("radar_link", "ti_mmwave", pose_matrix((0, 0.5, 0), rpy=(0, np.radians(30), 0)))}
    rig_file = tmp_path / "robot_rig.yaml"
    rig_file.write_text("transforms:\n" + "".join(
        f"  - {{parent: {model}, child: {frame}, xyz: [{move[0, 3]}, {move[1, 3]}, {move[2, 3]}], "
        f"rpy: [0, {np.radians(30) if m == 'mmwave' else 0}, {np.radians(30) if m == 'lidar' else 0}]}}\n"
        for m, (model, frame, move) in moved.items()))
    model = make_checkpoint(tmp_path / "model.pt")
    predictor = TorchPredictor.from_checkpoint(model, "cpu")

    def publish_moved(h: Harness, raws: dict, t: int) -> None:
        for m in MMFI_MODALITIES:
            if m in moved:
                _, frame, move = moved[m]
                h.publish(m, sensor_message(m, transform_points(raws[m], np.linalg.inv(move)), t, frame_id=frame))
            else:
                h.publish_frame(raws, t, modalities=[m])

    h = Harness(model, extra={**PATIENT, "rig_file": str(rig_file)}).start()
    try:
        raws, t = raw_samples(7), h.now_ns()
        publish_moved(h, raws, t)
        skeleton = h.wait_for_output(t, "a frame from moved mounts")
        assert h.modalities_of(t) == "+".join(MMFI_MODALITIES)
        joints, _ = expected(predictor, raws, MMFI_MODALITIES)
        np.testing.assert_allclose(posearray_to_numpy(skeleton), joints, atol=1e-4)
    finally:
        h.close()

    h = Harness(model, extra=PATIENT).start()  # no rig file: the frame waits max_wait_s for LiDAR and radar
    try:
        raws, t = raw_samples(7), h.now_ns()
        publish_moved(h, raws, t)
        h.wait_for_output(t, "the frame without the moved sensors")
        assert h.modalities_of(t) == "rgb+depth+wifi-csi"

        def lidar_status() -> dict:
            h.out.diagnostics.clear()
            h.wait_for(lambda: h.out.diagnostics, what="a diagnostics report")
            return status_values(next(s for s in h.out.diagnostics[-1].status if s.name.endswith(": lidar")))

        status = lidar_status()
        assert status["rejected.transform"] == "1"
        assert "no transform from 'velodyne' to the model's 'lidar_link'" in status["last_rejection"]
    finally:
        h.close()
