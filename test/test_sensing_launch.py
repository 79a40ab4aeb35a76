"""launch/sensing.launch.py under launch_testing: the node starts from the launch file, takes remapped
inputs and publishes a skeleton; it exits cleanly. Needs a ROS 2 distribution (launch is not on PyPI):
elsewhere one test skips with the reason."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # node_helpers, also under the `launch_test` runner

MISSING = [name for name in ("launch_testing", "launch_ros") if importlib.util.find_spec(name) is None]

if MISSING:

    def test_the_launch_file_needs_a_ros_distribution():
        pytest.skip(f"{' and '.join(MISSING)} need a ROS 2 distribution")

else:
    from sensing_launch_cases import *  # noqa: F403  (generate_test_description and the test cases)
