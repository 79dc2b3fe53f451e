"""Fingerprint throughput on real JPEGs: `python -m bench.fingerprint`.

Makes two sets of JPEGs from the corpus: web sizes (long side 640-1600 px, quality 85)
and 12 MP photos (4000x3000, the works upscaled where needed, quality 90). Times, on every
core with multiprocessing, a bare Pillow decode of each file (`Image.open(...).load()`,
full size, no draft) and the full query fingerprint (decode with draft, normalization,
pHash, dHash, PDQ, descriptor, information, SHA-256, the query regions).

The machine may be shared: besides the rate on the wall clock, each worker counts the CPU
time its calls took, and the rate the same cores would give if nothing else ran on them
(files / CPU seconds x processes) is printed beside it, with the load average.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from bench.corpus import ROOT, load_corpus
from registry.fingerprints import fingerprint_image

WEB_SIDES = (640, 800, 1024, 1280, 1600)
PHOTO_SIZE = (4000, 3000)
TARGET_WEB_PER_SECOND = 150.0


def make_files(count_web: int, count_photo: int) -> dict[str, list[Path]]:
    folder = ROOT / "throughput"
    folder.mkdir(parents=True, exist_ok=True)
    works = [w for w in load_corpus() if w.kind in ("photo", "painting", "wallpaper")]
    sets: dict[str, list[Path]] = {"web": [], "photo": []}
    for number in range(count_web):
        path = folder / f"web-{number}.jpg"
        if not path.exists():
            _save(works[number % len(works)].path, WEB_SIDES[number % len(WEB_SIDES)], None, path)
        sets["web"].append(path)
    for number in range(count_photo):
        path = folder / f"photo-{number}.jpg"
        if not path.exists():
            _save(works[(number * 7) % len(works)].path, None, PHOTO_SIZE, path)
        sets["photo"].append(path)
    return sets


def _save(source: str, side: int | None, size: tuple[int, int] | None, target: Path) -> None:
    with Image.open(ROOT / source) as image:
        picture = image.convert("RGB")
    if size is not None:
        picture = picture.resize(size, Image.Resampling.BICUBIC)
        picture.save(target, "JPEG", quality=90)
        return
    scale = (side or 1600) / max(picture.size)
    picture = picture.resize((round(picture.width * scale), round(picture.height * scale)))
    picture.save(target, "JPEG", quality=85)


def bare_decode(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as image:
        image.load()


def fingerprint(data: bytes) -> None:
    fingerprint_image(data)


def _cpu_seconds(call: tuple[Callable[[bytes], None], bytes]) -> float:
    function, data = call
    started = time.process_time()
    function(data)
    return time.process_time() - started


def _read(path: Path) -> bytes:
    return path.read_bytes()


def rate(
    function: Callable[[bytes], None], blobs: list[bytes], processes: int
) -> tuple[float, float]:
    """(files a second on the wall clock, files a second on `processes` otherwise idle cores)."""
    calls = [(function, blob) for blob in blobs]
    with multiprocessing.Pool(processes) as pool:
        pool.map(_cpu_seconds, calls[: processes * 2])  # warm the workers' imports
        started = time.perf_counter()
        cpu = sum(pool.map(_cpu_seconds, calls, chunksize=8))
        wall = time.perf_counter() - started
    return len(blobs) / wall, len(blobs) * processes / cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--web", type=int, default=600)
    parser.add_argument("--photos", type=int, default=60)
    args = parser.parse_args()
    sets = make_files(args.web, args.photos)
    print(
        f"{args.processes} processes on {os.cpu_count()} cores; "
        f"load average at start {os.getloadavg()[0]:.2f}"
    )
    print(
        f"{'files':<28}{'n':>5}{'MB':>7}{'bare decode/s':>15}{'fingerprint/s':>15}"
        f"{'idle cores/s':>14}"
    )
    results = {}
    for name, label in (("web", "JPEG <= 1600 px"), ("photo", "JPEG 12 MP (4000x3000)")):
        blobs = [_read(path) for path in sets[name]]
        megabytes = sum(len(blob) for blob in blobs) / 1e6
        decode, _ = rate(bare_decode, blobs, args.processes)
        full, idle = rate(fingerprint, blobs, args.processes)
        results[name] = (full, idle)
        print(
            f"{label:<28}{len(blobs):>5}{megabytes:>7.1f}{decode:>15.1f}{full:>15.1f}{idle:>14.1f}"
        )
    full, idle = results["web"]
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    print(
        f"target: >= {TARGET_WEB_PER_SECOND:.0f} fingerprints/s for <= 1600-px JPEGs on 2 cores: "
        f"{'met' if full >= TARGET_WEB_PER_SECOND else 'NOT met'} on the wall clock, "
        f"{'met' if idle >= TARGET_WEB_PER_SECOND else 'NOT met'} on idle cores (CPU time)"
    )


if __name__ == "__main__":
    main()
