"""The sensing node's parameters: one table of specs, declared with descriptors, read into a typed value.

Defaults here and in ``config/sensing.yaml`` are the same (a test checks it). Read-only parameters
(``model_path``, ``device``, …) are fixed at configure time; the others can be changed at run time
with ``ros2 param set`` and are validated by :func:`apply_changes` before they take effect.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, make_dataclass
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.node import Node
from rclpy.parameter import Parameter

from pta_core.live_quality import QualityPolicy
from pta_core.modalities import MMFI_MODALITIES
from pta_ros.inputs import SENSORS
from pta_ros.sync import SyncPolicy  # the synchroniser's defaults are the parameters' defaults

DEVICE_CHOICES = ("auto", "cpu", "cuda")
CSI_LAYOUTS = ("antenna_major", "subcarrier_major")
# Input sensors: parameter key → (modality, default frame id). Keys are parameter-name friendly.
SENSOR_FRAMES = {spec.key: spec.frame_id for spec in SENSORS}


@dataclass(frozen=True)
class ParamSpec:
    name: str
    default: Any
    description: str
    low: float | None = None  # inclusive numeric range
    high: float | None = None
    read_only: bool = False
    choices: tuple[str, ...] = ()


SPECS: tuple[ParamSpec, ...] = (
    ParamSpec("model_path", "", "model.pt to load, or a `pta export` folder with backend onnxruntime (configure time)",
              read_only=True),
    ParamSpec("backend", "torch", "inference runtime: torch (a model.pt) or onnxruntime (a `pta export` folder)",
              read_only=True, choices=("torch", "onnxruntime")),
    ParamSpec(
        "device",
        "auto",
        "torch device: auto (CUDA if available, else CPU), cpu, cuda or cuda:N",
        read_only=True,
    ),
    ParamSpec(
        "inference_threads",
        1,
        "CPU threads for inference, either backend (0: the backend's default); 1 keeps latency steady "
        "when drivers share the CPU (docs/BENCHMARKS.md)",
        0,
        256,
        read_only=True,
    ),
    ParamSpec(
        "executor_threads",
        1,
        "1: single-threaded executor (inputs wait for the running inference step; lowest latency under "
        "CPython's GIL); N > 1: MultiThreadedExecutor with N threads, inputs handled during inference",
        1,
        64,
        read_only=True,
    ),
    ParamSpec("autostart", True, "configure and activate the lifecycle node at start-up", read_only=True),
    ParamSpec(
        "modalities_enabled",
        list(MMFI_MODALITIES),
        "modalities the node may use (subscribes only to these); ones the model lacks are ignored",
        read_only=True,
    ),
    ParamSpec(
        "rate_hz",
        30.0,
        "inference timer rate (Hz); with event_driven, inference also runs on arrival",
        0.5,
        200.0,
    ),
    ParamSpec(
        "event_driven", True, "run inference as soon as a synchronised set is ready, not only on the timer"
    ),
    ParamSpec("slop_s", SyncPolicy.slop_s, "largest stamp spread inside one synchronised set (s)", 0.0, 1.0),
    ParamSpec("max_age_s", SyncPolicy.max_age_s, "inputs older than this (vs the node clock) are not used (s)", 0.05, 30.0),
    ParamSpec(
        "max_wait_s",
        SyncPolicy.max_wait_s,
        "how long a frame waits for a live sensor that has not delivered, and in the first max_age_s"
        " for a sensor not heard yet (s)",
        0.0,
        5.0,
    ),
    ParamSpec(
        "future_tolerance_s", SyncPolicy.future_tolerance_s, "stamps further ahead of the node clock are rejected (s)", 0.0, 60.0
    ),
    ParamSpec("buffer_size", SyncPolicy.buffer_size, "messages buffered per sensor", 1, 256),
    ParamSpec(
        "output_frame",
        "camera_depth_optical_frame",
        "frame_id of the skeleton and markers: the frame the model's joints are expressed in (MM-Fi "
        "ground truth, hence MM-Fi models: the depth camera's optical frame); RViz places it in "
        "sensor_rig through the rig's static TF",
    ),
    *(
        ParamSpec(
            f"frame_ids.{key}",
            frame,
            f"the model's frame for the {key} input (its training rig's name); a message in another frame "
            "is transformed into it (tf2, rig_file) or rejected, never used untransformed (empty: any frame "
            "is taken as the model's)",
        )
        for key, frame in SENSOR_FRAMES.items()
    ),
    ParamSpec(
        "rig_file",
        "",
        "rig YAML (config/rig.yaml's form) placing this robot's sensor frames relative to the model's "
        "training rig, e.g. sensor_rig -> velodyne; used where tf2 has no transform (empty: the model's "
        "rig only)",
        read_only=True,
    ),
    ParamSpec("use_tf", True, "look each input's transform up in tf2 first, where tf2_ros is installed "
              "(static mounts: looked up once, cached)", read_only=True),
    ParamSpec(
        "depth_scale",
        0.001,
        "16UC1 depth units → metres (32FC1 is metres already)",
        1e-6,
        10.0,
        read_only=True,
    ),
    ParamSpec(
        "csi_layout",
        "antenna_major",
        "rows of the wifi/csi 32FC1 image (342 × 10 packets): antenna_major = 3 antennas × 114 subcarriers",
        read_only=True,
        choices=CSI_LAYOUTS,
    ),
    ParamSpec(
        "max_points",
        100_000,
        "larger point clouds are rejected before decoding (bounded work)",
        1,
        10_000_000,
    ),
    ParamSpec(
        "quality_tolerance",
        QualityPolicy.tolerance,
        "live sensor quality: two sensors' own readouts disagree when their distance exceeds this times the "
        "sum of their validated errors; a sensor outside the largest group that agrees is left out. "
        "bench/live_quality.py fits it on a validation subject. 0 = off",
        0.0,
        100.0,
    ),
    ParamSpec("quality_drop_after", QualityPolicy.drop_after,
              "live quality: frames a sensor stays outside the agreeing group before it is left out", 1, 1000),
    ParamSpec("quality_restore_after", QualityPolicy.restore_after,
              "live quality: frames a left-out sensor stays inside the group before it is served again", 1, 1000),
    ParamSpec("publish_markers", True, "publish ~/markers for RViz"),
    ParamSpec(
        "marker_lifetime_s", 0.5, "marker lifetime in RViz (s); 0 = until replaced or deleted", 0.0, 60.0
    ),
    ParamSpec(
        "input_timeout_s",
        2.0,
        "diagnostics report ERROR after this long without a valid input (s)",
        0.1,
        600.0,
    ),
    ParamSpec(
        "latency_warn_s",
        0.1,
        "diagnostics report WARN when median inference time exceeds this (s)",
        0.001,
        10.0,
    ),
)
SPEC_BY_NAME = {spec.name: spec for spec in SPECS}


def _field_type(spec: ParamSpec) -> type:
    return tuple[str, ...] if isinstance(spec.default, list) else type(spec.default)


# A typed, frozen snapshot of every parameter, with the fields of SPECS (one source): the
# ``frame_ids.<key>`` parameters become one ``frame_ids`` mapping (sensor key → frame).
NodeParams = make_dataclass(
    "NodeParams",
    [(spec.name, _field_type(spec)) for spec in SPECS if not spec.name.startswith("frame_ids.")]
    + [("frame_ids", dict[str, str])],
    frozen=True,
)


def descriptor(spec: ParamSpec) -> ParameterDescriptor:
    """A descriptor with the description, read-only flag, numeric range and allowed values."""
    desc = ParameterDescriptor(description=spec.description, read_only=spec.read_only)
    if spec.choices:
        desc.additional_constraints = f"one of {list(spec.choices)}"
    if spec.low is not None and not isinstance(spec.default, bool):
        if isinstance(spec.default, int):
            desc.integer_range = [IntegerRange(from_value=int(spec.low), to_value=int(spec.high), step=1)]
        elif isinstance(spec.default, float):
            desc.floating_point_range = [
                FloatingPointRange(from_value=spec.low, to_value=spec.high, step=0.0)
            ]
    return desc


def declare(node: Node) -> None:
    """Declare every parameter on ``node`` (values from overrides / YAML, else the defaults)."""
    node.declare_parameters("", [(spec.name, spec.default, descriptor(spec)) for spec in SPECS])


def from_values(values: dict[str, Any]) -> NodeParams:
    """Build and validate :class:`NodeParams` from ``{name: value}`` (every spec name present).

    Raises:
        ValueError: a value outside its choices, or inconsistent values (``max_wait_s > max_age_s``).
    """
    for name, value in values.items():
        spec = SPEC_BY_NAME[name]
        if spec.choices and value not in spec.choices:
            raise ValueError(f"{name}={value!r} is not one of {list(spec.choices)}")
    device = values["device"]
    if device not in DEVICE_CHOICES and not str(device).startswith("cuda:"):
        raise ValueError(f"device={device!r} is not one of {list(DEVICE_CHOICES)} or cuda:N")
    if values["max_wait_s"] > values["max_age_s"]:
        raise ValueError(
            f"max_wait_s ({values['max_wait_s']}) must not exceed max_age_s ({values['max_age_s']})"
        )
    unknown = sorted(set(values["modalities_enabled"]) - set(MMFI_MODALITIES))
    if unknown:
        raise ValueError(
            f"modalities_enabled has unknown modalities {unknown}; known: {list(MMFI_MODALITIES)}"
        )
    plain = {k: v for k, v in values.items() if not k.startswith("frame_ids.")}
    plain["modalities_enabled"] = tuple(plain["modalities_enabled"])
    plain["frame_ids"] = {key: values[f"frame_ids.{key}"] for key in SENSOR_FRAMES}
    return NodeParams(**plain)


def read(node: Node) -> NodeParams:
    """Current values of every declared parameter (raises ValueError when invalid)."""
    return from_values({spec.name: node.get_parameter(spec.name).value for spec in SPECS})


def apply_changes(current: NodeParams, changes: Iterable[Parameter]) -> NodeParams:
    """The parameters after ``changes`` (as an ``add_on_set_parameters_callback`` receives them).

    Raises:
        ValueError: a change to an unknown or read-only name, or a resulting invalid set.
    """
    values = {spec.name: _current_value(current, spec.name) for spec in SPECS}
    for param in changes:
        if param.name not in SPEC_BY_NAME:
            continue  # other parameters (use_sim_time, qos_overrides.*) are not ours to judge
        if SPEC_BY_NAME[param.name].read_only:
            raise ValueError(f"{param.name} is read-only (configure time)")
        values[param.name] = param.value
    return from_values(values)


def _current_value(params: NodeParams, name: str) -> Any:
    if name.startswith("frame_ids."):
        return params.frame_ids[name.split(".", 1)[1]]
    value = getattr(params, name)
    return list(value) if isinstance(value, tuple) else value


def yaml_defaults() -> dict[str, Any]:
    """The defaults as the nested mapping a ``ros__parameters`` YAML section holds."""
    out: dict[str, Any] = {}
    for spec in SPECS:
        head, _, tail = spec.name.partition(".")
        if tail:
            out.setdefault(head, {})[tail] = spec.default
        else:
            out[head] = spec.default
    return out
