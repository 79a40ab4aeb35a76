"""Replay a rosbag2 through rclpy, for machines without ``ros2 bag play``.

Publishes the stored serialized messages unchanged (no deserialisation), paced by their bag times
(scaled by ``--rate``), and ``/clock`` for nodes running with ``use_sim_time``. Topics whose message
package is not installed (e.g. ``tf2_msgs`` from PyPI) are skipped with a log line.

    replay_node BAG [--rate 1.0] [--loop | --loops N] [--topics T ...] [--start-offset S] [--no-clock]
        [--remap OLD:=NEW ...] [--wait-for-subscribers S] [--start-paused]

A publisher that sees a subscriber may still be unseen by it (discovery is not symmetric), and a
best-effort subscriber loses what arrives before it has matched. ``--start-paused`` waits for a
``std_msgs/Empty`` on ``~/start`` (as ``ros2 bag play --start-paused`` waits for its resume
service), so whoever can see the subscribers' side (the demo reads the sensing node's matched
publisher counts from ``/diagnostics``) says when to play.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from std_msgs.msg import Empty

from pta_ros import dds
from pta_ros.tools.replay import BagPlayback, DropWindow, Pacer, TimingStats, resolve_message_class

CLOCK_PERIOD_S = 0.01  # /clock at 100 Hz between messages
SPIN_WAIT_S = 0.002


class ReplayNode(Node):
    def __init__(self, playback: BagPlayback, *, rate: float = 1.0, publish_clock: bool = True, depth: int = 100,
                 drops: tuple[DropWindow, ...] = (), remap: dict[str, str] | None = None):
        """``remap``: a recorded topic → the topic it is published on (as ``ros2 bag play --remap``)."""
        super().__init__("replay_node")
        self.playback = playback
        self.rate = rate
        self.drops = drops
        unknown = sorted({d.topic for d in drops} - set(playback.topics))
        if unknown:
            raise ValueError(f"drop windows name topics {unknown} that the bag does not have")
        self.stats = TimingStats()
        qos = QoSProfile(depth=depth, reliability=ReliabilityPolicy.RELIABLE)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self._topic_publishers = {}
        for topic, msgtype in playback.topics.items():
            cls = resolve_message_class(msgtype)
            if cls is None:
                self.get_logger().warning(f"skipping {topic}: message type {msgtype} is not installed here")
                self.stats.skipped_topics.add(topic)
                continue
            target = (remap or {}).get(topic, topic)
            self._topic_publishers[topic] = self.create_publisher(cls, target, latched if topic == "/tf_static" else qos)
        self._clock = self.create_publisher(Clock, "/clock", 10) if publish_clock else None
        self._last_clock: int | None = None

    def wait_for_subscribers(self, timeout_s: float) -> bool:
        """Wait until every publisher has a subscriber (or the timeout passes)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all(p.get_subscription_count() > 0 for p in self._topic_publishers.values()):
                return True
            time.sleep(0.05)
        return False

    def published_topic(self, topic: str) -> str:
        """The resolved topic the bag's ``topic`` is played on ("" if it is skipped)."""
        publisher = self._topic_publishers.get(topic)
        return publisher.topic_name if publisher is not None else ""

    def published_topics(self) -> set[str]:
        """The resolved topics this node plays the bag's messages on (after remapping)."""
        return {publisher.topic_name for publisher in self._topic_publishers.values()}

    def wait_for_start(self) -> bool:
        """Spin until a message arrives on ``~/start`` (reliable, transient-local: a start sent
        before this node matched its sender still arrives). False if the context shuts down."""
        started = []
        qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        subscription = self.create_subscription(Empty, "~/start", started.append, qos)
        self.get_logger().info(f"paused: publish std_msgs/msg/Empty on {subscription.topic_name} to play")
        while rclpy.ok() and not started:
            rclpy.spin_once(self, timeout_sec=0.05)
        self.destroy_subscription(subscription)
        return bool(started)

    def _publish_clock(self, bag_ns: int) -> None:
        """/clock, never backwards within a pass: a late message's own time can be behind the time the
        waiting loop last published, and a sim-time node treats any step back as a bag loop (it resets)."""
        if self._clock is not None and (self._last_clock is None or bag_ns > self._last_clock):
            msg = Clock()
            msg.clock.sec, msg.clock.nanosec = divmod(bag_ns, 1_000_000_000)
            self._clock.publish(msg)
            self._last_clock = bag_ns

    def play_once(self) -> None:
        """One pass over the bag in real time × rate (its /clock starts over: a loop is a jump back)."""
        self._last_clock = None
        pacer = Pacer(rate=self.rate, bag_start_ns=self.playback.start_ns)
        next_clock = time.perf_counter()
        for message in self.playback.messages():
            publisher = self._topic_publishers.get(message.topic)
            if publisher is None:
                continue
            offset_s = (message.time_ns - self.playback.start_ns) / 1e9
            if any(d.drops(message.topic, offset_s) for d in self.drops):
                self.stats.dropped[message.topic] = self.stats.dropped.get(message.topic, 0) + 1
                continue
            due = pacer.due(message.time_ns)
            while (now := time.perf_counter()) < due:
                if self._clock is not None and now >= next_clock:
                    # Never past the next message: bag_time_now() reads the clock again, later than `now`
                    # on a busy machine (the soak caught /clock 1.4 µs ahead of the last message).
                    self._publish_clock(min(pacer.bag_time_now(), message.time_ns))
                    next_clock = now + CLOCK_PERIOD_S
                if due - now > SPIN_WAIT_S:  # sleep overshoots by ~1 ms: the last stretch is a short busy wait
                    time.sleep(min(due - now - SPIN_WAIT_S, CLOCK_PERIOD_S))
            self._publish_clock(message.time_ns)
            started = time.perf_counter()  # lateness = when the message starts going out vs its schedule
            try:
                publisher.publish(message.raw)  # rclpy publishes serialized CDR bytes as they are
            except Exception as err:  # e.g. RCLError when a reliable writer's history is full
                self.stats.failures += 1
                self.get_logger().warning(f"publish on {message.topic} failed: {err}", throttle_duration_sec=1.0)
                continue
            self.stats.lateness_s.append(started - due)
            self.stats.published[message.topic] = self.stats.published.get(message.topic, 0) + 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="replay_node", description=__doc__.splitlines()[0])
    parser.add_argument("bag", help="rosbag2 directory (mcap or sqlite3)")
    parser.add_argument("--rate", type=float, default=1.0, help="playback speed factor (default 1.0)")
    loops = parser.add_mutually_exclusive_group()
    loops.add_argument("--loop", action="store_true", help="play forever (bag time jumps back at each pass)")
    loops.add_argument("--loops", type=int, default=1, help="number of passes (default 1)")
    parser.add_argument("--topics", nargs="+", help="only these topics")
    parser.add_argument("--start-offset", type=float, default=0.0, help="skip this many seconds of the bag")
    parser.add_argument("--no-clock", action="store_true", help="do not publish /clock")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before playing")
    parser.add_argument(
        "--wait-for-subscribers", type=float, default=0.0, metavar="S",
        help="wait up to S seconds until every topic has a subscriber",
    )
    parser.add_argument("--start-paused", action="store_true",
                        help="after --wait-for-subscribers, wait for a std_msgs/Empty on ~/start before playing")
    parser.add_argument(
        "--drop", action="append", default=[], type=DropWindow.parse, metavar="TOPIC:START:END",
        help="withhold TOPIC from START to END seconds after the bag start (simulates a sensor failing); repeatable",
    )
    parser.add_argument("--stats", help="write timing statistics (JSON) to this file")
    parser.add_argument("--remap", nargs="+", default=[], metavar="OLD:=NEW",
                        help="publish recorded topic OLD on NEW (as ros2 bag play --remap)")
    return parser


def parse_remaps(items: list[str]) -> dict[str, str]:
    """``["/a:=/b", ...]`` → {"/a": "/b"}; raises ValueError naming a malformed item."""
    remap = {}
    for item in items:
        old, sep, new = item.partition(":=")
        if not sep or not old or not new:
            raise ValueError(f"--remap {item!r} is not OLD:=NEW")
        remap[old] = new
    return remap


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(rclpy.utilities.remove_ros_args(["replay_node", *args_in])[1:])
    try:
        remap = parse_remaps(args.remap)
        playback = BagPlayback(args.bag, args.topics, args.start_offset)
    except (FileNotFoundError, ValueError) as err:
        print(f"replay_node: {err}", file=sys.stderr)
        return 2
    # It publishes camera-sized images: the publisher's shared-memory segment is what lets them cross.
    os.environ.update(dds.with_shm_profile(os.environ))
    rclpy.init(args=["replay_node", *args_in])
    try:
        node = ReplayNode(playback, rate=args.rate, publish_clock=not args.no_clock, drops=tuple(args.drop), remap=remap)
    except ValueError as err:
        print(f"replay_node: {err}", file=sys.stderr)
        playback.close()
        rclpy.shutdown()
        return 2
    try:
        if args.wait_for_subscribers > 0 and not node.wait_for_subscribers(args.wait_for_subscribers):
            node.get_logger().warning("not every topic has a subscriber; playing anyway")
        if args.start_paused and not node.wait_for_start():
            return 0
        time.sleep(args.delay)
        passes = 0
        while args.loop or passes < args.loops:
            node.play_once()
            passes += 1
        summary = {**node.stats.summary(), "published": node.stats.published, "dropped": node.stats.dropped,
                   "failures": node.stats.failures}
        node.get_logger().info(f"replay finished: {json.dumps(summary)}")
        if args.stats:
            from pathlib import Path

            Path(args.stats).write_text(json.dumps(summary, indent=2))
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:
        if rclpy.ok():
            raise
        # the shutdown race of pta_ros.spinning (Ctrl-C while a wait set was being built): clean
    finally:
        playback.close()
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
