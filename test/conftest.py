"""Test isolation: DDS stays on this host, on a domain of its own per run, with a large SHM segment.

Set before any test imports rclpy, so every node (in-process or child process) inherits it.
"""
from __future__ import annotations

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
