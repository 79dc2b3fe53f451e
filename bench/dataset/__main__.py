"""Client-side dataset screening: `python -m bench.dataset --api URL --key KEY [--samples N]
[--engine local|ray]`.

Writes N generated samples as webdataset shards (img2dataset's layout: KEY.jpg, KEY.json) unless
the folder holds them already, one shard at a time (a million samples never sit in memory), then
screens them shard by shard against a running registry (`python -m bench.dataset.registry`
serves the 1M-work one) exactly as `python -m registry.client screen --engine ENGINE` does.
Every `--distinct`-th image is one of ten artworks that registry holds (bench.dataset.registry).

Prints samples/s, the time per shard, the client's memory after 10% of the shards and at the end
and its peak (the client's own resident set, and that of the processes it started: the hashing
pool, or the local Ray's workers and daemons), and the load average: the machine is shared, and
flat memory means the 10% and 100% figures stay close however large N is.
"""

import argparse
import io
import json
import os
import shutil
import statistics
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from registry.client.api import Registry
from registry.client.datasets import Shard, find_shards
from registry.client.engines import ShardJob, ray_outcomes
from registry.client.shards import (
    SCREENED,
    Outcome,
    Settings,
    ShardRun,
    Totals,
    record,
    registry_version,
)
from registry.demo_art import artwork

# The artworks bench.dataset.registry registers are artwork(REAL_SEED + n), n < 10.
REAL_SEED = 900_000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.dataset", description=__doc__)
    parser.add_argument("--api", required=True, help="a running registry")
    parser.add_argument("--key", default=os.environ.get("CONSENTRY_API_KEY"), required=False)
    parser.add_argument("--engine", choices=("local", "ray"), default="local")
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--shard-size", type=int, default=10_000, help="img2dataset's default")
    parser.add_argument("--distinct", type=int, default=200, help="distinct images generated")
    parser.add_argument("--image-size", type=int, nargs=2, default=(320, 240), metavar=("W", "H"),
                        help="the matcher needs about 320 px to match a copy")  # fmt: skip
    parser.add_argument("--chunk-size", type=int, default=5_000)
    parser.add_argument(
        "--dir", type=Path, default=Path(tempfile.gettempdir()) / "consentry-bench-dataset"
    )
    parser.add_argument(
        "--workers", type=int, default=0, help="hashing processes or Ray CPUs (0: every core)"
    )
    return parser.parse_args()


# --- memory ---------------------------------------------------------------------------------


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(stat.parent.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def client_memory_mib() -> tuple[float, float]:
    """The client's resident memory and its descendants' (hashing pool, or local Ray), MiB."""
    me = os.getpid()
    return _rss_kib(me) / 1024, sum(_rss_kib(pid) for pid in _descendants(me)) / 1024


class PeakMemory(threading.Thread):
    """The largest client + descendants resident set seen, sampled every second."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = (0.0, 0.0)
        self.running = True
        self.loads: list[float] = []

    def run(self) -> None:
        while self.running:
            own, others = client_memory_mib()
            if own + others > sum(self.peak):
                self.peak = (own, others)
            self.loads.append(os.getloadavg()[0])
            time.sleep(1.0)


# --- the dataset ----------------------------------------------------------------------------


def write_shards(
    folder: Path, samples: int, shard_size: int, distinct: int, size: tuple[int, int]
) -> None:
    """Shard after shard, each written and closed before the next: memory holds only the
    `distinct` encoded images."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    images = []
    for seed in range(distinct):
        buffer = io.BytesIO()
        artwork(REAL_SEED + seed, size).save(buffer, format="JPEG", quality=85)
        images.append(buffer.getvalue())
    for first in range(0, samples, shard_size):
        with tarfile.open(folder / f"{first // shard_size:05d}.tar", "w") as archive:
            for number in range(first, min(first + shard_size, samples)):
                key = f"{number:09d}"
                sidecar = json.dumps({"key": key, "url": f"https://crawl.example/{key}.jpg"})
                for name, data in (
                    (f"{key}.jpg", images[number % distinct]),
                    (f"{key}.json", sidecar.encode()),
                ):
                    info = tarfile.TarInfo(name)
                    info.size = len(data)
                    archive.addfile(info, io.BytesIO(data))


# --- the engines, measured ------------------------------------------------------------------


class Measure:
    """Counts each shard's outcome and notes the memory after 10% of the shards and at the end."""

    def __init__(self, shards: int) -> None:
        self.totals = Totals(shards)
        self.shard_seconds: list[float] = []
        self.memory: dict[str, tuple[float, float]] = {}

    def add(self, outcome: Outcome) -> None:
        record(outcome, self.totals, True)
        if outcome.status == SCREENED:
            self.shard_seconds.append(outcome.seconds)
        if self.totals.finished == max(1, self.totals.shards // 10):
            self.memory["10%"] = client_memory_mib()
        if self.totals.finished == self.totals.shards:
            self.memory["100%"] = client_memory_mib()


class MeasuredRun(ShardRun):
    """The local engine's run, each shard's outcome measured."""

    def __init__(self, measure: Measure, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.measure = measure

    def _one(self, shard: Shard, version: int, totals: Totals) -> None:
        self.measure.add(self.screen_shard(shard, version))


def run_local(args: argparse.Namespace, shards: list[Shard], out: Path, measure: Measure) -> None:
    settings = Settings(api=args.api, purpose="ai_training", mode="consent_required",
                        chunk_size=args.chunk_size, workers=args.workers)  # fmt: skip
    MeasuredRun(measure, Registry(args.api, args.key), out, settings, restart=True).run(shards)


def run_ray(args: argparse.Namespace, shards: list[Shard], out: Path, measure: Measure) -> None:
    import ray

    # A new local Ray (never another user's cluster on this machine), one CPU per task.
    ray.init(address="local", num_cpus=args.workers or os.cpu_count(), include_dashboard=False,
             object_store_memory=200 * 1024 * 1024)  # fmt: skip
    try:
        registry = Registry(args.api, args.key)
        settings = Settings(api=args.api, purpose="ai_training", mode="consent_required",
                            chunk_size=args.chunk_size, progress=False)  # fmt: skip
        job = ShardJob(api=args.api, key=args.key, retry_for=registry.retry_for, out=out.resolve(),
                       settings=settings, version=registry_version(registry),
                       restart=True)  # fmt: skip
        outcomes: Iterator[Outcome] = ray_outcomes(job, shards, None)
        for outcome in outcomes:
            measure.add(outcome)
    finally:
        ray.shutdown()


def main() -> None:
    args = parse_args()
    manifest = args.dir / "bench.json"
    wanted = {"samples": args.samples, "shard_size": args.shard_size, "distinct": args.distinct,
              "image_size": list(args.image_size)}  # fmt: skip
    shards_dir = args.dir / "shards"
    if not manifest.exists() or json.loads(manifest.read_text()) != wanted:
        started = time.monotonic()
        manifest.unlink(missing_ok=True)
        write_shards(shards_dir, args.samples, args.shard_size, args.distinct, args.image_size)
        manifest.write_text(json.dumps(wanted))
        print(f"wrote {args.samples:,} samples in {time.monotonic() - started:.1f} s", flush=True)
    shards = find_shards([str(shards_dir)]) or []
    out = args.dir / f"screened-{args.engine}"
    shutil.rmtree(out, ignore_errors=True)
    measure = Measure(len(shards))
    sampler = PeakMemory()
    sampler.start()
    started = time.monotonic()
    (run_ray if args.engine == "ray" else run_local)(args, shards, out, measure)
    seconds = time.monotonic() - started
    sampler.running = False
    totals = measure.totals
    width, height = args.image_size
    print(
        f"engine {args.engine}, {len(shards)} shards of {args.shard_size:,} samples "
        f"({width}x{height} JPEG), {os.cpu_count()} cores"
    )
    print(
        f"samples {totals.samples:,} in {seconds:.1f} s: {totals.samples / seconds:,.1f} samples/s"
    )
    print(f"decisions: {totals.counts_text()}; failed shards: {len(totals.failed)}")
    times = measure.shard_seconds
    if times:
        print(
            f"time per shard: median {statistics.median(times):.1f} s, "
            f"min {min(times):.1f} s, max {max(times):.1f} s"
        )
    helpers = "hashing pool" if args.engine == "local" else "local Ray (workers and daemons)"
    for moment, (own, others) in measure.memory.items():
        print(f"client memory at {moment} of shards: {own:,.1f} MiB, {helpers} {others:,.1f} MiB")
    own, others = sampler.peak
    print(f"peak client memory: {own:,.1f} MiB, {helpers} {others:,.1f} MiB")
    loads = sampler.loads or [os.getloadavg()[0]]
    print(
        f"load average (1 min) during the run: min {min(loads):.2f}, "
        f"mean {statistics.mean(loads):.2f}, max {max(loads):.2f}"
    )


if __name__ == "__main__":
    main()
