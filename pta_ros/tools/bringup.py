"""``pta_bringup``: what ``launch/sensing.launch.py`` starts, in one process, for machines without the
ROS 2 launch system (e.g. a venv with the PyPI ROS wheels).

Same arguments, same YAML: the sensing node reads ``--params-file`` (default config/sensing.yaml)
with ``--model`` on top; ``--bag`` replays a rosbag2 with /clock and switches the node to sim time;
the rig's static transforms (config/rig.yaml) are published when ``tf2_msgs`` is installed; RViz
starts when ``rviz2`` is on the PATH. ``--evaluate`` adds the online evaluator (needs a bag with
``/ground_truth/skeleton``, as ``mmfi_to_bag`` writes).

    pta_bringup --model runs/pta/model.pt [--bag demo_out/bag] [--rviz] [--evaluate]
        [--camera-topic T] [--depth-topic T] [--radar-topic T] [--lidar-topic T] [--csi-topic T]
        [--namespace NS] [--params-file F] [--rate R] [--bag-delay S] [--loops N]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pta_ros import dds, launch_plan


def build_parser() -> argparse.ArgumentParser:
    """The launch file's arguments (``launch_plan.ARGUMENTS``) as options, plus what only a one-process
    bringup has (``--loops``, ``--evaluate``, ``--json``)."""
    from pta_ros.paths import share_dir

    parser = argparse.ArgumentParser(prog="pta_bringup", description=__doc__.splitlines()[0])
    for argument in launch_plan.ARGUMENTS:
        option = f"--{argument.name.replace('_', '-')}"
        if argument.choices == ("true", "false"):  # a switch; static_tf is on unless --no-static-tf
            if argument.default == "true":
                parser.add_argument(f"--no-{argument.name.replace('_', '-')}", dest=argument.name,
                                    action="store_false", help=f"do not: {argument.description}")
            else:
                parser.add_argument(option, dest=argument.name, action="store_true", help=argument.description)
        elif argument.name in ("rate", "bag_delay"):
            parser.add_argument(option, type=float, default=float(argument.default), help=argument.description)
        else:
            parser.add_argument(option, dest=argument.name, default=argument.default, help=argument.description)
    parser.set_defaults(params_file=str(share_dir() / "config" / "sensing.yaml"))
    parser.add_argument("--loops", type=int, default=1, help="bag passes (0 = forever)")
    parser.add_argument("--evaluate", action="store_true", help="score outputs against /ground_truth/skeleton")
    parser.add_argument("--json", help="with --evaluate: write the summary here")
    return parser


def launch_values(args: argparse.Namespace) -> dict[str, str]:
    """The options as the launch file sees its arguments (strings)."""
    values = {}
    for argument in launch_plan.ARGUMENTS:
        value = getattr(args, argument.name)
        values[argument.name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return values


def node_arguments(args: argparse.Namespace) -> list[str]:
    """The sensing node's ``--ros-args``: what the launch file passes as parameters and remappings."""
    ros_args = ["--ros-args", "--params-file", args.params_file]
    if args.model:
        ros_args += ["-p", f"model_path:={args.model}"]
    if args.rig:
        ros_args += ["-p", f"rig_file:={args.rig}"]
    if args.bag:
        ros_args += ["-p", "use_sim_time:=true"]
    for topic, target in launch_plan.node_remappings(launch_values(args)):
        ros_args += ["-r", f"{topic}:={target}"]
    return ros_args


def publish_static_tf(node, rig_file: Path) -> object | None:
    """The rig's static transforms on /tf_static (transient local), if tf2_msgs is installed."""
    try:
        from geometry_msgs.msg import TransformStamped
        from tf2_msgs.msg import TFMessage
    except ImportError:
        node.get_logger().info("static TF skipped: tf2_msgs is not installed here (mmfi_to_bag bags carry /tf_static)")
        return None
    from rclpy.qos import DurabilityPolicy, QoSProfile

    from pta_ros.frames import read_rig

    publisher = node.create_publisher(TFMessage, "/tf_static", QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL))
    transforms = []
    for t in (edge.describe() for edge in read_rig(rig_file)):
        msg = TransformStamped()
        msg.header.stamp = node.get_clock().now().to_msg()
        msg.header.frame_id, msg.child_frame_id = t["parent"], t["child"]
        msg.transform.translation.x, msg.transform.translation.y, msg.transform.translation.z = map(float, t["xyz"])
        r = msg.transform.rotation
        r.x, r.y, r.z, r.w = map(float, t["xyzw"])
        transforms.append(msg)
    publisher.publish(TFMessage(transforms=transforms))
    return publisher


def wait_for_the_node_side(sensing, topics: set[str], timeout_s: float) -> list[str]:
    """Wait until the sensing node's side has matched a publisher on each of its inputs among
    ``topics``: discovery is not symmetric, so the player seeing the node's subscription does not
    mean the node sees the player, and a best-effort input loses what arrives before. Returns the
    inputs still unmatched at the timeout (the node's executor spins in another thread)."""
    deadline = time.monotonic() + timeout_s
    while True:
        waiting = sorted(set(sensing.unmatched_inputs()) & topics)
        if not waiting or time.monotonic() >= deadline:
            return waiting
        time.sleep(0.05)


def wait_until_drained(sensing, replay, evaluator, timeout_s: float = 60.0, quiet_s: float = 2.0) -> bool:
    """After the last message is played: wait until the node has taken every input message played to
    it (a best-effort input may lose some: then until nothing new came for ``quiet_s``), and the
    evaluator, if any, has every ground-truth frame played and every output the node published.
    False at the timeout. (Replaces a fixed pause that a loaded machine could outlast.)"""
    node_inputs = {sub.topic_name for sub in sensing.input_subscriptions()}
    to_node = sum(n for topic, n in replay.stats.published.items() if replay.published_topic(topic) in node_inputs)
    truth = sum(n for topic, n in replay.stats.published.items()
                if replay.published_topic(topic).endswith((launch_plan.GROUND_TRUTH_TOPIC, launch_plan.ACTIVITY_TRUTH_TOPIC)))
    deadline, last, last_change = time.monotonic() + timeout_s, -1, time.monotonic()
    while time.monotonic() < deadline:
        received = sensing.messages_handled()
        if received != last:
            last, last_change = received, time.monotonic()
        inputs_done = received >= to_node or time.monotonic() - last_change >= quiet_s
        outputs = sensing.outputs_published()
        evaluated = evaluator is None or (
            evaluator.frames_in >= truth and evaluator.frames_out >= outputs)
        if inputs_done and evaluated:
            return True
        time.sleep(0.05)
    return False


def main(argv: list[str] | None = None) -> int:
    import rclpy
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor

    from pta_ros.paths import share_dir
    from pta_ros.sensing_node import SensingNode, make_executor
    from pta_ros.spinning import SpinThread, clean_shutdown, close

    args = build_parser().parse_args(argv)
    problems = launch_plan.argument_problems(launch_values(args))
    if problems:
        print(f"pta_bringup: {'; '.join(problems)}", file=sys.stderr)
        return 2
    os.environ.update(dds.with_shm_profile(os.environ))  # this process plays camera-sized images (pta_ros.dds)
    rclpy.init()
    nodes, spinners, rviz, playback = [], [], None, None
    node_executor = None
    try:
        try:
            sensing = SensingNode(namespace=args.namespace, cli_args=node_arguments(args))
        except Exception as err:  # invalid parameters from the YAML or the command line
            print(f"pta_bringup: cannot start the sensing node: {err}", file=sys.stderr)
            return 1
        nodes.append(sensing)
        node_executor = make_executor(sensing)
        if sensing.get_parameter("autostart").value and not sensing.start():
            return 1
        helpers = SingleThreadedExecutor()  # /tf_static and the evaluator, beside the node's executor
        tool_node = rclpy.create_node("pta_bringup")
        nodes.append(tool_node)
        helpers.add_node(tool_node)
        if args.static_tf:
            publish_static_tf(tool_node, share_dir() / "config" / "rig.yaml")
        evaluator = None
        if args.evaluate:
            from pta_ros.tools.online_eval import OnlineEvaluator, make_node

            evaluator = OnlineEvaluator(window=sensing.predictor.window_length)  # activity windows inside recordings
            node_name = launch_plan.resolve(launch_plan.NODE_NAME, args.namespace)
            truth = launch_plan.resolve(launch_plan.GROUND_TRUTH_TOPIC.lstrip("/"), args.namespace)
            activity = launch_plan.resolve(launch_plan.ACTIVITY_TRUTH_TOPIC.lstrip("/"), args.namespace)
            inputs = list(launch_plan.input_topics(launch_values(args)).values())  # SENSORS order
            eval_node = make_node(evaluator, node_name, truth, inputs, activity)
            nodes.append(eval_node)
            helpers.add_node(eval_node)
        if args.rviz:
            if shutil.which("rviz2"):
                template = (share_dir() / "config" / "sensing.rviz").read_text()
                config = Path(tempfile.mkdtemp(prefix="pta_rviz_")) / "sensing.rviz"
                config.write_text(launch_plan.rviz_config(template, launch_values(args)))
                rviz = subprocess.Popen(["rviz2", "-d", str(config)])
            else:
                tool_node.get_logger().warning("rviz2 is not installed here: no RViz")
        spinners.append(SpinThread(helpers, "helpers").start())
        if not args.bag:
            with clean_shutdown():
                node_executor.spin()
            return 0
        from pta_ros.tools.replay import BagPlayback
        from pta_ros.tools.replay_node import ReplayNode

        playback = BagPlayback(args.bag)
        remap = dict(item.split(":=", 1) for item in launch_plan.bag_remappings(launch_values(args)))
        replay = ReplayNode(playback, rate=args.rate, remap=remap)
        nodes.append(replay)
        spinners.append(SpinThread(node_executor, "sensing_node").start())
        replay.wait_for_subscribers(15.0)
        unmatched = wait_for_the_node_side(sensing, replay.published_topics(), args.bag_delay)
        if unmatched:
            replay.get_logger().warning(f"after {args.bag_delay:g} s the sensing node has not matched {unmatched}: "
                                        "playing anyway (raise --bag-delay)")
        passes = 0
        while args.loops == 0 or passes < args.loops:
            replay.play_once()
            passes += 1
        if not wait_until_drained(sensing, replay, evaluator):
            replay.get_logger().warning("the node's last inputs or outputs did not all arrive within 60 s")
        replay.get_logger().info(f"replay finished: {json.dumps(replay.stats.summary())}")
        if evaluator is not None:
            summary = {**evaluator.summary(), "node_outputs": sensing.outputs_published()}
            print(json.dumps(summary, indent=2))
            if args.json:
                Path(args.json).write_text(json.dumps(summary, indent=2))
        return 0
    except (KeyboardInterrupt, ExternalShutdownException):
        return 0
    except (FileNotFoundError, ValueError) as err:
        print(f"pta_bringup: {err}", file=sys.stderr)
        return 2
    finally:
        if rviz is not None:
            rviz.terminate()
        if playback is not None:
            playback.close()
        # Threads joined, then executors shut down, then nodes destroyed (pta_ros.spinning).
        node_spun_here = [node_executor] if node_executor is not None and not args.bag else []
        close(spinners, executors=node_spun_here, nodes=nodes)
        rclpy.try_shutdown()


if __name__ == "__main__":
    sys.exit(main())
