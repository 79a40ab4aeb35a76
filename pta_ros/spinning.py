"""Spinning an executor in a thread of its own, and stopping it without racing its callbacks.

rclpy's ``Executor.shutdown()`` (7.1 on Jazzy, 9.1 on Kilted) neither waits for the callbacks in
flight (it sets its shutdown flag before the check that would wait) nor leaves the executor's guard
condition alone: it destroys it, while a thread spinning the executor may be waiting on it. Called
from another thread, it can make that thread raise ``InvalidHandle``; destroying a node next pulls
handles from under a callback still running. The order that cannot race: ask the spinning loop to
stop, wake it, join its thread, and only then shut the executor down (a multi-threaded executor's
shutdown then joins its workers) and destroy the nodes. :func:`close` does that for a whole
composition; a user's Ctrl-C takes the same path.

rclpy's signal handler shuts the context down asynchronously. When that lands while an executor is
building its wait set, rclpy raises ``RCLError`` ("the given context is not valid"; ros2/rclpy#1166,
ros2/ros2cli#854) instead of ``ExternalShutdownException``: the soak caught a Ctrl-C of the node
ending in that traceback. :func:`clean_shutdown` counts both as the clean shutdown they are.
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator

from rclpy.context import Context
from rclpy.executors import Executor, ExternalShutdownException
from rclpy.utilities import get_default_context

POLL_S = 0.1  # the spinning loop looks at its stop flag at least this often


@contextlib.contextmanager
def clean_shutdown(context: Context | None = None) -> Iterator[None]:
    """Ctrl-C or an external shutdown ends the block quietly, whichever exception rclpy raised for it;
    any error while ``context`` (default: rclpy's) is still valid propagates."""
    try:
        yield
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:
        if (context or get_default_context()).ok():
            raise


class SpinThread:
    """``executor`` spun in a daemon thread until :meth:`stop`; an exception that ends the loop is
    kept in :attr:`error` (a dead executor must not go unnoticed)."""

    def __init__(self, executor: Executor, name: str = "spin") -> None:
        self.executor = executor
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> SpinThread:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            while not self._stop.is_set() and self.executor.context.ok():
                self.executor.spin_once(timeout_sec=POLL_S)
        except ExternalShutdownException:
            pass
        except BaseException as err:
            if self.executor.context.ok():  # not the shutdown race (module docstring)
                self.error = err

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop the loop and join the thread (the callback it was running finishes first).
        Raises RuntimeError if the thread is still running after ``timeout_s``."""
        self._stop.set()
        self.executor.wake()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        if self._thread.is_alive():
            raise RuntimeError(f"the executor thread {self._thread.name!r} did not stop within {timeout_s:g} s")

    @property
    def running(self) -> bool:
        return self._thread.is_alive()


def close(spinners: Iterable[SpinThread] = (), executors: Iterable[Executor] = (), nodes: Iterable = (),
          timeout_s: float = 30.0) -> None:
    """Stop ``spinners`` (joined), then shut down their executors and ``executors`` (callbacks done),
    then destroy ``nodes``: the order in which no handle is destroyed under a running callback."""
    spinners = list(spinners)
    for spinner in spinners:
        spinner.stop(timeout_s)  # a thread still running keeps its nodes: destroying them would race it
    seen: set[int] = set()
    for executor in [s.executor for s in spinners] + list(executors):
        if id(executor) not in seen:
            seen.add(id(executor))
            executor.shutdown(timeout_sec=timeout_s)
    for node in nodes:
        node.destroy_node()
