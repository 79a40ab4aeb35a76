"""ROS message ↔ NumPy conversions without cv_bridge or sensor_msgs_py.

Both directions are public: the node decodes with the ``*_to_numpy`` functions, the bag converter,
the replay tools and the tests build messages with the ``numpy_to_*`` ones. Messages are rclpy
classes; to store one in a bag written with ``rosbags``, serialise it with
``rclpy.serialization.serialize_message`` (rclpy CDR and rosbags CDR interoperate).

Every decoding function validates the message before touching its bytes and raises
:class:`~pta_core.errors.InvalidInput` with a stable ``reason`` code the node counts:

======================  ==========================================================================
reason                  meaning
======================  ==========================================================================
``encoding``            image encoding unknown or not one the caller accepts
``empty_image``         zero height or width
``layout``              ``step`` / ``point_step`` / ``row_step`` / field offsets inconsistent
``truncated``           ``data`` shorter than the layout says (height × step, height × row_step)
``fields``              a required PointCloud2 field is missing or has an unsupported datatype
``too_large``           more points than the caller's bound (checked before decoding: O(1) work)
======================  ==========================================================================
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Pose, PoseArray
from sensor_msgs.msg import Image, PointCloud2, PointField
from std_msgs.msg import Header

from pta_core.errors import InvalidInput

# encoding → (element dtype, channels). mono16 is the same layout as 16UC1.
IMAGE_ENCODINGS: dict[str, tuple[np.dtype, int]] = {
    "mono8": (np.dtype(np.uint8), 1),
    "8UC1": (np.dtype(np.uint8), 1),
    "rgb8": (np.dtype(np.uint8), 3),
    "bgr8": (np.dtype(np.uint8), 3),
    "mono16": (np.dtype(np.uint16), 1),
    "16UC1": (np.dtype(np.uint16), 1),
    "32FC1": (np.dtype(np.float32), 1),
    "32FC2": (np.dtype(np.float32), 2),
}

# PointField datatype constant → element dtype (REP/sensor_msgs numbering).
POINT_FIELD_DTYPES: dict[int, np.dtype] = {
    PointField.INT8: np.dtype(np.int8),
    PointField.UINT8: np.dtype(np.uint8),
    PointField.INT16: np.dtype(np.int16),
    PointField.UINT16: np.dtype(np.uint16),
    PointField.INT32: np.dtype(np.int32),
    PointField.UINT32: np.dtype(np.uint32),
    PointField.FLOAT32: np.dtype(np.float32),
    PointField.FLOAT64: np.dtype(np.float64),
}
_DATATYPE_OF: dict[np.dtype, int] = {dtype: code for code, dtype in POINT_FIELD_DTYPES.items()}


# ---------------------------------------------------------------------------------------------
# Time and headers


def stamp_to_ns(stamp: Time) -> int:
    """``builtin_interfaces/Time`` → integer nanoseconds."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def ns_to_stamp(ns: int) -> Time:
    """Integer nanoseconds (≥ 0) → ``builtin_interfaces/Time``."""
    sec, nanosec = divmod(int(ns), 1_000_000_000)
    return Time(sec=sec, nanosec=nanosec)


def make_header(stamp_ns: int = 0, frame_id: str = "") -> Header:
    """A ``std_msgs/Header`` from a nanosecond stamp and a frame id."""
    return Header(stamp=ns_to_stamp(stamp_ns), frame_id=frame_id)


def _copy_header(header: Header | None) -> Header:
    if header is None:
        return Header()
    return Header(stamp=Time(sec=header.stamp.sec, nanosec=header.stamp.nanosec), frame_id=header.frame_id)


# ---------------------------------------------------------------------------------------------
# Image


def image_to_numpy(msg: Image, accept: Iterable[str] | None = None) -> np.ndarray:
    """Decode an Image into a native-endian array (a copy, independent of the message).

    Honours ``step`` (row padding) and ``is_bigendian``.

    Args:
        msg: the image.
        accept: encodings the caller can use (all of :data:`IMAGE_ENCODINGS` when None).

    Returns:
        (height, width) for one-channel encodings, (height, width, channels) otherwise; dtype as in
        :data:`IMAGE_ENCODINGS` (uint16 for 16UC1 in sensor units, float32 for 32FC*).

    Raises:
        InvalidInput: ``encoding``, ``empty_image``, ``layout``, ``truncated``.
    """
    encoding = msg.encoding
    allowed = IMAGE_ENCODINGS.keys() if accept is None else set(accept)
    if encoding not in IMAGE_ENCODINGS or encoding not in allowed:
        raise InvalidInput("encoding", f"image encoding {encoding!r} is not one of {sorted(allowed)}")
    dtype, channels = IMAGE_ENCODINGS[encoding]
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height == 0 or width == 0:
        raise InvalidInput("empty_image", f"image is {height}×{width}")
    row_bytes = width * channels * dtype.itemsize
    if step < row_bytes:
        raise InvalidInput("layout", f"step {step} < width × pixel size = {row_bytes} bytes")
    size = len(msg.data)
    if size < height * step:
        raise InvalidInput("truncated", f"image data is {size} bytes, height × step needs {height * step}")
    wire = dtype.newbyteorder(">" if msg.is_bigendian else "<")
    raw = np.frombuffer(msg.data, dtype=np.uint8, count=height * step)
    # Strided view over the padded rows, then one copy into native order.
    view = np.ndarray(
        shape=(height, width, channels),
        dtype=wire,
        buffer=raw,
        strides=(step, channels * dtype.itemsize, dtype.itemsize),
    )
    array = np.array(view, dtype=dtype)
    return array[:, :, 0] if channels == 1 else array


def numpy_to_image(
    array: np.ndarray,
    encoding: str,
    header: Header | None = None,
    *,
    step: int | None = None,
    big_endian: bool = False,
) -> Image:
    """Encode an array as an Image.

    Args:
        array: (height, width) or (height, width, channels), any dtype castable to the encoding's.
            16UC1 takes sensor units (e.g. millimetres); 32FC1 takes metres.
        encoding: a key of :data:`IMAGE_ENCODINGS`.
        header: copied into the message (empty when None).
        step: row length in bytes; larger than ``width × pixel size`` pads each row with zeros.
        big_endian: write multi-byte values big-endian (and set ``is_bigendian``).

    Raises:
        ValueError: unknown encoding, a shape that does not fit it, or a too small ``step``.
    """
    if encoding not in IMAGE_ENCODINGS:
        raise ValueError(f"unknown encoding {encoding!r}; known: {sorted(IMAGE_ENCODINGS)}")
    dtype, channels = IMAGE_ENCODINGS[encoding]
    data = np.asarray(array)
    if data.ndim == 2 and channels == 1:
        data = data[:, :, None]
    if data.ndim != 3 or data.shape[2] != channels:
        raise ValueError(
            f"{encoding} needs (H, W{'' if channels == 1 else f', {channels}'}), got {array.shape}"
        )
    height, width = data.shape[:2]
    row_bytes = width * channels * dtype.itemsize
    step = row_bytes if step is None else int(step)
    if step < row_bytes:
        raise ValueError(f"step {step} < width × pixel size = {row_bytes}")
    wire = dtype.newbyteorder(">" if big_endian else "<")
    rows = np.ascontiguousarray(data.astype(wire)).reshape(height, row_bytes // wire.itemsize).view(np.uint8)
    if step > row_bytes:
        rows = np.concatenate([rows, np.zeros((height, step - row_bytes), np.uint8)], axis=1)
    msg = Image(
        header=_copy_header(header),
        height=height,
        width=width,
        encoding=encoding,
        is_bigendian=int(big_endian and dtype.itemsize > 1),
        step=step,
    )
    msg.data = rows.tobytes()  # bytes assignment is fast; an ndarray would be copied element-wise
    return msg


# ---------------------------------------------------------------------------------------------
# PointCloud2


def cloud_dtype(fields: Sequence[PointField], point_step: int, big_endian: bool) -> np.dtype:
    """Structured dtype of one point from the message's ``fields`` (any order, with padding).

    A field with ``count > 1`` becomes a sub-array. Raises InvalidInput ``fields`` (unknown
    datatype, duplicate name) or ``layout`` (a field past ``point_step``, overlapping fields).
    """
    names, formats, offsets = [], [], []
    order = ">" if big_endian else "<"
    spans = []
    for field in fields:
        if field.datatype not in POINT_FIELD_DTYPES:
            raise InvalidInput("fields", f"field {field.name!r} has unknown datatype {field.datatype}")
        if field.name in names or not field.name:
            raise InvalidInput("fields", f"field name {field.name!r} is empty or repeated")
        base = POINT_FIELD_DTYPES[field.datatype].newbyteorder(order)
        count = max(int(field.count), 1)
        end = int(field.offset) + base.itemsize * count
        if end > point_step:
            raise InvalidInput("layout", f"field {field.name!r} ends at byte {end} > point_step {point_step}")
        spans.append((int(field.offset), end, field.name))
        names.append(field.name)
        formats.append(base if count == 1 else (base, (count,)))
        offsets.append(int(field.offset))
    spans.sort()
    for (_, end_a, name_a), (start_b, _, name_b) in zip(spans, spans[1:]):
        if start_b < end_a:
            raise InvalidInput("layout", f"fields {name_a!r} and {name_b!r} overlap")
    return np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": point_step})


def pointcloud2_to_structured(msg: PointCloud2, max_points: int | None = None) -> np.ndarray:
    """Decode a PointCloud2 into a flat structured array (N,) in the wire byte order.

    Honours ``point_step``, ``row_step`` (row padding), ``height`` (organised clouds are
    flattened row by row) and ``is_bigendian``. The result is a copy.

    Raises:
        InvalidInput: ``too_large`` (``height × width > max_points``, checked first), ``layout``,
            ``fields``, ``truncated``.
    """
    height, width = int(msg.height), int(msg.width)
    count = height * width
    if max_points is not None and count > max_points:
        raise InvalidInput("too_large", f"{count} points exceed the bound of {max_points}")
    point_step, row_step = int(msg.point_step), int(msg.row_step)
    dtype = cloud_dtype(msg.fields, point_step, bool(msg.is_bigendian))
    if count == 0:
        return np.zeros(0, dtype=dtype)
    if point_step <= 0 or row_step < width * point_step:
        raise InvalidInput("layout", f"point_step {point_step}, row_step {row_step} for width {width}")
    size = len(msg.data)
    if size < height * row_step:
        raise InvalidInput(
            "truncated", f"cloud data is {size} bytes, height × row_step needs {height * row_step}"
        )
    raw = np.frombuffer(msg.data, dtype=np.uint8, count=height * row_step)
    view = np.ndarray(shape=(height, width), dtype=dtype, buffer=raw, strides=(row_step, point_step))
    return view.reshape(-1).copy()


def pointcloud2_to_numpy(
    msg: PointCloud2,
    field_names: Sequence[str] = ("x", "y", "z"),
    max_points: int | None = None,
    dtype: type = np.float32,
) -> np.ndarray:
    """Decode the named scalar fields of a PointCloud2 into an (N, len(field_names)) array.

    Non-finite values are kept (the shared preprocessing drops those points and counts an
    all-non-finite cloud as empty). Extra fields in the message are ignored.

    Raises:
        InvalidInput: ``fields`` (a named field is missing or not a scalar) and those of
            :func:`pointcloud2_to_structured`.
    """
    present = {field.name: field for field in msg.fields}
    missing = [name for name in field_names if name not in present]
    if missing:
        raise InvalidInput("fields", f"cloud lacks field(s) {missing}; it has {sorted(present)}")
    for name in field_names:
        if max(int(present[name].count), 1) != 1:
            raise InvalidInput("fields", f"field {name!r} has count {present[name].count}, expected 1")
    points = pointcloud2_to_structured(msg, max_points)
    out = np.empty((points.shape[0], len(field_names)), dtype=dtype)
    for column, name in enumerate(field_names):
        out[:, column] = points[name]
    return out


def numpy_to_pointcloud2(
    points: np.ndarray,
    field_names: Sequence[str],
    header: Header | None = None,
    *,
    dtype: type = np.float32,
    big_endian: bool = False,
    point_step: int | None = None,
) -> PointCloud2:
    """Encode an (N, C) array as an unorganised PointCloud2 (height 1) with C scalar fields.

    Args:
        points: (N, len(field_names)) values (e.g. metres for x, y, z).
        field_names: one name per column, in the order they are laid out in each point.
        header: copied into the message.
        dtype: element type of every field (float32 by default, as REP-103 drivers publish).
        big_endian: write big-endian values and set ``is_bigendian``.
        point_step: bytes per point; larger than ``C × itemsize`` pads each point with zeros.
    """
    data = np.asarray(points)
    if data.ndim != 2 or data.shape[1] != len(field_names):
        raise ValueError(f"points must be (N, {len(field_names)}), got {data.shape}")
    element = np.dtype(dtype)
    if element not in _DATATYPE_OF:
        raise ValueError(f"no PointField datatype for {element}")
    packed = len(field_names) * element.itemsize
    point_step = packed if point_step is None else int(point_step)
    if point_step < packed:
        raise ValueError(f"point_step {point_step} < {packed}")
    wire = element.newbyteorder(">" if big_endian else "<")
    record = np.dtype(
        {
            "names": list(field_names),
            "formats": [wire] * len(field_names),
            "offsets": [i * element.itemsize for i in range(len(field_names))],
            "itemsize": point_step,
        }
    )
    cloud = np.zeros(data.shape[0], dtype=record)
    for column, name in enumerate(field_names):
        cloud[name] = data[:, column]
    fields = [
        PointField(name=name, offset=i * element.itemsize, datatype=_DATATYPE_OF[element], count=1)
        for i, name in enumerate(field_names)
    ]
    msg = PointCloud2(
        header=_copy_header(header),
        height=1,
        width=data.shape[0],
        fields=fields,
        is_bigendian=big_endian,
        point_step=point_step,
        row_step=point_step * data.shape[0],
        is_dense=bool(np.isfinite(data).all()),
    )
    msg.data = cloud.tobytes()
    return msg


# ---------------------------------------------------------------------------------------------
# PoseArray (2-D keypoints in, 3-D skeletons out)


def posearray_to_numpy(msg: PoseArray) -> np.ndarray:
    """Positions of a PoseArray → (N, 3) float64 (orientations are ignored).

    For ``camera/keypoints`` the columns are pixel x, pixel y and confidence.
    """
    out = np.empty((len(msg.poses), 3), dtype=np.float64)
    for i, pose in enumerate(msg.poses):
        out[i] = (pose.position.x, pose.position.y, pose.position.z)
    return out


def numpy_to_posearray(points: np.ndarray, header: Header | None = None) -> PoseArray:
    """(N, 3) positions → PoseArray with identity orientations (e.g. a skeleton in metres, or
    COCO keypoints as pixel x, pixel y, confidence)."""
    data = np.asarray(points, dtype=np.float64)
    if data.ndim != 2 or data.shape[1] != 3:
        raise ValueError(f"points must be (N, 3), got {data.shape}")
    msg = PoseArray(header=_copy_header(header))
    poses = []
    for x, y, z in data.tolist():
        pose = Pose()
        pose.position.x, pose.position.y, pose.position.z = x, y, z
        pose.orientation.w = 1.0
        poses.append(pose)
    msg.poses = poses
    return msg
