"""Test isolation: DDS stays on this host, on a domain of its own per run, with a large SHM segment.

Set before any test imports rclpy, so every node (in-process or child process) inherits it.
"""
from __future__ import annotations

import logging
import os
import random
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("ROS_DOMAIN_ID", str(random.SystemRandom().randint(1, 100)))
os.environ.setdefault("FASTDDS_DEFAULT_PROFILES_FILE", str(REPO / "config" / "fastdds_shm.xml"))


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
