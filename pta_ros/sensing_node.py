"""ROS 2 sensing node: synchronise whatever sensors are live, run the best model for that set, publish.

Inputs (relative, remappable; sensor-data QoS with a queue of 1, see :func:`input_qos`; overridable
with ``qos_overrides./<topic>.subscription.*`` parameters):
``camera/keypoints`` (rgb), ``depth/image_raw`` (depth), ``radar/points`` (mmwave), ``lidar/points``
(lidar), ``wifi/csi`` (wifi-csi). Outputs: ``~/skeleton``, ``~/markers``, ``~/activity``,
``~/activity/scores``, ``~/inference`` (the modality set of each output), ``/diagnostics`` (1 Hz).

The work itself (decode → preprocess → sync → select → predict → report) is the rclpy-free
:class:`~pta_ros.pipeline.SensingPipeline`; this module wires ROS to it.

Callbacks and threads (:func:`make_executor`):
- input callbacks only decode, validate, preprocess (the shared training path) and buffer. Each
  sensor has its own *mutually exclusive* callback group, so a sensor's messages are handled in
  arrival order (no self-inflicted out-of-order drops) and different sensors may run in parallel.
- inference has its own mutually exclusive group, entered from the ``rate_hz`` timer and, with
  ``event_driven``, as soon as an input completes a frame: on the single-threaded executor the
  input callback runs it in place; on a multi-threaded one it triggers a guard condition of the
  inference group. (In place is faster: the guard costs another pass of the executor's wait
  loop; docs/BENCHMARKS.md.) Each entry runs at most one inference, on the newest
  ready frame (older ready frames are dropped as ``superseded``): the work per entry is bounded,
  no backlog grows.
- the 1 Hz diagnostics have a group of their own.
- ``executor_threads`` > 1 runs these groups on a MultiThreadedExecutor: inputs are handled while
  inference runs. The default, 1, is a SingleThreadedExecutor: inputs wait in their DDS queues
  (QoS depth) for at most one inference step. With CPython's GIL the parallel executor makes
  inference *slower* on a shared CPU, as each torch op re-acquires the GIL behind the other
  callback threads (a convoy; measured in docs/BENCHMARKS.md, ``## ROS node``).

Why a module just over 400 lines: it is ROS wiring only — this docstring, the five lifecycle
transitions, parameter changes, executor choice and :func:`main`; the work is in ``pipeline.py``.

Lifecycle (``rclpy.lifecycle``): configure loads the model, publishers and the synchroniser;
activate creates subscriptions and timers; deactivate drops them and frees the model. With
``autostart`` (default) :func:`main` configures and activates the node itself.
"""

from __future__ import annotations

import copy
import functools
import sys
import time
import traceback

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.clock import Clock, ClockType
from rclpy.event_handler import (
    QoSSubscriptionMatchedInfo,
    SubscriptionEventCallbacks,
    UnsupportedEventTypeError,
)
from rclpy.executors import Executor, ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from rclpy.qos_overriding_options import QoSOverridingOptions
from sensor_msgs.msg import CameraInfo

from pta_core.config import PreprocessConfig
from pta_core.errors import CheckpointError
from pta_core.live_quality import QualityPolicy
from pta_core.serving import Predictor, load_predictor
from pta_core.skeleton import H36M_17, joint_set_of
from pta_ros import params as node_params
from pta_ros.conversions import make_header
from pta_ros.diagnostics import LogThrottle, PipelineReport, build_diagnostics
from pta_ros.frames import Extrinsics, RigError, input_extrinsics, tf2_lookup
from pta_ros.inputs import SENSORS, DecodeOptions, SensorSpec, camera_info_topic
from pta_ros.markers import MarkerStyle
from pta_ros.outputs import OutputPublishers
from pta_ros.pipeline import InputOptions, SensingPipeline
from pta_ros.spinning import clean_shutdown, close
from pta_ros.sync import Synchronizer, SyncPolicy


def input_qos() -> QoSProfile:
    """Sensor-data QoS (best effort, volatile) keeping only the newest message per input.

    A deeper queue only adds latency: when inputs outpace inference, the node should use the
    newest frame, not work through old ones (measured under overload against the depth 5 of
    ``qos_profile_sensor_data``: docs/BENCHMARKS.md, ``## ROS node``). A fresh object per
    subscription: QoS overrides mutate it.
    """
    qos = copy.copy(qos_profile_sensor_data)
    qos.depth = 1
    return qos


def _logged_transition(method):
    """rclpy turns an exception in a transition callback into ERROR without a word: say what failed."""

    @functools.wraps(method)
    def wrapper(self, state):
        try:
            return method(self, state)
        except Exception as err:
            self.get_logger().error(f"{method.__name__} failed: {type(err).__name__}: {err}")
            self.get_logger().debug(traceback.format_exc())
            return TransitionCallbackReturn.ERROR

    return wrapper


class SensingNode(LifecycleNode):
    """The lifecycle node: ROS wiring around a :class:`~pta_ros.pipeline.SensingPipeline`.

    ``start()`` = configure + activate (what ``autostart`` does).
    """

    def __init__(self, node_name: str = "sensing_node", **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        node_params.declare(self)
        self._params = node_params.read(self)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._throttle = LogThrottle(5.0)
        self._pipeline: SensingPipeline | None = None
        self._tf2 = None  # (lookup, listener) while the node lives, created once (tf2 only)
        self._input_subs: dict = {}  # modality → its subscription
        self._info_subs: dict = {}  # modality → its camera_info subscription
        # modality → publishers matched on this node's side (the subscription's matched event): a
        # publisher that sees this node may still precede this node's match, and what it sends
        # before that is lost (best-effort), so a player can wait for this count.
        self._publishers_matched: dict[str, int] = {}
        self._infer_timer = self._diag_timer = self._guard = None
        self._outputs_pub: OutputPublishers | None = None
        self._diag_pub = None
        self._active = False
        self._notes_logged: dict[str, str] = {}  # modality → the layout note last logged
        self._handled: dict[str, int] = {}  # input callbacks finished, per sensor (messages_handled)
        self._infer_group = MutuallyExclusiveCallbackGroup()
        self._diag_group = MutuallyExclusiveCallbackGroup()

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> bool:
        """Configure and activate (``autostart``); False, after one error log line, if either fails."""
        if self.trigger_configure() != TransitionCallbackReturn.SUCCESS:
            return False
        return self.trigger_activate() == TransitionCallbackReturn.SUCCESS

    @_logged_transition
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        p = self._params
        if not p.model_path:
            self.get_logger().error("model_path is not set: pass -p model_path:=/path/model.pt")
            return TransitionCallbackReturn.FAILURE
        predictor = self._load_model()
        if predictor is None:
            return TransitionCallbackReturn.FAILURE
        unusable = [m for m in p.modalities_enabled if m not in predictor.modalities]
        if unusable:
            self.get_logger().warning(f"the model has no {unusable}: those inputs are not subscribed")
        sensors = tuple(s for s in SENSORS if s.modality in p.modalities_enabled and s.modality in predictor.modalities)
        if not sensors:
            self.get_logger().error(
                f"no enabled modality {list(p.modalities_enabled)} is in the model {predictor.modalities}"
            )
            predictor.close()
            return TransitionCallbackReturn.FAILURE
        extrinsics = self._make_extrinsics(p, predictor)
        if extrinsics is None:
            predictor.close()
            return TransitionCallbackReturn.FAILURE
        self._pipeline = SensingPipeline(predictor, sensors, self._sync_policy(p), self._clock_ns,
                                         _input_options(p, predictor.preprocess_config, extrinsics))
        predictor.warm_up(s.modality for s in sensors)
        if self._pipeline.quality_note:
            self.get_logger().warning(self._pipeline.quality_note)
        self._outputs_pub = OutputPublishers(self)
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.get_logger().info(
            f"model {p.model_path} on {predictor.device}: modalities {list(predictor.modalities)}, "
            f"inputs {[s.topic for s in sensors]}"
        )
        return TransitionCallbackReturn.SUCCESS

    @_logged_transition
    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        pipeline = self._pipeline
        if pipeline.predictor is None:  # freed by a deactivation
            predictor = self._load_model()
            if predictor is None:
                return TransitionCallbackReturn.FAILURE
            predictor.warm_up(s.modality for s in pipeline.sensors)
            pipeline.set_predictor(predictor)
        for sensor in pipeline.sensors:
            self._input_subs[sensor.modality] = self._subscribe(sensor)
            if sensor.camera:  # its intrinsics, from the camera_info beside the image (image_transport naming)
                self._info_subs[sensor.modality] = self.create_subscription(
                    CameraInfo, camera_info_topic(self.resolve_topic_name(sensor.topic)),
                    lambda msg, sensor=sensor: self._on_camera_info(sensor, msg), input_qos(),
                    callback_group=MutuallyExclusiveCallbackGroup())
        if self._params.executor_threads > 1:  # see the module docstring
            self._guard = self.create_guard_condition(self._tick, callback_group=self._infer_group)
        self._infer_timer = self.create_timer(
            1.0 / self._params.rate_hz, self._tick, callback_group=self._infer_group
        )
        # A wall-clock heartbeat: under sim time with no /clock (a bag paused, ended or failed) a
        # node-clock timer would stop, and the input-timeout ERROR with it.
        self._diag_timer = self.create_timer(
            1.0, self._publish_diagnostics, callback_group=self._diag_group, clock=Clock(clock_type=ClockType.STEADY_TIME)
        )
        result = super().on_activate(state)  # activates the lifecycle publishers
        self._active = True
        return result

    @_logged_transition
    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        self._teardown_runtime()
        self._clear_markers()
        result = super().on_deactivate(state)
        self._free_model()
        return result

    @_logged_transition
    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._teardown_runtime()
        if self._outputs_pub is not None:
            self._outputs_pub.destroy()
            self._outputs_pub = None
        if self._diag_pub is not None:
            self.destroy_publisher(self._diag_pub)
            self._diag_pub = None
        self._free_model()
        self._pipeline = None
        return TransitionCallbackReturn.SUCCESS

    @_logged_transition
    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        self._teardown_runtime()
        self._free_model()
        return TransitionCallbackReturn.SUCCESS

    def _load_model(self) -> Predictor | None:
        p = self._params
        try:
            predictor = load_predictor(p.model_path, p.backend, p.device, p.inference_threads)
        except (CheckpointError, ValueError, RuntimeError) as err:
            self.get_logger().error(f"cannot load the model: {err}")
            return None
        predictor.set_depth_scale(p.depth_scale)  # the units of this camera's 16UC1 images
        return predictor

    def _make_extrinsics(self, p: node_params.NodeParams, predictor: Predictor) -> Extrinsics | None:
        """The inputs' transforms: tf2 (where installed and ``use_tf``), then the model's training rig
        (its card, else config/rig.yaml) with ``rig_file`` over it. None, after one error line, if a rig
        cannot be read."""
        if p.use_tf and self._tf2 is None:  # one listener for the node's life (a reconfigure reuses it)
            self._tf2 = tf2_lookup(self)
            if self._tf2 is None:
                self.get_logger().info("tf2_ros is not installed here: input transforms come from the rig files only")
        lookup = self._tf2[0] if p.use_tf and self._tf2 is not None else None
        try:
            return input_extrinsics(predictor.card.rig, p.rig_file, lookup)
        except (RigError, FileNotFoundError) as err:
            self.get_logger().error(f"cannot read the rig: {err}")
            return None

    def _free_model(self) -> None:
        if self._pipeline is not None:
            predictor = self._pipeline.set_predictor(None)
            if predictor is not None:
                predictor.close()

    def _subscribe(self, sensor: SensorSpec):
        """The sensor's subscription, in a callback group of its own, counting matched publishers."""
        def subscribe(events: SubscriptionEventCallbacks | None):
            return self.create_subscription(
                sensor.msg_type, sensor.topic, lambda msg: self._on_message(sensor, msg), input_qos(),
                callback_group=MutuallyExclusiveCallbackGroup(), event_callbacks=events,
                qos_overriding_options=QoSOverridingOptions.with_default_policies(),
            )

        self._publishers_matched[sensor.modality] = 0
        try:
            return subscribe(SubscriptionEventCallbacks(matched=lambda info: self._on_matched(sensor, info)))
        except UnsupportedEventTypeError:  # an RMW without matched events: the count stays unknown
            self._publishers_matched.pop(sensor.modality, None)
            return subscribe(None)

    def unmatched_inputs(self) -> list[str]:
        """The input topics (resolved) with no publisher matched on this node's side yet; an input
        whose RMW reports no matched events is not listed (its count is unknown)."""
        return [sub.topic_name for modality, sub in self._input_subs.items()
                if self._publishers_matched.get(modality, 1) < 1]

    def _on_matched(self, sensor: SensorSpec, info: QoSSubscriptionMatchedInfo) -> None:
        self._publishers_matched[sensor.modality] = info.current_count
        self.get_logger().info(f"{self.resolve_topic_name(sensor.topic)}: {info.current_count} publisher(s) matched")

    def _teardown_runtime(self) -> None:
        for sub in [*self._input_subs.values(), *self._info_subs.values()]:
            self.destroy_subscription(sub)
        self._input_subs, self._info_subs = {}, {}
        self._publishers_matched = {}
        for timer in (self._infer_timer, self._diag_timer):
            if timer is not None:
                self.destroy_timer(timer)
        self._infer_timer = self._diag_timer = None
        if self._guard is not None:
            self.destroy_guard_condition(self._guard)
            self._guard = None

    # -- parameters -------------------------------------------------------------------------

    @staticmethod
    def _sync_policy(p: node_params.NodeParams) -> SyncPolicy:
        return SyncPolicy(
            slop_s=p.slop_s,
            max_age_s=p.max_age_s,
            max_wait_s=p.max_wait_s,
            future_tolerance_s=p.future_tolerance_s,
            buffer_size=p.buffer_size,
        )

    def _on_set_parameters(self, changes) -> SetParametersResult:
        try:
            updated = node_params.apply_changes(self._params, changes)
        except ValueError as err:
            return SetParametersResult(successful=False, reason=str(err))
        previous, self._params = self._params, updated
        if self._pipeline is not None:
            self._pipeline.sync.set_policy(self._sync_policy(updated))
            self._pipeline.options = _input_options(updated, self._pipeline.predictor_config,
                                                    self._pipeline.options.extrinsics)
        if self._infer_timer is not None and updated.rate_hz != previous.rate_hz:
            self._infer_timer.timer_period_ns = int(1e9 / updated.rate_hz)
        if previous.publish_markers and not updated.publish_markers:
            self._clear_markers()
        return SetParametersResult(successful=True)

    # -- inputs and inference ---------------------------------------------------------------

    def _clock_ns(self) -> int:
        return self.get_clock().now().nanoseconds

    def _on_camera_info(self, sensor: SensorSpec, msg) -> None:
        pipeline = self._pipeline
        if pipeline is None or not self._active:
            return
        rejection = pipeline.on_camera_info(sensor, msg)
        if rejection is not None and self._throttle.allow((sensor.modality, rejection.reason), time.monotonic()):
            self.get_logger().warning(f"{camera_info_topic(self.resolve_topic_name(sensor.topic))}: rejected "
                                      f"({rejection.reason}): {rejection.detail}")

    def _on_message(self, sensor: SensorSpec, msg) -> None:
        pipeline = self._pipeline
        if pipeline is None or not self._active:
            return
        try:
            rejection = pipeline.on_message(sensor, msg)
            note = pipeline.notes.get(sensor.modality, "")
            if note != self._notes_logged.get(sensor.modality, ""):  # said once, and again if it changes
                self._notes_logged[sensor.modality] = note
                if note:
                    self.get_logger().warning(f"{sensor.topic}: {note}")
            if rejection is not None:
                if self._throttle.allow((sensor.modality, rejection.reason), time.monotonic()):
                    self.get_logger().warning(f"{sensor.topic}: rejected ({rejection.reason}): {rejection.detail}")
                return
            if self._params.event_driven:
                if self._guard is not None:
                    self._guard.trigger()
                else:
                    self._tick()
        finally:
            # Per sensor: each sensor's callbacks are mutually exclusive, so no two threads add to one key.
            self._handled[sensor.modality] = self._handled.get(sensor.modality, 0) + 1

    def _tick(self) -> None:
        """At most one inference step, and its outputs; never raises."""
        if not self._active or self._pipeline is None:
            return
        step = self._pipeline.step()
        for change in step.quality_changes:  # hysteresis edges: a few per degradation, never per frame
            if " left out: " in change:
                self.get_logger().warning(change)
            else:
                self.get_logger().info(change)
        if step.switched is not None:
            self.get_logger().info(f"modality set: {_fmt(step.switched[0])} -> {_fmt(step.switched[1])}")
        if step.error is not None and self._throttle.allow(("tick", step.error_kind), time.monotonic()):
            self.get_logger().error(step.error)
        if step.nothing_live:
            self._clear_markers()
        if step.output is None:
            return
        try:
            p = self._params
            style = MarkerStyle(lifetime_s=p.marker_lifetime_s) if p.publish_markers else None
            predictor = self._pipeline.predictor
            self._outputs_pub.publish(step.output.prediction, make_header(step.output.stamp_ns, p.output_frame),
                                      predictor.activity_classes, style, step.output.step_s,
                                      joint_set_of(predictor.joint_names) if predictor.joint_names else H36M_17)
        except Exception as err:
            if self._throttle.allow(("publish", type(err).__name__), time.monotonic()):
                self.get_logger().error(f"publishing failed: {type(err).__name__}: {err}")

    def _clear_markers(self) -> None:
        if self._outputs_pub is not None:
            self._outputs_pub.clear_markers(make_header(self._clock_ns(), self._params.output_frame))

    # -- diagnostics ------------------------------------------------------------------------

    def report(self) -> PipelineReport:
        """The node's current state (what ``/diagnostics`` publishes)."""
        p = self._params
        report = self._pipeline.report(self.get_fully_qualified_name(), self.resolve_topic_name,
                                       p.input_timeout_s, p.latency_warn_s)
        for sensor in report.sensors:
            sensor.publishers = self._publishers_matched.get(sensor.modality)
        return report

    def _publish_diagnostics(self) -> None:
        try:
            if self._diag_pub is not None and self._pipeline is not None:
                self._diag_pub.publish(build_diagnostics(self.report(), make_header(self._clock_ns())))
        except Exception as err:
            if self._throttle.allow(("diagnostics", type(err).__name__), time.monotonic()):
                self.get_logger().error(f"diagnostics failed: {type(err).__name__}: {err}")

    # -- accessors (tests, tools) -----------------------------------------------------------

    def input_subscriptions(self) -> list:
        """The active input subscriptions (empty while inactive)."""
        return list(self._input_subs.values())

    def messages_handled(self) -> int:
        """Input messages whose callback has finished, every sensor together (accepted or rejected;
        on the single-threaded executor the inference step a message completed has run too)."""
        return sum(self._handled.values())

    def outputs_published(self) -> int:
        return self._pipeline.outputs if self._pipeline is not None else 0

    @property
    def chosen_modalities(self) -> tuple[str, ...] | None:
        return self._pipeline.chosen if self._pipeline is not None else None

    @property
    def predictor(self) -> Predictor | None:
        return self._pipeline.predictor if self._pipeline is not None else None

    @property
    def synchronizer(self) -> Synchronizer | None:
        return self._pipeline.sync if self._pipeline is not None else None


def _input_options(p: node_params.NodeParams, model: PreprocessConfig, extrinsics: Extrinsics) -> InputOptions:
    """The input checks: the parameters', the layouts the model reads (radar values, CSI shape) and the
    inputs' transforms."""
    quality = QualityPolicy(tolerance=p.quality_tolerance, drop_after=p.quality_drop_after,
                            restore_after=p.quality_restore_after) if p.quality_tolerance > 0 else None
    return InputOptions(frame_ids=dict(p.frame_ids), extrinsics=extrinsics, quality=quality, decode=DecodeOptions(
        max_points=p.max_points, csi_layout=p.csi_layout, radar_features=tuple(model.mmwave_features),
        csi_shape=tuple(model.csi_shape)))


def _fmt(modalities: tuple[str, ...] | None) -> str:
    return "+".join(modalities) if modalities else "none"


def make_executor(node: SensingNode) -> Executor:
    """The executor ``executor_threads`` asks for, with ``node`` added (see the module docstring)."""
    threads = node.get_parameter("executor_threads").value
    executor = (
        SingleThreadedExecutor(context=node.context)
        if threads <= 1
        else MultiThreadedExecutor(num_threads=threads, context=node.context)
    )
    executor.add_node(node)
    return executor


def usage() -> str:
    """``sensing_node --help``: how to run it and every parameter (no ROS graph needed)."""
    lines = [
        "usage: sensing_node --ros-args [--params-file config/sensing.yaml] -p model_path:=MODEL.pt [-p NAME:=VALUE ...]",
        "                    [-r camera/keypoints:=TOPIC ...]",
        "",
        __doc__.splitlines()[0],
        "inputs: " + ", ".join(f"{s.topic} ({s.msg_type.__name__}, {s.modality})" for s in SENSORS),
        "outputs: ~/skeleton, ~/markers, ~/activity, ~/activity/scores, ~/inference, /diagnostics",
        "",
        "parameters (RO = read-only after start):",
    ]
    for spec in node_params.SPECS:
        bounds = f" [{spec.low:g}, {spec.high:g}]" if spec.low is not None and spec.high is not None else ""
        flag = " RO" if spec.read_only else ""
        lines.append(f"  {spec.name} = {spec.default!r}{bounds}{flag}\n      {spec.description}")
    return "\n".join(lines)


def main(args: list[str] | None = None) -> int:
    """``ros2 run pta_ros sensing_node`` / ``sensing_node``: spin the node until shutdown.

    Exit status 0 on a clean shutdown (Ctrl-C, external shutdown), 1 when the node cannot start
    (one error line says why: missing/corrupt model, invalid parameter).
    """
    argv = sys.argv[1:] if args is None else list(args)
    user_args = argv[: argv.index("--ros-args")] if "--ros-args" in argv else argv
    if "-h" in user_args or "--help" in user_args:
        print(usage())
        return 0
    rclpy.init(args=args)
    node = executor = None
    try:
        try:
            node = SensingNode()
        except Exception as err:  # invalid parameter values from the command line or a YAML file
            rclpy.logging.get_logger("sensing_node").error(f"cannot start: {err}")
            return 1
        executor = make_executor(node)
        if node.get_parameter("autostart").value and not node.start():
            return 1
        with clean_shutdown(node.context):
            executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        # The executor first (a multi-threaded one joins its workers), then the node: no handle is
        # destroyed under a callback still running (pta_ros.spinning).
        close(executors=[executor] if executor is not None else [], nodes=[node] if node is not None else [])
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
