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
import os
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.accuracy.__main__ import PLAIN_PDQ_RADIUS, PLAIN_PHASH_RADIUS
from bench.accuracy.external import read_manifest
from bench.accuracy.generator import TARGETS
from bench.corpus2 import FLAT_KINDS
from bench.localfeat.cache import CACHE, Extracted, digest, extract_all
from bench.localfeat.features import FeatureConfig, grey
from bench.localfeat.index import IndexConfig, SubstringIndex
from bench.localfeat.verify import VerifyConfig, changed_ink, judged, verify
from registry.matching.rules import DEFAULT_MATCHING

REGISTRY_SIZE = 1_000_000
FALSE_MATCH_TARGET = 0.005
SWEEP_INLIERS = (10, 12, 15, 20, 30)
SWEEP_CHANGED = (1.0, 0.4, 0.3, 0.2, 0.15, 0.1)
WORK_GREY_SIDE = 128  # the registered grey picture drawn into the query by the verified map
# The edits a whole-frame hash cannot find: the work in part of the query, or moved in it.
PARTIAL = (
    "screenshot",
    "collage_2x2",
    "meme",
    "composite",
    "crop_centre_30",
    "crop_centre_50",
    "crop_16x9",
    "border_asym",
    "rotate_small",
    "skew",
    "perspective",
)

REGISTER = FeatureConfig(sides=(1024, 576, 320), keypoints=600, levels=4)
QUERY = FeatureConfig(sides=(640,), keypoints=1000)


@dataclass(frozen=True)
class Item:
    path: str
    edit: str
    work: int | None  # registered work number; None for a false-match probe
    category: str


@dataclass(frozen=True)
class Check:
    inliers: int
    expected: int
    changed: float  # changed_ink; 1.0 when the map is not plausible


@dataclass
class Outcome:
    checks: dict[int, Check]  # each verified candidate
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
    v3: Counter[str] = field(default_factory=Counter)
    union: Counter[str] = field(default_factory=Counter)
    total: Counter[str] = field(default_factory=Counter)


def load(
    folder: Path, sample: int | None, processes: int
) -> tuple[list[dict[str, Any]], list[Extracted], list[Item], list[Extracted]]:
    raw, works, queries = read_manifest(folder, sample)
    registered = [work for work in works if work["split"] == "registered"]
    categories = {work["id"]: work["category"] for work in works}
    number = {work["id"]: index for index, work in enumerate(registered)}
    key = digest(raw, [REGISTER, QUERY])
    work_features = extract_all(
        [work["path"] for work in registered],
        REGISTER,
        processes,
        CACHE / f"{folder.name}-works-{key}.pickle",
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
        CACHE / f"{folder.name}-queries-{sample}-{key}.pickle",
    )
    return registered, work_features, items, query_features


def _pdq_words(hashes: list[bytes]) -> np.ndarray:
    return np.frombuffer(b"".join(hashes), dtype=np.uint64).reshape(len(hashes), 4)


def decide(check: Check, config: VerifyConfig) -> bool:
    geometry = judged(check.inliers, check.expected, config)
    return geometry.matched and check.changed <= config.max_changed


def check(
    query: Extracted,
    query_grey: np.ndarray,
    work: Extracted,
    work_grey: np.ndarray,
    config: VerifyConfig,
) -> Check:
    loose = replace(config, min_inliers=min(SWEEP_INLIERS), min_share=0.0)
    geometry = verify(query.features, work.features, loose)
    if geometry.affine is None:
        return Check(geometry.inliers, geometry.expected, 1.0)
    # The map takes the work's feature frame to the query's; both grey pictures are smaller.
    to_grey = work.features.width / work_grey.shape[1]
    from_grey = query_grey.shape[1] / query.features.width
    affine = geometry.affine.copy()
    affine[:, :2] *= to_grey
    affine *= from_grey
    return Check(geometry.inliers, geometry.expected, changed_ink(query_grey, work_grey, affine))


def match(
    query: Extracted,
    item: Item,
    index: SubstringIndex,
    works: list[Extracted],
    work_greys: list[np.ndarray],
    plain: tuple[np.ndarray, np.ndarray],
    config: VerifyConfig,
) -> Outcome:
    lookup = index.lookup(query.features)
    candidates = index.candidates(lookup)
    checks: dict[int, Check] = {}
    if candidates:
        query_grey = grey(Path(item.path).read_bytes(), max(QUERY.sides))
        checks = {
            work: check(query, query_grey, works[work], work_greys[work], config)
            for work in candidates
        }
    matched = {work for work, found in checks.items() if decide(found, config)}
    phash = np.bitwise_count(plain[0] ^ np.uint64(query.plain.phash))
    pdq = np.bitwise_count(plain[1] ^ _pdq_words([query.plain.pdq])).sum(axis=1)
    return Outcome(
        checks,
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
    items: list[Item], outcomes: list[Outcome], v3: list[set[int]] | None
) -> list[tuple[Item, set[int]]]:
    edited, probes = Totals(), Totals()
    false_matches = []
    for number, (item, outcome) in enumerate(zip(items, outcomes, strict=True)):
        consentry = v3[number] if v3 is not None else set()
        if item.work is not None:
            edited.total[item.edit] += 1
            edited.hits[item.edit] += item.work in outcome.matched
            edited.phash[item.edit] += item.work in outcome.phash
            edited.pdq[item.edit] += item.work in outcome.pdq
            edited.v3[item.edit] += item.work in consentry
            edited.union[item.edit] += item.work in consentry | outcome.matched
            continue
        for group in (item.edit, "all", "flat" if item.category in FLAT_KINDS else "other"):
            probes.total[group] += 1
            probes.hits[group] += bool(outcome.matched)
            probes.phash[group] += bool(outcome.phash)
            probes.pdq[group] += bool(outcome.pdq)
            probes.v3[group] += bool(consentry)
            probes.union[group] += bool(consentry | outcome.matched)
        if outcome.matched:
            false_matches.append((item, outcome.matched))
    header = (
        f"{'edit':<16}{'n':>5}{'localfeat':>11}{'v3':>7}{'v3+LF':>7}{'pHash@10':>10}"
        f"{'PDQ@31':>8}{'target':>8}{'probes':>8}{'false':>7}"
    )
    print(header)
    print("-" * len(header))
    for edit in dict.fromkeys(item.edit for item in items):
        n = edited.total[edit]
        target = TARGETS.get(edit)
        print(
            f"{edit:<16}{n:>5}{_rate(edited.hits[edit], n):>11}"
            f"{_rate(edited.v3[edit], n) if v3 else '-':>7}"
            f"{_rate(edited.union[edit], n) if v3 else '-':>7}{_rate(edited.phash[edit], n):>10}"
            f"{_rate(edited.pdq[edit], n):>8}{(f'{target:.0%}' if target else '-'):>8}"
            f"{probes.total[edit]:>8}{_rate(probes.hits[edit], probes.total[edit]):>7}"
        )
    print("-" * len(header))
    counters = [("localfeat", edited.hits)]
    if v3 is not None:
        counters += [("v3", edited.v3), ("v3+LF", edited.union)]
    for name, counter in counters:
        recalls = [counter[edit] / edited.total[edit] for edit in edited.total]
        partial = [counter[edit] / edited.total[edit] for edit in PARTIAL if edited.total[edit]]
        print(
            f"{name}: mean recall over {len(recalls)} edits {np.mean(recalls):.1%}, "
            f"over the {len(partial)} partial edits {np.mean(partial):.1%}"
        )
    print(
        f"{'false matches':<22}{'probes':>7}{'localfeat':>11}{'v3':>7}{'v3+LF':>7}"
        f"{'pHash@10':>10}{'PDQ@31':>8}"
    )
    for group, name in (("all", "all probes"), ("flat", "  flat graphics"), ("other", "  other")):
        n = probes.total[group]
        print(
            f"{name:<22}{n:>7}{_rate(probes.hits[group], n):>11}"
            f"{_rate(probes.v3[group], n) if v3 else '-':>7}"
            f"{_rate(probes.union[group], n) if v3 else '-':>7}"
            f"{_rate(probes.phash[group], n):>10}{_rate(probes.pdq[group], n):>8}"
        )
    return false_matches


def report_sweep(
    items: list[Item], outcomes: list[Outcome], v3: list[set[int]] | None, base: VerifyConfig
) -> None:
    """The decision rule varied on the same checks: where recall and false matches meet."""
    print(
        f"sweep (min share {base.min_share}): min inliers x max changed -> mean recall over "
        "the partial edits / worst partial edit / false matches; with v3: the same for v3+LF"
    )
    for inliers in SWEEP_INLIERS:
        cells = []
        for changed in SWEEP_CHANGED:
            config = replace(base, min_inliers=inliers, max_changed=changed)
            cells.append(_sweep_cell(items, outcomes, None, config))
            if v3 is not None:
                cells[-1] += " | " + _sweep_cell(items, outcomes, v3, config)
        print(f"  {inliers:>3}:")
        for changed, cell in zip(SWEEP_CHANGED, cells, strict=True):
            print(f"       changed <= {changed:.2f}: {cell}")


def _sweep_cell(
    items: list[Item], outcomes: list[Outcome], v3: list[set[int]] | None, config: VerifyConfig
) -> str:
    hits: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    false = probes = 0
    for number, (item, outcome) in enumerate(zip(items, outcomes, strict=True)):
        matched = {work for work, found in outcome.checks.items() if decide(found, config)}
        if v3 is not None:
            matched |= v3[number]
        if item.work is not None:
            totals[item.edit] += 1
            hits[item.edit] += item.work in matched
            continue
        probes += 1
        false += bool(matched)
    recalls = [hits[edit] / totals[edit] for edit in PARTIAL if totals[edit]]
    everything = [hits[edit] / totals[edit] for edit in totals]
    return (
        f"{np.mean(recalls):.1%}/{min(recalls):.0%}/{false / max(probes, 1):.1%}"
        f" (all edits {np.mean(everything):.1%})"
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


def version_3(
    folder: Path, sample: int | None, processes: int, items: list[Item]
) -> list[set[int]]:
    """Each item's works matched by Consentry's pipeline (registry.fingerprints and
    registry.matching as checked out), from bench.accuracy's cached fingerprints."""
    from bench.accuracy.__main__ import build_registry, consentry_matches
    from bench.accuracy.external import load_evalset

    dataset = load_evalset(folder, processes, sample).dataset
    registry, _ = build_registry(dataset, DEFAULT_MATCHING)
    edited, probes = iter(dataset.queries), iter(dataset.distinct)
    found = []
    for item in items:
        query = next(edited) if item.work is not None else next(probes)
        assert query.edit == item.edit and query.work == item.work
        found.append(consentry_matches(query, registry, DEFAULT_MATCHING))
    return found


def run(
    folder: Path,
    sample: int | None,
    processes: int,
    index_config: IndexConfig,
    with_v3: bool,
) -> None:
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
    work_greys = [grey(Path(work["path"]).read_bytes(), WORK_GREY_SIDE) for work in registered]
    clock = time.process_time()
    outcomes = [
        match(query, item, index, works, work_greys, plain, verify_config)
        for query, item in zip(queries, items, strict=True)
    ]
    match_seconds = time.process_time() - clock
    v3 = version_3(folder, sample, processes, items) if with_v3 else None
    print(
        f"registered works: {len(registered)}; queries: "
        f"{sum(item.work is not None for item in items)}; "
        f"probes: {sum(item.work is None for item in items)}"
    )
    false_matches = report_quality(items, outcomes, v3)
    for item, matched in false_matches[:20]:
        names = ", ".join(registered[work]["id"] for work in sorted(matched)[:3])
        print(f"  false match: {item.edit} {Path(item.path).name} -> {names}")
    report_sweep(items, outcomes, v3, verify_config)
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
    parser.add_argument(
        "--v3",
        action="store_true",
        help="also Consentry's pipeline on the same items, and the union (bench.accuracy's "
        "fingerprints: cached, else computed, about ten minutes)",
    )
    args = parser.parse_args()
    index_config = replace(
        defaults, chunk_bytes=args.chunk_bytes, tables=args.tables, max_bucket=args.max_bucket
    )
    run(args.eval, args.sample, args.processes, index_config, args.v3)


if __name__ == "__main__":
    main()
