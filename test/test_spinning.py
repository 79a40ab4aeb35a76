"""Stopping a spinning executor cannot race its callbacks (pta_ros.spinning): the thread is joined
before anything is destroyed, even while a callback is running and publishing."""
from __future__ import annotations

import threading
import time

import pytest

rclpy = pytest.importorskip("rclpy")
from rclpy.context import Context  # noqa: E402
from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from pta_ros.spinning import SpinThread, clean_shutdown, close  # noqa: E402


@pytest.mark.parametrize("executor_kind", [SingleThreadedExecutor, MultiThreadedExecutor])
def test_closing_while_a_callback_runs_never_raises(executor_kind):
    for _ in range(5):
        context = Context()
        rclpy.init(context=context)
        try:
            node = rclpy.create_node("busy", context=context)
            publisher = node.create_publisher(String, "busy_out", 10)
            running = threading.Event()

            def work(publisher=publisher, running=running) -> None:  # slow, using the node's handles throughout
                running.set()
                time.sleep(0.05)
                publisher.publish(String(data="done"))

            node.create_timer(0.001, work)
            executor = executor_kind(context=context) if executor_kind is SingleThreadedExecutor \
                else executor_kind(num_threads=2, context=context)
            executor.add_node(node)
            spinner = SpinThread(executor, "busy").start()
            assert running.wait(60), "the timer never fired"
            close([spinner], nodes=[node])  # while a callback is (very likely) mid-way
            assert not spinner.running and spinner.error is None, repr(spinner.error)
        finally:
            rclpy.try_shutdown(context=context)


def test_a_shutdown_during_a_spin_is_clean_and_other_errors_are_not():
    """Ctrl-C shuts rclpy's context down from its signal handler; whatever the executor then raises
    (ExternalShutdownException, or RCLError when it was building its wait set) is a clean shutdown.
    While the context is valid, an error propagates."""
    context = Context()
    rclpy.init(context=context)
    executor = SingleThreadedExecutor(context=context)
    with pytest.raises(RuntimeError, match="a real error"), clean_shutdown(context):
        raise RuntimeError("a real error")
    rclpy.shutdown(context=context)
    with clean_shutdown(context):
        executor.spin_once(timeout_sec=0.0)  # raises on the shut-down context: swallowed
    with clean_shutdown(context):
        raise RuntimeError("failed to initialize wait set: the given context is not valid")
    executor.shutdown()
