"""Bookkeeping for the node's health report and its ``diagnostic_msgs/DiagnosticArray``.

The statistics classes are plain Python (testable without ROS); :func:`build_diagnostics` turns a
:class:`PipelineReport` into the message. Levels follow ros2-conventions §3.3: ERROR when no input
arrived within the timeout, WARN when inference is slow, a sensor went silent or messages were
rejected since the last report.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from std_msgs.msg import Header


class RateMeter:
    """Arrival rate over a sliding window (seconds on any monotonic clock)."""

    def __init__(self, window_s: float = 5.0) -> None:
        self._window = window_s
        self._times: deque[float] = deque()
        self._lock = threading.Lock()
        self.last: float | None = None

    def tick(self, now_s: float) -> None:
        with self._lock:
            self._times.append(now_s)
            self.last = now_s
            self._trim(now_s)

    def rate_hz(self, now_s: float) -> float:
        with self._lock:
            self._trim(now_s)
            if len(self._times) < 2:
                return 0.0
            span = now_s - self._times[0]
            return (len(self._times) - 1) / span if span > 0 else 0.0

    def _trim(self, now_s: float) -> None:
        while self._times and self._times[0] < now_s - self._window:
            self._times.popleft()


class LatencyStats:
    """The last ``size`` latencies (seconds): percentiles for the report."""

    def __init__(self, size: int = 300) -> None:
        self._values: deque[float] = deque(maxlen=size)
        self._lock = threading.Lock()

    def add(self, seconds: float) -> None:
        with self._lock:
            self._values.append(seconds)

    def percentiles(self) -> dict[str, float] | None:
        """``p50``, ``p99``, ``max`` in seconds, or None before the first value."""
        with self._lock:
            if not self._values:
                return None
            values = np.fromiter(self._values, dtype=np.float64)
        return {
            "p50": float(np.percentile(values, 50)),
            "p99": float(np.percentile(values, 99)),
            "max": float(values.max()),
        }


class LogThrottle:
    """Allows one log line per key per ``period_s`` (rclpy's throttle is per call site, not per reason)."""

    def __init__(self, period_s: float = 5.0) -> None:
        self._period = period_s
        self._last: dict[object, float] = {}
        self._lock = threading.Lock()

    def allow(self, key: object, now_s: float) -> bool:
        with self._lock:
            last = self._last.get(key)
            if last is not None and now_s - last < self._period:
                return False
            self._last[key] = now_s
            return True


@dataclass
class SensorReport:
    """One sensor's state at report time."""

    modality: str
    topic: str
    rate_hz: float  # message arrivals per second (valid or not)
    age_s: float | None  # clock now − newest accepted stamp; None when none accepted yet
    live: bool  # holds a usable sample younger than max_age
    seen: bool  # any message ever arrived
    accepted: int
    rejected: dict[str, int]
    dropped: dict[str, int]
    new_rejections: int  # rejected since the previous report
    publishers: int | None = None  # publishers matched on the node's side (None: not known)
    last_rejection: str = ""  # the newest rejection: "reason: detail"
    frame: str = ""  # how the newest message's frame reached the model's: "velodyne -> lidar_link (rig)"
    note: str = ""  # a warning the newest message deserves (a radar without Doppler, no camera_info)
    camera: str = ""  # the live camera's intrinsics and the model camera they are brought to
    quality: str = ""  # live quality: "served: score …", "left out: why", "off"


@dataclass
class PipelineReport:
    """The whole node's state at report time."""

    node_name: str
    sensors: list[SensorReport]
    live: tuple[str, ...]
    chosen: tuple[str, ...] | None
    latency: dict[str, float] | None  # seconds: p50, p99, max
    outputs: int
    seconds_since_input: float | None  # since the last accepted message (None: never)
    uptime_s: float
    input_timeout_s: float
    latency_warn_s: float
    clock_resets: int
    device: str
    extra: dict[str, str] = field(default_factory=dict)


def _kv(key: str, value: object) -> KeyValue:
    if isinstance(value, float):
        value = f"{value:.4g}"
    return KeyValue(key=key, value=str(value))


def _fmt(modalities: tuple[str, ...] | None) -> str:
    return "+".join(modalities) if modalities else "none"


def pipeline_status(report: PipelineReport) -> DiagnosticStatus:
    """The node-level status: inputs, chosen modalities, latency, outputs."""
    silent_for = report.seconds_since_input if report.seconds_since_input is not None else report.uptime_s
    if silent_for >= report.input_timeout_s:
        level, message = DiagnosticStatus.ERROR, f"no valid input for {silent_for:.1f} s"
    elif report.latency is not None and report.latency["p50"] > report.latency_warn_s:
        level, message = DiagnosticStatus.WARN, f"slow: median latency {report.latency['p50'] * 1e3:.1f} ms"
    else:
        level, message = DiagnosticStatus.OK, f"using {_fmt(report.chosen)}"
    values = [
        _kv("live_modalities", _fmt(report.live)),
        _kv("chosen_modalities", _fmt(report.chosen)),
        _kv("outputs", report.outputs),
        _kv("device", report.device),
        _kv("clock_resets", report.clock_resets),
    ]
    if report.latency is not None:
        values += [_kv(f"latency_{k}_ms", v * 1e3) for k, v in report.latency.items()]
    values += [_kv(k, v) for k, v in report.extra.items()]
    return DiagnosticStatus(
        level=level,
        name=f"{report.node_name}: pipeline",
        message=message,
        hardware_id=report.node_name,
        values=values,
    )


def sensor_status(node_name: str, sensor: SensorReport) -> DiagnosticStatus:
    """One sensor: rate, age, counters by reason."""
    if sensor.new_rejections:
        level, message = (
            DiagnosticStatus.WARN,
            f"{sensor.new_rejections} message(s) rejected since the last report; last: {sensor.last_rejection}",
        )
    elif sensor.live and sensor.quality.startswith("left out"):
        level, message = DiagnosticStatus.WARN, f"live, {sensor.rate_hz:.1f} Hz, {sensor.quality}"
    elif sensor.live:
        level, message = DiagnosticStatus.OK, f"live, {sensor.rate_hz:.1f} Hz"
    elif sensor.seen:
        level, message = DiagnosticStatus.WARN, "silent or no usable message within max_age"
    elif sensor.publishers == 0:
        level, message = DiagnosticStatus.OK, "no message yet: no publisher matched"
    else:
        level, message = DiagnosticStatus.OK, "no message yet"
    values = [
        _kv("topic", sensor.topic),
        _kv("publishers", "unknown" if sensor.publishers is None else sensor.publishers),
        _kv("rate_hz", sensor.rate_hz),
        _kv("age_s", "none" if sensor.age_s is None else sensor.age_s),
        _kv("live", sensor.live),
        _kv("accepted", sensor.accepted),
        _kv("rejected_total", sum(sensor.rejected.values())),
        _kv("dropped_total", sum(sensor.dropped.values())),
    ]
    if sensor.frame:
        values.append(_kv("frame", sensor.frame))
    if sensor.camera:
        values.append(_kv("camera", sensor.camera))
    if sensor.note:
        values.append(_kv("note", sensor.note))
    if sensor.quality:
        values.append(_kv("quality", sensor.quality))
    if sensor.last_rejection:
        values.append(_kv("last_rejection", sensor.last_rejection))
    values += [_kv(f"rejected.{reason}", n) for reason, n in sorted(sensor.rejected.items())]
    values += [_kv(f"dropped.{reason}", n) for reason, n in sorted(sensor.dropped.items())]
    return DiagnosticStatus(
        level=level,
        name=f"{node_name}: {sensor.modality}",
        message=message,
        hardware_id=node_name,
        values=values,
    )


def build_diagnostics(report: PipelineReport, header: Header) -> DiagnosticArray:
    """The DiagnosticArray for one report: the pipeline status, then one status per sensor."""
    statuses = [pipeline_status(report)] + [sensor_status(report.node_name, s) for s in report.sensors]
    return DiagnosticArray(header=header, status=statuses)


def status_values(status: DiagnosticStatus) -> dict[str, str]:
    """KeyValue list → dict (for readers of the report, e.g. tests and tools)."""
    return {kv.key: kv.value for kv in status.values}
