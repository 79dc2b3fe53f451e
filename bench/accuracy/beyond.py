"""Edits beyond the list of bench/accuracy/edits.py, measured on request
(`python -m bench.accuracy --beyond`).

The rules and thresholds were chosen on the edits of bench/accuracy/edits.py; these others
(milder and stronger versions of them, filters, a caption bar) show whether they generalize
or only fit the list. No targets: recall is printed beside plain pHash and PDQ.
"""

from __future__ import annotations

import hashlib
import io
import multiprocessing
import pickle

from PIL import Image, ImageDraw, ImageEnhance

from bench.accuracy.dataset import REPO, Dataset, Plain, Query, plain_hashes, source_digest
from bench.accuracy.edits import Edit, centre_crop, jpeg, scaled, web_copy, webp
from bench.corpus import ROOT
from registry.fingerprints import ImageDecodeError, ImageFingerprint, fingerprint_image


def _turned(degrees: float) -> Edit:
    def edit(image: Image.Image, index: int) -> bytes:
        angle = degrees if index % 2 else -degrees
        white = (255, 255, 255)
        return jpeg(image.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=white))

    return edit


def _caption(image: Image.Image, index: int) -> bytes:
    """A white caption band across the bottom tenth, with a line of text."""
    captioned = image.copy()
    width, height = captioned.size
    draw = ImageDraw.Draw(captioned)
    draw.rectangle((0, round(height * 0.9), width, height), fill=(255, 255, 255))
    draw.text((width * 0.05, height * 0.91), "found on the internet", fill=(0, 0, 0))
    return jpeg(captioned)


BEYOND: dict[str, Edit] = {
    "crop_centre_15": lambda im, i: jpeg(centre_crop(im, 0.15)),
    "crop_centre_20": lambda im, i: jpeg(centre_crop(im, 0.20)),
    "brightness_15": lambda im, i: jpeg(ImageEnhance.Brightness(im).enhance(1.15)),
    "brightness_40": lambda im, i: jpeg(ImageEnhance.Brightness(im).enhance(1.40)),
    "darker_25": lambda im, i: jpeg(ImageEnhance.Brightness(im).enhance(0.75)),
    "contrast_30": lambda im, i: jpeg(ImageEnhance.Contrast(im).enhance(1.3)),
    "saturation_40": lambda im, i: jpeg(ImageEnhance.Color(im).enhance(1.4)),
    "jpeg_q30": lambda im, i: jpeg(im, 30),
    "rotated_2": _turned(2),
    "rotated_5": _turned(5),
    "small_webp": lambda im, i: webp(scaled(im, 0.4), 60),
    "caption_bottom": _caption,
}


def load_beyond(dataset: Dataset, processes: int = 2) -> list[Query]:
    """Every registered work under every edit above, fingerprinted; cached like the dataset."""
    digest = hashlib.sha256(source_digest().encode())
    digest.update((REPO / "bench" / "accuracy" / "beyond.py").read_bytes())
    cache = ROOT / f"beyond-{digest.hexdigest()[:16]}.pickle"
    if cache.exists():
        with cache.open("rb") as handle:
            queries: list[Query] = pickle.load(handle)  # noqa: S301 - our own cache file
            return queries
    jobs = [
        (registered.work.path, number, edit)
        for number, registered in enumerate(dataset.registered)
        for edit in BEYOND
    ]
    with multiprocessing.Pool(processes) as pool:
        results = pool.map(_job, jobs, chunksize=8)
    queries = [
        Query(number, dataset.registered[number].work.key, edit, fingerprint, plain)
        for (_, number, edit), (fingerprint, plain) in zip(jobs, results, strict=True)
    ]
    with cache.open("wb") as handle:
        pickle.dump(queries, handle)
    return queries


def _job(job: tuple[str, int, str]) -> tuple[ImageFingerprint | None, Plain]:
    path, number, edit = job
    data = BEYOND[edit](web_copy(Image.open(io.BytesIO((ROOT / path).read_bytes()))), number)
    try:
        return fingerprint_image(data), plain_hashes(data)
    except ImageDecodeError:
        return None, plain_hashes(data)
