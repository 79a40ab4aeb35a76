"""Reading a rosbag2 (mcap or sqlite3) for replay, and the pacing plan — no rclpy here.

``ros2 bag play`` is not installable without a ROS distribution; :mod:`pta_ros.tools.replay_node` uses this
module to play bags through rclpy instead.
"""
from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rosbags.rosbag2 import Reader

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BagMessage:
    topic: str
    msgtype: str  # e.g. "sensor_msgs/msg/Image"
    time_ns: int  # bag receive time (= header stamp for bags written by pta_ros)
    raw: bytes  # serialized CDR, as stored


class BagPlayback:
    """Iterates a bag's messages in time order, optionally restricted to topics and after an offset."""

    def __init__(self, path: str | Path, topics: list[str] | None = None, start_offset_s: float = 0.0):
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"bag not found: {self.path}")
        self._reader = Reader(self.path)
        self._reader.open()
        available = {c.topic: c.msgtype for c in self._reader.connections}
        if topics:
            unknown = sorted(set(topics) - set(available))
            if unknown:
                self.close()
                raise ValueError(f"topics {unknown} are not in {self.path}; it has {sorted(available)}")
        self.topics = {t: m for t, m in available.items() if not topics or t in topics}
        self._connections = [c for c in self._reader.connections if c.topic in self.topics]
        self.start_ns = self._reader.start_time + int(start_offset_s * 1e9)
        self.end_ns = self._reader.end_time

    def messages(self) -> Iterator[BagMessage]:
        for connection, time_ns, raw in self._reader.messages(connections=self._connections, start=self.start_ns):
            yield BagMessage(connection.topic, connection.msgtype, time_ns, bytes(raw))

    @property
    def duration_s(self) -> float:
        return max(0, self.end_ns - self.start_ns) / 1e9

    def close(self) -> None:
        self._reader.close()

    def __enter__(self) -> BagPlayback:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class DropWindow:
    """Withhold one topic between two bag-relative times: a sensor failing and coming back."""

    topic: str
    start_s: float
    end_s: float

    @classmethod
    def parse(cls, text: str) -> DropWindow:
        """``TOPIC:START:END`` in seconds from the start of the bag, e.g. ``/radar/points:5:12``."""
        topic, sep, rest = text.rpartition(":")
        topic, sep2, start = topic.rpartition(":")
        try:
            if not (sep and sep2 and topic):
                raise ValueError
            window = cls(topic, float(start), float(rest))
        except ValueError:
            raise ValueError(f"drop window {text!r} is not TOPIC:START:END (seconds)") from None
        if not 0 <= window.start_s < window.end_s:
            raise ValueError(f"drop window {text!r}: need 0 <= START < END")
        return window

    def drops(self, topic: str, offset_s: float) -> bool:
        return topic == self.topic and self.start_s <= offset_s < self.end_s


def resolve_message_class(msgtype: str) -> type | None:
    """``pkg/msg/Type`` → the rclpy message class, or None when its package is not installed."""
    package, _, name = msgtype.split("/")
    try:
        return getattr(importlib.import_module(f"{package}.msg"), name)
    except (ImportError, AttributeError):
        return None


@dataclass
class Pacer:
    """Maps bag time to wall time: wall = wall_start + (bag - bag_start) / rate."""

    rate: float = 1.0
    bag_start_ns: int = 0
    wall_start: float = field(default_factory=time.perf_counter)

    def __post_init__(self) -> None:
        if not self.rate > 0:
            raise ValueError(f"rate must be positive, got {self.rate}")

    def due(self, bag_ns: int) -> float:
        return self.wall_start + (bag_ns - self.bag_start_ns) / 1e9 / self.rate

    def bag_time_now(self) -> int:
        return self.bag_start_ns + int((time.perf_counter() - self.wall_start) * self.rate * 1e9)


@dataclass
class TimingStats:
    """How late each message started going out relative to its schedule (seconds; messages of one
    frame share a bag time, so later ones in the frame also wait for the earlier ones' publish calls)."""

    lateness_s: list[float] = field(default_factory=list)
    published: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)  # withheld by drop windows
    skipped_topics: set[str] = field(default_factory=set)
    failures: int = 0

    def summary(self) -> dict[str, float]:
        if not self.lateness_s:
            return {"messages": 0}
        late = np.asarray(self.lateness_s) * 1e3
        return {
            "messages": int(late.size),
            "lateness_ms_min": float(late.min()),  # ≥ 0: a message never goes out before its time
            "lateness_ms_p50": float(np.percentile(late, 50)),
            "lateness_ms_p99": float(np.percentile(late, 99)),
            "lateness_ms_max": float(late.max()),
        }
