"""Input frames → the model's frames: static transforms from tf2 on a ROS distribution, or a rig YAML.

A model reads each sensor in the frame the training rig gave it (``frame_ids.<key>``: ``lidar_link``,
``radar_link``, ...). A message in another frame — a Velodyne's ``velodyne``, a TI radar's
``ti_mmwave`` — is re-expressed in the model's frame before preprocessing, with
T(model frame ← message frame) from, in this order:

1. tf2 (a ``tf2_ros`` buffer and listener), on a ROS distribution (the PyPI wheels have no tf2);
2. the rig graph: the model's training rig (``config/rig.yaml``: where the training rig put each
   sensor) with the robot's rig YAML over it (the same form: where the robot's sensors are, linked
   to a frame of the training rig, usually ``sensor_rig``).

Sensor mounts are static, so each frame pair is looked up once and cached. A frame that no source
connects to the model's is rejected, never used untransformed.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from scipy.spatial.transform import Rotation

# A rigid transform as a 4×4 homogeneous matrix: p_target = T[:3, :3] @ p_source + T[:3, 3].
IDENTITY = np.eye(4)
IDENTITY.flags.writeable = False


class RigError(ValueError):
    """A rig file that cannot be read: the message names the file and what is wrong."""


@dataclass(frozen=True)
class RigEdge:
    """One static transform: ``child``'s pose in ``parent`` (T(parent ← child))."""

    parent: str
    child: str
    matrix: np.ndarray

    def describe(self) -> dict:
        """As a rig YAML entry (xyz, quaternion xyzw), the form bags and model cards store."""
        return {"parent": self.parent, "child": self.child,
                "xyz": [round(float(v), 9) for v in self.matrix[:3, 3]],
                "xyzw": [round(float(v), 12) for v in Rotation.from_matrix(self.matrix[:3, :3]).as_quat()]}


def pose_matrix(xyz: Iterable[float], rpy: Iterable[float] | None = None,
                xyzw: Iterable[float] | None = None) -> np.ndarray:
    """T from a translation and either roll, pitch, yaw (fixed axes X-Y-Z, as static_transform_publisher
    takes them) or a quaternion x, y, z, w."""
    matrix = np.eye(4)
    rotation = Rotation.from_quat(list(xyzw)) if xyzw is not None else Rotation.from_euler("xyz", list(rpy or (0, 0, 0)))
    matrix[:3, :3] = rotation.as_matrix()
    matrix[:3, 3] = list(xyz)
    return matrix


def parse_rig(entries: object, source: str) -> list[RigEdge]:
    """Rig YAML entries (``{parent, child, xyz, rpy | xyzw}``) → edges. Raises RigError naming ``source``."""
    if not isinstance(entries, list):
        raise RigError(f"{source}: 'transforms' must be a list of {{parent, child, xyz, rpy}}")
    edges = []
    for index, entry in enumerate(entries):
        where = f"{source}: transform {index + 1}"
        if not isinstance(entry, dict) or not entry.get("parent") or not entry.get("child"):
            raise RigError(f"{where} needs a parent and a child frame")
        try:
            xyz = [float(v) for v in entry.get("xyz", (0.0, 0.0, 0.0))]
            rpy = [float(v) for v in entry["rpy"]] if "rpy" in entry else None
            xyzw = [float(v) for v in entry["xyzw"]] if "xyzw" in entry else None
        except (TypeError, ValueError) as err:
            raise RigError(f"{where}: xyz, rpy and xyzw must be numbers ({err})") from None
        if len(xyz) != 3 or (rpy is not None and len(rpy) != 3) or (xyzw is not None and len(xyzw) != 4):
            raise RigError(f"{where}: xyz needs 3 numbers, rpy 3, xyzw 4")
        if rpy is not None and xyzw is not None:
            raise RigError(f"{where}: give rpy or xyzw, not both")
        if not np.isfinite(xyz + (rpy or []) + (xyzw or [])).all() or (xyzw is not None and not np.linalg.norm(xyzw) > 0):
            raise RigError(f"{where}: values must be finite, a quaternion non-zero")
        if entry["parent"] == entry["child"]:
            raise RigError(f"{where}: a frame cannot be its own parent ({entry['child']!r})")
        edges.append(RigEdge(str(entry["parent"]).lstrip("/"), str(entry["child"]).lstrip("/"),
                             pose_matrix(xyz, rpy, xyzw)))
    return edges


def read_rig(path: str | Path) -> list[RigEdge]:
    """A rig YAML file (``transforms:`` as in config/rig.yaml). Raises RigError with one clear line."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise RigError(f"rig file {path}: {err.strerror or err}") from None
    except yaml.YAMLError as err:
        raise RigError(f"rig file {path}: not YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(document, dict) or "transforms" not in document:
        raise RigError(f"rig file {path}: no 'transforms' list")
    return parse_rig(document["transforms"], f"rig file {path}")


class RigGraph:
    """Frames linked by static transforms; each child has one parent (a later edge for the same child
    replaces the earlier one: the robot's rig over the model's)."""

    def __init__(self, edges: Iterable[RigEdge] = ()) -> None:
        self._parent: dict[str, tuple[str, np.ndarray]] = {}
        for edge in edges:
            self._parent[edge.child] = (edge.parent, edge.matrix)

    @property
    def frames(self) -> set[str]:
        return set(self._parent) | {parent for parent, _ in self._parent.values()}

    def _to_root(self, frame: str) -> tuple[str, np.ndarray]:
        """(root, T(root ← frame)), following parents; a cycle ends at the frame seen twice."""
        matrix, seen = np.eye(4), {frame}
        while frame in self._parent:
            parent, step = self._parent[frame]
            matrix = step @ matrix
            if parent in seen:
                break
            seen.add(parent)
            frame = parent
        return frame, matrix

    def lookup(self, target: str, source: str) -> np.ndarray | None:
        """T(target ← source), or None when the two frames are not connected."""
        if target == source:
            return IDENTITY
        if target not in self.frames or source not in self.frames:
            return None
        root_t, target_in_root = self._to_root(target)
        root_s, source_in_root = self._to_root(source)
        if root_t != root_s:
            return None
        return np.linalg.inv(target_in_root) @ source_in_root


class Extrinsics:
    """T(model frame ← message frame) for the node's inputs, cached per frame pair.

    ``tf_lookup(target, source)`` (tf2, when there is one) is asked first and returns a matrix or None;
    then the rig graph. A pair found stays cached (static mounts); a pair not found is asked again on
    the next message (tf2's static transforms may arrive late).
    """

    def __init__(self, rig: RigGraph, tf_lookup: Callable[[str, str], np.ndarray | None] | None = None) -> None:
        self.rig = rig
        self.tf_lookup = tf_lookup
        self._cache: dict[tuple[str, str], tuple[np.ndarray, str]] = {}

    def lookup(self, target: str, source: str) -> tuple[np.ndarray, str] | None:
        """(T(target ← source), where it came from: identity | tf2 | rig), or None."""
        target, source = target.lstrip("/"), source.lstrip("/")
        if target == source or not target:
            return IDENTITY, "identity"
        cached = self._cache.get((target, source))
        if cached is not None:
            return cached
        found = None
        if self.tf_lookup is not None and (matrix := self.tf_lookup(target, source)) is not None:
            found = (matrix, "tf2")
        elif (matrix := self.rig.lookup(target, source)) is not None:
            found = (matrix, "rig")
        if found is not None:
            self._cache[(target, source)] = found
        return found


def input_extrinsics(card_rig: Iterable[dict], rig_file: str | Path = "",
                     tf_lookup: Callable[[str, str], np.ndarray | None] | None = None) -> Extrinsics:
    """The node's input transforms: ``tf_lookup`` first, then the model's training rig (its card's,
    else config/rig.yaml) with the robot's ``rig_file`` over it. Raises RigError or FileNotFoundError."""
    from pta_ros.paths import config_file

    card_rig = list(card_rig)
    trained = parse_rig(card_rig, "the model card's rig") if card_rig else read_rig(config_file("rig.yaml"))
    robot = read_rig(rig_file) if rig_file else []
    return Extrinsics(RigGraph([*trained, *robot]), tf_lookup)


def tf2_lookup(node) -> tuple[Callable[[str, str], np.ndarray | None], object] | None:
    """A lookup in tf2 for ``node`` (a ``tf2_ros`` buffer and the listener filling it from /tf and
    /tf_static), and the listener to keep alive; None where tf2_ros is not installed (the PyPI wheels)."""
    try:
        import tf2_ros
        from rclpy.time import Time
    except ImportError:
        return None
    buffer = tf2_ros.Buffer()
    listener = tf2_ros.TransformListener(buffer, node)

    def lookup(target: str, source: str) -> np.ndarray | None:
        try:
            transform = buffer.lookup_transform(target, source, Time()).transform  # the latest: mounts are static
        except tf2_ros.TransformException:
            return None
        t, q = transform.translation, transform.rotation
        return pose_matrix((t.x, t.y, t.z), xyzw=(q.x, q.y, q.z, q.w))

    return lookup, listener


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """(N, ≥3) with x, y, z first → the same with x, y, z re-expressed by ``matrix`` (other columns,
    such as a radar's Doppler and intensity, are scalars and stay)."""
    if matrix is IDENTITY:
        return points
    out = points.copy()
    out[:, :3] = points[:, :3] @ matrix[:3, :3].T.astype(points.dtype) + matrix[:3, 3].astype(points.dtype)
    return out


def is_identity(matrix: np.ndarray, tolerance: float = 1e-9) -> bool:
    return matrix is IDENTITY or bool(np.abs(matrix - IDENTITY).max() <= tolerance)
