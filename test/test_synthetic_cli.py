"""``pta generate`` command line and the contamination spec parser."""

from __future__ import annotations

import re

import pytest

from pta_core.cli import main
from pta_core.config import ConfigError
from pta_core.simulator import Contamination, load_contamination, parse_contamination
from pta_core.simulator.contamination import at_level
from pta_core.simulator.jobs import run_jobs
from pta_core.simulator.spec import parse_actions, parse_int_list, parse_subjects, subjects_round_robin


def test_generate_mmfi_command_writes_a_tree_and_resumes(tmp_path, capsys):
    out = tmp_path / "mmfi"
    argv = ["generate", "mmfi", "--out", str(out), "--num-subjects", "2", "--actions", "A01", "--frames", "3"]
    argv += [
        "--modalities",
        "rgb,mmwave",
        "--contaminate",
        "mmwave.dropout=1",
        "--workers",
        "1",
        "--no-progress",
    ]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "2 sequences written" in text and "mmwave: 6 empty" in text
    assert sorted(p.name for p in (out / "E02" / "S11" / "A01" / "rgb").iterdir()) == [
        f"frame00{i}.npy" for i in (1, 2, 3)
    ]
    assert main(argv) == 0
    assert "0 sequences written, 2 already present" in capsys.readouterr().out


def test_generate_xrf55_command(tmp_path, capsys):
    out = tmp_path / "xrf"
    argv = [
        "generate",
        "xrf55",
        "--out",
        str(out),
        "--classes",
        "31",
        "--repetitions",
        "3",
        "--modalities",
        "RFID",
    ]
    assert main([*argv, "--workers", "1", "--no-progress"]) == 0
    assert (out / "Scene1" / "RFID" / "1_31_3.npy").is_file()
    assert "1 samples written" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["mmfi", "--subjects", "S01,S99"], "S99"),
        (["mmfi", "--actions", "A30"], "A30"),
        (["mmfi", "--contaminate", "sonar=0.5"], "unknown modality 'sonar'"),
        (["mmfi", "--contaminate", "depth=2"], "must be in \\[0, 1\\]"),
        (["mmfi", "--contaminate", "depth.speckle=1"], "unknown knob 'speckle'"),
        (["xrf55", "--classes", "0-3"], "outside 1..55"),
        (["xrf55", "--scenes", "Scene9"], "Scene9"),
    ],
)
def test_bad_arguments_exit_2_with_the_problem_named(tmp_path, capsys, args, message):
    assert main(["generate", *args, "--out", str(tmp_path / "x"), "--no-progress"]) == 2
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "x").exists()


def test_contamination_levels_knobs_and_files(tmp_path):
    spec = parse_contamination(["all=0.2", "wifi-csi=0.8", "mmwave.ghosts=20"])
    assert spec.wifi_csi == at_level("wifi-csi", 0.8)
    assert spec.depth == at_level("depth", 0.2)
    assert spec.mmwave.ghosts == 20 and spec.mmwave.clutter == at_level("mmwave", 0.2).clutter
    assert parse_contamination([]) == Contamination()
    clean, worst = at_level("mmwave", 0.0), at_level("mmwave", 1.0)
    assert clean == Contamination().mmwave and worst.dropout > 0.5 and worst.ghosts > 10 * clean.ghosts
    path = tmp_path / "c.yaml"
    path.write_text("rgb: 0.5\nlidar: {dropout: 0.25}\n")
    loaded = load_contamination(path)
    assert (
        loaded.rgb == at_level("rgb", 0.5) and loaded.lidar.dropout == 0.25 and loaded.lidar.noise_m == 0.01
    )
    path.write_text("lidar: {dropout: 0.25, banana: 1}\n")
    with pytest.raises(ConfigError, match="banana"):
        load_contamination(path)
    with pytest.raises(ConfigError, match="probability"):
        parse_contamination(["lidar.dropout=3"])
    with pytest.raises(ConfigError, match="not 'modality=level'"):
        parse_contamination(["lidar"])


def test_selection_parsers():
    assert subjects_round_robin(5) == ("S01", "S11", "S21", "S31", "S02")
    assert parse_subjects("s01, S02,S01") == ("S01", "S02")
    assert len(parse_actions("protocol1")) == 14 and len(parse_actions("protocol2")) == 13
    assert parse_actions("all") == tuple(f"A{i:02d}" for i in range(1, 28))
    assert parse_int_list("1,3-5,3", 1, 20, "x") == (1, 3, 4, 5)


def _square_job(args: tuple) -> dict:
    (n,) = args
    if n == 3:
        raise ValueError("item 3 is broken")
    return {"skipped": False, "frames": n * n, "bytes": n, "empty": {"x": 1}}


def test_run_jobs_in_processes_sums_like_serial_and_propagates_failures(tmp_path):
    jobs = [(n,) for n in (1, 2, 4, 5)]
    serial = run_jobs(_square_job, jobs, root=tmp_path, workers=1, progress=False, desc="t", unit="f")
    parallel = run_jobs(_square_job, jobs, root=tmp_path, workers=2, progress=False, desc="t", unit="f")
    assert (serial.items_written, serial.frames_written, serial.empty_files) == (4, 46, {"x": 4})
    assert (parallel.items_written, parallel.frames_written, parallel.bytes_written) == (4, 46, 12)
    with pytest.raises(ValueError, match="item 3 is broken"):
        run_jobs(_square_job, [*jobs, (3,)], root=tmp_path, workers=2, progress=False, desc="t", unit="f")
