"""The sensing node's outputs: one prediction → skeleton, activity, scores, markers and inference messages.

``~/inference`` (DiagnosticArray, one per output, same header as the skeleton) says which modality
set produced that output, its top activity (``~/activity`` has no header to match it by) and how
long the step took: what an online evaluator needs to score each chosen set
(``pta_ros.tools.online_eval``) without guessing which output came from which set.

Publishers are lifecycle publishers (silent while the node is inactive), reliable, depth 10.
"""

from __future__ import annotations

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseArray
from rclpy.lifecycle import LifecycleNode
from rclpy.qos import QoSProfile
from std_msgs.msg import Float32MultiArray, Header, MultiArrayDimension, String
from visualization_msgs.msg import MarkerArray

from pta_core.serving import Prediction
from pta_core.skeleton import H36M_17, JointSet
from pta_ros.conversions import numpy_to_posearray
from pta_ros.markers import MarkerStyle, delete_all_markers, skeleton_markers

OUTPUT_QOS = QoSProfile(depth=10)  # reliable, volatile


def scores_msg(probs: np.ndarray) -> Float32MultiArray:
    """(K,) class probabilities, in the checkpoint's class order, with a labelled dimension."""
    msg = Float32MultiArray()
    size = int(probs.shape[0])
    msg.layout.dim = [MultiArrayDimension(label="activity", size=size, stride=size)]
    msg.data = probs.astype(np.float32).tolist()
    return msg


def inference_msg(node_name: str, modalities: tuple[str, ...], header: Header, step_s: float | None,
                  activity: str | None = None) -> DiagnosticArray:
    """One output's provenance: the modality set used (``a+b``), the top activity, the step time (ms)."""
    values = [KeyValue(key="modalities", value="+".join(modalities))]
    if activity is not None:
        values.append(KeyValue(key="activity", value=activity))
    if step_s is not None:
        values.append(KeyValue(key="step_ms", value=f"{step_s * 1e3:.3f}"))
    status = DiagnosticStatus(level=DiagnosticStatus.OK, name=f"{node_name}: inference", message="+".join(modalities),
                              hardware_id=node_name, values=values)
    return DiagnosticArray(header=header, status=[status])


class OutputPublishers:
    """``~/skeleton``, ``~/markers``, ``~/activity``, ``~/activity/scores`` and ``~/inference`` of one node."""

    def __init__(self, node: LifecycleNode) -> None:
        self._node = node
        self._skeleton = node.create_lifecycle_publisher(PoseArray, "~/skeleton", OUTPUT_QOS)
        self._markers = node.create_lifecycle_publisher(MarkerArray, "~/markers", OUTPUT_QOS)
        self._activity = node.create_lifecycle_publisher(String, "~/activity", OUTPUT_QOS)
        self._scores = node.create_lifecycle_publisher(Float32MultiArray, "~/activity/scores", OUTPUT_QOS)
        self._inference = node.create_lifecycle_publisher(DiagnosticArray, "~/inference", OUTPUT_QOS)
        self.markers_shown = False  # markers in RViz that a DELETEALL should clear

    def publish(
        self,
        prediction: Prediction,
        header: Header,
        activity_classes: tuple[str, ...],
        marker_style: MarkerStyle | None,
        step_s: float | None = None,
        joint_set: JointSet = H36M_17,
    ) -> None:
        """Publish one frame's outputs (``header``: newest input stamp, output frame).

        Markers only with a ``marker_style``; the label shows the top-1 class and its probability.
        """
        if prediction.joints is not None:  # first: the skeleton is what a controller waits for
            self._skeleton.publish(numpy_to_posearray(prediction.joints, header))
        label = top_class = None
        if prediction.activity_probs is not None:
            probs = prediction.activity_probs
            top = int(np.argmax(probs))
            self._activity.publish(String(data=activity_classes[top]))
            self._scores.publish(scores_msg(probs))
            top_class = activity_classes[top]
            label = f"{top_class} {float(probs[top]):.2f}"
        if prediction.joints is not None and marker_style is not None:
            self._markers.publish(skeleton_markers(prediction.joints, header, label, marker_style, joint_set))
            self.markers_shown = True
        self._inference.publish(inference_msg(self._node.get_fully_qualified_name(), prediction.modalities, header, step_s,
                                              top_class))

    def clear_markers(self, header: Header) -> None:
        """One DELETEALL if markers are shown (RViz keeps a marker with lifetime 0 forever)."""
        if self.markers_shown:
            self._markers.publish(delete_all_markers(header))
            self.markers_shown = False

    def destroy(self) -> None:
        for publisher in (self._skeleton, self._markers, self._activity, self._scores, self._inference):
            self._node.destroy_lifecycle_publisher(publisher)
