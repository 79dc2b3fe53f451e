"""Fingerprinting on every core, with a progress bar; an unreadable file still gets an answer."""

import json
import os
from collections.abc import Iterable, Iterator
from multiprocessing import Pool
from pathlib import Path
from typing import Any

from tqdm import tqdm

from registry.client.inputs import InputItem
from registry.fingerprints import ImageDecodeError, fingerprint_image
from registry.optout import embedded_to_wire


def fingerprint_item(item: InputItem) -> dict[str, Any]:
    """The wire item the API takes: id, url and fingerprint fields, or why it was unreadable."""
    wire: dict[str, Any] = {"id": item.id}
    if item.url:
        wire["url"] = item.url
    if item.headers:
        wire["headers"] = item.headers
    try:
        data = Path(item.path).read_bytes()
        wire.update(fingerprint_image(data).to_wire())
        # The signals embedded in the image travel with its fingerprint: the server never
        # sees the image, yet reads them exactly as if it had.
        embedded = embedded_to_wire(data)
        if embedded:
            wire["embedded"] = embedded
    except ImageDecodeError as error:
        wire["unreadable"] = str(error)
    except OSError as error:
        wire["unreadable"] = f"cannot read the file: {error.strerror}"
    return wire


def _parallel(items: list[InputItem], workers: int) -> Iterator[dict[str, Any]]:
    if workers <= 1 or len(items) < 2 * workers:
        yield from map(fingerprint_item, items)
        return
    with Pool(workers) as pool:
        yield from pool.imap(fingerprint_item, items, chunksize=16)


def load_cache(path: Path) -> dict[str, dict[str, Any]]:
    """Fingerprints a previous, interrupted run already computed, by item id."""
    cache: dict[str, dict[str, Any]] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                wire = json.loads(line)
            except ValueError:
                break  # a line cut short by the interruption: hash from here on again
            cache[wire["id"]] = wire
    return cache


def fingerprint_all(
    items: list[InputItem], cache_path: Path, *, workers: int | None = None, progress: bool = True
) -> list[dict[str, Any]]:
    cache = load_cache(cache_path)
    missing = [item for item in items if item.id not in cache]
    workers = workers or os.cpu_count() or 1
    with cache_path.open("a", encoding="utf-8") as cache_file:
        bar: Iterable[dict[str, Any]] = tqdm(
            _parallel(missing, workers),
            total=len(missing),
            desc="hashing",
            unit="img",
            disable=not progress or not missing,
        )
        for wire in bar:
            cache[wire["id"]] = wire
            cache_file.write(json.dumps(wire) + "\n")
    return [cache[item.id] for item in items]
