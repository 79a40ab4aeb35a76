"""Parameters (descriptors, YAML defaults, run-time changes) and lifecycle transitions of the real node."""

from __future__ import annotations

import pytest
import yaml
from node_helpers import Harness, make_checkpoint, raw_samples

rclpy = pytest.importorskip("rclpy")
from lifecycle_msgs.msg import Transition  # noqa: E402
from rclpy.context import Context  # noqa: E402
from rclpy.exceptions import InvalidParameterValueException  # noqa: E402
from rclpy.lifecycle import TransitionCallbackReturn  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import ReliabilityPolicy, qos_profile_sensor_data  # noqa: E402

from pta_ros import params  # noqa: E402
from pta_ros.sensing_node import SensingNode  # noqa: E402


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return make_checkpoint(tmp_path_factory.mktemp("params") / "model.pt")


@pytest.fixture
def context():
    ctx = Context()
    rclpy.init(context=ctx)
    yield ctx
    rclpy.try_shutdown(context=ctx)


def make_node(context, **overrides) -> SensingNode:
    return SensingNode(
        context=context, parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()]
    )


def test_yaml_holds_exactly_the_declared_defaults(repo_root):
    data = yaml.safe_load((repo_root / "config" / "sensing.yaml").read_text())
    assert data["/**/sensing_node"]["ros__parameters"] == params.yaml_defaults()


def test_the_params_file_applies_under_a_namespace(context, tmp_path, repo_root):
    # A value that differs from the declared default, in a copy of the shipped YAML (same key).
    data = yaml.safe_load((repo_root / "config" / "sensing.yaml").read_text())
    data["/**/sensing_node"]["ros__parameters"]["slop_s"] = 0.123
    path = tmp_path / "sensing.yaml"
    path.write_text(yaml.safe_dump(data))
    node = SensingNode(context=context, namespace="robot1", cli_args=["--ros-args", "--params-file", str(path)])
    try:
        assert node.get_fully_qualified_name() == "/robot1/sensing_node"
        assert node.get_parameter("slop_s").value == pytest.approx(0.123)
    finally:
        node.destroy_node()


def test_every_parameter_has_a_descriptor(context):
    node = make_node(context)
    try:
        for spec in params.SPECS:
            desc = node.describe_parameter(spec.name)
            assert desc.description, spec.name
            assert desc.read_only == spec.read_only, spec.name
            if isinstance(spec.default, float):
                assert desc.floating_point_range, f"{spec.name} has no range"
            elif isinstance(spec.default, int) and not isinstance(spec.default, bool):
                assert desc.integer_range, f"{spec.name} has no range"
        for name in ("model_path", "device", "modalities_enabled", "depth_scale", "csi_layout"):
            assert node.describe_parameter(name).read_only
    finally:
        node.destroy_node()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("rate_hz", 5000.0, "out of range"),
        ("device", "tpu", "device"),
        ("modalities_enabled", ["sonar"], "sonar"),
    ],
)
def test_invalid_values_at_start_up_raise_a_clear_error(context, name, value, message):
    with pytest.raises((InvalidParameterValueException, ValueError), match=message):
        make_node(context, **{name: value})


def test_configure_fails_without_model_path(context):
    node = make_node(context)
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
    finally:
        node.destroy_node()


def test_run_time_changes_are_validated_and_applied(context, model):
    node = make_node(context, model_path=str(model))
    try:
        assert node.start()
        ok = node.set_parameters(
            [
                Parameter("slop_s", value=0.08),
                Parameter("max_age_s", value=2.0),
                Parameter("rate_hz", value=50.0),
                Parameter("frame_ids.radar", value="ti_mmwave"),
                Parameter("quality_tolerance", value=1.5),
                Parameter("quality_restore_after", value=7),
            ]
        )
        assert all(r.successful for r in ok)
        policy = node.synchronizer.policy
        assert (policy.slop_s, policy.max_age_s) == (0.08, 2.0)
        quality = node._pipeline.options.quality  # live quality restarts with it at the next step
        assert (quality.tolerance, quality.drop_after, quality.restore_after) == (1.5, 2, 7)
        assert node._infer_timer.timer_period_ns == 20_000_000
        assert node.get_parameter("frame_ids.radar").value == "ti_mmwave"

        refused = {
            "model_path": Parameter("model_path", value="/other.pt"),  # read-only
            "out of range": Parameter("slop_s", value=5.0),
            "max_wait_s": Parameter("max_wait_s", value=3.0),  # > max_age_s
        }
        for expected, param in refused.items():
            (result,) = node.set_parameters([param])
            assert not result.successful and expected in result.reason, result.reason
        assert node.synchronizer.policy.slop_s == 0.08
    finally:
        node.destroy_node()


def test_deactivate_stops_and_frees_then_activate_resumes(model):
    h = Harness(model, name="sensing_node_lifecycle", extra={"max_age_s": 10.0}).start()
    try:
        # The harness overrides the input QoS to reliable through parameters; the shared default
        # profile must not change with it.
        assert qos_profile_sensor_data.reliability == ReliabilityPolicy.BEST_EFFORT
        # The graph names an endpoint's node once the node's discovery info has arrived: wait for it.
        def endpoints() -> list:
            return [e for e in h.client.get_subscriptions_info_by_topic("/camera/keypoints")
                    if e.node_name == "sensing_node_lifecycle"]

        h.wait_for(lambda: endpoints(), what="the node's /camera/keypoints endpoint in the graph")
        (endpoint,) = endpoints()
        assert endpoint.qos_profile.reliability == ReliabilityPolicy.RELIABLE
        raws = raw_samples(0)
        active = h.now_ns()
        h.publish_frame(raws, active)
        h.wait_for_output(active, "while active")

        assert h.change_state(Transition.TRANSITION_DEACTIVATE)
        assert h.node.predictor is None  # the model is freed
        h.wait_for(lambda: h.publishers["rgb"].get_subscription_count() == 0, what="subscriptions dropped")
        h.publish_frame(raws, h.now_ns())  # nobody listens: it can never come out

        assert h.change_state(Transition.TRANSITION_ACTIVATE)
        assert h.node.predictor is not None
        h.wait_for(lambda: h.publishers["rgb"].get_subscription_count() > 0 and not h.node.unmatched_inputs(),
                   what="subscriptions back, matched on both sides")
        back = max(h.now_ns(), active + 10**8)  # further apart than slop_s
        h.publish_frame(raws, back)
        h.wait_for_output(back, "after re-activation")
        assert h.output_stamps() == [active, back]
    finally:
        h.close()
