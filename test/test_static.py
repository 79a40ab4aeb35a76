"""Static checks: the core never imports ROS; ruff is clean."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_core_imports_no_ros_module():
    code = (
        "import sys, json, pkgutil, importlib, pta_core\n"
        "for m in pkgutil.walk_packages(pta_core.__path__, 'pta_core.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in "
        "{'rclpy','rosidl_runtime_py','sensor_msgs','std_msgs','geometry_msgs','launch','launch_ros'})\n"
        "print(json.dumps(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


@pytest.mark.linter
def test_ruff_clean(repo_root):
    ruff = shutil.which("ruff") or str(__import__("pathlib").Path(sys.executable).parent / "ruff")
    if not __import__("os").path.exists(ruff):
        pytest.skip("ruff is not installed")
    result = subprocess.run([ruff, "check", str(repo_root)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
