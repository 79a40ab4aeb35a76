"""Test isolation: DDS stays on this host, on a domain of its own per run, with a large SHM segment.

Set before any test imports rclpy, so every node (in-process or child process) inherits it.
"""
from __future__ import annotations

import logging
import os
import random
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
