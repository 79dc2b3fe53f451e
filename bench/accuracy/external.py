"""Match quality on an evaluation set written by bench.evalset (or anyone, same manifest).

`python -m bench.accuracy --eval /work/cache/eval-dev` fingerprints every work and query of
the folder's manifest.jsonl on `--processes` cores (cached under .cache/evalsets, keyed by
the manifest and the fingerprinting source), registers the "registered" works with every
variant in the server's candidate index, and prints per edit the recall of Consentry (the
pipeline of registry.fingerprints and registry.matching as they are when it runs), plain
pHash@10 and plain PDQ@31 on the same files, then the false-match rates.

"strong" counts only strong matches (rules.Verdict.strong), the only kind that may allow
an item: a weak match can deny, so strong false matches bound the pictures a false match
could let through as consented.

Counting: every registered work counts, including those whose original the weak-image gate
refuses; a query the gate refuses, or matched to another work only, is a miss. A false-match
probe (a query made from a distinct work) is a false match when any registered work
verifies for it; rates are given overall, among flat graphics (icons, flags, sprites, line
art, clip art) and per edit.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import pickle
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench.accuracy.__main__ import (
    FALSE_MATCH_TARGET,
    Registry,
    Tally,
    _count,
    build_registry,
)
from bench.accuracy.dataset import (
    Dataset,
    Plain,
    Query,
    Registered,
    _query_job,
    _register_job,
)
from bench.accuracy.generator import EDITS, TARGETS
from bench.corpus import CorpusWork
from bench.corpus2 import FLAT_KINDS
from registry.matching.rules import DEFAULT_MATCHING, MatchingConfig, is_weak

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache" / "evalsets"


@dataclass(frozen=True)
class EvalSet:
    dataset: Dataset
    edits: list[str]  # the query edits in manifest order of first appearance
    categories: dict[str, str]  # work id -> category
    probe_categories: list[str]  # category of each distinct query, as dataset.distinct


def _fingerprint_digest(manifest: bytes) -> str:
    digest = hashlib.sha256(manifest)
    for path in sorted((REPO / "registry" / "fingerprints").glob("*.py")):
        if path.name != "comparison.py":  # compares fingerprints, does not make them
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _read(path: str) -> bytes:
    return Path(path).read_bytes()


def _register_file(path: str) -> object:
    return _register_job(_read(path))


def _query_file(path: str) -> object:
    return _query_job(_read(path))


def read_manifest(
    folder: Path, sample: int | None = None
) -> tuple[bytes, list[dict[str, Any]], list[dict[str, Any]]]:
    """(the manifest's bytes, its works, its queries); with `sample`, only the first `sample`
    queries of each edit and as many probes of each edit."""
    raw = (folder / "manifest.jsonl").read_bytes()
    lines = [json.loads(line) for line in raw.splitlines() if line.strip()]
    works = [line for line in lines if line["kind"] == "work"]
    queries = [line for line in lines if line["kind"] == "query"]
    if sample is not None:
        seen: Counter[tuple[str, bool]] = Counter()
        kept = []
        for query in queries:
            group = (query["edit"], query["work"] is None)
            seen[group] += 1
            if seen[group] <= sample:
                kept.append(query)
        queries = kept
    return raw, works, queries


def load_evalset(
    folder: Path, processes: int, sample: int | None = None, cache_dir: Path = CACHE
) -> EvalSet:
    """The set's fingerprints; with `sample`, only the first `sample` queries of each edit
    and as many probes (a quicker, coarser run)."""
    raw, works, queries = read_manifest(folder, sample)
    registered_lines = [work for work in works if work["split"] == "registered"]
    cache = cache_dir / f"{folder.name}-{sample}-{_fingerprint_digest(raw)}.pickle"
    if cache.exists():
        with cache.open("rb") as handle:
            fingerprints = pickle.load(handle)  # noqa: S301 - our own cache file
    else:
        with multiprocessing.Pool(processes) as pool:
            registered_prints = pool.map(
                _register_file, [work["path"] for work in registered_lines], chunksize=4
            )
            query_prints = pool.map(_query_file, [query["path"] for query in queries], chunksize=16)
        fingerprints = (registered_prints, query_prints)
        cache_dir.mkdir(parents=True, exist_ok=True)
        with cache.open("wb") as handle:
            pickle.dump(fingerprints, handle)
    registered_prints, query_prints = fingerprints
    categories = {work["id"]: work["category"] for work in works}
    registered = [
        Registered(
            CorpusWork(work["id"], work["path"], "evalset", work["category"], work["family"]),
            found,
            plain,
        )
        for work, (found, plain) in zip(registered_lines, registered_prints, strict=True)
    ]
    number = {work["id"]: index for index, work in enumerate(registered_lines)}
    edited: list[Query] = []
    probes: list[Query] = []
    probe_categories: list[str] = []
    for line, (found, plain) in zip(queries, query_prints, strict=True):
        source = line.get("source") or line["work"] or line["path"]
        if line["work"] is not None:
            edited.append(Query(number[line["work"]], source, line["edit"], found, plain))
        else:
            probes.append(Query(None, source, line["edit"], found, plain))
            probe_categories.append(line.get("category") or categories.get(source, "unknown"))
    edits = list(dict.fromkeys(line["edit"] for line in queries))
    return EvalSet(Dataset(registered, edited, probes), edits, categories, probe_categories)


def measure(evalset: EvalSet, config: MatchingConfig) -> tuple[Tally, Tally, Tally, set[int]]:
    """(edited queries per edit, probes per edit, probes per category, weak registered)."""
    dataset = evalset.dataset
    registry, weak = build_registry(dataset, config)
    phash_only: Registry = build_registry(dataset, replace(config, dhash_radius=-1))[0]
    edited, probes, by_kind = Tally(), Tally(), Tally()
    for query in dataset.queries:
        _count(edited, query.edit, query, (registry, phash_only), config, expected=query.work)
    for query, kind in zip(dataset.distinct, evalset.probe_categories, strict=True):
        _count(probes, query.edit, query, (registry, phash_only), config, expected=None)
        group = "flat" if kind in FLAT_KINDS else "other"
        _count(by_kind, group, query, (registry, phash_only), config, expected=None)
    return edited, probes, by_kind, weak


def _rate(hits: int, total: int) -> str:
    return f"{hits / total:.1%}" if total else "-"


def report(evalset: EvalSet, config: MatchingConfig, folder: Path) -> None:
    dataset = evalset.dataset
    edited, probes, by_kind, weak = measure(evalset, config)
    kinds = Counter(r.work.kind for r in dataset.registered)
    distinct_works = len(set(evalset.categories)) - len(dataset.registered)
    print(f"evaluation set {folder}")
    print(f"matching config: {config.to_dict()}")
    listing = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    print(
        f"registered works: {len(dataset.registered)} ({listing}); "
        f"distinct works: {distinct_works}; edited queries: {len(dataset.queries)}; "
        f"false-match probes: {len(dataset.distinct)}"
    )
    weak_kinds = Counter(dataset.registered[number].work.kind for number in weak)
    weak_listing = ", ".join(f"{n} {k}" for k, n in sorted(weak_kinds.items())) or "none"
    print(
        f"weak-image gate (information < {config.min_information}): {len(weak)} registered "
        f"originals refused ({weak_listing}); "
        "their queries are counted, as misses unless matched"
    )
    header = (
        f"{'edit':<16}{'n':>5}{'consentry':>11}{'strong':>8}{'refused':>9}{'wrong':>7}"
        f"{'pHash@10':>10}{'PDQ@31':>8}{'target':>8}  met   {'probes':>6}{'false':>7}"
        f"{'fStrong':>8}{'fPDQ':>7}{'fpHash':>7}"
    )
    print(header)
    print("-" * len(header))
    met_all = True
    for edit in evalset.edits:
        n = edited.total[edit]
        target = TARGETS.get(edit)
        recall = edited.hits[edit] / n if n else 0.0
        floor = edited.plain_phash[edit] / n if n else 0.0
        met = target is not None and recall >= target and recall >= floor
        met_all &= met
        m = probes.total[edit]
        print(
            f"{edit:<16}{n:>5}{_rate(edited.hits[edit], n):>11}{_rate(edited.strong[edit], n):>8}"
            f"{_rate(edited.refused[edit], n):>9}"
            f"{_rate(edited.wrong[edit], n):>7}{_rate(edited.plain_phash[edit], n):>10}"
            f"{_rate(edited.plain_pdq[edit], n):>8}"
            f"{(f'{target:.0%}' if target else '-'):>8}  {'yes' if met else 'NO ':<4}"
            f"{m:>6}{_rate(probes.hits[edit], m):>7}{_rate(probes.strong[edit], m):>8}"
            f"{_rate(probes.plain_pdq[edit], m):>7}"
            f"{_rate(probes.plain_phash[edit], m):>7}"
        )
    print("-" * len(header))
    print("met: recall >= target and >= plain pHash@10 on the same files")
    print(
        f"{'false matches':<22}{'probes':>7}{'consentry':>11}{'strong':>8}{'PDQ@31':>8}"
        f"{'pHash@10':>10}"
    )
    all_probes = sum(probes.total.values())
    rows = [
        (
            "all probes",
            all_probes,
            sum(probes.hits.values()),
            sum(probes.strong.values()),
            sum(probes.plain_pdq.values()),
            sum(probes.plain_phash.values()),
        ),
    ]
    for group in ("flat", "other"):
        rows.append(
            (
                f"  {group} graphics" if group == "flat" else "  other art",
                by_kind.total[group],
                by_kind.hits[group],
                by_kind.strong[group],
                by_kind.plain_pdq[group],
                by_kind.plain_phash[group],
            )
        )
    reencoded = probes.total.get("reencode", 0)
    if reencoded:
        rows.append(
            (
                "  re-encoded only",
                reencoded,
                probes.hits["reencode"],
                probes.strong["reencode"],
                probes.plain_pdq["reencode"],
                probes.plain_phash["reencode"],
            )
        )
    for name, total, hits, strong, pdq, phash in rows:
        print(
            f"{name:<22}{total:>7}{_rate(hits, total):>11}{_rate(strong, total):>8}"
            f"{_rate(pdq, total):>8}"
            f"{_rate(phash, total):>10}"
        )
    false_rate = sum(probes.hits.values()) / max(all_probes, 1)
    flat_rate = by_kind.hits["flat"] / max(by_kind.total["flat"], 1)
    false_met = false_rate <= FALSE_MATCH_TARGET and flat_rate <= FALSE_MATCH_TARGET
    print(
        f"false-match target <= {FALSE_MATCH_TARGET:.1%} overall and among flat graphics: "
        f"{'yes' if false_met else 'NO'}"
    )
    names = {number: r.work.key for number, r in enumerate(dataset.registered)}
    for key, matched in probes.false_matches[:15]:
        print(f"  false match: {key} -> {', '.join(names[number] for number in matched[:3])}")
    if len(probes.false_matches) > 15:
        print(f"  ... {len(probes.false_matches) - 15} more")
    refused_queries = sum(
        1
        for query in dataset.queries
        if query.fingerprint is None or is_weak(query.fingerprint, config)
    )
    print(f"edited queries refused by the gate: {refused_queries} of {len(dataset.queries)}")
    print(
        f"over the verification budget ({config.max_verifications} comparisons, decided "
        f"invalid): {sum(edited.over_budget.values())} edited queries, "
        f"{sum(probes.over_budget.values())} probes"
    )
    print(f"all targets met: {'yes' if met_all and false_met else 'NO'}")
    _report_by_kind(evalset, edited_by_kind(evalset, config))


def edited_by_kind(evalset: EvalSet, config: MatchingConfig) -> Tally:
    """Recall over all edits, per kind of art of the registered work."""
    dataset = evalset.dataset
    registry, _ = build_registry(dataset, config)
    phash_only = build_registry(dataset, replace(config, dhash_radius=-1))[0]
    tally = Tally()
    for query in dataset.queries:
        assert query.work is not None
        kind = dataset.registered[query.work].work.kind
        _count(tally, kind, query, (registry, phash_only), config, expected=query.work)
    return tally


def _report_by_kind(evalset: EvalSet, tally: Tally) -> None:
    print(
        f"{'kind (all edits)':<18}{'n':>6}{'consentry':>11}{'strong':>8}{'pHash@10':>10}"
        f"{'PDQ@31':>8}"
    )
    for kind in sorted(tally.total):
        n = tally.total[kind]
        print(
            f"{kind:<18}{n:>6}{_rate(tally.hits[kind], n):>11}{_rate(tally.strong[kind], n):>8}"
            f"{_rate(tally.plain_phash[kind], n):>10}{_rate(tally.plain_pdq[kind], n):>8}"
        )


def run(
    folder: Path,
    processes: int,
    sample: int | None = None,
    config: MatchingConfig = DEFAULT_MATCHING,
) -> None:
    evalset = load_evalset(folder, processes, sample)
    unknown = [edit for edit in evalset.edits if edit not in EDITS]
    if unknown:
        print(f"edits without a target in bench/accuracy/generator.py: {', '.join(unknown)}")
    if sample is not None:
        print(f"sample: the first {sample} queries of each edit and as many probes")
    report(evalset, config, folder)


__all__ = ["Plain", "run"]
