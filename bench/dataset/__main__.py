"""Client-side dataset screening: `python -m bench.dataset --api URL --key KEY [--samples N]`.

Writes N generated samples as webdataset shards (img2dataset's layout: KEY.jpg, KEY.json) unless
the folder holds them already, screens them shard by shard against a running registry exactly as
`python -m registry.client screen` does (the local engine), and prints samples/s, the time per
shard, and the client's memory (its own resident set and its hashing pool's) after 10% of the
shards and at the end: flat memory means the two figures stay close however large N is.
"""

import argparse
import io
import json
import os
import shutil
import statistics
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from registry.client.api import Registry
from registry.client.datasets import Shard, find_shards
from registry.client.shards import Settings, ShardRun, Totals
from registry.demo_art import artwork


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.dataset", description=__doc__)
    parser.add_argument("--api", required=True, help="a running registry")
    parser.add_argument("--key", default=os.environ.get("CONSENTRY_API_KEY"), required=False)
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--shard-size", type=int, default=1_000)
    parser.add_argument("--distinct", type=int, default=200, help="distinct images generated")
    parser.add_argument(
        "--dir", type=Path, default=Path(tempfile.gettempdir()) / "consentry-bench-dataset"
    )
    parser.add_argument("--workers", type=int, default=0, help="hashing processes (0: every core)")
    return parser.parse_args()


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def client_memory_mib() -> tuple[float, float]:
    """The client's resident memory and its children's (the hashing pool), in MiB."""
    me = os.getpid()
    children = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == me:
                children += _rss_kib(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return _rss_kib(me) / 1024, children / 1024


def write_shards(folder: Path, samples: int, shard_size: int, distinct: int) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    images = []
    for seed in range(distinct):
        buffer = io.BytesIO()
        artwork(900_000 + seed).save(buffer, format="JPEG", quality=85)
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


class MeasuredRun(ShardRun):
    """The client's run, noting the time of each shard and the memory at 10% and at the end."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shard_seconds: list[float] = []
        self.memory: dict[str, tuple[float, float]] = {}

    def _one(self, shard: Shard, version: int, totals: Totals) -> None:
        started = time.monotonic()
        super()._one(shard, version, totals)
        self.shard_seconds.append(time.monotonic() - started)
        if totals.finished == max(1, totals.shards // 10):
            self.memory["10%"] = client_memory_mib()
        if totals.finished == totals.shards:
            self.memory["100%"] = client_memory_mib()


def main() -> None:
    args = parse_args()
    manifest = args.dir / "bench.json"
    wanted = {"samples": args.samples, "shard_size": args.shard_size, "distinct": args.distinct}
    shards_dir = args.dir / "shards"
    if not manifest.exists() or json.loads(manifest.read_text()) != wanted:
        started = time.monotonic()
        write_shards(shards_dir, args.samples, args.shard_size, args.distinct)
        manifest.write_text(json.dumps(wanted))
        print(f"wrote {args.samples:,} samples in {time.monotonic() - started:.1f} s")
    shards = find_shards([str(shards_dir)]) or []
    out = args.dir / "screened"
    shutil.rmtree(out, ignore_errors=True)
    settings = Settings(api=args.api, purpose="ai_training", mode="consent_required",
                        workers=args.workers)  # fmt: skip
    run = MeasuredRun(Registry(args.api, args.key), out, settings, restart=True)
    started = time.monotonic()
    totals = run.run(shards)
    seconds = time.monotonic() - started
    print(f"engine local, {len(shards)} shards of {args.shard_size:,}, {os.cpu_count()} cores")
    print(
        f"samples {totals.samples:,} in {seconds:.1f} s: {totals.samples / seconds:,.1f} samples/s"
    )
    print(f"decisions: {totals.counts_text()}")
    times = run.shard_seconds
    print(
        f"time per shard: median {statistics.median(times):.1f} s, "
        f"min {min(times):.1f} s, max {max(times):.1f} s"
    )
    for moment, (own, pool) in run.memory.items():
        print(f"client memory at {moment} of shards: {own:,.1f} MiB, hashing pool {pool:,.1f} MiB")


if __name__ == "__main__":
    main()
