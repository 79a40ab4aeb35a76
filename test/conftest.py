"""Test isolation: DDS stays on this host, on a domain of its own per run, with a large SHM segment
(pta_ros.dds: the variable this distribution's Fast DDS reads).

Set before any test imports rclpy, so every node (in-process or child process) inherits it.
"""
from __future__ import annotations

import itertools
import logging
import os
import random
import re
import signal
import subprocess
from pathlib import Path

import pytest

from pta_ros import dds  # no rclpy import: the environment is set before any test imports it

REPO = Path(__file__).resolve().parents[1]



def allowed_domains() -> list[int]:
    """The DDS domains this session may use: ``PTA_TEST_DOMAINS="first-last"``, else 1–101. Two sessions
    on one machine with disjoint ranges (a soak and a developer's run) never see each other's graphs."""
    spec = os.environ.get("PTA_TEST_DOMAINS", "1-101")
    first, _, last = spec.partition("-")
    if not (first.isdigit() and last.isdigit() and 0 <= int(first) < int(last) <= 232):
        raise pytest.UsageError(f"PTA_TEST_DOMAINS must be 'first-last' with 0 <= first < last <= 232, got {spec!r}")
    return list(range(int(first), int(last) + 1))


DOMAINS: list[int] = []


def pytest_configure(config):
    """Before any test module imports rclpy (collection comes later); a bad range is pytest's one-line
    usage error."""
    DOMAINS[:] = allowed_domains()
    os.environ.update(dds.host_only(os.environ, domain_id=random.SystemRandom().choice(DOMAINS)))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(autouse=True)
def project_logs_propagate():
    """The project's log records reach pytest's handlers (``caplog``) on every machine.

    On a ROS machine launch_testing's pytest plugin imports ``launch``, whose logging installs a logger
    class that creates every later logger with ``propagate = False`` (launch/logging: LaunchLogger):
    the project's module loggers, created at import, then keep their records from the root handlers.
    """
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger) and name.partition(".")[0] in ("pta_core", "pta_ros"):
            logger.propagate = True
    yield


# A test module touches ROS when it imports rclpy, a message package, rosbags, launch, the pta_ros package
# or a helper that does: `make test-jazzy` runs exactly those (`-m ros`) on the other distribution's wheels.
ROS_IMPORT = re.compile(
    r"^\s*(?:from|import)\s+(?:rclpy|rosbags|launch\w*|pta_ros|node_helpers|ros_helpers|sensing_launch_cases"
    r"|\w+_msgs)\b", re.MULTILINE)


def pytest_collection_modifyitems(items):
    touches_ros: dict[Path, bool] = {}
    for item in items:
        path = Path(item.fspath)
        if path not in touches_ros:
            touches_ros[path] = bool(ROS_IMPORT.search(path.read_text(encoding="utf-8")))
        if touches_ros[path]:
            item.add_marker(pytest.mark.ros)


class Children:
    """Child processes of one test, reaped when it ends, pass or fail: SIGINT, then SIGKILL after
    ``grace_s``. No process outlives its test to crowd the next test's DDS graph."""

    def __init__(self, grace_s: float = 10.0) -> None:
        self.grace_s = grace_s
        self._procs: list[subprocess.Popen] = []

    def popen(self, args: list[str], **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen(args, **kwargs)
        self._procs.append(proc)
        return proc

    def reap(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in self._procs:
            try:
                proc.wait(timeout=self.grace_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def children():
    """Start a test's processes with ``children.popen(...)``; every one is gone when the test ends."""
    procs = Children()
    yield procs
    procs.reap()


_domains = itertools.count(random.SystemRandom().randrange(232))


@pytest.fixture
def own_domain(monkeypatch) -> int:
    """A DDS domain of this test's own (ROS_DOMAIN_ID for rclpy.init here and for child processes),
    never the session's and from :data:`DOMAINS`: a test that counts endpoints or matches sees only its
    own graph."""
    session = int(os.environ["ROS_DOMAIN_ID"])
    others = [d for d in DOMAINS if d != session]
    domain = others[next(_domains) % len(others)]
    monkeypatch.setenv("ROS_DOMAIN_ID", str(domain))
    return domain

