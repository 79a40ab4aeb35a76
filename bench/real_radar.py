"""Real radar, one command: MARS and RadHAR with their own protocols, what the simulator is worth on
MARS, and both datasets through the node (docs/RESULTS.md, "Real radar").

    python bench/real_radar.py --mars PATH/TO/MARS --radhar PATH/TO/RadHAR [--work out/real_radar]
        [--seeds 3407 1] [--jobs 2] [--only mars|loso|sim|radhar|node ...] [--extra KEY=VALUE ...]

Every run is a line of :data:`RUNS` (the catalogue the summary reads too); the scheduler trains at most
``--jobs`` at a time, one intra-op thread each, in dependency order. A run whose model.pt and DONE
marker exist is skipped; an interrupted one resumes. Then: each model evaluated on its test side
(``pta eval``), the simulator's network read zero-shot on MARS (bench/sim_zero_shot.py), the real and
simulated radar side by side (bench/radar_statistics.py), the MARS and RadHAR test recordings
written as ``ti_mmwave_rospkg`` bags and replayed through the node with ``pta_bringup --evaluate``,
and ``summary.md`` / ``summary.json`` in ``--out`` (default docs/results/real_radar).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
MARS_CONFIG, RADHAR_CONFIG = "config/train_mars.yaml", "config/train_radhar.yaml"
SIM_SUBJECTS = 40  # the synthetic radar the pretraining reads: 40 subjects × 27 actions × 30 frames
# The simulator's radar as it is, and calibrated toward MARS's training side (docs/RESULTS.md
# "Calibrating the radar to MARS": points per frame, spread around the body, Doppler bins).
CALIBRATED_KNOBS = ("mmwave.detection_gain=3", "mmwave.noise_scale=3", "mmwave.doppler_noise=0.1",
                    "mmwave.doppler_step=0.356")
SIMULATORS = {"simulator": ("sim_radar", "sim_pretrain", ()),
              "calibrated": ("sim_radar_calibrated", "sim_calibrated_pretrain", CALIBRATED_KNOBS)}
SIM_TEST = ("S08", "S18", "S28", "S38")
FRACTIONS = (1.0, 0.25, 0.05)
LOSO_SUBJECTS = ("subject1", "subject2", "subject3", "subject4")
# The two cores' budget: the 25 % and 5 % runs and leave-one-subject-out train 5,000 steps or the
# recipe's 100 epochs, whichever comes first (5 %: 1,300 steps), both inits alike, each keeping its
# best validate step; the 100 % runs the recipe's 15,000 steps. Every seed
# runs 5 % (the target's share) and the headline 100 % from scratch; 25 % and 100 % from the
# simulator run the first seed only; the calibrated simulator runs 5 % (every seed) and 25 %.
SHORT_STEPS = 5000


@dataclass(frozen=True)
class Run:
    name: str
    group: str  # --only selects groups
    config: str
    overrides: tuple[str, ...]
    after: tuple[str, ...] = ()  # runs whose model.pt this one reads
    seed: int = 3407
    fraction: float = 1.0
    init: str = "scratch"  # scratch | simulator | calibrated
    tags: dict = field(default_factory=dict)


def catalogue(args: argparse.Namespace) -> list[Run]:
    """Every run of the suite: the table the scheduler and the summary share."""
    work = Path(args.work)
    mars = (f"data.root={args.mars}", f"data.cache_dir={work / 'cache'}")
    radhar = (f"data.root={args.radhar}", f"data.cache_dir={work / 'cache'}")
    train_subjects = [s for i in range(1, 41) for s in [f"S{i:02d}"] if s not in SIM_TEST]
    runs = [Run(pretrain, "sim", MARS_CONFIG, (
        "data.dataset=mmfi", f"data.root={work / tree}", f"data.cache_dir={work / 'cache'}",
        "data.split=cross_subject_split", f"data.train_subjects=[{','.join(train_subjects)}]",
        f"data.val_subjects=[{','.join(SIM_TEST)}]", "purify.meta_group=subject", "purify.meta_val_fraction=0.2"),
        tags={"pretrain": init}) for init, (tree, pretrain, _) in SIMULATORS.items()]
    for fraction in sorted(FRACTIONS):  # the target's 5 % first: the scheduler starts runs in this order
        for seed in args.seeds:
            for init in ("scratch", *SIMULATORS):
                if init == "scratch" and fraction == 1.0:
                    name, group = f"mars_s{seed}", "mars"  # the time split's headline runs
                elif fraction == 0.05 or (seed == args.seeds[0] and (init != "calibrated" or fraction < 1.0)):
                    name, group = f"mars_{init}_{int(fraction * 100)}pct_s{seed}", "sim"
                else:
                    continue
                after = (SIMULATORS[init][1],) if init in SIMULATORS else ()
                extra = tuple(f"train.init_from=[{work / a / 'model.pt'}]" for a in after)
                if fraction < 1.0:
                    extra += (f"train.max_steps={SHORT_STEPS}",)
                runs.append(Run(name, group, MARS_CONFIG, (*mars, f"train.seed={seed}",
                                f"train.frame_fraction={fraction}", *extra),
                                after=after, seed=seed, fraction=fraction, init=init))
        if fraction == 0.05:
            runs += [Run(f"radhar_s{seed}", "radhar", RADHAR_CONFIG, (*radhar, f"train.seed={seed}"), seed=seed)
                     for seed in args.seeds]
    for subject in LOSO_SUBJECTS:  # leave one subject out (one seed: the paper never reports it)
        runs.append(Run(f"mars_loso_{subject}", "loso", MARS_CONFIG, (
            *mars, "data.split=cross_subject_split", f"data.val_subjects=[{subject}]", f"train.max_steps={SHORT_STEPS}"),
            tags={"subject": subject}))
    return [r for r in runs if not args.only or r.group in args.only or any(
        r.name in dep.after for dep in runs if dep.group in args.only)]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def environment() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def train_command(run: Run, args: argparse.Namespace) -> list[str]:
    out = Path(args.work) / run.name
    command = [PY, "-m", "pta_core.cli", "train", "--config", run.config, "--set", f"train.out_dir={out}",
               "--no-progress", *(a for o in (*run.overrides, *args.extra) for a in ("--set", o))]
    if (out / "state.pt").is_file():
        command.append("--resume")
    return command


def schedule(runs: list[Run], args: argparse.Namespace) -> None:
    """Train every run not done, at most ``args.jobs`` at a time, each after the runs it reads."""
    work = Path(args.work)
    done = {r.name for r in runs if (work / r.name / "DONE").is_file()}
    pending = [r for r in runs if r.name not in done]
    running: dict[str, subprocess.Popen] = {}
    try:
        _schedule(work, pending, done, running, args)
    finally:  # a failed run or ^C stops the others: no orphan keeps writing into a run directory
        for proc in running.values():
            proc.terminate()
            proc.wait()


def _schedule(work: Path, pending: list[Run], done: set[str], running: dict[str, subprocess.Popen],
              args: argparse.Namespace) -> None:
    while pending or running:
        for name, proc in list(running.items()):
            if proc.poll() is not None:
                del running[name]
                if proc.returncode != 0:
                    raise SystemExit(f"real_radar: {name} failed (exit {proc.returncode}); see {work / 'logs' / name}.log")
                (work / name / "DONE").write_text(time.strftime("%Y-%m-%dT%H:%M:%S\n"))
                done.add(name)
                log(f"done {name}")
        ready = [r for r in pending if all(d in done for d in r.after)]
        while ready and len(running) < args.jobs:
            run = ready.pop(0)
            pending.remove(run)
            (work / "logs").mkdir(parents=True, exist_ok=True)
            with open(work / "logs" / f"{run.name}.log", "a") as handle:  # the child keeps its own descriptor
                running[run.name] = subprocess.Popen(train_command(run, args), cwd=REPO, env=environment(),
                                                     stdout=handle, stderr=subprocess.STDOUT)
            log(f"start {run.name}")
        if pending and not ready and not running:
            raise SystemExit(f"real_radar: runs {[r.name for r in pending]} wait for runs that are not in this selection")
        time.sleep(2)


def evaluate(run: Run, args: argparse.Namespace) -> dict:
    """``pta eval`` of the run's model on its test side; the row of its one combination."""
    work = Path(args.work)
    out = work / run.name / "eval"
    if not (out / "results.csv").is_file():
        command = [PY, "-m", "pta_core.cli", "eval", "--checkpoint", str(work / run.name / "model.pt"), "--config",
                   run.config, "--out", str(out), "--no-progress", "--names", run.name,
                   *(a for o in run.overrides for a in ("--set", o))]
        subprocess.run(command, cwd=REPO, env=environment(), check=True, stdout=subprocess.DEVNULL)
    import csv

    with open(out / "results.csv") as handle:
        (row,) = list(csv.DictReader(handle))
    return {k: (float(v) if v not in ("", None) and k not in ("run", "combination") else v) for k, v in row.items()}


def node_check(dataset: str, run: Run, args: argparse.Namespace) -> dict:
    """The test recordings as a ti_mmwave_rospkg bag (with velocity), replayed through the node."""
    work = Path(args.work)
    bag = work / f"{dataset}_test_bag"
    if not bag.exists():
        root = args.mars if dataset == "mars" else args.radhar
        subprocess.run([PY, "-m", "pta_ros.tools.radar_bag", dataset, str(root), str(bag), "--velocity"],
                       cwd=REPO, env=environment(), check=True, stdout=subprocess.DEVNULL)
    params = work / "ti_mmwave_params.yaml"
    params.write_text(  # the driver's frame and topic; reliable input so no frame is lost to QoS
        "/**:\n  ros__parameters:\n    output_frame: ti_mmwave\n    frame_ids.radar: ti_mmwave\n"
        "    qos_overrides./ti_mmwave/radar_scan_pcl.subscription.reliability: reliable\n"
        "    qos_overrides./ti_mmwave/radar_scan_pcl.subscription.depth: 100\n")
    summary = work / f"{dataset}_online.json"
    if not summary.is_file():
        subprocess.run([PY, "-m", "pta_ros.tools.bringup", "--model", str(work / run.name / "model.pt"), "--bag", str(bag),
                        "--params-file", str(params), "--radar-topic", "/ti_mmwave/radar_scan_pcl", "--no-static-tf",
                        "--evaluate", "--json", str(summary), "--rate", str(args.rate)],
                       cwd=REPO, env={**environment(), "OMP_NUM_THREADS": "2"}, check=True, stdout=subprocess.DEVNULL)
    return json.loads(summary.read_text())


PAPER_MARS_MAE_CM = 5.87  # An & Ogras 2021, the MARS CNN on its test split
PAPER_RADHAR = {"TD-CNN + Bi-LSTM (paper)": 90.47, "released model (README)": 92.0}


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def write_summary(results: dict, out: Path) -> None:
    """summary.md: every figure of the suite, from summary.json."""
    runs = results["runs"]
    lines = ["# Real radar: MARS and RadHAR", "",
             f"`python bench/real_radar.py --mars MARS --radhar RadHAR`: this invocation {results['seconds']['total'] / 60:.0f} min "
             "(runs already done in its work folder are read, not trained again; docs/RESULTS.md gives the whole run's time).",
             "MAE is MARS's metric: the mean absolute error of the joints' x, y and z (cm).", ""]
    mars = sorted((r for n, r in runs.items() if r["group"] == "mars"), key=lambda r: -r["seed"])
    if mars:
        lines += ["## MARS, its time split (test: the last 20 % of every movement; 19 Kinect joints)", "",
                  "| seed | MAE (cm) | MPJPE (mm) | PA-MPJPE (mm) | root error (mm) | test frames |", "|---|---|---|---|---|---|"]
        for r in mars:
            lines.append(f"| {r['seed']} | {r['mae_mm'] / 10:.2f} | {r['mpjpe_mm']:.1f} | {r['pa_mpjpe_mm']:.1f} | "
                         f"{r['root_mm']:.1f} | {int(r['samples'])} |")
        lines += ["", f"The paper's MARS CNN: {PAPER_MARS_MAE_CM} cm (trained on 24,066 frames; 16,954 here: the copy "
                  "lacks subject 1's training Kinect rows).", ""]
    loso = [r for r in runs.values() if r["group"] == "loso"]
    if loso:
        lines += ["## MARS, leave one subject out (seed 3407; the paper does not report it)", "",
                  "| held-out subject | MAE (cm) | MPJPE (mm) | PA-MPJPE (mm) | test frames |", "|---|---|---|---|---|"]
        for r in sorted(loso, key=lambda r: r["subject"]):
            lines.append(f"| {r['subject']} | {r['mae_mm'] / 10:.2f} | {r['mpjpe_mm']:.1f} | {r['pa_mpjpe_mm']:.1f} | {int(r['samples'])} |")
        lines += [f"| mean | {_mean([r['mae_mm'] for r in loso]) / 10:.2f} | {_mean([r['mpjpe_mm'] for r in loso]):.1f} | "
                  f"{_mean([r['pa_mpjpe_mm'] for r in loso]):.1f} | |", ""]
    curve = [r for r in runs.values() if r["group"] in ("mars", "sim")]
    if any(r["init"] in SIMULATORS for r in curve):
        lines += ["## What the simulator is worth: MAE (cm) on MARS's test split, by share of its training frames", "",
                  "Per seed (" + ", ".join(str(s) for s in results["seeds"]) + "); the change is of the seeds' mean MAE "
                  "against from scratch.", "",
                  "| training frames (first share of each movement) | from scratch | from the simulator | change | "
                  "from the calibrated simulator | change |", "|---|---|---|---|---|---|"]
        for fraction in sorted(FRACTIONS):
            cells = []
            scratch = [r["mae_mm"] / 10 for r in curve if r["fraction"] == fraction and r["init"] == "scratch"]
            for init in ("scratch", *SIMULATORS):
                values = [r["mae_mm"] / 10 for r in curve if r["fraction"] == fraction and r["init"] == init]
                cells.append(" / ".join(f"{v:.2f}" for v in values) or "not run")
                if init != "scratch":
                    cells.append(f"{100 * (_mean(values) - _mean(scratch)) / _mean(scratch):+.1f} %" if values else "")
            lines.append(f"| {fraction:.0%} | " + " | ".join(cells) + " |")
        lines.append("")
    for init, zero in results.get("sim_zero_shot", {}).items():
        lines += [f"Zero-shot ({init}'s network) on the {len(zero['joints'])} joints both skeletons name "
                  f"({zero['frames']} test frames): "
                  + "; ".join(f"{k.replace('_', ' ')} MPJPE {v['mpjpe_mm']} mm, PA-MPJPE {v['pa_mpjpe_mm']} mm, MAE {v['mae_mm'] / 10:.2f} cm"
                              for k, v in zero.items() if isinstance(v, dict)) + ".", ""]
    radhar = sorted((r for r in runs.values() if r["group"] == "radhar"), key=lambda r: -r["seed"])
    if radhar:
        lines += ["## RadHAR, its Train / Test split, 2-s windows (34 radar scans)", "",
                  "| seed | accuracy (%) | test windows |", "|---|---|---|"]
        lines += [f"| {r['seed']} | {r['accuracy']:.2f} | {int(r['samples'])} |" for r in radhar]
        lines += ["", "Published: " + ", ".join(f"{k} {v} %" for k, v in PAPER_RADHAR.items()) + ".", ""]
    online = results.get("online")
    if online:
        lines += ["## Through the node (pta_bringup: ti_mmwave_rospkg bags of the test recordings, with velocity)", "",
                  "| dataset | frames in | outputs | online | offline, same model and frames |", "|---|---|---|---|---|"]
        seed = results.get("node_seed", 3407)
        if "mars" in online:
            o = online["mars"]
            offline = runs.get(f"mars_s{seed}", {}).get("mae_mm", float("nan"))
            lines.append(f"| MARS | {o['frames_in']} | {o['frames_out']} | MAE {o['overall']['mae_mm'] / 10:.3f} cm | "
                         f"MAE {offline / 10:.3f} cm |")
        if "radhar" in online:
            o = online["radhar"]
            offline = runs.get(f"radhar_s{seed}", {}).get("accuracy", float("nan"))
            lines.append(f"| RadHAR | {o['frames_in']} | {o['frames_out']} | accuracy {100 * o['activity'].get('accuracy', float('nan')):.2f} % "
                         f"({o['activity']['frames_scored']} windows) | accuracy {offline:.2f} % |")
        lines.append("")
    (out / "summary.md").write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mars", type=Path, required=True)
    parser.add_argument("--radhar", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=REPO / "out" / "real_radar")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "results" / "real_radar")
    parser.add_argument("--seeds", type=int, nargs="+", default=[3407, 1])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rate", type=float, default=2.0, help="bag playback rate of the node checks")
    parser.add_argument("--only", nargs="+", choices=("mars", "loso", "sim", "radhar", "node"), default=[])
    parser.add_argument("--extra", nargs="+", default=[], metavar="KEY=VALUE", help="overrides for every run")
    args = parser.parse_args(argv)
    started = time.monotonic()
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    runs = catalogue(args)
    for init, (tree, pretrain, knobs) in SIMULATORS.items():
        if any(r.name == pretrain for r in runs) and not (work / tree / "DONE").is_file():
            log(f"generating the synthetic radar ({init})")
            subprocess.run([PY, "-m", "pta_core.cli", "generate", "mmfi", "--out", str(work / tree), "--num-subjects",
                            str(SIM_SUBJECTS), "--frames", "30", "--modalities", "mmwave", "--no-progress",
                            *(a for k in knobs for a in ("--contaminate", k))],
                           cwd=REPO, env=environment(), check=True, stdout=subprocess.DEVNULL)
            (work / tree / "DONE").write_text(time.strftime("%Y-%m-%dT%H:%M:%S\n"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("real_radar: terminated"))  # runs the scheduler's cleanup
    schedule(runs, args)
    results = {"runs": {}, "seconds": {}}
    for run in runs:
        if "pretrain" in run.tags:  # scored on MARS zero-shot below
            continue
        row = evaluate(run, args)
        results["runs"][run.name] = {"group": run.group, "seed": run.seed, "fraction": run.fraction, "init": run.init,
                                     **run.tags, **row}
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.only or "sim" in args.only:
        reference = work / f"mars_s{args.seeds[0]}" / "model.pt"
        results["sim_zero_shot"] = {}
        for init, (_, pretrain, _) in SIMULATORS.items():
            zero_shot = work / f"{pretrain}_zero_shot.json"
            if not zero_shot.is_file():
                subprocess.run([PY, "bench/sim_zero_shot.py", "--model", str(work / pretrain / "model.pt"), "--mars",
                                str(args.mars), "--json", str(zero_shot),
                                *(["--reference", str(reference)] if reference.is_file() else [])],
                               cwd=REPO, env=environment(), check=True, stdout=subprocess.DEVNULL)
            results["sim_zero_shot"][init] = json.loads(zero_shot.read_text())
        subprocess.run([PY, "bench/radar_statistics.py", "--mars", str(args.mars),
                        *(a for init, (tree, _, _) in SIMULATORS.items() for a in ("--sim", f"{init}={work / tree}")),
                        "--out", str(args.out)], cwd=REPO, env=environment(), check=True, stdout=subprocess.DEVNULL)
    if not args.only or "node" in args.only:
        seed = args.seeds[0]
        by_name = {r.name: r for r in catalogue(argparse.Namespace(**{**vars(args), "only": []}))}
        results["online"] = {d: node_check(d, by_name[f"{d}_s{seed}"], args) for d in ("mars", "radhar")}
        results["node_seed"] = seed
    results["seeds"] = args.seeds
    results["seconds"]["total"] = round(time.monotonic() - started)
    (args.out / "summary.json").write_text(json.dumps(results, indent=2) + "\n")
    write_summary(results, args.out)
    log(f"wrote {args.out / 'summary.json'} in {results['seconds']['total']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
