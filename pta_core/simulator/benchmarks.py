"""The fixed synthetic benchmarks: what ``pta generate mmfi --benchmark NAME`` writes.

Every benchmark has the same people, motions and sensor rig, sized for a 2-core CPU: 32 subjects
(8 per environment) × 27 actions × 12 frames, 4 s per sequence (a frame every 0.25 s), the five
modalities the model uses. They differ only in which sensors are degraded on purpose
(:mod:`contamination`), so a method's numbers on two benchmarks differ by the contamination alone.
Tests hold out whole subjects (``config/bench_*.yaml``: S08, S18, S28, S38, one per environment).
"""

from __future__ import annotations

from dataclasses import dataclass

from pta_core.simulator.contamination import parse_contamination
from pta_core.simulator.spec import MMFiSpec, SpecError, subjects_round_robin

SUBJECTS = subjects_round_robin(32)
TEST_SUBJECTS = SUBJECTS[-4:]  # S08, S18, S28, S38
TRAIN_SUBJECTS = SUBJECTS[:-4]
MODALITIES = ("rgb", "depth", "lidar", "mmwave", "wifi-csi")
FRAMES = 12
FRAME_PERIOD = 0.25


@dataclass(frozen=True)
class Benchmark:
    name: str
    description: str
    contamination: tuple[str, ...]  # ``pta generate --contaminate`` items

    def spec(self, seed: int = 0) -> MMFiSpec:
        return MMFiSpec(
            subjects=SUBJECTS,
            frames=FRAMES,
            frame_period=FRAME_PERIOD,
            seed=seed,
            modalities=MODALITIES,
            contamination=parse_contamination(list(self.contamination)),
        )


BENCHMARKS = {
    b.name: b
    for b in (
        Benchmark("clean", "every sensor at its ordinary noise", ()),
        Benchmark(
            "contaminated",
            "the camera degraded: rgb keypoints and depth at contamination level 0.8",
            ("rgb=0.8", "depth=0.8"),
        ),
        Benchmark(
            "contaminated-clouds",
            "the point-cloud sensors degraded: LiDAR and mmWave at contamination level 0.8",
            ("lidar=0.8", "mmwave=0.8"),
        ),
    )
}


def benchmark(name: str) -> Benchmark:
    try:
        return BENCHMARKS[name]
    except KeyError:
        raise SpecError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}") from None
