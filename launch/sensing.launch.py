"""Launch the PTA sensing node, optionally with bag playback, RViz and the rig's static transforms.

    ros2 launch pta_ros sensing.launch.py model:=/path/model.pt [bag:=/path/bag] [rviz:=true]
        [camera_topic:=...] [depth_topic:=...] [radar_topic:=...] [lidar_topic:=...] [csi_topic:=...]
        [namespace:=...] [params_file:=...] [static_tf:=true]

`pta_bringup` (pta_ros/bringup.py) composes the same nodes in one process, from the same YAML files,
for machines without the launch system.
"""
from pathlib import Path

import yaml
from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess, GroupAction, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PythonExpression
from launch_ros.actions import Node, PushRosNamespace, SetParameter

PACKAGE = "pta_ros"
# Remappable inputs: launch argument → the node's relative topic name.
INPUTS = {
    "camera_topic": "camera/keypoints",
    "depth_topic": "depth/image_raw",
    "radar_topic": "radar/points",
    "lidar_topic": "lidar/points",
    "csi_topic": "wifi/csi",
}


def rig_transforms(share: Path) -> list[dict]:
    """Static transforms of the sensor rig (config/rig.yaml), one source for launch, bags and bringup."""
    with open(share / "config" / "rig.yaml") as handle:
        return yaml.safe_load(handle)["transforms"]


def sensing_node(context, *args, **kwargs) -> list[Node]:
    """The node, with ``model:=`` applied on top of params_file only when it is given."""
    parameters: list = [LaunchConfiguration("params_file").perform(context)]
    model = LaunchConfiguration("model").perform(context)
    if model:
        parameters.append({"model_path": model})
    return [
        Node(
            package=PACKAGE,
            executable="sensing_node",
            name="sensing_node",
            output="screen",
            emulate_tty=True,
            parameters=parameters,
            remappings=[(topic, LaunchConfiguration(arg)) for arg, topic in INPUTS.items()],
        )
    ]


def generate_launch_description() -> LaunchDescription:
    share = Path(get_package_share_directory(PACKAGE))
    use_bag = PythonExpression(["'", LaunchConfiguration("bag"), "' != ''"])
    arguments = [
        DeclareLaunchArgument("model", default_value="", description="model.pt to load (overrides params_file)"),
        DeclareLaunchArgument("params_file", default_value=str(share / "config" / "sensing.yaml"),
                              description="node parameters (YAML)"),
        DeclareLaunchArgument("namespace", default_value="", description="namespace for the node and its topics"),
        DeclareLaunchArgument("bag", default_value="", description="rosbag2 to play with --clock (enables use_sim_time)"),
        DeclareLaunchArgument("rate", default_value="1.0", description="bag playback rate"),
        DeclareLaunchArgument("rviz", default_value="false", choices=["true", "false"], description="open RViz"),
        DeclareLaunchArgument("static_tf", default_value="true", choices=["true", "false"],
                              description="publish the rig's static transforms (config/rig.yaml)"),
    ] + [DeclareLaunchArgument(arg, default_value=topic, description=f"input topic for {topic}")
         for arg, topic in INPUTS.items()]

    sensing = OpaqueFunction(function=sensing_node)
    static_tf = [
        Node(
            package="tf2_ros",
            executable="static_transform_publisher",
            name=f"rig_tf_{t['child']}",
            arguments=[
                "--x", str(t["xyz"][0]), "--y", str(t["xyz"][1]), "--z", str(t["xyz"][2]),
                "--roll", str(t["rpy"][0]), "--pitch", str(t["rpy"][1]), "--yaw", str(t["rpy"][2]),
                "--frame-id", t["parent"], "--child-frame-id", t["child"],
            ],
            condition=IfCondition(LaunchConfiguration("static_tf")),
        )
        for t in rig_transforms(share)
    ]
    bag_play = ExecuteProcess(
        cmd=["ros2", "bag", "play", LaunchConfiguration("bag"), "--clock", "--rate", LaunchConfiguration("rate")],
        output="screen",
        condition=IfCondition(use_bag),
    )
    rviz = Node(
        package="rviz2",
        executable="rviz2",
        arguments=["-d", str(share / "config" / "sensing.rviz")],
        parameters=[{"use_sim_time": use_bag}],
        condition=IfCondition(LaunchConfiguration("rviz")),
    )
    group = GroupAction([
        PushRosNamespace(LaunchConfiguration("namespace")),
        SetParameter(name="use_sim_time", value=use_bag),
        sensing, *static_tf, rviz,
    ])
    return LaunchDescription([*arguments, group, bag_play])
