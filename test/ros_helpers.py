"""Helpers for tests that spin real rclpy nodes over DDS (no mocks)."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy is not installed")
from rclpy.executors import SingleThreadedExecutor  # noqa: E402

DEADLINE_S = 60.0  # a wait's deadline: generous, so that only a hang reaches it


def spin_until(executor: SingleThreadedExecutor, condition: Callable[[], bool], timeout_s: float = DEADLINE_S) -> bool:
    """Spin ``executor`` until ``condition()`` holds or ``timeout_s`` passes; return the condition."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        executor.spin_once(timeout_sec=0.02)
    return condition()


def wait_for_match(executor, entity, timeout_s: float = DEADLINE_S) -> None:
    """Wait until a publisher has a subscriber (or a subscription a publisher): discovery can take ~3 s."""
    count = entity.get_subscription_count if hasattr(entity, "get_subscription_count") else entity.get_publisher_count
    assert spin_until(executor, lambda: count() > 0, timeout_s), f"{entity.topic_name}: no match after {timeout_s:g} s"


def wait_until(executor, condition: Callable[[], bool], what: str, seen: Callable[[], object] | None = None,
               timeout_s: float = DEADLINE_S) -> None:
    """Spin until ``condition()``; fail after ``timeout_s`` naming what was awaited and what was seen."""
    if not spin_until(executor, condition, timeout_s):
        detail = f"; seen: {seen()}" if seen is not None else ""
        raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}{detail}")


class LineReader:
    """Collects a child's text output in a thread, so a test can wait for a line while it runs."""

    def __init__(self, stream) -> None:
        self._lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self._lines.append(line)

    def text(self) -> str:
        return "".join(self._lines)

    def finish(self, timeout_s: float = DEADLINE_S) -> str:
        """All the output, once the stream has closed (the child has exited)."""
        self._thread.join(timeout_s)
        return self.text()
