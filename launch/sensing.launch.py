"""Launch the PTA sensing node, optionally with bag playback, RViz and the rig's static transforms.

    ros2 launch pta_ros sensing.launch.py model:=/path/model.pt [bag:=/path/bag] [rviz:=true]
        [camera_topic:=...] [depth_topic:=...] [radar_topic:=...] [lidar_topic:=...] [csi_topic:=...]
        [namespace:=...] [params_file:=...] [static_tf:=true|false] [rate:=1.0] [bag_delay:=3.0]

Everything in this launch lives in ``namespace``: the node and its outputs, the static transforms,
the bag's topics (remapped from the names mmfi_to_bag writes) and RViz's displays (a configuration
generated for this launch's topics). A tool the arguments ask for but the machine lacks (tf2_ros,
rviz2, ros2 bag) stops the launch with one clear message before any node starts.

The arguments and what they imply are decided in ``pta_ros.launch_plan``, which ``pta_bringup``
(the same composition in one process, for machines without the launch system) shares.
"""
import os
from pathlib import Path

import yaml
from ament_index_python.packages import PackageNotFoundError, get_package_prefix, get_package_share_directory
from launch import LaunchDescription
from launch.actions import (
    DeclareLaunchArgument,
    ExecuteProcess,
    GroupAction,
    OpaqueFunction,
    SetEnvironmentVariable,
)
from launch_ros.actions import Node, PushRosNamespace, SetParameter

from pta_ros import dds, launch_plan

PACKAGE = "pta_ros"


def _installed(package: str) -> bool:
    try:
        get_package_prefix(package)
        return True
    except PackageNotFoundError:
        return False


def launch_setup(context, *args, **kwargs) -> list:
    share = Path(get_package_share_directory(PACKAGE))
    values = {a.name: context.launch_configurations.get(a.name, a.default) for a in launch_plan.ARGUMENTS}
    problems = launch_plan.preflight(values, _installed)
    if problems:
        raise RuntimeError("cannot launch: " + "; ".join(problems))
    use_bag = bool(values["bag"])
    parameters: list = [values["params_file"] or str(share / "config" / "sensing.yaml")]
    if values["model"]:
        parameters.append({"model_path": values["model"]})
    if values["rig"]:
        parameters.append({"rig_file": values["rig"]})
    actions: list = [
        # Camera-sized images cross processes whole only with a large shared-memory segment in the
        # publisher (pta_ros.dds): ros2 bag play and anything else this launch starts get the profile,
        # under the name this distribution's Fast DDS reads, unless the user chose one.
        *(SetEnvironmentVariable(name, value) for name, value in dds.with_shm_profile(os.environ).items()
          if name in (dds.FASTDDS_VARIABLE, dds.FASTRTPS_VARIABLE) and os.environ.get(name) != value),
        PushRosNamespace(values["namespace"]),
        SetParameter(name="use_sim_time", value=use_bag),
        Node(
            package=PACKAGE,
            executable="sensing_node",
            name=launch_plan.NODE_NAME,
            output="screen",
            emulate_tty=True,
            parameters=parameters,
            remappings=launch_plan.node_remappings(values),
        ),
    ]
    if values["static_tf"] == "true":
        with open(share / "config" / "rig.yaml") as handle:
            transforms = yaml.safe_load(handle)["transforms"]
        actions += [
            Node(
                package="tf2_ros",
                executable="static_transform_publisher",
                name=f"rig_tf_{t['child']}",
                arguments=[
                    "--x", str(t["xyz"][0]), "--y", str(t["xyz"][1]), "--z", str(t["xyz"][2]),
                    "--roll", str(t["rpy"][0]), "--pitch", str(t["rpy"][1]), "--yaw", str(t["rpy"][2]),
                    "--frame-id", t["parent"], "--child-frame-id", t["child"],
                ],
            )
            for t in transforms
        ]
    if values["rviz"] == "true":
        template = (share / "config" / "sensing.rviz").read_text()
        # One file per namespace under ROS_HOME, rewritten at every launch (no temporary left behind).
        ros_home = Path(os.environ.get("ROS_HOME", Path.home() / ".ros"))
        config = ros_home / "pta_ros" / f"sensing_{values['namespace'].strip('/').replace('/', '_') or 'root'}.rviz"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(launch_plan.rviz_config(template, values))
        actions.append(Node(package="rviz2", executable="rviz2", arguments=["-d", str(config)]))
    if use_bag:
        actions.append(ExecuteProcess(cmd=launch_plan.bag_play_command(values), output="screen"))
    return [GroupAction(actions)]


def generate_launch_description() -> LaunchDescription:
    arguments = [
        DeclareLaunchArgument(a.name, default_value=a.default, description=a.description,
                              **({"choices": list(a.choices)} if a.choices else {}))
        for a in launch_plan.ARGUMENTS
    ]
    return LaunchDescription([*arguments, OpaqueFunction(function=launch_setup)])
