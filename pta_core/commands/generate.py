"""``pta generate mmfi|xrf55``: write a synthetic MM-Fi or XRF55 tree in the official on-disk layout."""

from __future__ import annotations

import argparse
import os
import sys

from pta_core.config import ConfigError

_CONTAMINATION_HELP = """\
contamination (0 = clean sensor, 1 = almost useless), repeatable:
  --contaminate wifi-csi=0.8          one level for all knobs of a modality
  --contaminate all=0.3               every modality
  --contaminate mmwave.ghosts=20      one knob (applied after the levels)
  --contamination-file knobs.yaml     YAML {modality: level} or {modality: {knob: value}}
knobs per modality:
  rgb|infra1|infra2  noise_px, outlier_prob, swap_prob, dropout (frame of zeros)
  depth              noise_scale, hole_fraction, blob_holes, dropout (all-zero map)
  lidar              noise_m, point_dropout, outliers, dropout (0-byte frame)
  mmwave             noise_scale, ghosts, clutter, dropout (0-byte frame), detection_gain,
                     doppler_noise (m/s), doppler_step (m/s bin width; 0 = continuous)
  wifi-csi           snr_db, narrowband, impulsive, packet_loss, inf_fraction
  xrf-wifi           snr_db, narrowband, impulsive, packet_loss
  xrf-rfid           noise_rad, miss, pi_jumps
  xrf-mmwave         noise_db, ghosts, dropout
"""

_MMFI_EPILOG = f"""\
Default: a demo set of 4 subjects (S01, S11, S21, S31: one per environment) x 27 actions x 30 frames
(3,240 frames, 0.59 GB; measured 48-58 s with 2 workers on a 2-core machine that was also running
two training jobs; one process renders about 60-70 frames/s). Sizes: about 0.18 MB per frame with all modalities
(depth 0.10, wifi-csi 0.055, lidar 0.02), i.e. 55 MB per 297-frame sequence. A full-length,
benchmark-size set like MM-Fi (the official toolbox's frame mode needs 297 frames; about 59 GB and,
at 50-70 frames/s, 1.5-2 h):
  pta generate mmfi --out data/mmfi_full --num-subjects 40 --frames 297
A quicker training-size set, e.g. 16 subjects x 27 actions x 297 frames without depth:
  pta generate mmfi --out data/mmfi_16 --num-subjects 16 --frames 297 --modalities rgb,mmwave,lidar,wifi-csi
Reruns into the same --out with the same settings skip finished sequences (resume); other settings
are refused. The rig (extrinsics, intrinsics, frames, conventions) is written to <out>/.synthetic_rig.yaml.
Ground truth: H36M-17 joints, metres, camera optical frame (x right, y down, z forward).

{_CONTAMINATION_HELP}"""

_XRF55_EPILOG = f"""\
Default: Scene1, volunteer 1, all 55 classes, repetitions 1 and 15 (one train and one test sample
per class under the c <= 14 split): 110 samples, about 360 MB (mmWave is 2.2 MB per sample).
Arrays are float32: WiFi (270, 1000) amplitude, RFID (23, 148) phase, mmWave (1, 17, 256, 128) dB.

{_CONTAMINATION_HELP}"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pta_core.simulator.benchmarks import BENCHMARKS

    sub = parser.add_subparsers(dest="dataset", metavar="DATASET", required=True)
    mmfi = sub.add_parser(
        "mmfi", help="MM-Fi layout: E0x/Syy/Azz/<modality>/frameNNN.*", epilog=_MMFI_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter, description="Write a synthetic MM-Fi tree.",
    )  # fmt: skip
    mmfi.add_argument("--out", default="data/mmfi", help="dataset root (default: %(default)s)")
    mmfi.add_argument(
        "--benchmark",
        choices=list(BENCHMARKS),
        help="one of the fixed benchmarks (config/bench_*.yaml): sets subjects, actions, frames, frame "
        "period, modalities and contamination, which may then not be given",
    )
    who = mmfi.add_mutually_exclusive_group()
    who.add_argument(
        "--subjects",
        help="comma-separated ids, e.g. S01,S02,S11 (environment follows MM-Fi: S01-S10 → E01 ...)",
    )
    who.add_argument(
        "--num-subjects",
        type=int,
        help="the first N subjects taken in turn from E01..E04: S01,S11,S21,S31,S02,...",
    )
    mmfi.add_argument(
        "--actions", default="all", help="A01,A02,... | protocol1 (daily) | protocol2 (rehab) | all (default)"
    )
    mmfi.add_argument(
        "--frames", type=int, default=30, help="frames per sequence (default %(default)s; MM-Fi has 297)"
    )
    mmfi.add_argument(
        "--frame-period", type=float, default=0.1, help="seconds per frame (default %(default)s = 10 Hz)"
    )
    mmfi.add_argument(
        "--modalities",
        default=None,
        help="subset of rgb,infra1,infra2,depth,lidar,mmwave,wifi-csi (default: all)",
    )
    _common(mmfi)
    mmfi.set_defaults(dataset_run=_run_mmfi)

    xrf = sub.add_parser(
        "xrf55", help="XRF55 layout: <Scene>/<WiFi|RFID|mmWave>/a_b_c.npy", epilog=_XRF55_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter, description="Write a synthetic XRF55 tree.",
    )  # fmt: skip
    xrf.add_argument("--out", default="data/xrf55", help="dataset root (default: %(default)s)")
    xrf.add_argument(
        "--scenes", default="Scene1", help="comma-separated, of Scene1..Scene4 (default %(default)s)"
    )
    xrf.add_argument("--volunteers", default="1", help="volunteer ids, e.g. 1,2 or 1-5 (default %(default)s)")
    xrf.add_argument("--classes", default="1-55", help="class ids 1-55, e.g. 1-10,23 (default: all)")
    xrf.add_argument("--repetitions", default="1,15", help="repetition ids 1-20 (default %(default)s)")
    xrf.add_argument("--modalities", default=None, help="subset of WiFi,RFID,mmWave (default: all)")
    _common(xrf)
    xrf.set_defaults(dataset_run=_run_xrf55)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=0, help="same seed and settings → byte-identical files")
    parser.add_argument("--contaminate", action="append", default=[], metavar="MOD=LEVEL|MOD.KNOB=VALUE")
    parser.add_argument("--contamination-file", help="YAML file of levels and/or knobs per modality")
    parser.add_argument(
        "--workers",
        type=int,
        default=min(4, os.cpu_count() or 1),
        help="parallel processes (default %(default)s)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from pta_core.simulator import SpecError

    try:
        return args.dataset_run(args)
    except (SpecError, ConfigError) as err:
        print(f"pta generate: error: {err}", file=sys.stderr)
        return 2


def _contamination(args: argparse.Namespace):
    from pta_core.simulator import Contamination, load_contamination, parse_contamination

    base = load_contamination(args.contamination_file) if args.contamination_file else Contamination()
    return parse_contamination(args.contaminate, base)


def _split(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(t.strip() for t in text.split(",") if t.strip())


def _benchmark_spec(args: argparse.Namespace):
    from pta_core.simulator.benchmarks import benchmark
    from pta_core.simulator.spec import SpecError

    given = [flag for flag, value, default in (
        ("--subjects", args.subjects, None), ("--num-subjects", args.num_subjects, None),
        ("--actions", args.actions, "all"), ("--frames", args.frames, 30), ("--frame-period", args.frame_period, 0.1),
        ("--modalities", args.modalities, None), ("--contaminate", args.contaminate, []),
        ("--contamination-file", args.contamination_file, None),
    ) if value != default]  # fmt: skip
    if given:
        raise SpecError(f"--benchmark {args.benchmark} fixes the set: drop {', '.join(given)}")
    return benchmark(args.benchmark).spec(args.seed)


def _run_mmfi(args: argparse.Namespace) -> int:
    from pta_core.simulator import MMFI_MODALITIES, MMFiSpec, generate_mmfi
    from pta_core.simulator.spec import parse_actions, parse_subjects, subjects_round_robin

    if args.benchmark:
        summary = generate_mmfi(args.out, _benchmark_spec(args), workers=args.workers, progress=not args.no_progress)
        _report(summary, "sequences", "frames")
        return 0
    subjects = (
        parse_subjects(args.subjects)
        if args.subjects
        else subjects_round_robin(args.num_subjects if args.num_subjects is not None else 4)
    )
    spec = MMFiSpec(
        subjects=subjects,
        actions=parse_actions(args.actions),
        frames=args.frames,
        frame_period=args.frame_period,
        seed=args.seed,
        modalities=_split(args.modalities) or MMFI_MODALITIES,
        contamination=_contamination(args),
    )
    summary = generate_mmfi(args.out, spec, workers=args.workers, progress=not args.no_progress)
    _report(summary, "sequences", "frames")
    return 0


def _run_xrf55(args: argparse.Namespace) -> int:
    from pta_core.simulator import XRF55_MODALITIES, XRF55Spec, generate_xrf55
    from pta_core.simulator.spec import parse_int_list

    spec = XRF55Spec(
        scenes=_split(args.scenes) or (),
        volunteers=parse_int_list(args.volunteers, 1, 99, "volunteers"),
        classes=parse_int_list(args.classes, 1, 55, "classes"),
        repetitions=parse_int_list(args.repetitions, 1, 20, "repetitions"),
        seed=args.seed,
        modalities=_split(args.modalities) or XRF55_MODALITIES,
        contamination=_contamination(args),
    )
    summary = generate_xrf55(args.out, spec, workers=args.workers, progress=not args.no_progress)
    _report(summary, "samples", "samples")
    return 0


def _report(summary, items: str, unit: str) -> None:
    seconds = max(summary.seconds, 1e-9)
    mb = summary.bytes_written / 1e6
    print(f"{summary.root}: {summary.items_written} {items} written, {summary.items_skipped} already present")
    print(f"  {summary.frames_written} {unit}, {mb:.1f} MB in {summary.seconds:.1f} s "
          f"({summary.frames_written / seconds:.1f} {unit}/s, {mb / seconds:.1f} MB/s)")  # fmt: skip
    for modality, count in sorted(summary.empty_files.items()):
        if count:
            print(f"  {modality}: {count} empty (0-byte) frames")
