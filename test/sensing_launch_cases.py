"""The launch_testing cases of test_sensing_launch.py (imported only where launch_testing and launch_ros
exist: a module-level skip in a test module would break the whole directory's collection under
launch_testing's pytest plugin, which imports every test module)."""
from __future__ import annotations

import shutil
import tempfile
import time
import unittest
from pathlib import Path

import launch
import launch_testing.actions
import launch_testing.asserts
import pytest
import rclpy
from ament_index_python.packages import get_package_share_directory
from geometry_msgs.msg import PoseArray
from launch.launch_description_sources import PythonLaunchDescriptionSource
from node_helpers import make_checkpoint, raw_samples, sensor_message

from pta_ros.inputs import SENSOR_BY_MODALITY

REMAPPED_LIDAR = "/velodyne/points"


@pytest.mark.launch_test
def generate_test_description():
    model_dir = Path(tempfile.mkdtemp(prefix="pta_launch_test_"))  # made here, not at import
    model = model_dir / "model.pt"
    make_checkpoint(model)
    launch_file = Path(get_package_share_directory("pta_ros")) / "launch" / "sensing.launch.py"
    sensing = launch.actions.IncludeLaunchDescription(
        PythonLaunchDescriptionSource(str(launch_file)),
        launch_arguments={"model": str(model), "static_tf": "false", "lidar_topic": REMAPPED_LIDAR}.items(),
    )
    return launch.LaunchDescription([sensing, launch_testing.actions.ReadyToTest()]), {"model_dir": model_dir}


class TestSkeletonFromLaunch(unittest.TestCase):
    def test_publishes_skeleton(self, proc_output):
        rclpy.init()
        try:
            node = rclpy.create_node("launch_test_client")
            skeletons = []
            node.create_subscription(PoseArray, "/sensing_node/skeleton", skeletons.append, 10)
            publishers = {
                m: node.create_publisher(spec.msg_type, REMAPPED_LIDAR if m == "lidar" else "/" + spec.topic, 10)
                for m, spec in SENSOR_BY_MODALITY.items()
            }
            deadline = time.monotonic() + 30
            raws = raw_samples(0)
            while not skeletons and time.monotonic() < deadline:
                stamp = node.get_clock().now().nanoseconds
                for modality, publisher in publishers.items():
                    publisher.publish(sensor_message(modality, raws[modality], stamp))
                rclpy.spin_once(node, timeout_sec=0.1)
            self.assertTrue(skeletons, "no skeleton from the launched node")
            self.assertEqual(len(skeletons[0].poses), 17)
            self.assertEqual(skeletons[0].header.frame_id, "camera_depth_optical_frame")
        finally:
            rclpy.shutdown()


@launch_testing.post_shutdown_test()
class TestShutdown(unittest.TestCase):
    def test_exit_codes(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info, allowable_exit_codes=[0, -2, -15])

    def test_remove_model_dir(self, model_dir):
        shutil.rmtree(model_dir, ignore_errors=True)
