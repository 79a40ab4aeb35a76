"""Helpers for tests that spin real rclpy nodes over DDS (no mocks)."""
from __future__ import annotations

import time
from collections.abc import Callable

import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy is not installed")
from rclpy.executors import SingleThreadedExecutor  # noqa: E402


def spin_until(executor: SingleThreadedExecutor, condition: Callable[[], bool], timeout_s: float) -> bool:
    """Spin ``executor`` until ``condition()`` holds or ``timeout_s`` passes; return the condition."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        executor.spin_once(timeout_sec=0.02)
    return condition()


def wait_for_match(executor, entity, timeout_s: float = 10.0) -> None:
    """Wait until a publisher has a subscriber (or a subscription a publisher): discovery can take ~3 s."""
    count = entity.get_subscription_count if hasattr(entity, "get_subscription_count") else entity.get_publisher_count
    assert spin_until(executor, lambda: count() > 0, timeout_s), "DDS discovery did not match in time"
