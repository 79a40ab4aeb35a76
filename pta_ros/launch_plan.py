"""What ``launch/sensing.launch.py`` and ``pta_bringup`` start, decided once, without rclpy or launch.

One table of launch arguments (:data:`ARGUMENTS`, input topics from :data:`pta_ros.inputs.SENSORS`)
serves both front ends, so they cannot drift apart. From the arguments' values this module derives
what depends on them: the absolute topic each input resolves to (namespace, remaps), the
remappings that make a bag's absolute topics reach a namespaced node, the RViz configuration with
those topics, and the checks to run before any node starts (an optional tool that is not installed
is one clear error, not an orphaned node).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from pta_ros.inputs import SENSORS

NODE_NAME = "sensing_node"
GROUND_TRUTH_TOPIC = "/ground_truth/skeleton"  # written into bags by mmfi_to_bag and radar_to_bag (MARS)
ACTIVITY_TRUTH_TOPIC = "/ground_truth/activity"  # written into bags by radar_to_bag (RadHAR)


@dataclass(frozen=True)
class Argument:
    name: str
    default: str
    description: str
    choices: tuple[str, ...] = ()


INPUT_ARGUMENTS = {spec.argument: spec.topic for spec in SENSORS}  # launch argument → the node's relative topic

ARGUMENTS: tuple[Argument, ...] = (
    Argument("model", "", "model.pt to load (overrides model_path of params_file)"),
    Argument("rig", "", "rig YAML placing your sensors' frames relative to the model's rig (overrides rig_file "
             "of params_file; README, On your robot)"),
    Argument("params_file", "", "node parameters (YAML); default: the package's config/sensing.yaml"),
    Argument("namespace", "", "namespace of the node, its topics and the bag's topics"),
    Argument("bag", "", "rosbag2 to play with /clock (the node then uses sim time)"),
    Argument("rate", "1.0", "bag playback rate"),
    Argument("bag_delay", "3.0", "seconds the bag player may wait for the node to match its topics before playing "
             "(a best-effort input loses what arrives before): ros2 bag play waits this long, pta_bringup until "
             "the node has matched every input, at most this long"),
    Argument("rviz", "false", "open RViz, its displays on this launch's topics", ("true", "false")),
    Argument("static_tf", "true", "publish the rig's static transforms (config/rig.yaml)", ("true", "false")),
    *(Argument(name, topic, f"input topic of {topic} (relative names resolve in the namespace)")
      for name, topic in INPUT_ARGUMENTS.items()),
)

DEFAULTS = {argument.name: argument.default for argument in ARGUMENTS}


def resolve(topic: str, namespace: str) -> str:
    """The absolute name of ``topic`` for a node in ``namespace`` (absolute names stay as they are)."""
    if topic.startswith("/"):
        return topic
    ns = namespace.strip("/")
    return f"/{ns}/{topic}" if ns else f"/{topic}"


def input_topics(values: dict[str, str]) -> dict[str, str]:
    """Launch argument → the absolute topic the node subscribes to."""
    namespace = values.get("namespace", "")
    return {arg: resolve(values.get(arg, default) or default, namespace) for arg, default in INPUT_ARGUMENTS.items()}


def node_remappings(values: dict[str, str]) -> list[tuple[str, str]]:
    """The node's remappings: each relative input topic to its launch argument's value, where it differs."""
    return [(topic, values[arg]) for arg, topic in INPUT_ARGUMENTS.items() if values.get(arg, topic) not in ("", topic)]


def bag_remappings(values: dict[str, str]) -> list[str]:
    """``old:=new`` items for ``ros2 bag play --remap``: a bag of MM-Fi (mmfi_to_bag) holds the inputs
    at their default absolute names; a namespaced or remapped node listens elsewhere."""
    items = []
    for arg, topic in input_topics(values).items():
        recorded = "/" + INPUT_ARGUMENTS[arg]
        if topic != recorded:
            items.append(f"{recorded}:={topic}")
    for recorded in (GROUND_TRUTH_TOPIC, ACTIVITY_TRUTH_TOPIC):
        truth = resolve(recorded.lstrip("/"), values.get("namespace", ""))
        if truth != recorded:
            items.append(f"{recorded}:={truth}")
    return items


def bag_play_command(values: dict[str, str]) -> list[str]:
    """``ros2 bag play`` of ``values["bag"]`` with /clock, the rate, the start delay and the remaps."""
    command = ["ros2", "bag", "play", values["bag"], "--clock", "--rate", values.get("rate", "1.0")]
    if float(values.get("bag_delay", "0")) > 0:  # older ros2 bag rejects --delay 0
        command += ["--delay", values["bag_delay"]]
    remaps = bag_remappings(values)
    if remaps:
        command += ["--remap", *remaps]
    return command


def rviz_config(template: str, values: dict[str, str]) -> str:
    """The RViz configuration with every display on this launch's topics (``template``: config/sensing.rviz,
    written for the default names)."""
    namespace = values.get("namespace", "")
    mapping = {"/" + INPUT_ARGUMENTS[arg]: topic for arg, topic in input_topics(values).items()}
    mapping[f"/{NODE_NAME}/markers"] = resolve(f"{NODE_NAME}/markers", namespace)
    mapping[GROUND_TRUTH_TOPIC] = resolve(GROUND_TRUTH_TOPIC.lstrip("/"), namespace)

    def replace(match: re.Match) -> str:
        return match.group(1) + mapping.get(match.group(2), match.group(2))

    return re.sub(r"(^\s*Value: )(/\S+)$", replace, template, flags=re.MULTILINE)


def preflight(values: dict[str, str], available) -> list[str]:
    """What the launch needs but the machine lacks, and the arguments it cannot use
    (:func:`argument_problems`), as messages (empty: go). ``available(package)`` says whether a ROS
    package is installed; ``ros2 bag`` needs ``ros2bag``."""
    problems = []
    if values.get("static_tf", "true") == "true" and not available("tf2_ros"):
        problems.append("static_tf:=true needs tf2_ros (apt install ros-$ROS_DISTRO-tf2-ros), or pass static_tf:=false")
    if values.get("rviz", "false") == "true" and not available("rviz2"):
        problems.append("rviz:=true needs rviz2 (apt install ros-$ROS_DISTRO-rviz2), or pass rviz:=false")
    if values.get("bag") and not available("ros2bag"):
        problems.append("bag:= needs ros2 bag (apt install ros-$ROS_DISTRO-ros2bag ros-$ROS_DISTRO-rosbag2-storage-mcap)")
    return problems + argument_problems(values)


def argument_problems(values: dict[str, str]) -> list[str]:
    """The numeric arguments that cannot be used, as messages (empty: all usable)."""
    problems = []
    for name, allowed, accepts in (("rate", "a number > 0", lambda x: x > 0),
                                   ("bag_delay", "a number of seconds >= 0", lambda x: x >= 0)):
        text = values.get(name, DEFAULTS[name])
        try:
            number = float(text)
            ok = math.isfinite(number) and accepts(number)
        except ValueError:
            ok = False
        if not ok:
            problems.append(f"{name}:={text} must be {allowed}")
    return problems
