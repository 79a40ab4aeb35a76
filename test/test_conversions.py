"""Message ↔ NumPy conversions: round trips, hand-built wire layouts, and every rejection reason."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rclpy", reason="rclpy is not installed")
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import Image, PointCloud2, PointField

from pta_core.errors import InvalidInput
from pta_ros.conversions import (
    image_to_numpy,
    make_header,
    ns_to_stamp,
    numpy_to_image,
    numpy_to_pointcloud2,
    numpy_to_posearray,
    pointcloud2_to_numpy,
    pointcloud2_to_structured,
    posearray_to_numpy,
    stamp_to_ns,
)
from pta_ros.inputs import DecodeOptions, decode_csi

RNG = np.random.default_rng(7)


def _reason(call, *args, **kwargs) -> str:
    with pytest.raises(InvalidInput) as info:
        call(*args, **kwargs)
    return info.value.reason


# ---------------------------------------------------------------------------------------------
# Image


@pytest.mark.parametrize(
    ("encoding", "shape", "dtype"),
    [
        ("mono8", (4, 5), np.uint8),
        ("rgb8", (4, 5, 3), np.uint8),
        ("bgr8", (4, 5, 3), np.uint8),
        ("16UC1", (4, 5), np.uint16),
        ("32FC1", (4, 5), np.float32),
        ("32FC2", (4, 5, 2), np.float32),
    ],
)
@pytest.mark.parametrize("big_endian", [False, True])
@pytest.mark.parametrize("pad", [0, 7])
def test_image_round_trip(encoding, shape, dtype, big_endian, pad):
    if np.issubdtype(dtype, np.integer):
        array = RNG.integers(0, np.iinfo(dtype).max, shape, endpoint=True).astype(dtype)
    else:
        array = RNG.normal(0, 100, shape).astype(dtype)
    row = shape[1] * (shape[2] if len(shape) == 3 else 1) * np.dtype(dtype).itemsize
    msg = numpy_to_image(array, encoding, make_header(5, "cam"), step=row + pad, big_endian=big_endian)
    assert msg.step == row + pad and len(msg.data) == shape[0] * (row + pad)
    # Survives the wire too.
    msg = deserialize_message(serialize_message(msg), Image)
    wire = np.dtype(dtype).newbyteorder(">" if big_endian else "<")
    assert bytes(msg.data[: wire.itemsize]) == np.array([array.flat[0]], wire).tobytes()
    out = image_to_numpy(msg)
    assert out.dtype == dtype and out.dtype.isnative
    np.testing.assert_array_equal(out, array)


def test_image_hand_built_big_endian_padded_16uc1():
    # 2 rows × 2 px of uint16 big-endian, each row padded by 3 bytes: values 1, 258, 65535, 4096.
    data = bytes([0, 1, 1, 2, 0xAA, 0xAA, 0xAA, 0xFF, 0xFF, 0x10, 0x00, 0xBB, 0xBB, 0xBB])
    msg = Image(height=2, width=2, encoding="16UC1", is_bigendian=1, step=7)
    msg.data = data
    np.testing.assert_array_equal(image_to_numpy(msg), np.array([[1, 258], [65535, 4096]], np.uint16))


def test_image_output_is_a_copy():
    msg = numpy_to_image(np.ones((2, 2), np.float32), "32FC1")
    out = image_to_numpy(msg)
    msg.data = bytes(len(msg.data))  # the message changes; the decoded array does not
    assert (out == 1).all()


def test_image_rejections():
    good = numpy_to_image(np.ones((4, 6), np.uint16), "16UC1")
    assert _reason(image_to_numpy, good, accept=["32FC1"]) == "encoding"
    bad = numpy_to_image(np.ones((4, 6), np.uint16), "16UC1")
    bad.encoding = "yuv422"
    assert _reason(image_to_numpy, bad) == "encoding"
    truncated = numpy_to_image(np.ones((4, 6), np.uint16), "16UC1")
    truncated.data = truncated.data[:-1]
    assert _reason(image_to_numpy, truncated) == "truncated"
    assert _reason(image_to_numpy, Image(height=0, width=6, encoding="16UC1", step=12)) == "empty_image"
    assert _reason(image_to_numpy, Image(height=4, width=0, encoding="16UC1", step=0)) == "empty_image"
    short_step = numpy_to_image(np.ones((4, 6), np.uint16), "16UC1")
    short_step.step = 11
    assert _reason(image_to_numpy, short_step) == "layout"


def test_numpy_to_image_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="rgb8"):
        numpy_to_image(np.zeros((4, 5), np.uint8), "rgb8")
    with pytest.raises(ValueError, match="unknown encoding"):
        numpy_to_image(np.zeros((4, 5), np.uint8), "jpeg")
    with pytest.raises(ValueError, match="step"):
        numpy_to_image(np.zeros((4, 5), np.uint16), "16UC1", step=9)


# ---------------------------------------------------------------------------------------------
# PointCloud2


@pytest.mark.parametrize("big_endian", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cloud_round_trip(big_endian, dtype):
    points = RNG.normal(0, 3, (50, 5)).astype(dtype)
    names = ("x", "y", "z", "velocity", "intensity")
    msg = numpy_to_pointcloud2(
        points, names, make_header(1, "radar_link"), dtype=dtype, big_endian=big_endian, point_step=64
    )
    msg = deserialize_message(serialize_message(msg), PointCloud2)
    wire = np.dtype(dtype).newbyteorder(">" if big_endian else "<")
    assert (
        bytes(msg.data[: wire.itemsize]) == np.array([points[0, 0]], wire).tobytes()
    )  # really that byte order
    out = pointcloud2_to_numpy(msg, names, dtype=dtype)
    np.testing.assert_array_equal(out, points)
    # Any subset, in any order.
    np.testing.assert_array_equal(
        pointcloud2_to_numpy(msg, ("intensity", "x"), dtype=dtype), points[:, [4, 0]]
    )


def test_cloud_hand_built_shuffled_fields_padding_and_row_step():
    """An organised 2×3 cloud: fields out of order with a gap, a uint8 ring, 4 padding bytes per row."""
    fields = [
        PointField(name="z", offset=0, datatype=PointField.FLOAT32, count=1),
        PointField(name="ring", offset=4, datatype=PointField.UINT8, count=1),
        PointField(name="x", offset=8, datatype=PointField.FLOAT64, count=1),
        PointField(name="y", offset=16, datatype=PointField.FLOAT32, count=1),
    ]
    point_step, width, height = 24, 3, 2
    row_step = width * point_step + 4
    data = bytearray(height * row_step)
    expected = []
    for r in range(height):
        for c in range(width):
            x, y, z = 1.5 * r + c, -2.0 * c, 0.25 * (r + 1)
            base = r * row_step + c * point_step
            data[base : base + 4] = np.float32(z).tobytes()
            data[base + 4] = 7
            data[base + 8 : base + 16] = np.float64(x).tobytes()
            data[base + 16 : base + 20] = np.float32(y).tobytes()
            expected.append((x, y, z))
        data[r * row_step + width * point_step : (r + 1) * row_step] = b"\xee" * 4
    msg = PointCloud2(
        height=height,
        width=width,
        fields=fields,
        is_bigendian=False,
        point_step=point_step,
        row_step=row_step,
    )
    msg.data = bytes(data)
    np.testing.assert_allclose(pointcloud2_to_numpy(msg, ("x", "y", "z")), np.array(expected, np.float32))
    assert (pointcloud2_to_structured(msg)["ring"] == 7).all()


def test_cloud_vector_field_and_nan_kept():
    fields = [
        PointField(name="x", offset=0, datatype=PointField.FLOAT32, count=1),
        PointField(name="rgb", offset=4, datatype=PointField.UINT8, count=3),
    ]
    msg = PointCloud2(height=1, width=2, fields=fields, point_step=8, row_step=16)
    msg.data = (
        np.float32(np.nan).tobytes() + bytes([1, 2, 3, 0]) + np.float32(2).tobytes() + bytes([4, 5, 6, 0])
    )
    structured = pointcloud2_to_structured(msg)
    np.testing.assert_array_equal(structured["rgb"], [[1, 2, 3], [4, 5, 6]])
    out = pointcloud2_to_numpy(msg, ("x",))
    assert np.isnan(out[0, 0]) and out[1, 0] == 2
    assert _reason(pointcloud2_to_numpy, msg, ("rgb",)) == "fields"  # not a scalar


def test_cloud_rejections():
    good = numpy_to_pointcloud2(np.ones((10, 3), np.float32), ("x", "y", "z"))
    assert _reason(pointcloud2_to_numpy, good, ("x", "y", "z", "intensity")) == "fields"
    truncated = numpy_to_pointcloud2(np.ones((10, 3), np.float32), ("x", "y", "z"))
    truncated.data = truncated.data[:-1]
    assert _reason(pointcloud2_to_numpy, truncated) == "truncated"
    # A huge claimed size is refused before any decoding (its data is not even there).
    huge = PointCloud2(height=1, width=50_000_000, fields=good.fields, point_step=12, row_step=600_000_000)
    assert _reason(pointcloud2_to_numpy, huge, max_points=100_000) == "too_large"
    unknown = numpy_to_pointcloud2(np.ones((2, 3), np.float32), ("x", "y", "z"))
    unknown.fields[1].datatype = 42
    assert _reason(pointcloud2_to_numpy, unknown) == "fields"
    overlap = numpy_to_pointcloud2(np.ones((2, 3), np.float32), ("x", "y", "z"))
    overlap.fields[1].offset = 2
    assert _reason(pointcloud2_to_numpy, overlap) == "layout"
    past_end = numpy_to_pointcloud2(np.ones((2, 3), np.float32), ("x", "y", "z"))
    past_end.point_step = 8
    assert _reason(pointcloud2_to_numpy, past_end) == "layout"
    short_rows = numpy_to_pointcloud2(np.ones((2, 3), np.float32), ("x", "y", "z"))
    short_rows.row_step = 12
    assert _reason(pointcloud2_to_numpy, short_rows) == "layout"


def test_empty_cloud_decodes_to_zero_points():
    msg = numpy_to_pointcloud2(np.zeros((0, 3), np.float32), ("x", "y", "z"))
    assert pointcloud2_to_numpy(msg).shape == (0, 3)


# ---------------------------------------------------------------------------------------------
# PoseArray, stamps, CSI layout


def test_posearray_round_trip_identity_orientation():
    points = RNG.normal(0, 1, (17, 3))
    msg = numpy_to_posearray(points, make_header(3, "sensor_rig"))
    assert all(p.orientation.w == 1.0 and p.orientation.x == 0.0 for p in msg.poses)
    np.testing.assert_array_equal(posearray_to_numpy(msg), points)
    assert msg.header.frame_id == "sensor_rig" and stamp_to_ns(msg.header.stamp) == 3


def test_stamp_conversion():
    ns = 1_700_000_000_123_456_789
    stamp = ns_to_stamp(ns)
    assert (stamp.sec, stamp.nanosec) == (1_700_000_000, 123_456_789)
    assert stamp_to_ns(stamp) == ns


@pytest.mark.parametrize("layout", ["antenna_major", "subcarrier_major"])
def test_csi_layouts(layout):
    amp = RNG.uniform(0, 50, (3, 114, 10)).astype(np.float32)
    rows = amp.reshape(342, 10) if layout == "antenna_major" else amp.transpose(1, 0, 2).reshape(342, 10)
    out = decode_csi(numpy_to_image(rows, "32FC1"), DecodeOptions(csi_layout=layout))
    np.testing.assert_array_equal(out, amp)


def test_csi_rejects_wrong_shape_and_encoding():
    assert (
        _reason(decode_csi, numpy_to_image(np.ones((114, 10), np.float32), "32FC1"), DecodeOptions())
        == "shape"
    )
    assert (
        _reason(decode_csi, numpy_to_image(np.ones((342, 10), np.uint16), "16UC1"), DecodeOptions())
        == "encoding"
    )


def test_radar_without_doppler_serves_a_model_that_reads_no_velocity():
    from pta_core.config import PreprocessConfig
    from pta_core.modalities import get_modality
    from pta_ros.conversions import make_header
    from pta_ros.inputs import decode_radar, radar_note
    from pta_ros.tools.radar_bag import ti_mmwave_cloud

    # What ti_mmwave_rospkg publishes on radar_scan_pcl: pcl::PointXYZI (x, y, z at 0, 4, 8, intensity at
    # 16, 32-byte points), no velocity field.
    points = np.random.default_rng(5).normal(0, 1, (20, 4)).astype(np.float32)
    msg = ti_mmwave_cloud(np.insert(points, 3, 0.0, axis=1), make_header(1, "ti_mmwave"))
    assert [(f.name, f.offset) for f in msg.fields] == [("x", 0), ("y", 4), ("z", 8), ("intensity", 16)]
    assert msg.point_step == 32
    # A model that reads velocity: the no-Doppler path, every point static, and a note saying so.
    raw = decode_radar(msg, DecodeOptions())
    np.testing.assert_array_equal(raw[:, [0, 1, 2, 4]], points)
    assert (raw[:, 3] == 0).all()
    assert radar_note(msg, DecodeOptions()) == "no velocity field: read as 0 (the no-Doppler path)"
    # A missing intensity has no neutral value: one clear rejection naming the field.
    no_intensity = ti_mmwave_cloud(np.insert(points, 3, 0.0, axis=1), make_header(1, "ti_mmwave"))
    no_intensity.fields = [f for f in no_intensity.fields if f.name != "intensity"]
    with pytest.raises(InvalidInput, match="lacks field.*intensity") as err:
        decode_radar(no_intensity, DecodeOptions())
    assert err.value.reason == "fields"
    # One that does not: x, y, z and intensity by name, velocity NaN, and its preprocessing never sees it.
    raw = decode_radar(msg, DecodeOptions(radar_features=("intensity",)))
    np.testing.assert_array_equal(raw[:, [0, 1, 2, 4]], points)
    assert np.isnan(raw[:, 3]).all() and radar_note(msg, DecodeOptions(radar_features=("intensity",))) == ""
    sample = get_modality("mmwave").preprocess(raw, PreprocessConfig(mmwave_features=("intensity",)))
    assert sample["points"].shape[1] == 4 and sample["mask"].sum() == 20
    np.testing.assert_allclose(sample["points"][:20], points)
