"""One distribution installs both packages: `pta_core` (no ROS) and `pta_ros` (rclpy nodes).

Works with `colcon build` (ament_python) and with `pip install .`.
"""
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "pta_ros"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(include=["pta_core", "pta_core.*", "pta_ros", "pta_ros.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml") + glob("config/*.rviz") + glob("config/*.xml")),
        (f"share/{PACKAGE}/models", glob("models/*.pt")),
    ],
    package_data={"pta_core": ["defaults/*.yaml"]},
    include_package_data=True,
    install_requires=["setuptools"],
    python_requires=">=3.10",
    zip_safe=False,
    maintainer="pta_ros developers",
    maintainer_email="pta-ros@example.org",
    description="Purify-then-Align multimodal human sensing for ROS 2",
    license="Apache-2.0",
    # colcon runs pytest only when a test extra names it.
    extras_require={"test": ["pytest"]},
    entry_points={
        "console_scripts": [
            "pta = pta_core.cli:main",
            "sensing_node = pta_ros.sensing_node:main",
            "replay_node = pta_ros.tools.replay_node:main",
            "mmfi_to_bag = pta_ros.tools.bag:main",
            "radar_to_bag = pta_ros.tools.radar_bag:main",
            "pta_bringup = pta_ros.tools.bringup:main",
            "online_eval = pta_ros.tools.online_eval:main",
        ],
    },
)
