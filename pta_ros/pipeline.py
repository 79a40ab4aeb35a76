"""The sensing node's work without the middleware: decode → preprocess → sync → select → predict → report.

:class:`SensingPipeline` is plain Python over the message classes (no rclpy): the node
(``sensing_node.py``) only wires subscriptions, timers and publishers to it, and tests drive it
message by message without DDS. It never raises on bad input: a message is accepted or rejected
with a reason (counted by the synchroniser), and a failed step is counted by exception type.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from pta_core.errors import InvalidInput
from pta_core.live_quality import LiveQuality, QualityPolicy, served_choice
from pta_core.serving import EncodedFrame, Prediction, Predictor
from pta_ros.conversions import stamp_to_ns
from pta_ros.diagnostics import LatencyStats, PipelineReport, RateMeter, SensorReport
from pta_ros.frames import IDENTITY, Extrinsics, RigGraph, is_identity, transform_points
from pta_ros.inputs import DecodeOptions, SensorSpec
from pta_ros.intrinsics import (
    DepthResampler,
    Pinhole,
    from_camera_info,
    keypoints_to_model,
    model_depth_camera,
    model_rgb_camera,
)
from pta_ros.sync import Match, Synchronizer, SyncPolicy


@dataclass(frozen=True)
class Rejection:
    """Why a message was not used (``reason`` is the counter's key)."""

    reason: str
    detail: str


@dataclass(frozen=True)
class Output:
    """One inference step's result, for the publishers."""

    prediction: Prediction
    stamp_ns: int  # the newest stamp the model used
    step_s: float  # selection + prediction time


@dataclass(frozen=True)
class Step:
    """What one inference step did: an output, a change of modality set, an error, or nothing."""

    output: Output | None = None
    switched: tuple[tuple[str, ...] | None, tuple[str, ...]] | None = None  # (previous set, new set)
    nothing_live: bool = False  # no sensor is live: the skeleton shown should be cleared
    error: str | None = None  # one line, when the step failed
    quality_changes: tuple[str, ...] = ()  # live quality: a sensor left out or served again, one line each
    error_kind: str = ""  # the exception type, or non_finite_output (for counting and log throttling)


@dataclass(frozen=True)
class InputOptions:
    """The run-time input checks (node parameters)."""

    frame_ids: dict[str, str]  # the model's frame per sensor key ("" = any frame, taken as the model's)
    decode: DecodeOptions
    extrinsics: Extrinsics = field(default_factory=lambda: Extrinsics(RigGraph()))  # message frame → model's
    quality: QualityPolicy | None = None  # live sensor quality (pta_core.live_quality); None: off


class SensingPipeline:
    def __init__(self, predictor: Predictor, sensors: tuple[SensorSpec, ...], policy: SyncPolicy,
                 clock_ns: Callable[[], int], options: InputOptions) -> None:
        self.predictor = predictor
        self.predictor_config = predictor.preprocess_config  # the model's layouts; kept while it is unloaded
        self.sensors = sensors
        self.sync = Synchronizer([s.modality for s in sensors], policy, clock_ns)
        self.options = options
        self._clock_ns = clock_ns
        self._rates = {s.modality: RateMeter() for s in sensors}
        self._lock = threading.Lock()  # one step at a time (a multi-threaded executor may race)
        self.chosen: tuple[str, ...] | None = None
        self.outputs = 0
        self.errors: Counter[str] = Counter()
        self._step_time = LatencyStats()
        self._output_delay = LatencyStats()
        self._last_accepted: float | None = None
        self._started = time.monotonic()
        self._rejected_reported: dict[str, int] = {}
        self._last_rejection: dict[str, str] = {}  # modality → the newest rejection's reason and detail
        self._frames: dict[str, str] = {}  # modality → "message frame → model frame (source)"
        self.notes: dict[str, str] = {}  # modality → a warning its newest message's layout or camera deserves
        self._cameras: dict[str, Pinhole] = {}  # modality → the live camera (its camera_info)
        self._camera_text: dict[str, str] = {}  # modality → "live camera -> model camera"
        self._resample_depth = DepthResampler()
        self.quality: LiveQuality | None = None
        self.quality_note = ""  # why live quality is off, when it was asked for
        self._left_out: set[str] = set()
        self._start_quality(predictor)

    def _start_quality(self, predictor: Predictor | None) -> None:
        """(Re)start live quality for ``predictor`` with the options' policy (a new model or policy)."""
        self.quality, self._left_out, self.quality_note = None, set(), ""
        self._quality_policy = self.options.quality
        if self.options.quality is None or predictor is None:
            return
        try:
            self.quality = LiveQuality.for_model(predictor, self.options.quality)
        except ValueError as err:
            self.quality_note = f"live quality is off: {err}"

    # -- inputs -----------------------------------------------------------------------------

    def set_predictor(self, predictor: Predictor | None) -> Predictor | None:
        """Swap the model (None while the node is inactive); returns the previous one."""
        with self._lock:
            previous, self.predictor = self.predictor, predictor
            self._start_quality(predictor)
        return previous

    def on_message(self, sensor: SensorSpec, msg) -> Rejection | None:
        """Check, decode, preprocess (the training path) and buffer one message; never raises.

        Without a model (between a deactivation and the next activation) the message only counts
        towards the sensor's rate.
        """
        self._rates[sensor.modality].tick(time.monotonic())
        sync, predictor = self.sync, self.predictor
        if predictor is None:
            return None
        try:
            stamp = stamp_to_ns(msg.header.stamp)
            reason = sync.check(sensor.modality, stamp)
            if reason is not None:
                sync.count_rejection(sensor.modality, reason)
                return Rejection(reason, f"stamp {stamp / 1e9:.3f} s")
            to_model = self._to_model_frame(sensor, msg.header.frame_id)
            raw = sensor.decode(msg, self.options.decode)
            if sensor.note is not None:
                self.notes[sensor.modality] = sensor.note(msg, self.options.decode)
            if sensor.camera:
                raw = self._to_model_camera(sensor, raw, predictor)
            if to_model is not IDENTITY:
                raw = transform_points(raw, to_model)
            sample = predictor.preprocess(sensor.modality, raw)
        except InvalidInput as err:
            return self._reject(sensor, err.reason, err.detail)
        except Exception as err:  # a bug must not kill the node: count, report, carry on
            return self._reject(sensor, "internal_error", f"{type(err).__name__}: {err}")
        reason = sync.add(sensor.modality, stamp, sample)  # buffered ready for the model
        if reason is not None:
            return Rejection(reason, f"stamp {stamp / 1e9:.3f} s")
        self._last_accepted = time.monotonic()
        return None

    def on_camera_info(self, sensor: SensorSpec, msg) -> Rejection | None:
        """The intrinsics of ``sensor``'s camera (its camera_info topic); never raises."""
        try:
            self._cameras[sensor.modality] = from_camera_info(msg)
        except InvalidInput as err:
            return self._reject(sensor, err.reason, err.detail)
        return None

    def _to_model_camera(self, sensor: SensorSpec, raw: np.ndarray, predictor: Predictor) -> np.ndarray:
        """Depth or keypoints of the live camera in the model camera's pixels (pta_ros.intrinsics)."""
        cfg = predictor.preprocess_config
        model = model_depth_camera(cfg) if sensor.camera == "depth" else model_rgb_camera(cfg)
        live = self._cameras.get(sensor.modality)
        if live is None:
            self.notes[sensor.modality] = f"no camera_info yet: the model's camera is assumed ({model})"
            return raw
        self.notes[sensor.modality] = ""
        self._camera_text[sensor.modality] = f"{live} -> {model}" if live != model else f"{live} (the model's)"
        if sensor.camera == "depth":
            return self._resample_depth(raw, live, model)
        return keypoints_to_model(raw, live, model)

    def _reject(self, sensor: SensorSpec, reason: str, detail: str) -> Rejection:
        self.sync.count_rejection(sensor.modality, reason)
        self._last_rejection[sensor.modality] = f"{reason}: {detail}"
        return Rejection(reason, detail)

    def _to_model_frame(self, sensor: SensorSpec, frame_id: str) -> np.ndarray:
        """T(model frame ← ``frame_id``) for this input. Raises InvalidInput ``transform`` when no
        transform connects them, or when they differ for an input that cannot be moved (an image)."""
        target = self.options.frame_ids.get(sensor.key, "").lstrip("/")
        found = self.options.extrinsics.lookup(target, frame_id)
        if found is None:
            raise InvalidInput("transform", f"no transform from {frame_id!r} to the model's {target!r} (tf2 or "
                                            "rig_file): not used untransformed")
        matrix, source = found
        if not sensor.movable and not is_identity(matrix, 1e-6):
            raise InvalidInput("transform", f"{frame_id!r} is not where the model's {target!r} is: a "
                                            f"{sensor.msg_type.__name__} cannot be re-expressed in another frame")
        self._frames[sensor.modality] = f"{frame_id} -> {target or frame_id} ({source})"
        return IDENTITY if source == "identity" else matrix

    # -- inference --------------------------------------------------------------------------

    def step(self) -> Step:
        """At most one inference, on the newest ready synchronised frame; never raises."""
        with self._lock:
            try:
                return self._step()
            except Exception as err:
                self.errors[type(err).__name__] += 1
                return Step(error=f"inference step failed: {type(err).__name__}: {err}", error_kind=type(err).__name__)

    def _select(self, predictor: Predictor) -> tuple[Match, tuple[str, ...], EncodedFrame | None, tuple[str, ...]] | None:
        """The newest ready match whose sensors are exactly the set to serve: the model's best subset of
        the live sensors live quality did not leave out. Also the match's encodings (reused by the
        prediction) and what live quality changed."""
        match = self.sync.match()
        if match is None:
            return None
        frame, changes, left_out = None, (), set()
        if self.quality is not None:
            frame = predictor.encode({m: match.entries[m].item for m in match.sensors})
            left_out = self.quality.judge(predictor, frame)
            changes = self._quality_changes(left_out)
        while match is not None:
            subset = served_choice(predictor, match.sensors, left_out)
            if subset is None:
                return None
            if set(subset) == set(match.sensors):
                return match, subset, frame, changes
            # The best model ignores some matched sensors: re-match on the subset alone, so that
            # the output stamp is the newest stamp the model actually used.
            match = self.sync.match(subset)
        return None

    def _quality_changes(self, left_out: set[str]) -> tuple[str, ...]:
        monitor = self.quality.monitor
        changes = tuple([f"{m} left out: {monitor.reason(m)}" for m in sorted(left_out - self._left_out)]
                        + [f"{m} served again: its readout agrees with the others' again" for m in sorted(self._left_out - left_out)])
        self._left_out = set(left_out)
        return changes

    def _step(self) -> Step:
        predictor = self.predictor
        if predictor is None:
            return Step()
        started = time.perf_counter()
        if self.options.quality != self._quality_policy:  # changed at run time (a parameter)
            self._start_quality(predictor)
        selected = self._select(predictor)
        if selected is None:
            return Step(nothing_live=not self.sync.live())
        match, subset, frame, changes = selected
        switched = (self.chosen, subset) if subset != self.chosen else None
        self.chosen = subset
        samples = predictor.encode({m: match.entries[m].item for m in subset}, reuse=frame)
        prediction = predictor.predict(samples, stamp_s=match.stamp_ns / 1e9)
        self.sync.commit(match)
        if not all(out is None or np.isfinite(out).all() for out in (prediction.joints, prediction.activity_probs)):
            self.errors["non_finite_output"] += 1
            return Step(switched=switched, error="the model produced non-finite outputs: frame dropped",
                        error_kind="non_finite_output", quality_changes=changes)
        step_s = time.perf_counter() - started
        self.outputs += 1
        self._step_time.add(step_s)
        self._output_delay.add((self._clock_ns() - match.stamp_ns) / 1e9)
        return Step(output=Output(prediction, match.stamp_ns, step_s), switched=switched, quality_changes=changes)

    # -- report -----------------------------------------------------------------------------

    def _quality_text(self, m: str) -> str:
        """live quality's view of ``m``: its newest score, or why it is left out."""
        if self.quality is None:
            return self.quality_note
        monitor = self.quality.monitor
        if m in monitor.left_out():
            return f"left out: {monitor.reason(m)}"
        score = monitor.last_scores.get(m)
        if score is None or score.worst is None:
            return (f"not judged this frame (fewer than {self.quality.policy.min_live} live sensors, no two that agree, "
                    "or no judge accurate enough)")
        return f"served: score {score.worst:.2f} <= {self.quality.policy.verdict_of(m):.2f}"

    def report(self, node_name: str, topic_of: Callable[[str], str], input_timeout_s: float,
               latency_warn_s: float) -> PipelineReport:
        """The pipeline's state (what ``/diagnostics`` publishes); ``topic_of`` resolves a relative topic."""
        sync = self.sync
        now_ns, now = self._clock_ns(), time.monotonic()
        live = sync.live()
        rejected, dropped, accepted = sync.rejected(), sync.dropped(), sync.accepted()
        sensors = []
        for spec in self.sensors:
            m = spec.modality
            newest = sync.newest_stamp(m)
            total_rejected = sum(rejected[m].values())
            sensors.append(SensorReport(
                modality=m,
                topic=topic_of(spec.topic),
                rate_hz=self._rates[m].rate_hz(now),
                age_s=None if newest is None else (now_ns - newest) / 1e9,
                live=m in live,
                seen=self._rates[m].last is not None,
                accepted=accepted[m],
                rejected=rejected[m],
                dropped=dropped[m],
                new_rejections=total_rejected - self._rejected_reported.get(m, 0),
                last_rejection=self._last_rejection.get(m, ""),
                frame=self._frames.get(m, ""),
                note=self.notes.get(m, ""),
                camera=self._camera_text.get(m, ""),
                quality=self._quality_text(m),
            ))
            self._rejected_reported[m] = total_rejected
        extra = {f"errors.{k}": str(v) for k, v in sorted(self.errors.items())}
        delay = self._output_delay.percentiles()
        if delay is not None:
            extra.update({f"output_delay_{k}_ms": f"{v * 1e3:.4g}" for k, v in delay.items()})
        return PipelineReport(
            node_name=node_name,
            sensors=sensors,
            live=live,
            chosen=self.chosen,
            latency=self._step_time.percentiles(),
            outputs=self.outputs,
            seconds_since_input=None if self._last_accepted is None else now - self._last_accepted,
            uptime_s=now - self._started,
            input_timeout_s=input_timeout_s,
            latency_warn_s=latency_warn_s,
            clock_resets=sync.resets,
            device="none" if self.predictor is None else str(self.predictor.device),
            extra=extra,
        )
