"""Shared rig for the ROS-node benchmarks (not a benchmark itself).

Three processes, as on a robot: the sensing node (``python -m pta_ros.sensing_node``), a sensor
process publishing MM-Fi-sized inputs at a fixed rate with sensor-data QoS (run as
``python bench/bench_node_lib.py publish '<json>'``), and this process, which subscribes to
``~/skeleton`` and ``/diagnostics``. Latency = time the skeleton reaches this subscriber minus its
header stamp (the newest input stamp, set by the sensor process right before it publishes the
frame), both from the same system clock.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pta_ros import dds

REPO = Path(__file__).resolve().parents[1]
# Benchmarks stay on this host, on their own DDS domain, with the large SHM segment (toolchain.md §7).
os.environ.update(dds.host_only(os.environ, domain_id=50 + os.getpid() % 50))

ALL = ("rgb", "depth", "mmwave", "lidar", "wifi-csi")


def mmfi_sized_raws(seed: int = 0) -> dict[str, np.ndarray]:
    """Inputs at MM-Fi sizes: depth 480×640 mm, radar 100 points, LiDAR 1000 points, CSI 3×114×10."""
    rng = np.random.default_rng(seed)
    return {
        "rgb": np.column_stack([rng.uniform(100, 540, 17), rng.uniform(50, 430, 17), np.ones(17)]),
        "depth": rng.integers(500, 4500, (480, 640)).astype(np.uint16),
        "mmwave": rng.normal(0, 1, (100, 5)).astype(np.float32),
        "lidar": rng.normal(0, 1, (1000, 3)).astype(np.float32),
        "wifi-csi": rng.uniform(0, 40, (3, 114, 10)).astype(np.float32),
    }


def make_model(path: Path) -> Path:
    """A randomly initialised model at the default (real) sizes: timing is what matters here."""
    from pta_core.checkpoint import save_initial_checkpoint
    from pta_core.config import Config
    from pta_core.data.mmfi import MMFI_ACTIONS

    save_initial_checkpoint(path, Config(), MMFI_ACTIONS, seed=0)
    return path


def start_node(model: Path, **params) -> subprocess.Popen:
    """The sensing node in its own process, with ``config/sensing.yaml`` plus ``params``."""
    args = ["--params-file", str(REPO / "config" / "sensing.yaml"), "-p", f"model_path:={model}"]
    for key, value in params.items():
        args += ["-p", f"{key}:={value}"]
    return subprocess.Popen(
        [sys.executable, "-m", "pta_ros.sensing_node", "--ros-args", *args],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def rss_mb(pid: int) -> float:
    """Resident set size of a process (MiB), from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (s), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_publisher(rate_hz: float, duration_s: float, modalities=ALL) -> subprocess.Popen:
    spec = json.dumps({"rate_hz": rate_hz, "duration_s": duration_s, "modalities": list(modalities)})
    return subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "publish", spec],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )


def publish(rate_hz: float, duration_s: float, modalities: list[str]) -> dict:
    """Sensor process: wait for the node, then publish frames on an absolute schedule."""
    import rclpy
    from rclpy.qos import qos_profile_sensor_data

    from pta_ros.conversions import ns_to_stamp
    from pta_ros.inputs import SENSOR_BY_MODALITY

    rclpy.init()
    node = rclpy.create_node("bench_sensors")
    raws = mmfi_sized_raws()
    messages = {m: _message(m, raws[m]) for m in modalities}
    pubs = {
        m: node.create_publisher(
            SENSOR_BY_MODALITY[m].msg_type, SENSOR_BY_MODALITY[m].topic, qos_profile_sensor_data
        )
        for m in modalities
    }
    deadline = time.monotonic() + 60
    while any(p.get_subscription_count() == 0 for p in pubs.values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    period = 1.0 / rate_hz
    start = time.monotonic()
    next_at, frames, late = start, 0, 0
    while time.monotonic() - start < duration_s:
        stamp = ns_to_stamp(time.time_ns())
        for m in modalities:
            messages[m].header.stamp = stamp
            pubs[m].publish(messages[m])
        frames += 1
        next_at += period
        wait = next_at - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        else:
            late += 1
    elapsed = time.monotonic() - start
    node.destroy_node()
    rclpy.shutdown()
    return {"frames": frames, "achieved_hz": frames / elapsed, "late_frames": late}


def _message(modality: str, raw: np.ndarray, frame_id: str | None = None):
    from pta_ros.conversions import make_header, numpy_to_image, numpy_to_pointcloud2, numpy_to_posearray
    from pta_ros.inputs import SENSOR_BY_MODALITY

    header = make_header(0, frame_id or SENSOR_BY_MODALITY[modality].frame_id)
    if modality == "rgb":
        return numpy_to_posearray(raw, header)
    if modality == "depth":
        return numpy_to_image(raw, "16UC1", header)
    if modality == "mmwave":
        return numpy_to_pointcloud2(raw, ("x", "y", "z", "velocity", "intensity"), header)
    if modality == "lidar":
        return numpy_to_pointcloud2(raw, ("x", "y", "z"), header)
    return numpy_to_image(raw.reshape(342, 10), "32FC1", header)


@dataclass
class Run:
    """What the subscriber saw during one publishing run."""

    latencies_ms: list[float] = field(default_factory=list)
    published: dict = field(default_factory=dict)
    diagnostics: dict[str, dict[str, str]] = field(default_factory=dict)
    rss_mb: list[tuple[float, float]] = field(default_factory=list)  # (seconds, MiB)
    node_cpu_percent: float | None = None  # node process CPU over the run (100 = one core)

    def summary(self) -> dict:
        lat = np.array(self.latencies_ms)
        out = {
            "inputs": self.published.get("frames", 0),
            "input_hz": round(self.published.get("achieved_hz", 0.0), 2),
            "outputs": int(lat.size),
            "node_cpu_percent": None if self.node_cpu_percent is None else round(self.node_cpu_percent, 1),
        }
        if lat.size:
            third = max(lat.size // 3, 1)
            out.update(
                p50_ms=round(float(np.percentile(lat, 50)), 2),
                p90_ms=round(float(np.percentile(lat, 90)), 2),
                p99_ms=round(float(np.percentile(lat, 99)), 2),
                max_ms=round(float(lat.max()), 2),
                first_third_p50_ms=round(float(np.median(lat[:third])), 2),
                last_third_p50_ms=round(float(np.median(lat[-third:])), 2),
            )
        return out


class Observer:
    """This process's subscriber to the node's outputs."""

    def __init__(self) -> None:
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from geometry_msgs.msg import PoseArray
        from rclpy.qos import QoSProfile

        rclpy.init()
        self.node = rclpy.create_node("bench_observer")
        self.executor = rclpy.executors.SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.run = Run()
        self.node.create_subscription(
            PoseArray, "/sensing_node/skeleton", self._on_skeleton, QoSProfile(depth=100)
        )
        self.node.create_subscription(
            DiagnosticArray, "/diagnostics", self._on_diagnostics, QoSProfile(depth=10)
        )

    def _on_skeleton(self, msg) -> None:
        received = time.time_ns()
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        self.run.latencies_ms.append((received - stamp) / 1e6)

    def _on_diagnostics(self, msg) -> None:
        for status in msg.status:
            self.run.diagnostics[status.name] = {kv.key: kv.value for kv in status.values}

    def spin_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.01)

    def wait_node_ready(self, timeout_s: float = 60.0) -> None:
        """Until the node publishes diagnostics (configured, active, discovered)."""
        end = time.monotonic() + timeout_s
        while not self.run.diagnostics:
            if time.monotonic() > end:
                raise RuntimeError("the sensing node did not come up")
            self.executor.spin_once(timeout_sec=0.05)

    def measure(self, rate_hz, duration_s, modalities=ALL, node_pid: int | None = None) -> Run:
        """Publish from a sensor process for ``duration_s`` and collect what comes out."""
        self.run = Run(diagnostics=self.run.diagnostics)
        publisher = start_publisher(rate_hz, duration_s, modalities)
        t0 = time.monotonic()
        cpu0 = t_cpu0 = None
        next_sample = t0
        while publisher.poll() is None:
            self.executor.spin_once(timeout_sec=0.005)
            if node_pid is None:
                continue
            if cpu0 is None and self.run.latencies_ms:  # from the first output: the node is busy
                cpu0, t_cpu0 = cpu_seconds(node_pid), time.monotonic()
            if time.monotonic() >= next_sample:
                self.run.rss_mb.append((time.monotonic() - t0, rss_mb(node_pid)))
                next_sample += 1.0
        if cpu0 is not None:
            self.run.node_cpu_percent = 100 * (cpu_seconds(node_pid) - cpu0) / (time.monotonic() - t_cpu0)
        self.spin_for(1.5)  # the last outputs and one more diagnostics report
        self.run.published = json.loads(publisher.stdout.read().strip().splitlines()[-1])
        return self.run

    def close(self) -> None:
        import rclpy

        self.node.destroy_node()
        rclpy.shutdown()


def add_priority_flag(parser) -> None:
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="niceness increment for this process and its children (node, sensors); negative needs root. "
        "Models a robot that gives perception priority over batch jobs sharing the CPU",
    )


def add_node_param_flag(parser) -> None:
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME:=VALUE",
        help="extra node parameter, e.g. --param executor_threads:=4 (repeatable)",
    )


def node_params(items: list[str]) -> dict[str, str]:
    """``["a:=1", "b:=x"]`` → ``{"a": "1", "b": "x"}`` (values as the ROS command line takes them)."""
    out = {}
    for item in items:
        name, sep, value = item.partition(":=")
        if not sep:
            raise SystemExit(f"--param {item!r}: expected NAME:=VALUE")
        out[name] = value
    return out


def apply_priority(increment: int) -> int:
    """Apply ``--nice`` (inherited by the node and sensor processes); returns the resulting niceness."""
    return os.nice(increment)


def load_average() -> float:
    """1-minute load average (the machine is shared: every result records it)."""
    return float(Path("/proc/loadavg").read_text().split()[0])


def temporary_model() -> Path:
    return make_model(Path(tempfile.mkdtemp(prefix="pta_bench_node_")) / "model.pt")


def stop(proc: subprocess.Popen) -> int:
    import signal

    proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def start_relay() -> subprocess.Popen:
    """The floor under the node: a process that only takes the five inputs and publishes a skeleton."""
    return subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "relay"], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def relay() -> None:
    """What rclpy and DDS cost with no work: subscribe to the node's five inputs (its QoS, a
    single-threaded executor, Python messages), and once a stamp has arrived on every input publish
    a fixed skeleton with that stamp on the node's topic; /diagnostics once a second."""
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
    from geometry_msgs.msg import PoseArray

    from pta_ros.conversions import numpy_to_posearray
    from pta_ros.inputs import SENSORS
    from pta_ros.outputs import OUTPUT_QOS
    from pta_ros.sensing_node import input_qos

    rclpy.init()
    node = rclpy.create_node("sensing_node")
    skeleton = node.create_publisher(PoseArray, "~/skeleton", OUTPUT_QOS)
    diagnostics = node.create_publisher(DiagnosticArray, "/diagnostics", 10)
    joints = numpy_to_posearray(np.zeros((17, 3)))
    seen: dict[tuple[int, int], int] = {}

    def on_input(msg) -> None:
        key = (msg.header.stamp.sec, msg.header.stamp.nanosec)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] == len(SENSORS):
            del seen[key]
            joints.header = msg.header
            skeleton.publish(joints)

    for sensor in SENSORS:
        node.create_subscription(sensor.msg_type, sensor.topic, on_input, input_qos())
    node.create_timer(1.0, lambda: diagnostics.publish(
        DiagnosticArray(status=[DiagnosticStatus(name="/sensing_node: relay")])))
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] == "relay":
        relay()
        sys.exit(0)
    if len(sys.argv) != 3 or sys.argv[1] != "publish":
        sys.exit("usage: bench_node_lib.py publish '<json spec>' | relay (started by the bench_node_* scripts)")
    spec = json.loads(sys.argv[2])
    print(json.dumps(publish(spec["rate_hz"], spec["duration_s"], spec["modalities"])))
