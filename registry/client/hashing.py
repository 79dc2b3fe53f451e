"""Fingerprinting on every core, with a progress bar; an unreadable file still gets an answer."""

import json
import os
import signal
from collections.abc import Iterable, Iterator
from multiprocessing import Pool
from pathlib import Path
from typing import Any

from tqdm import tqdm

from registry.client.inputs import InputItem
from registry.fingerprints import FINGERPRINT_VERSION, ImageDecodeError, fingerprint_image
from registry.optout import embedded_to_wire


def _failed(error: Exception) -> str:
    """The reason an item is unreadable when fingerprinting it raised what no image should: the
    item is decided `invalid` (never passed), and the run goes on with the other files."""
    return f"fingerprinting failed on this file ({type(error).__name__}: {error}); please report it"


def image_fields(data: bytes) -> dict[str, Any]:
    """The wire fingerprint fields of one encoded image and the signals embedded in it, or
    `unreadable` with the reason: never an exception, and never fields and a reason both."""
    try:
        fields: dict[str, Any] = dict(fingerprint_image(data).to_wire())
        # The signals embedded in the image travel with its fingerprint: the server never
        # sees the image, yet reads them exactly as if it had.
        embedded = embedded_to_wire(data)
    except ImageDecodeError as error:
        return {"unreadable": str(error)}
    except Exception as error:  # one odd file must not stop an unattended run
        return {"unreadable": _failed(error)}
    if embedded:
        fields["embedded"] = embedded
    return fields


def fingerprint_item(item: InputItem) -> dict[str, Any]:
    """The wire item the API takes: id, url and fingerprint fields, or why it was unreadable."""
    wire: dict[str, Any] = {"id": item.id}
    if item.url:
        wire["url"] = item.url
    if item.headers:
        wire["headers"] = item.headers
    try:
        data = Path(item.path).read_bytes()
    except OSError as error:
        wire["unreadable"] = f"cannot read the file: {error.strerror}"
        return wire
    wire.update(image_fields(data))
    return wire


def _ignore_interrupts() -> None:
    # Ctrl-C reaches the whole process group: the parent alone handles it and stops the pool,
    # instead of every worker printing its own traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _parallel(items: list[InputItem], workers: int) -> Iterator[dict[str, Any]]:
    if workers <= 1 or len(items) < 2 * workers:
        yield from map(fingerprint_item, items)
        return
    with Pool(workers, initializer=_ignore_interrupts) as pool:
        yield from pool.imap(fingerprint_item, items, chunksize=16)


def file_stamp(path: str) -> list[int]:
    """Size and modification time: a cached fingerprint is used only for the file it was made of."""
    try:
        stat = os.stat(path)
    except OSError:
        return []
    return [stat.st_size, stat.st_mtime_ns]


def load_cache(path: Path) -> dict[str, tuple[list[int], dict[str, Any]]]:
    """Fingerprints an earlier run already computed, by item id, with the file's stamp."""
    cache: dict[str, tuple[list[int], dict[str, Any]]] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
                cache[entry["wire"]["id"]] = (entry["stamp"], entry["wire"])
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by an interruption, or an older layout: hash again
    return cache


def _end_cut_line(path: Path) -> None:
    """An interruption may leave half a line: end it, so the next entry starts a line of its own."""
    if not path.exists():
        return
    with path.open("rb+") as cache_file:
        size = cache_file.seek(0, os.SEEK_END)
        if size:
            cache_file.seek(size - 1)
            if cache_file.read(1) != b"\n":
                cache_file.write(b"\n")


def _current(wire: dict[str, Any]) -> bool:
    """Whether a cached fingerprint is of this client's version: the registry refuses another
    version's (after an upgrade, the same files are fingerprinted again)."""
    return "unreadable" in wire or wire.get("version") == FINGERPRINT_VERSION


def fingerprint_all(
    items: list[InputItem], cache_path: Path, *, workers: int | None = None, progress: bool = True
) -> tuple[list[dict[str, Any]], int]:
    """Every item's wire fingerprint, in order, and how many came from the cache."""
    cache = load_cache(cache_path)
    stamps = {item.id: file_stamp(item.path) for item in items}
    wires = {
        item.id: cache[item.id][1]
        for item in items
        if item.id in cache
        and stamps[item.id]
        and cache[item.id][0] == stamps[item.id]
        and _current(cache[item.id][1])
    }
    missing = [item for item in items if item.id not in wires]
    workers = workers or os.cpu_count() or 1
    _end_cut_line(cache_path)
    with cache_path.open("a", encoding="utf-8") as cache_file:
        bar: Iterable[dict[str, Any]] = tqdm(
            _parallel(missing, workers),
            total=len(missing),
            desc="hashing",
            unit="img",
            disable=not progress or not missing,
        )
        for wire in bar:
            wires[wire["id"]] = wire
            entry = {"stamp": stamps[wire["id"]], "wire": wire}
            cache_file.write(json.dumps(entry) + "\n")
    return [wires[item.id] for item in items], len(items) - len(missing)
