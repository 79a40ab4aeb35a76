"""A live camera's intrinsics → the model's camera (pta_ros.intrinsics), and the node's use of camera_info."""
from __future__ import annotations

import numpy as np
import pytest
from node_helpers import make_checkpoint, raw_samples, sensor_message
from sensor_msgs.msg import CameraInfo
from train_helpers import one_thread  # noqa: F401  (autouse fixture)

from pta_core.config import PreprocessConfig
from pta_core.errors import InvalidInput
from pta_core.torch_predictor import TorchPredictor
from pta_ros.conversions import make_header
from pta_ros.inputs import SENSOR_BY_MODALITY, SENSORS, DecodeOptions, camera_info_topic
from pta_ros.intrinsics import (
    DepthResampler,
    Pinhole,
    from_camera_info,
    keypoints_to_model,
    model_depth_camera,
)
from pta_ros.params import SENSOR_FRAMES
from pta_ros.pipeline import InputOptions, SensingPipeline
from pta_ros.sync import SyncPolicy

MODEL = model_depth_camera(PreprocessConfig())
WIDE = Pinhole(848, 480, 400.0, 400.0, 423.5, 239.5)  # covers the model's view at a coarser pitch
MS = 1_000_000


def camera_info(camera: Pinhole, frame_id: str = "camera_depth_optical_frame") -> CameraInfo:
    return CameraInfo(header=make_header(0, frame_id), width=camera.width, height=camera.height,
                      k=[camera.fx, 0.0, camera.cx, 0.0, camera.fy, camera.cy, 0.0, 0.0, 1.0])


def render_plane_and_box(camera: Pinhole) -> np.ndarray:
    """Depth (m) of a wall at 4 m with a box 1 m wide at 2 m in front of it, seen by ``camera``."""
    cols, rows = np.meshgrid(np.arange(camera.width), np.arange(camera.height))
    x, y = (cols - camera.cx) / camera.fx, (rows - camera.cy) / camera.fy  # ray slopes
    depth = np.full((camera.height, camera.width), 4.0, np.float32)
    depth[(np.abs(x * 2.0) < 0.5) & (np.abs(y * 2.0) < 0.8)] = 2.0
    return depth


def test_a_depth_map_resampled_to_the_model_camera_is_what_the_model_camera_sees():
    resampled = DepthResampler()(render_plane_and_box(WIDE), WIDE, MODEL)
    native = render_plane_and_box(MODEL)
    assert resampled.shape == native.shape
    assert (resampled != native).mean() < 0.01  # nearest neighbour: only pixels at the box's edges differ
    assert set(np.unique(resampled)) <= {2.0, 4.0}  # depths are never blended across an edge


def test_pixels_the_live_camera_does_not_see_have_no_reading():
    narrow = Pinhole(320, 240, 420.0, 420.0, 159.5, 119.5)  # the middle quarter of the model's view
    resampled = DepthResampler()(np.full((240, 320), 3.0, np.float32), narrow, MODEL)
    assert resampled[240, 320] == 3.0 and resampled[0, 0] == 0.0 and resampled[479, 639] == 0.0
    assert 0.2 < (resampled > 0).mean() < 0.3


def test_the_model_camera_is_left_untouched_and_a_wrong_size_rejected():
    depth = np.ones((480, 640), np.uint16)
    assert DepthResampler()(depth, MODEL, MODEL) is depth
    with pytest.raises(InvalidInput, match="848×480") as err:
        DepthResampler()(depth, WIDE, MODEL)
    assert err.value.reason == "intrinsics"


def test_keypoints_keep_their_ray():
    live = Pinhole(848, 480, 600.0, 610.0, 420.0, 250.0)
    model = Pinhole(640, 480, 460.0, 460.0, 319.5, 239.5)
    kp = np.array([[100.0, 50.0, 0.9], [420.0, 250.0, 0.5]])
    moved = keypoints_to_model(kp, live, model)
    np.testing.assert_allclose((moved[:, 0] - model.cx) / model.fx, (kp[:, 0] - live.cx) / live.fx)
    np.testing.assert_allclose((moved[:, 1] - model.cy) / model.fy, (kp[:, 1] - live.cy) / live.fy)
    np.testing.assert_array_equal(moved[:, 2], kp[:, 2])


@pytest.mark.parametrize("width, height, k, complaint", [
    (0, 480, [400, 0, 320, 0, 400, 240, 0, 0, 1], "is 0×480"),
    (640, 480, [0.0] * 9, "no positive focal lengths"),
    (640, 480, [float("nan"), 0, 320, 0, 400, 240, 0, 0, 1], "no positive focal lengths"),
])
def test_a_camera_info_that_cannot_be_a_cameras_is_rejected(width, height, k, complaint):
    with pytest.raises(InvalidInput, match=complaint) as err:
        from_camera_info(CameraInfo(width=width, height=height, k=k))
    assert err.value.reason == "camera_info"


def test_camera_info_sits_beside_the_image_topic():
    assert camera_info_topic("/robot/camera/depth/image_rect_raw") == "/robot/camera/depth/camera_info"
    assert camera_info_topic("depth/image_raw") == "depth/camera_info"
    assert camera_info_topic("/image") == "/camera_info"


@pytest.fixture(scope="module")
def predictor(tmp_path_factory):
    path = make_checkpoint(tmp_path_factory.mktemp("intrinsics") / "model.pt", {("depth",): 90.0, ("rgb",): 100.0})
    return TorchPredictor.from_checkpoint(path, "cpu")


def depth_alone(predictor, messages) -> tuple[SensingPipeline, list]:
    clock = lambda: 10_000 * MS  # noqa: E731
    pipeline = SensingPipeline(predictor, SENSORS, SyncPolicy(max_wait_s=0.0), clock,
                               InputOptions(frame_ids=dict(SENSOR_FRAMES), decode=DecodeOptions()))
    depth = SENSOR_BY_MODALITY["depth"]
    results = [pipeline.on_camera_info(depth, m) if isinstance(m, CameraInfo) else pipeline.on_message(depth, m)
               for m in messages]
    return pipeline, results


def test_the_pipeline_brings_a_live_depth_camera_to_the_models(predictor):
    wide = (render_plane_and_box(WIDE) * 1000).astype(np.uint16)
    native = (render_plane_and_box(MODEL) * 1000).astype(np.uint16)
    pipeline, results = depth_alone(predictor, [camera_info(WIDE), sensor_message("depth", wide, 10_000 * MS)])
    assert results == [None, None]
    live = pipeline.step().output.prediction.joints
    reference, _ = depth_alone(predictor, [sensor_message("depth", native, 10_000 * MS)])
    np.testing.assert_allclose(live, reference.step().output.prediction.joints, atol=2e-3)
    depth = next(s for s in pipeline.report("/n", lambda t: t, 2.0, 0.1).sensors if s.modality == "depth")
    assert depth.camera.startswith("848×480 fx 400") and depth.note == ""


def test_without_camera_info_the_models_camera_is_assumed_and_said(predictor):
    pipeline, results = depth_alone(predictor, [sensor_message("depth", raw_samples(0)["depth"], 10_000 * MS)])
    assert results == [None]
    assert pipeline.notes["depth"].startswith("no camera_info yet: the model's camera is assumed (640×480 fx 420")


def test_a_depth_image_of_another_size_than_its_camera_info_is_rejected(predictor):
    pipeline, results = depth_alone(predictor, [camera_info(WIDE), sensor_message("depth", raw_samples(0)["depth"], 10_000 * MS)])
    assert results[1].reason == "intrinsics" and "its camera_info says 848×480" in results[1].detail
    bad = CameraInfo(width=848, height=480)
    _, results = depth_alone(predictor, [bad])
    assert results[0].reason == "camera_info"
