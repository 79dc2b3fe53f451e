"""Local features on an evaluation set: `python -m bench.localfeat --eval DIR --sample N`.

Registers the set's "registered" works in a substring index of ORB descriptors
(bench/localfeat/index.py), looks every sampled query up, verifies the best-voted works
geometrically (bench/localfeat/verify.py) and prints per edit the recall beside plain
pHash@10 and PDQ@31 on the same files (bench.accuracy's hashes), the false matches on the
probes, and the costs: CPU per extraction, bytes per registered work, index entries read per
query, projected to a million works. Features are cached under .cache/localfeat.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import pickle
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.accuracy.__main__ import PLAIN_PDQ_RADIUS, PLAIN_PHASH_RADIUS
from bench.accuracy.dataset import Plain, plain_hashes
from bench.accuracy.external import read_manifest
from bench.accuracy.generator import TARGETS
from bench.corpus2 import FLAT_KINDS
from bench.localfeat.features import FeatureConfig, Features, extract
from bench.localfeat.index import IndexConfig, SubstringIndex
from bench.localfeat.verify import Geometry, VerifyConfig, judged, verify

PACKAGE = Path(__file__).resolve().parent
CACHE = PACKAGE.parents[1] / ".cache" / "localfeat"
REGISTRY_SIZE = 1_000_000
FALSE_MATCH_TARGET = 0.005
SWEEP_INLIERS = (8, 10, 12, 15, 20, 25)
SWEEP_SHARES = (0.0, 0.03, 0.05, 0.08, 0.12)

REGISTER = FeatureConfig(sides=(1024, 576, 320), keypoints=600, levels=4)
QUERY = FeatureConfig(sides=(640,), keypoints=1000)


@dataclass(frozen=True)
class Extracted:
    features: Features
    plain: Plain
    seconds: float  # CPU time of the feature extraction alone (decode included)


@dataclass(frozen=True)
class Item:
    path: str
    edit: str
    work: int | None  # registered work number; None for a false-match probe
    category: str


@dataclass
class Outcome:
    geometries: dict[int, Geometry]  # each verified candidate, judged by the loosest rules
    matched: set[int]
    touched: int
    skipped: int
    candidates: int
    phash: set[int]
    pdq: set[int]


@dataclass
class Totals:
    hits: Counter[str] = field(default_factory=Counter)
    phash: Counter[str] = field(default_factory=Counter)
    pdq: Counter[str] = field(default_factory=Counter)
    total: Counter[str] = field(default_factory=Counter)


def _extract_file(job: tuple[str, FeatureConfig]) -> Extracted:
    path, config = job
    data = Path(path).read_bytes()
    started = time.process_time()
    features = extract(data, config)
    seconds = time.process_time() - started
    return Extracted(features, plain_hashes(data), seconds)


def _digest(manifest: bytes, configs: list[FeatureConfig]) -> str:
    digest = hashlib.sha256(manifest)
    digest.update((PACKAGE / "features.py").read_bytes())
    digest.update(repr(configs).encode())
    return digest.hexdigest()[:16]


def extract_all(
    paths: list[str], config: FeatureConfig, processes: int, cache: Path
) -> list[Extracted]:
    if cache.exists():
        with cache.open("rb") as handle:
            found: list[Extracted] = pickle.load(handle)  # noqa: S301 - our own cache file
            return found
    with multiprocessing.Pool(processes) as pool:
        found = pool.map(_extract_file, [(path, config) for path in paths], chunksize=8)
    cache.parent.mkdir(parents=True, exist_ok=True)
    with cache.open("wb") as handle:
        pickle.dump(found, handle)
    return found


def load(
    folder: Path, sample: int | None, processes: int
) -> tuple[list[dict[str, Any]], list[Extracted], list[Item], list[Extracted]]:
    raw, works, queries = read_manifest(folder, sample)
    registered = [work for work in works if work["split"] == "registered"]
    categories = {work["id"]: work["category"] for work in works}
    number = {work["id"]: index for index, work in enumerate(registered)}
    digest = _digest(raw, [REGISTER, QUERY])
    work_features = extract_all(
        [work["path"] for work in registered],
        REGISTER,
        processes,
        CACHE / f"{folder.name}-works-{digest}.pickle",
    )
    items = [
        Item(
            query["path"],
            query["edit"],
            None if query["work"] is None else number[query["work"]],
            query.get("category") or categories.get(query.get("source") or "", "unknown"),
        )
        for query in queries
    ]
    query_features = extract_all(
        [item.path for item in items],
        QUERY,
        processes,
        CACHE / f"{folder.name}-queries-{sample}-{digest}.pickle",
    )
    return registered, work_features, items, query_features


def _pdq_words(hashes: list[bytes]) -> np.ndarray:
    return np.frombuffer(b"".join(hashes), dtype=np.uint64).reshape(len(hashes), 4)


def match(
    query: Extracted,
    index: SubstringIndex,
    works: list[Extracted],
    plain: tuple[np.ndarray, np.ndarray],
    config: VerifyConfig,
) -> Outcome:
    lookup = index.lookup(query.features)
    candidates = index.candidates(lookup)
    loose = replace(config, min_inliers=min(SWEEP_INLIERS), min_share=0.0)
    geometries = {work: verify(query.features, works[work].features, loose) for work in candidates}
    matched = {
        work
        for work, geometry in geometries.items()
        if judged(geometry.inliers, geometry.expected, config).matched
    }
    phash = np.bitwise_count(plain[0] ^ np.uint64(query.plain.phash))
    pdq = np.bitwise_count(plain[1] ^ _pdq_words([query.plain.pdq])).sum(axis=1)
    return Outcome(
        geometries,
        matched,
        lookup.touched,
        lookup.skipped,
        len(candidates),
        set(np.flatnonzero(phash <= PLAIN_PHASH_RADIUS).tolist()),
        set(np.flatnonzero(pdq <= PLAIN_PDQ_RADIUS).tolist()),
    )


def _rate(hits: int, total: int) -> str:
    return f"{hits / total:.1%}" if total else "-"


def _load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def report_quality(
    items: list[Item], outcomes: list[Outcome]
) -> tuple[Totals, Totals, list[tuple[Item, set[int]]]]:
    edited, probes = Totals(), Totals()
    false_matches = []
    for item, outcome in zip(items, outcomes, strict=True):
        if item.work is not None:
            edited.total[item.edit] += 1
            edited.hits[item.edit] += item.work in outcome.matched
            edited.phash[item.edit] += item.work in outcome.phash
            edited.pdq[item.edit] += item.work in outcome.pdq
            continue
        for group in (item.edit, "all", "flat" if item.category in FLAT_KINDS else "other"):
            probes.total[group] += 1
            probes.hits[group] += bool(outcome.matched)
            probes.phash[group] += bool(outcome.phash)
            probes.pdq[group] += bool(outcome.pdq)
        if outcome.matched:
            false_matches.append((item, outcome.matched))
    header = (
        f"{'edit':<16}{'n':>5}{'localfeat':>11}{'pHash@10':>10}{'PDQ@31':>8}{'target':>8}"
        f"{'probes':>8}{'false':>7}"
    )
    print(header)
    print("-" * len(header))
    for edit in dict.fromkeys(item.edit for item in items):
        n = edited.total[edit]
        target = TARGETS.get(edit)
        print(
            f"{edit:<16}{n:>5}{_rate(edited.hits[edit], n):>11}{_rate(edited.phash[edit], n):>10}"
            f"{_rate(edited.pdq[edit], n):>8}{(f'{target:.0%}' if target else '-'):>8}"
            f"{probes.total[edit]:>8}{_rate(probes.hits[edit], probes.total[edit]):>7}"
        )
    print("-" * len(header))
    recalls = [edited.hits[e] / edited.total[e] for e in edited.total]
    print(f"mean recall over {len(recalls)} edits: {np.mean(recalls):.1%}")
    print(f"{'false matches':<22}{'probes':>7}{'localfeat':>11}{'pHash@10':>10}{'PDQ@31':>8}")
    for group, name in (("all", "all probes"), ("flat", "  flat graphics"), ("other", "  other")):
        n = probes.total[group]
        print(
            f"{name:<22}{n:>7}{_rate(probes.hits[group], n):>11}"
            f"{_rate(probes.phash[group], n):>10}{_rate(probes.pdq[group], n):>8}"
        )
    return edited, probes, false_matches


def report_sweep(items: list[Item], outcomes: list[Outcome]) -> None:
    """The decision rule varied on the same geometries: where recall and false matches meet."""
    print("sweep: min inliers x min share -> mean recall / worst edit / false matches (flat)")
    for inliers in SWEEP_INLIERS:
        cells = []
        for share in SWEEP_SHARES:
            config = VerifyConfig(min_inliers=inliers, min_share=share)
            hits: Counter[str] = Counter()
            totals: Counter[str] = Counter()
            false = flat = flat_total = probes = 0
            for item, outcome in zip(items, outcomes, strict=True):
                matched = {
                    work
                    for work, geometry in outcome.geometries.items()
                    if judged(geometry.inliers, geometry.expected, config).matched
                }
                if item.work is not None:
                    totals[item.edit] += 1
                    hits[item.edit] += item.work in matched
                    continue
                probes += 1
                false += bool(matched)
                if item.category in FLAT_KINDS:
                    flat_total += 1
                    flat += bool(matched)
            recalls = [hits[edit] / totals[edit] for edit in totals]
            cells.append(
                f"{np.mean(recalls):.1%}/{min(recalls):.0%}/{false / max(probes, 1):.1%}"
                f"({flat / max(flat_total, 1):.1%})"
            )
        print(
            f"  {inliers:>3}: "
            + "  ".join(
                f"{share:.2f} {cell}" for share, cell in zip(SWEEP_SHARES, cells, strict=True)
            )
        )


def report_costs(
    works: list[Extracted],
    queries: list[Extracted],
    index: SubstringIndex,
    outcomes: list[Outcome],
    match_seconds: float,
) -> None:
    print(f"load average: {_load_average()}")
    for name, found, features in (("registered", works, REGISTER), ("query", queries, QUERY)):
        seconds = np.array([extracted.seconds for extracted in found])
        points = np.array([len(extracted.features) for extracted in found])
        print(
            f"extraction, {name} ({features.sides} px, <= {features.keypoints} keypoints): "
            f"{seconds.mean() * 1e3:.1f} ms CPU mean, {np.percentile(seconds, 99) * 1e3:.1f} p99; "
            f"keypoints mean {points.mean():.0f}, none {int((points == 0).sum())}, "
            f"under 50 {int((points < 50).sum())} of {len(points)}"
        )
    keypoints = index.descriptors.shape[0] / max(len(works), 1)
    config = index.config
    stored = keypoints * (32 + 4)  # descriptor, and x, y as two uint16
    postings = keypoints * config.tables * (4 + config.chunk_bytes)  # entry id and its key
    print(
        f"stored per work: {keypoints:.0f} keypoints x 36 bytes (descriptor, point) = "
        f"{stored / 1024:.1f} KiB; index {config.tables} tables x (4-byte id + "
        f"{config.chunk_bytes}-byte key) = {postings / 1024:.1f} KiB; "
        f"at {REGISTRY_SIZE:,} works {(stored + postings) * REGISTRY_SIZE / 2**30:.1f} GiB"
    )
    scale = REGISTRY_SIZE / max(len(works), 1)
    touched = np.array([outcome.touched for outcome in outcomes])
    skipped = np.array([outcome.skipped for outcome in outcomes])
    sizes = index.bucket_sizes()
    print(
        f"index: {index.entries:,} entries, {len(sizes):,} buckets, largest {sizes.max()}, "
        f"cap {index.cap} ({config.max_bucket:.0e} of the descriptors)"
    )
    print(
        f"entries read a query: mean {touched.mean():.0f}, p99 {np.percentile(touched, 99):.0f}; "
        f"in skipped buckets mean {skipped.mean():.0f}; projected to {REGISTRY_SIZE:,} works "
        f"(same distribution): mean {touched.mean() * scale:,.0f}, "
        f"p99 {np.percentile(touched, 99) * scale:,.0f}"
    )
    candidates = np.array([outcome.candidates for outcome in outcomes])
    print(
        f"candidates verified a query: mean {candidates.mean():.2f}; lookup and verification "
        f"{match_seconds / len(outcomes) * 1e3:.1f} ms CPU a query (one process)"
    )


def run(folder: Path, sample: int | None, processes: int, index_config: IndexConfig) -> None:
    started = time.perf_counter()
    print(f"evaluation set {folder}; sample {sample}; load average {_load_average()}")
    registered, works, items, queries = load(folder, sample, processes)
    print(f"features ready after {time.perf_counter() - started:.0f} s")
    verify_config = VerifyConfig()
    print(f"features: register {asdict(REGISTER)}, query {asdict(QUERY)}")
    print(f"index: {asdict(index_config)}")
    print(f"verify: {asdict(verify_config)}")
    index = SubstringIndex([extracted.features for extracted in works], index_config)
    plain = (
        np.array([extracted.plain.phash for extracted in works], dtype=np.uint64),
        _pdq_words([extracted.plain.pdq for extracted in works]),
    )
    clock = time.process_time()
    outcomes = [match(query, index, works, plain, verify_config) for query in queries]
    match_seconds = time.process_time() - clock
    print(
        f"registered works: {len(registered)}; queries: "
        f"{sum(item.work is not None for item in items)}; "
        f"probes: {sum(item.work is None for item in items)}"
    )
    _, _, false_matches = report_quality(items, outcomes)
    for item, matched in false_matches[:20]:
        names = ", ".join(registered[work]["id"] for work in sorted(matched)[:3])
        print(f"  false match: {item.edit} {Path(item.path).name} -> {names}")
    report_sweep(items, outcomes)
    report_costs(works, queries, index, outcomes, match_seconds)
    print(f"({time.perf_counter() - started:.0f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval", type=Path, required=True, metavar="DIR")
    parser.add_argument("--sample", type=int, help="the first N queries (and probes) of each edit")
    parser.add_argument("--processes", type=int, default=2)
    defaults = IndexConfig()
    parser.add_argument("--chunk-bytes", type=int, default=defaults.chunk_bytes)
    parser.add_argument("--tables", type=int, default=defaults.tables)
    parser.add_argument(
        "--max-bucket",
        type=float,
        default=defaults.max_bucket,
        help="buckets holding more than this share of all registered descriptors are not read",
    )
    args = parser.parse_args()
    index_config = replace(
        defaults, chunk_bytes=args.chunk_bytes, tables=args.tables, max_bucket=args.max_bucket
    )
    run(args.eval, args.sample, args.processes, index_config)


if __name__ == "__main__":
    main()
