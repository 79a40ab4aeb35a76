"""Clouds as real drivers lay them out (field order, types, padding, point step), through the node's
pipeline: the same points give the same skeleton as the project's own layout.

Layouts from the drivers' sources as documented (offset, PointField datatype; point_step):
- velodyne_pointcloud PointXYZIRT: x 0, y 4, z 8, intensity 12 (float32), ring 16 (uint16),
  time 18 (float32); 22 bytes.
- ouster-ros (the "original" point type, PCL-aligned): x 0, y 4, z 8, intensity 16 (float32), t 20
  (uint32), reflectivity 24, ring 26, ambient 28 (uint16), range 32 (uint32); 48 bytes.
- livox_ros_driver2 (PointCloud2, xfer_format 0, packed): x 0, y 4, z 8, intensity 12 (float32),
  tag 16, line 17 (uint8), timestamp 18 (float64); 26 bytes.
- ti_mmwave_rospkg radar_scan_pcl (pcl::PointXYZI): x 0, y 4, z 8, intensity 16 (float32); 32 bytes,
  no Doppler.
- TI's mmWave ROS driver velocity cloud: x, y, z, velocity, intensity, range (float32, packed); 24 bytes.
"""
from __future__ import annotations

import numpy as np
import pytest
from node_helpers import make_checkpoint, raw_samples, sensor_message
from sensor_msgs.msg import PointCloud2, PointField
from train_helpers import one_thread  # noqa: F401  (autouse fixture)

from pta_core.modalities import MMFI_MODALITIES
from pta_core.torch_predictor import TorchPredictor
from pta_ros.conversions import make_header
from pta_ros.frames import Extrinsics, RigGraph
from pta_ros.inputs import SENSOR_BY_MODALITY, SENSORS, DecodeOptions
from pta_ros.params import SENSOR_FRAMES
from pta_ros.pipeline import InputOptions, SensingPipeline
from pta_ros.sync import SyncPolicy

F32, F64, U8, U16, U32 = PointField.FLOAT32, PointField.FLOAT64, PointField.UINT8, PointField.UINT16, PointField.UINT32
DTYPES = {F32: "<f4", F64: "<f8", U8: "u1", U16: "<u2", U32: "<u4"}
LAYOUTS = {  # name → (fields: (name, offset, datatype), point_step)
    "velodyne": ([("x", 0, F32), ("y", 4, F32), ("z", 8, F32), ("intensity", 12, F32), ("ring", 16, U16),
                  ("time", 18, F32)], 22),
    "ouster": ([("x", 0, F32), ("y", 4, F32), ("z", 8, F32), ("intensity", 16, F32), ("t", 20, U32),
                ("reflectivity", 24, U16), ("ring", 26, U16), ("ambient", 28, U16), ("range", 32, U32)], 48),
    "livox": ([("x", 0, F32), ("y", 4, F32), ("z", 8, F32), ("intensity", 12, F32), ("tag", 16, U8),
               ("line", 17, U8), ("timestamp", 18, F64)], 26),
    "ti_mmwave_rospkg": ([("x", 0, F32), ("y", 4, F32), ("z", 8, F32), ("intensity", 16, F32)], 32),
    "ti_mmwave_velocity": ([("x", 0, F32), ("y", 4, F32), ("z", 8, F32), ("velocity", 12, F32),
                            ("intensity", 16, F32), ("range", 20, F32)], 24),
}
MS = 1_000_000


def driver_cloud(layout: str, columns: dict[str, np.ndarray], stamp_ns: int, frame_id: str) -> PointCloud2:
    """A cloud in ``layout`` with the given columns (others filled with plausible values)."""
    fields, point_step = LAYOUTS[layout]
    count = len(columns["x"])
    record = np.dtype({"names": [n for n, _, _ in fields], "formats": [DTYPES[t] for _, _, t in fields],
                       "offsets": [o for _, o, _ in fields], "itemsize": point_step})
    cloud = np.zeros(count, dtype=record)
    for name, _, _ in fields:
        cloud[name] = columns.get(name, np.arange(count) % 32)
    msg = PointCloud2(header=make_header(stamp_ns, frame_id), height=1, width=count, point_step=point_step,
                      row_step=point_step * count, is_dense=True,
                      fields=[PointField(name=n, offset=o, datatype=t, count=1) for n, o, t in fields])
    msg.data = cloud.tobytes()
    return msg


@pytest.fixture(scope="module")
def predictors(tmp_path_factory):
    """A model reading radar x, y, z, velocity and intensity, and one without Doppler."""
    folder = tmp_path_factory.mktemp("layouts")
    validation = {tuple(MMFI_MODALITIES): 80.0, ("lidar",): 100.0, ("mmwave",): 150.0}
    both = TorchPredictor.from_checkpoint(make_checkpoint(folder / "both.pt", validation), "cpu")
    no_doppler = TorchPredictor.from_checkpoint(
        make_checkpoint(folder / "intensity.pt", validation, preprocess={"mmwave_features": ("intensity",)}), "cpu")
    return {"both": both, "intensity": no_doppler}


def skeleton(predictor, modality: str, msg) -> np.ndarray:
    """The skeleton the pipeline gives for one cloud alone."""
    clock = lambda: 10_000 * MS  # noqa: E731
    options = InputOptions(frame_ids=dict(SENSOR_FRAMES), extrinsics=Extrinsics(RigGraph()),
                           decode=DecodeOptions(radar_features=tuple(predictor.preprocess_config.mmwave_features),
                                                csi_shape=tuple(predictor.preprocess_config.csi_shape)))
    pipeline = SensingPipeline(predictor, SENSORS, SyncPolicy(max_wait_s=0.0), clock, options)
    rejection = pipeline.on_message(SENSOR_BY_MODALITY[modality], msg)
    assert rejection is None, rejection
    step = pipeline.step()
    assert step.output is not None and pipeline.chosen == (modality,)
    return step.output.prediction.joints


@pytest.mark.parametrize("layout", ["velodyne", "ouster", "livox"])
def test_a_lidar_drivers_layout_gives_the_same_skeleton_as_the_projects(predictors, layout):
    points = raw_samples(1)["lidar"]
    ours = sensor_message("lidar", points, 10_000 * MS)
    theirs = driver_cloud(layout, {"x": points[:, 0], "y": points[:, 1], "z": points[:, 2]}, 10_000 * MS, "lidar_link")
    np.testing.assert_array_equal(skeleton(predictors["both"], "lidar", theirs), skeleton(predictors["both"], "lidar", ours))


def test_tis_velocity_cloud_gives_the_same_skeleton_as_the_projects_layout(predictors):
    points = raw_samples(1)["mmwave"]
    ours = sensor_message("mmwave", points, 10_000 * MS)
    theirs = driver_cloud("ti_mmwave_velocity", {n: points[:, i] for i, n in enumerate(("x", "y", "z", "velocity", "intensity"))},
                          10_000 * MS, "radar_link")
    np.testing.assert_array_equal(skeleton(predictors["both"], "mmwave", theirs), skeleton(predictors["both"], "mmwave", ours))


def test_a_radar_without_doppler_is_served_by_a_model_without_it(predictors):
    points = raw_samples(1)["mmwave"]
    columns = {n: points[:, i] for i, n in enumerate(("x", "y", "z", "velocity", "intensity"))}
    ti = driver_cloud("ti_mmwave_rospkg", columns, 10_000 * MS, "radar_link")
    full = driver_cloud("ti_mmwave_velocity", columns, 10_000 * MS, "radar_link")
    # the no-Doppler model reads the same from both (it ignores velocity where there is one)
    np.testing.assert_array_equal(skeleton(predictors["intensity"], "mmwave", ti), skeleton(predictors["intensity"], "mmwave", full))


@pytest.mark.parametrize("nic, shape", [("Intel 5300", (3, 30, 10)), ("ESP32", (1, 64, 10))])
def test_csi_of_the_nic_a_model_declares_and_no_other(tmp_path, nic, shape):
    """A model trained for another NIC (PreprocessConfig.csi_shape, a config change) reads that NIC's
    CSI image; any other shape is one rejection naming both, never reshaped to fit."""
    from pta_ros.conversions import numpy_to_image

    antennas, subcarriers, packets = shape
    path = make_checkpoint(tmp_path / "model.pt", {("wifi-csi",): 100.0}, preprocess={"csi_shape": shape})
    predictor = TorchPredictor.from_checkpoint(path, "cpu")
    amp = np.random.default_rng(0).uniform(20, 40, shape).astype(np.float32)
    image = numpy_to_image(amp.reshape(antennas * subcarriers, packets), "32FC1", make_header(10_000 * MS, "wifi_rx_link"))
    joints = skeleton(predictor, "wifi-csi", image)
    np.testing.assert_allclose(joints, predictor.predict({"wifi-csi": predictor.preprocess("wifi-csi", amp)}).joints)
    mm_fi = numpy_to_image(np.ones((342, 10), np.float32), "32FC1", make_header(10_000 * MS, "wifi_rx_link"))
    options = InputOptions(frame_ids=dict(SENSOR_FRAMES), decode=DecodeOptions(csi_shape=shape))
    pipeline = SensingPipeline(predictor, SENSORS, SyncPolicy(), lambda: 10_000 * MS, options)
    rejection = pipeline.on_message(SENSOR_BY_MODALITY["wifi-csi"], mm_fi)
    assert rejection.reason == "shape"
    assert f"is 342×10; the model reads {antennas} antennas × {subcarriers} subcarriers × {packets} packets" in rejection.detail
