"""What the launch file and pta_bringup derive from their arguments (pta_ros.launch_plan): one table of
arguments, topics under a namespace, bag remaps, the generated RViz configuration, preflight checks."""
from __future__ import annotations

import ast

import pytest

from pta_ros import launch_plan
from pta_ros.inputs import SENSORS
from pta_ros.tools.bringup import build_parser, launch_values, node_arguments

DEFAULTS = {a.name: a.default for a in launch_plan.ARGUMENTS}


def values(**changes) -> dict[str, str]:
    return {**DEFAULTS, **changes}


def test_the_launch_file_and_bringup_declare_the_one_table(repo_root):
    tree = ast.parse((repo_root / "launch" / "sensing.launch.py").read_text())
    names = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
             and isinstance(node.value, ast.Name) and node.value.id == "launch_plan"}
    assert "ARGUMENTS" in names  # DeclareLaunchArgument per row of the table, nothing written twice
    literal_topics = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)
                      and node.value in {spec.topic for spec in SENSORS}}
    assert not literal_topics, f"the launch file repeats input topics {literal_topics}"
    options = {action.dest for action in build_parser()._actions}
    assert {a.name for a in launch_plan.ARGUMENTS} <= options
    assert set(launch_plan.INPUT_ARGUMENTS) == {spec.argument for spec in SENSORS}


def test_topics_resolve_in_the_namespace_unless_absolute():
    assert launch_plan.resolve("lidar/points", "") == "/lidar/points"
    assert launch_plan.resolve("lidar/points", "/robot1/") == "/robot1/lidar/points"
    assert launch_plan.resolve("/velodyne/points", "robot1") == "/velodyne/points"
    topics = launch_plan.input_topics(values(namespace="robot1", lidar_topic="/velodyne/points"))
    assert topics["camera_topic"] == "/robot1/camera/keypoints" and topics["lidar_topic"] == "/velodyne/points"


def test_a_bag_reaches_a_namespaced_node():
    # The bag holds /lidar/points etc. (mmfi_to_bag); the node listens in /robot1, LiDAR remapped to /velodyne.
    remaps = launch_plan.bag_remappings(values(namespace="robot1", lidar_topic="/velodyne/points"))
    assert "/camera/keypoints:=/robot1/camera/keypoints" in remaps
    assert "/lidar/points:=/velodyne/points" in remaps
    assert "/ground_truth/skeleton:=/robot1/ground_truth/skeleton" in remaps
    assert launch_plan.bag_remappings(values()) == []  # defaults: the bag's names are the node's


def test_the_bag_player_waits_for_the_node_and_plays_into_the_namespace():
    assert launch_plan.bag_play_command(values(bag="b")) == [
        "ros2", "bag", "play", "b", "--clock", "--rate", "1.0", "--delay", DEFAULTS["bag_delay"]]
    command = launch_plan.bag_play_command(values(bag="b", bag_delay="0", rate="2", namespace="robot1"))
    assert "--delay" not in command and command[5:7] == ["--rate", "2"]
    assert command[7] == "--remap" and "/camera/keypoints:=/robot1/camera/keypoints" in command[8:]


def test_rviz_displays_follow_the_namespace_and_remaps(repo_root):
    template = (repo_root / "config" / "sensing.rviz").read_text()
    text = launch_plan.rviz_config(template, values(namespace="robot1", lidar_topic="/velodyne/points"))
    assert "Value: /robot1/sensing_node/markers" in text and "Value: /velodyne/points" in text
    assert "Value: /robot1/radar/points" in text and "Value: /robot1/ground_truth/skeleton" in text
    assert "Value: /sensing_node/markers" not in text
    assert launch_plan.rviz_config(template, values()) == template


def test_missing_tools_are_named_before_anything_starts():
    nothing = lambda package: False  # noqa: E731
    problems = launch_plan.preflight(values(rviz="true", bag="b"), nothing)
    assert len(problems) == 3 and any("tf2_ros" in p for p in problems) and any("rviz2" in p for p in problems)
    assert launch_plan.preflight(values(static_tf="false"), nothing) == []
    assert launch_plan.preflight(values(rviz="true", bag="b"), lambda package: True) == []


@pytest.mark.parametrize(("name", "text"), [("rate", "0"), ("rate", "fast"), ("bag_delay", "-1"), ("bag_delay", "nan"),
                                           ("bag_delay", "inf")])
def test_numbers_the_launch_cannot_use_are_named(name, text):
    everything = lambda package: True  # noqa: E731
    assert launch_plan.preflight(values(**{name: text}), everything) == [
        f"{name}:={text} must be {'a number > 0' if name == 'rate' else 'a number of seconds >= 0'}"]
    assert launch_plan.argument_problems(values(rate="0.5", bag_delay="0")) == []


@pytest.mark.parametrize("namespace", ["", "robot1"])
def test_bringup_passes_what_the_launch_file_passes(namespace):
    args = build_parser().parse_args(["--model", "m.pt", "--bag", "b", "--lidar-topic", "/velodyne/points",
                                      "--namespace", namespace, "--no-static-tf", "--rig", "robot.yaml"])
    assert launch_values(args)["static_tf"] == "false" and launch_values(args)["rviz"] == "false"
    ros_args = node_arguments(args)
    assert ros_args[:2] == ["--ros-args", "--params-file"] and ros_args[2].endswith("config/sensing.yaml")
    assert "model_path:=m.pt" in ros_args and "use_sim_time:=true" in ros_args and "rig_file:=robot.yaml" in ros_args
    assert ros_args.count("-r") == 1 and "lidar/points:=/velodyne/points" in ros_args
