"""Registered works, edited queries and distinct works, fingerprinted on both cores.

The edited files are cached under .cache/corpus keyed by the source of the edits and the
corpus manifest (about 650 MB, most of a first run's time), and the fingerprints keyed by
that and the source of the fingerprinting package: re-running after a change to the
matching rules takes seconds, after a change to the fingerprints about a minute.
"""

from __future__ import annotations

import hashlib
import io
import multiprocessing
import pickle
from dataclasses import dataclass
from pathlib import Path

import imagehash
import numpy as np
import pdqhash
from PIL import Image

from bench.accuracy.edits import EDITS, web_copy
from bench.corpus import ROOT, CorpusWork, load_corpus
from registry.fingerprints import (
    ImageDecodeError,
    ImageFingerprint,
    WorkFingerprints,
    fingerprint_image,
    fingerprint_work,
)

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Plain:
    """Plain hashes of the bytes as decoded by Pillow alone: the baselines."""

    phash: int
    pdq: bytes


@dataclass(frozen=True)
class Registered:
    work: CorpusWork
    fingerprints: WorkFingerprints | None  # None when the original could not be decoded
    plain: Plain


@dataclass(frozen=True)
class Query:
    work: int | None  # index into the registered works; None for a distinct work
    key: str  # the corpus key of the work the query was made from
    edit: str
    fingerprint: ImageFingerprint | None  # None when the query could not be decoded
    plain: Plain


@dataclass(frozen=True)
class Dataset:
    registered: list[Registered]
    queries: list[Query]  # edited copies of registered works
    distinct: list[Query]  # works never registered, as re-posted (re-encoded)


def is_registered(work: CorpusWork) -> bool:
    """Two works in three are registered; the rest are queried as distinct works."""
    return hashlib.sha1(work.key.encode()).digest()[0] % 3 != 0  # noqa: S324 - a split, not security


def load_dataset(processes: int = 2) -> Dataset:
    works = load_corpus()  # builds the corpus on the first run
    cache = ROOT / f"fingerprints-{source_digest()}.pickle"
    if cache.exists():
        with cache.open("rb") as handle:
            dataset: Dataset = pickle.load(handle)  # noqa: S301 - our own cache file
            return dataset
    registered_works = [work for work in works if is_registered(work)]
    distinct_works = [work for work in works if not is_registered(work)]
    # (work, index of the registered work or None, edit, edit variation; -1: register it)
    jobs: list[tuple[CorpusWork, int | None, str, int]]
    jobs = [(work, None, "reencoded", -1) for work in registered_works]
    jobs += [
        (work, number, edit, number)
        for number, work in enumerate(registered_works)
        for edit in EDITS
    ]
    jobs += [(work, None, "reencoded", number) for number, work in enumerate(distinct_works)]
    files = _edited_files(jobs, processes)
    count = len(registered_works)
    with multiprocessing.Pool(processes) as pool:
        works_found = pool.map(_register_job, files[:count])
        results = pool.map(_query_job, files[count:], chunksize=16)
    registered = [
        Registered(work, fingerprints, plain)
        for work, (fingerprints, plain) in zip(registered_works, works_found, strict=True)
    ]
    edited = results[: count * len(EDITS)]
    queries = [
        Query(job[1], job[0].key, job[2], fingerprint, plain)
        for job, (fingerprint, plain) in zip(jobs[count : count + len(edited)], edited, strict=True)
    ]
    distinct = [
        Query(None, job[0].key, "distinct", fingerprint, plain)
        for job, (fingerprint, plain) in zip(
            jobs[count + len(edited) :], results[len(edited) :], strict=True
        )
    ]
    dataset = Dataset(registered, queries, distinct)
    with cache.open("wb") as handle:
        pickle.dump(dataset, handle)
    return dataset


def _edited_files(
    jobs: list[tuple[CorpusWork, int | None, str, int]], processes: int
) -> list[bytes]:
    """Every job's file: the original of a work to register, or its edited copy.

    Cached apart from the fingerprints (most of the first run's time goes into the edits), so
    a change to the fingerprinting code only re-fingerprints.
    """
    cache = ROOT / f"edited-{_edits_digest()}.pickle"
    if cache.exists():
        with cache.open("rb") as handle:
            files: list[bytes] = pickle.load(handle)  # noqa: S301 - our own cache file
            return files
    for stale in ROOT.glob("edited-*.pickle"):
        stale.unlink()
    with multiprocessing.Pool(processes) as pool:
        files = pool.map(_edit_job, jobs, chunksize=16)
    with cache.open("wb") as handle:
        pickle.dump(files, handle)
    return files


def _edit_job(job: tuple[CorpusWork, int | None, str, int]) -> bytes:
    work, _, edit, number = job
    original = (ROOT / work.path).read_bytes()
    if number < 0:  # a work to register: its original file, as the artist uploads it
        return original
    # Distinct works are queried as re-encoded copies, like the "reencoded" edit.
    return EDITS[edit](web_copy(Image.open(io.BytesIO(original))), number)


def _register_job(data: bytes) -> tuple[WorkFingerprints | None, Plain]:
    try:
        return fingerprint_work(data), plain_hashes(data)
    except ImageDecodeError:
        return None, plain_hashes(data)


def _query_job(data: bytes) -> tuple[ImageFingerprint | None, Plain]:
    try:
        return fingerprint_image(data), plain_hashes(data)
    except ImageDecodeError:
        return None, plain_hashes(data)


def plain_hashes(data: bytes) -> Plain:
    """pHash and PDQ as a plain integration would compute them: no normalization."""
    image = web_copy(Image.open(io.BytesIO(data)))
    bits, _quality = pdqhash.compute(np.asarray(image))
    return Plain(
        phash=int(str(imagehash.phash(image)), 16),
        pdq=np.packbits(bits.astype(np.uint8)).tobytes(),
    )


def _edits_digest() -> str:
    digest = hashlib.sha256()
    for path in [REPO / "bench" / "accuracy" / "edits.py", REPO / "bench" / "corpus.py"]:
        digest.update(path.read_bytes())
    digest.update((ROOT / "manifest.json").read_bytes())
    return digest.hexdigest()[:16]


def source_digest() -> str:
    digest = hashlib.sha256(_edits_digest().encode())
    for path in sorted((REPO / "registry" / "fingerprints").glob("*.py")):
        if path.name != "comparison.py":  # compares fingerprints, does not make them
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
