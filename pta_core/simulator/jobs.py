"""Run generation jobs (one per sequence or sample) in this process or a process pool, with progress."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm


@dataclass
class GenerationSummary:
    """What a generation run did; ``bytes_written`` counts only items written by this run.

    ``frames_written`` counts frames for MM-Fi and samples for XRF55.
    """

    root: Path
    items_written: int = 0
    items_skipped: int = 0
    frames_written: int = 0
    bytes_written: int = 0
    seconds: float = 0.0
    empty_files: dict[str, int] = field(default_factory=dict)  # modality → 0-byte frames written

    def add(self, stats: dict) -> None:
        if stats["skipped"]:
            self.items_skipped += 1
            return
        self.items_written += 1
        self.frames_written += stats["frames"]
        self.bytes_written += stats["bytes"]
        for name, count in stats["empty"].items():
            self.empty_files[name] = self.empty_files.get(name, 0) + count


def run_jobs(
    job: Callable[[tuple], dict],
    jobs: list[tuple],
    *,
    root: Path,
    workers: int,
    progress: bool,
    desc: str,
    unit: str,
) -> GenerationSummary:
    """Run ``job(args)`` for every item; ``job`` returns the stats :meth:`GenerationSummary.add` takes.

    With ``workers > 1`` items run in forked processes (``job`` must be a module-level function);
    the first failure cancels the items not yet started and is re-raised.
    """
    summary = GenerationSummary(root=root)
    start = time.perf_counter()
    bar = tqdm(total=len(jobs), unit="item", desc=desc, disable=not progress)

    def advance(stats: dict) -> None:
        summary.add(stats)
        bar.update(1)
        rate = summary.frames_written / max(time.perf_counter() - start, 1e-9)
        bar.set_postfix({f"{unit}/s": f"{rate:.1f}", "MB": f"{summary.bytes_written / 1e6:.0f}"})

    try:
        if workers <= 1 or len(jobs) <= 1:
            for args in jobs:
                advance(job(args))
        else:
            with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
                futures = [pool.submit(job, args) for args in jobs]
                try:
                    for future in as_completed(futures):
                        advance(future.result())
                except BaseException:
                    for future in futures:
                        future.cancel()
                    raise
    finally:
        bar.close()
    summary.seconds = time.perf_counter() - start
    return summary
