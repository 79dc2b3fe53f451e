"""Fingerprint throughput on real JPEGs: `python -m bench.fingerprint`.

Makes two sets of JPEGs from the corpus: web sizes (long side 640-1600 px, quality 85)
and 12 MP photos (4000x3000, the works upscaled where needed, quality 90). Times, on every
core with multiprocessing, a bare Pillow decode of each file (`Image.open(...).load()`,
full size, no draft) and the full query fingerprint (decode with draft, normalization,
pHash, dHash, PDQ, descriptor, information, SHA-256).
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


def _read(path: Path) -> bytes:
    return path.read_bytes()


def rate(function: Callable[[bytes], None], blobs: list[bytes], processes: int) -> float:
    with multiprocessing.Pool(processes) as pool:
        pool.map(function, blobs[: processes * 2])  # warm the workers' imports
        started = time.perf_counter()
        pool.map(function, blobs, chunksize=8)
        return len(blobs) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--web", type=int, default=600)
    parser.add_argument("--photos", type=int, default=60)
    args = parser.parse_args()
    sets = make_files(args.web, args.photos)
    print(f"{args.processes} processes on {os.cpu_count()} cores")
    print(f"{'files':<28}{'n':>5}{'MB':>7}{'bare decode/s':>15}{'fingerprint/s':>15}")
    results = {}
    for name, label in (("web", "JPEG <= 1600 px"), ("photo", "JPEG 12 MP (4000x3000)")):
        blobs = [_read(path) for path in sets[name]]
        megabytes = sum(len(blob) for blob in blobs) / 1e6
        decode = rate(bare_decode, blobs, args.processes)
        full = rate(fingerprint, blobs, args.processes)
        results[name] = full
        print(f"{label:<28}{len(blobs):>5}{megabytes:>7.1f}{decode:>15.1f}{full:>15.1f}")
    met = results["web"] >= TARGET_WEB_PER_SECOND
    print(
        f"target: >= {TARGET_WEB_PER_SECOND:.0f} fingerprints/s for <= 1600-px JPEGs on 2 cores: "
        f"{'met' if met else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
