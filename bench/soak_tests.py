"""Flakiness check: the ROS test subset run again and again on each distribution, under CPU load.

    python bench/soak_tests.py [--runs 30] [--load 2] [--venv .venv --venv .venv-jazzy] [--out DIR]
    make soak-tests RUNS=30

Each round runs ``pytest -m ros`` once per virtual environment (Kilted's ``.venv``, Jazzy's
``.venv-jazzy``: the distributions alternate, so both meet the same conditions) while ``--load``
busy-loop processes keep the cores busy. Every test's outcome is read from pytest's JUnit XML;
the report gives, per distribution, the rounds that passed and each test that ever failed with its
count. Writes ``soak.json`` and ``soak.md`` to ``--out`` (default ``soak_out/``) after every round, so
an interrupted soak still reports the rounds it ran; exit status 1 if any run failed. ``--resume``
continues the soak in ``--out`` where it stopped (a session that ended, a machine restarted), only if
the working tree is still the commit it started on: rounds of other code would not add up. ``--domains``
(default 1-50) keeps the soak's DDS domains apart from a developer's run beside it
(``PTA_TEST_DOMAINS=51-101 pytest ...``).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUSY_LOOP = "while True: pass"


def distribution(venv: Path) -> str:
    """The ROS distribution a venv's wheels are (from its rclpy version)."""
    out = subprocess.run([str(venv / "bin" / "python"), "-c",
                          "import importlib.metadata as m; print(m.version('ros-rclpy'))"],
                         capture_output=True, text=True, check=True, env=venv_environment(venv)).stdout.strip()
    return {"7": "jazzy", "9": "kilted"}.get(out.split(".")[0], f"rclpy {out}")


def outcomes(junit: Path) -> dict[str, str]:
    """test id → passed | failed | error | skipped, from a JUnit XML file."""
    result = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        kinds = {child.tag for child in case}
        result[name] = ("failed" if "failure" in kinds else "error" if "error" in kinds
                        else "skipped" if "skipped" in kinds else "passed")
    return result


def venv_environment(venv: Path) -> dict[str, str]:
    """This environment for a Python of ``venv``. The ROS wheels' bootstrapper re-executes every Python
    with its venv's libraries added to LD_LIBRARY_PATH, once (a guard variable): a child of another venv
    must bootstrap again, and without this venv's libraries, or it loads two distributions' libraries
    (Jazzy's rclpy then failed with std::bad_array_new_length and segfaults)."""
    env = {k: v for k, v in os.environ.items() if k != "_ROS_WHEELS_BOOTSTRAP_COMPLETE"}
    here = str(Path(sys.prefix).resolve())
    kept = [p for p in env.get("LD_LIBRARY_PATH", "").split(os.pathsep)
            if p and not str(Path(p).resolve()).startswith(here)]
    env["LD_LIBRARY_PATH"] = os.pathsep.join(kept)
    return env


def run_subset(venv: Path, junit: Path, log: Path, domains: str) -> tuple[int, float]:
    env = {**venv_environment(venv), "PTA_TEST_DOMAINS": domains}
    env.pop("ROS_DOMAIN_ID", None)  # the session's domain comes from the range too
    started = time.perf_counter()
    with open(log, "w") as handle:
        code = subprocess.run([str(venv / "bin" / "python"), "-m", "pytest", "-m", "ros", "-q", "-p", "no:cacheprovider",
                               f"--junitxml={junit}"], cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT).returncode
    return code, time.perf_counter() - started


def tested_commit() -> str:
    """HEAD, with ``-dirty`` if the tracked files differ from it."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD"], cwd=REPO).returncode != 0
    return f"{head}-dirty" if dirty else head or "unknown"


def report(results: dict[str, dict], runs: int, load: int, commit: str) -> str:
    done = min(len(r["wall_s"]) for r in results.values())
    lines = [f"Soak of {commit}: the ROS subset (`pytest -m ros`), {done} of {runs} rounds per distribution run, {load} "
             f"busy-loop processes on {os.cpu_count()} cores.", "",
             "| distribution | rounds passed | tests per round | wall per round (median, max) | tests that failed |",
             "|---|---|---|---|---|"]
    for name, r in results.items():
        failures = ", ".join(f"`{t}` ×{n}" for t, n in sorted(r["failures"].items())) or "none"
        walls = sorted(r["wall_s"])
        median = walls[len(walls) // 2] if walls else 0.0
        lines.append(f"| {name} | {r['passed_rounds']} / {len(r['wall_s'])} | {r['tests']} | "
                     f"{median:.0f} s, {max(walls, default=0):.0f} s | {failures} |")
    return "\n".join(lines) + "\n"


def write_report(results: dict[str, dict], args: argparse.Namespace) -> str:
    text = report(results, args.runs, args.load, args.commit)
    (args.out / "soak.md").write_text(text)
    (args.out / "soak.json").write_text(json.dumps(
        {"commit": args.commit, "load": args.load,
         "distributions": {name: {**r, "failures": dict(r["failures"])} for name, r in results.items()}}, indent=2))
    return text


def resumed(out: Path, commit: str, load: int, names: list[str]) -> dict[str, dict] | str:
    """The results of the soak in ``out``, or why they cannot be continued."""
    try:
        saved = json.loads((out / "soak.json").read_text())
    except (OSError, ValueError) as error:
        return f"no soak to resume in {out} ({error})"
    if saved.get("commit") != commit or commit.endswith("-dirty"):
        return f"the soak in {out} tested {saved.get('commit')}, this tree is {commit}"
    if saved.get("load") != load or sorted(saved.get("distributions", {})) != sorted(names):
        return f"the soak in {out} ran with load {saved.get('load')} on {sorted(saved.get('distributions', {}))}"
    return {name: {**r, "failures": Counter(r["failures"])} for name, r in saved["distributions"].items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="soak_tests", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="rounds per distribution")
    parser.add_argument("--load", type=int, default=os.cpu_count() or 2, help="busy-loop processes beside the tests")
    parser.add_argument("--venv", action="append", type=Path, help="a venv to test (repeatable; default .venv, .venv-jazzy)")
    parser.add_argument("--out", type=Path, default=REPO / "soak_out")
    parser.add_argument("--domains", default="1-50", help="DDS domain ids the tests may use, first-last")
    parser.add_argument("--resume", action="store_true", help="continue the soak in --out (same commit, same load)")
    args = parser.parse_args(argv)
    venvs = args.venv or [REPO / ".venv", REPO / ".venv-jazzy"]
    missing = [str(v) for v in venvs if not (v / "bin" / "python").is_file()]
    if missing:
        print(f"soak_tests: no venv at {', '.join(missing)} (make venv / make test-jazzy create them)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    names = {venv: distribution(venv) for venv in venvs}
    args.commit = tested_commit()
    results = {names[v]: {"passed_rounds": 0, "wall_s": [], "tests": 0, "failures": Counter(), "codes": []} for v in venvs}
    if args.resume:
        earlier = resumed(args.out, args.commit, args.load, list(names.values()))
        if isinstance(earlier, str):
            print(f"soak_tests: cannot resume: {earlier}", file=sys.stderr)
            return 2
        results = earlier
    text = ""
    load = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(args.load)]
    try:
        for round_index in range(1, args.runs + 1):
            for venv in venvs:
                name = names[venv]
                if len(results[name]["wall_s"]) >= round_index:
                    continue  # run before the resume
                junit, log = args.out / f"{name}_{round_index:02d}.xml", args.out / f"{name}_{round_index:02d}.log"
                code, wall = run_subset(venv, junit, log, args.domains)
                seen = outcomes(junit) if junit.is_file() else {}
                r = results[name]
                r["wall_s"].append(round(wall, 1))
                r["codes"].append(code)
                r["tests"] = len(seen)
                bad = [t for t, o in seen.items() if o in ("failed", "error")]
                r["failures"].update(bad)
                if code == 0:
                    r["passed_rounds"] += 1
                    junit.unlink()
                    log.unlink()  # kept only for rounds that failed
                print(f"round {round_index:2d} {name:7s} exit {code} in {wall:5.0f} s"
                      f"{'  failed: ' + ', '.join(bad) if bad else ''}", flush=True)
            text = write_report(results, args)
    finally:
        for proc in load:
            proc.kill()
            proc.wait()
    print(text or report(results, args.runs, args.load, args.commit))
    return 0 if all(r["passed_rounds"] == len(r["wall_s"]) for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
