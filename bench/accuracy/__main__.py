"""Match quality on real art: `python -m bench.accuracy`.

Registers two works in three of the corpus (bench/corpus.py) with every variant, queries
each registered work under every edit of bench/accuracy/edits.py, and queries the other works
as distinct works. Prints recall per edit and the false-match rate for Consentry's rules, with plain
pHash at distance 10 and PDQ at 31 on the same queries, and beside them the same through strong
matches only (rules.Verdict.strong: the only matches that may allow an item).

How recall is counted: over the registered works whose original passes the weak-image
gate; a query the gate refuses counts as a miss, and so does a query matched to a wrong
work only. A distinct work is a false match when any registered work verifies for it.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from bench.accuracy.beyond import BEYOND, load_beyond
from bench.accuracy.dataset import Dataset, Query, load_dataset
from bench.accuracy.edits import EDITS, TARGETS
from registry.fingerprints import VARIANTS, Hashes, ImageFingerprint
from registry.fingerprints.descriptor import DESCRIPTOR_BYTES
from registry.matching.matcher import VARIANT_NUMBER, CandidateIndex
from registry.matching.rules import (
    DEFAULT_MATCHING,
    ItemVerdicts,
    MatchingConfig,
    Verdict,
    closest_work,
    is_weak,
    verify,
    verify_item,
)

FALSE_MATCH_TARGET = 0.005
PLAIN_PHASH_RADIUS = 10
PLAIN_PDQ_RADIUS = 31


@dataclass
class Registry:
    """Every registered variant in the server's candidate index, and its hashes to verify."""

    index: CandidateIndex
    hashes: dict[tuple[int, int], Hashes]  # (work, variant number) -> hashes
    plain_phash: np.ndarray
    plain_pdq: np.ndarray


@dataclass
class Tally:
    hits: Counter[str] = field(default_factory=Counter)
    # Hits through a strong match (rules.Verdict.strong), the only kind that may allow an
    # item: for distinct works, the false matches that could let a picture through.
    strong: Counter[str] = field(default_factory=Counter)
    wrong: Counter[str] = field(default_factory=Counter)
    also: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    total: Counter[str] = field(default_factory=Counter)
    plain_phash: Counter[str] = field(default_factory=Counter)
    plain_pdq: Counter[str] = field(default_factory=Counter)
    phash_only: Counter[str] = field(default_factory=Counter)
    # Items with more candidates than the verification budget: decided invalid.
    over_budget: Counter[str] = field(default_factory=Counter)
    # Distinct works that matched: (their key, the registered works they matched).
    false_matches: list[tuple[str, list[int]]] = field(default_factory=list)


def build_registry(dataset: Dataset, config: MatchingConfig) -> tuple[Registry, set[int]]:
    hashes: dict[tuple[int, int], Hashes] = {}
    weak = set()
    for number, registered in enumerate(dataset.registered):
        fingerprints = registered.fingerprints
        if fingerprints is None or is_weak(fingerprints.image, config):
            weak.add(number)
            # As the registry does: a work too plain to match gets no perceptual fingerprints
            # (exact copies only, which no edited query is).
            continue
        for name, variant in fingerprints.variants.items():
            hashes[number, VARIANT_NUMBER[name]] = variant
    plain = [registered.plain for registered in dataset.registered]
    registry = Registry(
        index=candidate_index(hashes, config),
        hashes=hashes,
        plain_phash=np.array([p.phash for p in plain], dtype=np.uint64),
        plain_pdq=_pdq_words([p.pdq for p in plain]),
    )
    return registry, weak


def candidate_index(
    hashes: dict[tuple[int, int], Hashes], config: MatchingConfig
) -> CandidateIndex:
    """The server's candidate index over registered variants, keyed (work, variant number)."""
    keys = list(hashes)
    return CandidateIndex.from_arrays(
        np.array([work for work, _ in keys], dtype=np.int64),
        np.array([variant for _, variant in keys], dtype=np.uint8),
        np.array([h.phash for h in hashes.values()], dtype=np.uint64),
        np.array([h.dhash for h in hashes.values()], dtype=np.uint64),
        config,
    )


def decide(
    fingerprint: ImageFingerprint,
    index: CandidateIndex,
    hashes: dict[tuple[int, int], Hashes],
    config: MatchingConfig = DEFAULT_MATCHING,
) -> ItemVerdicts:
    """rules.verify_item on the index's candidates for the whole query and its regions."""
    searched = fingerprint.searched()
    upright = fingerprint.upright_searched()
    candidates = index.search(
        np.array([h.phash for h in searched], dtype=np.uint64),
        np.array([h.dhash for h in searched], dtype=np.uint64),
        **search_flags(fingerprint),
    )
    by_work: dict[int, list[tuple[str, int, Hashes]]] = {}
    for k, work, variant in zip(
        candidates.query_index.tolist(),
        candidates.work_id.tolist(),
        candidates.variant.tolist(),
        strict=True,
    ):
        by_work.setdefault(work, []).append((VARIANTS[variant], k, hashes[work, variant]))
    return verify_item(searched, by_work, config, upright=upright)


def search_flags(fingerprint: ImageFingerprint) -> dict[str, np.ndarray]:
    """Which of the fingerprint's searched hashes the index searches by dHash, as the
    registry asks (selectors.matching): the whole query, and the upright region over the
    variants framed as it is."""
    places = np.arange(1 + len(fingerprint.regions))
    return {"by_dhash": places == 0, "upright": places == fingerprint.upright_searched()}


def _pdq_words(hashes: list[bytes]) -> np.ndarray:
    return np.frombuffer(b"".join(hashes), dtype=np.uint64).reshape(len(hashes), 4)


def consentry_item(query: Query, registry: Registry, config: MatchingConfig) -> ItemVerdicts:
    """The registry's decision for one item (rules.verify_item): the whole query and its
    regions searched, candidates verified within the item's budget."""
    fingerprint = query.fingerprint
    if fingerprint is None or is_weak(fingerprint, config):
        return ItemVerdicts()
    return decide(fingerprint, registry.index, registry.hashes, config)


def consentry_verdicts(
    query: Query, registry: Registry, config: MatchingConfig
) -> dict[int, Verdict]:
    """The matched works and the verdict that settled each; none when over budget (the
    item is decided invalid, fail closed)."""
    return _verdicts(consentry_item(query, registry, config))


def _verdicts(item: ItemVerdicts) -> dict[int, Verdict]:
    if item.over_budget:
        return {}
    return {work: verdict for work, (_, verdict) in item.matched.items()}


def consentry_matches(query: Query, registry: Registry, config: MatchingConfig) -> set[int]:
    return {
        work
        for work, verdict in consentry_verdicts(query, registry, config).items()
        if verdict.matched
    }


def plain_matches(query: Query, registry: Registry) -> tuple[set[int], set[int]]:
    phash = np.bitwise_count(registry.plain_phash ^ np.uint64(query.plain.phash))
    pdq_query = _pdq_words([query.plain.pdq])
    pdq = np.bitwise_count(registry.plain_pdq ^ pdq_query).sum(axis=1)
    return (
        set(np.flatnonzero(phash <= PLAIN_PHASH_RADIUS).tolist()),
        set(np.flatnonzero(pdq <= PLAIN_PDQ_RADIUS).tolist()),
    )


def measure(dataset: Dataset, config: MatchingConfig) -> tuple[Tally, Tally, set[int]]:
    registry, weak = build_registry(dataset, config)
    # The same rules with candidates from the pHash search alone, to show what dHash adds.
    phash_only, _ = build_registry(dataset, replace(config, dhash_radius=-1))
    edited, distinct = Tally(), Tally()
    for query in dataset.queries:
        if query.work is None or query.work in weak:
            continue
        _count(edited, query.edit, query, (registry, phash_only), config, expected=query.work)
    for query in dataset.distinct:
        _count(distinct, "distinct", query, (registry, phash_only), config, expected=None)
    return edited, distinct, weak


def _count(
    tally: Tally,
    edit: str,
    query: Query,
    registries: tuple[Registry, Registry],
    config: MatchingConfig,
    expected: int | None,
) -> None:
    registry, phash_registry = registries
    tally.total[edit] += 1
    if query.fingerprint is None or is_weak(query.fingerprint, config):
        tally.refused[edit] += 1
    item = consentry_item(query, registry, config)
    tally.over_budget[edit] += item.over_budget
    verdicts = _verdicts(item)
    matched = {work for work, verdict in verdicts.items() if verdict.matched}
    strong = item.strong.intersection(verdicts)  # none over the budget, as `verdicts`
    phash_only = consentry_matches(query, phash_registry, config)
    by_phash, by_pdq = plain_matches(query, registry)
    if expected is None:
        tally.hits[edit] += bool(matched)
        tally.strong[edit] += bool(strong)
        if matched:
            tally.false_matches.append((query.key, sorted(matched)))
        tally.phash_only[edit] += bool(phash_only)
        tally.plain_phash[edit] += bool(by_phash)
        tally.plain_pdq[edit] += bool(by_pdq)
        return
    tally.hits[edit] += expected in matched
    tally.strong[edit] += expected in strong
    tally.phash_only[edit] += expected in phash_only
    tally.also[edit] += bool(matched - {expected})
    closest = closest_work(verdicts)
    tally.wrong[edit] += closest is not None and closest != expected
    tally.plain_phash[edit] += expected in by_phash
    tally.plain_pdq[edit] += expected in by_pdq


def report(
    dataset: Dataset, edited: Tally, distinct: Tally, weak: set[int], config: MatchingConfig
) -> bool:
    kinds = Counter(r.work.kind for r in dataset.registered)
    print(
        f"corpus: {len(dataset.registered)} registered works ({_listing(kinds)}), "
        f"{len(VARIANTS)} variant names, {len(dataset.distinct)} distinct works"
    )
    weak_kinds = Counter(dataset.registered[number].work.kind for number in weak)
    print(f"weak-image gate (information < {config.min_information}):")
    print(
        f"  registered originals refused: {len(weak)} ({_listing(weak_kinds)}); not counted below"
    )
    refused, queries = sum(edited.refused.values()), sum(edited.total.values())
    print(f"  edited queries refused: {refused} of {queries} (counted as misses)")
    print(
        f"  distinct works refused: {distinct.refused['distinct']} of {distinct.total['distinct']}"
    )
    print()
    header = (
        f"{'edit':<16}{'n':>5}{'consentry':>11}{'strong':>8}{'wrong work':>12}{'no dHash':>10}"
        f"{'pHash@10':>10}{'PDQ@31':>8}{'target':>8}  met"
    )
    print(header)
    print("-" * len(header))
    all_met = True
    for edit in EDITS:
        n = edited.total[edit]
        recall = edited.hits[edit] / n
        met = recall >= TARGETS[edit]
        all_met &= met
        print(
            f"{edit:<16}{n:>5}{recall:>11.1%}{edited.strong[edit] / n:>8.1%}"
            f"{edited.wrong[edit] / n:>12.1%}"
            f"{edited.phash_only[edit] / n:>10.1%}{edited.plain_phash[edit] / n:>10.1%}"
            f"{edited.plain_pdq[edit] / n:>8.1%}"
            f"{TARGETS[edit]:>8.0%}  {'yes' if met else 'NO'}"
        )
    n = distinct.total["distinct"]
    false_rate = distinct.hits["distinct"] / n
    all_met &= false_rate <= FALSE_MATCH_TARGET
    print("-" * len(header))
    print(
        f"{'false matches':<16}{n:>5}{false_rate:>11.1%}"
        f"{distinct.strong['distinct'] / n:>8.1%}{'':>12}"
        f"{distinct.phash_only['distinct'] / n:>10.1%}{distinct.plain_phash['distinct'] / n:>10.1%}"
        f"{distinct.plain_pdq['distinct'] / n:>8.1%}"
        f"{'<=0.5%':>8}  {'yes' if false_rate <= FALSE_MATCH_TARGET else 'NO'}"
    )
    for key, works in distinct.false_matches:
        names = ", ".join(dataset.registered[number].work.key for number in works)
        print(f"  false match: {key} -> {names}")
    also, queries = sum(edited.also.values()), sum(edited.total.values())
    print(
        f"wrong work: the closest matched work is another one. Edited queries that also "
        f"matched another registered work: {also} of {queries} ({also / queries:.1%})"
    )
    return all_met


def report_beyond(dataset: Dataset, config: MatchingConfig, processes: int) -> None:
    """Recall under the edits of bench/accuracy/beyond.py: how far the rules generalize."""
    registry, weak = build_registry(dataset, config)
    phash_registry, _ = build_registry(dataset, replace(config, dhash_radius=-1))
    tally = Tally()
    queries = load_beyond(dataset, processes)
    for query in queries:
        if query.work is not None and query.work not in weak:
            _count(tally, query.edit, query, (registry, phash_registry), config, query.work)
    print()
    header = (
        f"{'beyond edits.py':<16}{'n':>5}{'consentry':>11}{'also':>8}{'no dHash':>10}"
        f"{'pHash@10':>10}{'PDQ@31':>8}"
    )
    print(header)
    print("-" * len(header))
    for edit in BEYOND:
        n = tally.total[edit]
        print(
            f"{edit:<16}{n:>5}{tally.hits[edit] / n:>11.1%}{tally.also[edit] / n:>8.1%}"
            f"{tally.phash_only[edit] / n:>10.1%}{tally.plain_phash[edit] / n:>10.1%}"
            f"{tally.plain_pdq[edit] / n:>8.1%}"
        )


def verify_timing(dataset: Dataset, config: MatchingConfig) -> tuple[int, float]:
    """Every candidate pair of every query, verified once more on its own: (pairs, seconds)."""
    registry, _ = build_registry(dataset, config)
    pairs: list[tuple[Hashes, Hashes]] = []
    for query in [*dataset.queries, *dataset.distinct]:
        fingerprint = query.fingerprint
        if fingerprint is None or is_weak(fingerprint, config):
            continue
        candidates = registry.index.search(
            np.array([fingerprint.hashes.phash], dtype=np.uint64),
            np.array([fingerprint.hashes.dhash], dtype=np.uint64),
        )
        for work, variant in zip(
            candidates.work_id.tolist(), candidates.variant.tolist(), strict=True
        ):
            pairs.append((fingerprint.hashes, registry.hashes[work, variant]))
    verify(*pairs[0], config)  # compiles, or loads the compiled comparison from its cache
    # CPU time, not wall time: the figure a server's capacity is planned with, and one that
    # other work on the machine disturbs less.
    started = time.process_time()
    for query_hashes, candidate_hashes in pairs:
        verify(query_hashes, candidate_hashes, config)
    return len(pairs), time.process_time() - started


def _listing(counts: Counter[str]) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument(
        "--beyond", action="store_true", help="also measure the edits of bench/accuracy/beyond.py"
    )
    parser.add_argument(
        "--eval",
        type=Path,
        metavar="FOLDER",
        help="measure an evaluation set written by bench.evalset (manifest.jsonl) instead",
    )
    parser.add_argument(
        "--sample", type=int, help="--eval: only the first N queries (and probes) of each edit"
    )
    parser.add_argument(
        "--no-upright-dhash",
        action="store_true",
        help="--eval: the upright region's dHash not searched (the registry before it), to "
        "compare on the same fingerprints",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    if args.eval is not None:
        from bench.accuracy.external import run

        config = DEFAULT_MATCHING
        if args.no_upright_dhash:
            config = replace(config, upright_dhash_variants=())
        run(args.eval, args.processes, args.sample, config)
        print(f"({time.perf_counter() - started:.0f} s)")
        return
    dataset = load_dataset(args.processes)
    config = DEFAULT_MATCHING
    edited, distinct, weak = measure(dataset, config)
    print(f"matching config: {config.to_dict()}")
    report(dataset, edited, distinct, weak, config)
    if args.beyond:
        report_beyond(dataset, config, args.processes)
    pairs, seconds = verify_timing(dataset, config)
    per_query = pairs / (len(dataset.queries) + len(dataset.distinct))
    print(
        f"verify: {pairs} candidate pairs ({per_query:.1f} a query), "
        f"{seconds / pairs * 1e6:.1f} us of CPU a call; descriptor {DESCRIPTOR_BYTES} bytes"
    )
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
