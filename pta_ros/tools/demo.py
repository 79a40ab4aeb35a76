"""``make demo``: the whole loop on generated data, on a machine without a ROS distribution.

1. generate a small MM-Fi-format set (5 subjects × 27 actions × 12 frames, 0.25 s apart)
2. train a quick PTA model on four subjects (config/demo_mmfi.yaml); the fifth, S08, is held out
3. evaluate every modality combination on S08, for the quick model and for the shipped model
   (models/pta_bench_clean.pt, trained on the clean benchmark, where S08 is a test subject too)
4. convert four S08 sequences to a rosbag2 (mcap)
5. replay the bag (replay_node) into the sensing node (sensing_node), two processes talking over DDS,
   serving the better of the two models, with the sensor of the chosen set that matters most
   withheld mid-way, while this process scores the outputs online against the ground-truth topic
   (pta_ros.tools.online_eval)
6. print a summary; write it (summary.json), the eval plot and a picture of predicted vs true skeletons

A second run reuses what exists (data, cache, model, bag) and replays again.

    python -m pta_ros.tools.demo --out demo_out [--steps N] [--fresh] [--model quick|shipped]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

log = logging.getLogger("pta_demo")

SUBJECTS = ("S01", "S11", "S21", "S31", "S08")
TEST_SUBJECT = "S08"  # held out here and in the benchmarks the shipped model was trained on
FRAMES, FRAME_PERIOD = 12, 0.25  # as the benchmarks (pta_core.simulator.benchmarks)
MODALITIES = ("rgb", "depth", "lidar", "mmwave", "wifi-csi")
SHIPPED_MODEL = "pta_bench_clean.pt"  # made by bench/make_default_model.sh
BAG_ACTIONS = ("A03", "A12", "A17", "A26")  # chest expansion, squat, waving, jumping
DROP_WINDOW_S = (4.0, 8.0)  # the withheld sensor's silence, seconds after the bag start


class Stages:
    """Times each stage and logs it."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str):
        log.info("== %s", name)
        start = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - start, 1)
        log.info("   %s: %.1f s", name, self.seconds[name])


def generate(root: Path) -> None:
    from pta_core.simulator import MMFiSpec, generate_mmfi

    spec = MMFiSpec(subjects=SUBJECTS, frames=FRAMES, frame_period=FRAME_PERIOD, modalities=MODALITIES)
    summary = generate_mmfi(root, spec, workers=2, progress=sys.stderr.isatty())
    log.info("   %s", summary)


def demo_config(out: Path, steps: int | None):
    from pta_core.config import load_config
    from pta_ros.paths import config_file

    overrides = [f"data.root={out / 'data' / 'mmfi'}", f"data.cache_dir={out / 'cache'}",
                 f"train.out_dir={out / 'run'}"]
    if steps:
        overrides.append(f"train.max_steps={steps}")
    return load_config(config_file("demo_mmfi.yaml"), overrides)


def train_model(cfg) -> Path:
    from pta_core.training.train import MODEL_FILE, train

    run_dir = Path(cfg.train.out_dir)
    done = run_dir / "DONE"
    if done.is_file() and (run_dir / MODEL_FILE).is_file():
        log.info("   reusing %s", run_dir / MODEL_FILE)
        return run_dir / MODEL_FILE
    result = train(cfg, resume=(run_dir / "state.pt").is_file(), progress=sys.stderr.isatty())
    done.write_text(f"{result.steps}\n")
    return result.model_path


def evaluate(cfg, models: dict[str, Path], out: Path) -> tuple[dict[str, Path], dict[str, float]]:
    """Every combination on the held-out subject, for each model; returns the report's files and each
    model's mean MPJPE over the combinations."""
    from pta_core.checkpoint import load_checkpoint
    from pta_core.config import activity_window
    from pta_core.data import PackedDataset, open_split
    from pta_core.metrics import modality_combinations
    from pta_core.results import write_report
    from pta_core.training.evaluate import evaluate_combinations, selection_score

    dataset = PackedDataset(open_split(cfg.data, "test", progress=False))
    runs, scores = {}, {}
    for name, path in models.items():
        checkpoint = load_checkpoint(path)
        if checkpoint.config.data.preprocess != cfg.data.preprocess:  # the packed inputs would not be its inputs
            raise ValueError(f"{path} preprocesses its inputs unlike config/demo_mmfi.yaml: it cannot be evaluated here")
        runs[name] = evaluate_combinations(
            checkpoint.build(), dataset, modalities=checkpoint.modalities,
            combinations=modality_combinations(checkpoint.modalities), batch_size=cfg.eval.batch_size,
            window=activity_window(checkpoint.config),
        )
        scores[name] = selection_score(runs[name], "mpjpe_mm")
    order = load_checkpoint(next(iter(models.values()))).modalities
    written = write_report(runs, order, out, f"PTA demo: held-out subject {TEST_SUBJECT}")
    return written, scores


def shipped_model() -> Path | None:
    """The model that comes with the package (models/), or None when it is not there."""
    from pta_ros.paths import share_dir

    path = share_dir() / "models" / SHIPPED_MODEL
    return path if path.is_file() else None


def make_bag(root: Path, bag_dir: Path) -> None:
    from pta_ros.tools import bag

    if (bag_dir / "metadata.yaml").is_file():
        log.info("   reusing %s", bag_dir)
        return
    stats = bag.convert(root, bag_dir, [(TEST_SUBJECT, a) for a in BAG_ACTIONS], progress=False)
    log.info("   %d frames, %d messages in %.1f s", stats.frames, sum(stats.messages.values()), stats.seconds)


def sensor_to_withhold(model_path: Path) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """The input topic whose loss changes the chosen set: a member of the best set of all five."""
    from pta_core.torch_predictor import TorchPredictor
    from pta_ros.tools.bag import topic_of

    predictor = TorchPredictor.from_checkpoint(model_path, "cpu")
    best = predictor.best_subset(predictor.modalities)
    # Prefer a non-camera sensor (the camera is what robots lose least often), else the camera.
    victim = next((m for m in best if m != "rgb"), best[0])
    fallback = predictor.best_subset([m for m in predictor.modalities if m != victim])
    return topic_of(victim), best, fallback


def replay_through_node(model_path: Path, bag_dir: Path, out: Path, withhold: str) -> tuple[dict, object]:
    """sensing_node and replay_node as separate processes; this process evaluates online."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    from pta_ros import dds
    from pta_ros.paths import config_file
    from pta_ros.tools.online_eval import OnlineEvaluator, make_node

    os.environ.update(dds.host_only(os.environ))  # the node and the replay inherit it
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    node_cmd = [sys.executable, "-m", "pta_ros.sensing_node", "--ros-args", "--params-file",
                str(config_file("sensing.yaml")), "-p", f"model_path:={model_path}", "-p", "use_sim_time:=true"]
    replay_cmd = [sys.executable, "-m", "pta_ros.tools.replay_node", str(bag_dir), "--wait-for-subscribers", "30",
                  "--start-paused", "--drop", f"{withhold}:{DROP_WINDOW_S[0]}:{DROP_WINDOW_S[1]}",
                  "--stats", str(out / "replay_stats.json")]
    rclpy.init()
    evaluator = OnlineEvaluator()
    node = make_node(evaluator)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    sensing = replay = None
    try:
        with open(logs / "sensing_node.log", "w") as node_log:
            sensing = subprocess.Popen(node_cmd, stdout=node_log, stderr=subprocess.STDOUT)
            skeleton_seen = time.monotonic() + 60
            while not node.count_publishers("/sensing_node/skeleton") and time.monotonic() < skeleton_seen:
                if sensing.poll() is not None:
                    raise RuntimeError(f"sensing_node exited with {sensing.returncode}; see {logs / 'sensing_node.log'}")
                executor.spin_once(timeout_sec=0.1)
            with open(logs / "replay_node.log", "w") as replay_log:
                replay = subprocess.Popen(replay_cmd, stdout=replay_log, stderr=subprocess.STDOUT)
                start_when_matched(node, executor, evaluator, replay)
                while replay.poll() is None:
                    executor.spin_once(timeout_sec=0.05)
                end = time.monotonic() + 1.5  # the last outputs in flight
                while time.monotonic() < end:
                    executor.spin_once(timeout_sec=0.05)
        if replay.returncode != 0:
            raise RuntimeError(f"replay_node exited with {replay.returncode}; see {logs / 'replay_node.log'}")
    finally:
        for proc in (replay, sensing):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    summary = evaluator.summary()
    summary["replay"] = json.loads((out / "replay_stats.json").read_text())
    return summary, evaluator


def start_when_matched(node, executor, evaluator, replay, timeout_s: float = 30.0) -> None:
    """Start the paused replay once the sensing node reports (``/diagnostics``, 1 Hz) a matched
    publisher on every input: what a publisher sends before the node's side has matched is lost."""
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from std_msgs.msg import Empty

    def unmatched() -> list[str]:
        inputs = {part: c for part, c in evaluator.node_counters.items() if part != "pipeline"}
        return sorted(part for part, c in inputs.items() if c.get("publishers", 1) < 1) if inputs else ["(no report yet)"]

    deadline = time.monotonic() + timeout_s
    while unmatched() and time.monotonic() < deadline and replay.poll() is None:
        executor.spin_once(timeout_sec=0.05)
    if unmatched() and replay.poll() is None:
        print(f"demo: after {timeout_s:g} s the node has not matched {unmatched()}: starting anyway", file=sys.stderr)
    qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    node.create_publisher(Empty, "/replay_node/start", qos).publish(Empty())


def plot_examples(evaluator, path: Path) -> None:
    """Predicted vs true skeleton, one panel per modality set the node used."""
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pta_core.io import atomic_write_bytes
    from pta_core.skeleton import H36M_BONES

    examples = sorted(evaluator.examples.items(), key=lambda kv: kv[1][0])[:4]
    if not examples:
        return
    fig = plt.figure(figsize=(4.2 * len(examples), 4.6))
    for i, (modalities, (_, pred, truth)) in enumerate(examples, 1):
        ax = fig.add_subplot(1, len(examples), i, projection="3d")
        for joints, colour, label in ((truth, "tab:green", "ground truth"), (pred, "tab:red", "PTA")):
            # Camera optical frame (x right, y down, z forward) drawn with z up for reading.
            xs, ys, zs = joints[:, 0], joints[:, 2], -joints[:, 1]
            for child, parent in H36M_BONES:
                ax.plot([xs[child], xs[parent]], [ys[child], ys[parent]], [zs[child], zs[parent]], color=colour)
            ax.scatter(xs, ys, zs, color=colour, s=8, label=label)
        error = float(np.linalg.norm(pred - truth, axis=-1).mean() * 1000)
        both = np.concatenate([truth, pred])[:, [0, 2, 1]] * [1, 1, -1]
        centre, half = both.mean(0), max(float(np.ptp(both, 0).max()) / 2, 0.5)
        ax.set_xlim(centre[0] - half, centre[0] + half)
        ax.set_ylim(centre[1] - half, centre[1] + half)
        ax.set_zlim(centre[2] - half, centre[2] + half)
        ax.set_box_aspect((1, 1, 1))
        ax.set_title(f"{'+'.join(modalities)}\nMPJPE {error:.0f} mm", fontsize=9)
        ax.set_xlabel("x (m)"), ax.set_ylabel("depth (m)"), ax.set_zlabel("up (m)")
        if i == 1:
            ax.legend(loc="upper left", fontsize=8)
    fig.suptitle("Replayed through sensing_node: predicted (red) vs true (green) skeletons")
    fig.tight_layout()
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def print_summary(summary: dict, out: Path) -> None:
    print("\n=== pta_ros demo summary ===")
    print(f"output folder: {out.resolve()}")
    print(f"stages (s): {summary['stages_s']}; total {summary['total_s']} s")
    for name, score in summary["offline_mean_mpjpe_mm"].items():
        print(f"offline, {name}: mean MPJPE over the 31 combinations {score} mm")
    print(f"the node served: {summary['model']}")
    online = summary["online"]
    print(f"replay: {online['frames_in']} frames in, {online['frames_out']} skeletons out, "
          f"{online.get('output_rate_hz')} Hz; withheld {summary['withheld_topic']} "
          f"{DROP_WINDOW_S[0]:g}-{DROP_WINDOW_S[1]:g} s")
    if "latency_ms" in online:
        lat = online["latency_ms"]
        print(f"end-to-end latency (last input arrival -> skeleton arrival): p50 {lat['p50']} ms, p99 {lat['p99']} ms")
    # Why inputs of the sets used did not become outputs, from the node's last /diagnostics (≤ 1 s old);
    # sensors outside the chosen set count every message as superseded, so they are left out.
    used = {m for name in online["set_sequence"] for m in name.split("+")}
    losses = {
        f"{part}:{key}": n for part, counters in online.get("node_counters", {}).items() if part in used
        for key, n in counters.items() if n and key.startswith(("rejected.", "dropped."))
    }
    print(f"node's counters for the sensors used (last /diagnostics): {losses or 'nothing rejected or dropped'}")
    print(f"modality sets used, in order: {' -> '.join(online['set_sequence'])} ({online['set_switches']} switches)")
    print("online error per modality set:")
    for name, row in online["per_set"].items():
        print(f"  {name:40s} {row['frames']:4d} frames  MPJPE {row['mpjpe_mm']:7.1f} mm  PA-MPJPE {row['pa_mpjpe_mm']:6.1f} mm")
    print(f"offline evaluation (all 31 combinations): {summary['eval']['markdown']}")
    print(f"pictures: {summary['eval']['plot']}, {summary['skeleton_plot']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pta-demo", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="demo_out", help="output folder (reused by a second run)")
    parser.add_argument("--steps", type=int, help="training steps (default: config/demo_mmfi.yaml)")
    parser.add_argument("--fresh", action="store_true", help="delete the output folder first")
    parser.add_argument("--model", choices=("best", "quick", "shipped"), default="best",
                        help="the model the node serves: the better on the held-out subject (default), the one "
                        "trained here, or the shipped one")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    out = Path(args.out)
    if args.fresh:
        shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    stage = Stages()
    started = time.perf_counter()
    root = out / "data" / "mmfi"
    cfg = demo_config(out, args.steps)
    with stage("generate"):
        generate(root)
    with stage("train"):
        quick = train_model(cfg)
    models = {f"PTA, quick ({cfg.train.max_steps} steps here)": quick}
    shipped = shipped_model()
    if shipped is not None:
        models[f"PTA, shipped ({SHIPPED_MODEL})"] = shipped
    with stage("evaluate"):
        written, scores = evaluate(cfg, models, out / "eval")
    for name, score in scores.items():
        log.info("   %s: mean MPJPE over the combinations %.1f mm on %s", name, score, TEST_SUBJECT)
    if args.model == "quick" or shipped is None:
        served = quick
    elif args.model == "shipped":
        served = shipped
    else:  # the better of the two on the held-out subject
        served = models[min(scores, key=scores.get)]
    with stage("bag"):
        make_bag(root, out / "bag")
    model_path = served
    withhold, best, fallback = sensor_to_withhold(model_path)
    log.info("best set %s; withholding %s (fallback set %s)", "+".join(best), withhold, "+".join(fallback or ()))
    with stage("replay"):
        online, evaluator = replay_through_node(model_path, out / "bag", out, withhold)
    plot_examples(evaluator, out / "skeletons.png")
    summary = {
        "stages_s": stage.seconds,
        "total_s": round(time.perf_counter() - started, 1),
        "model": str(model_path),
        "offline_mean_mpjpe_mm": {name: round(v, 1) for name, v in scores.items()},
        "withheld_topic": withhold,
        "best_set": "+".join(best),
        "fallback_set": "+".join(fallback or ()),
        "online": online,
        "eval": {k: str(v) for k, v in written.items()},
        "skeleton_plot": str(out / "skeletons.png"),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print_summary(summary, out)
    if online["frames_out"] == 0:
        print("demo: the node produced no skeleton", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
