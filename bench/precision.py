"""Offline look at false matches: `python -m bench.precision --eval FOLDER --sample 100`.

Runs the registry's item decision (rules.verify_item) on every query and probe of an
evaluation set once with the published rules, recording every verified pair, then again
under variants of the rules (an extra veto per pair, or a decision over the item's matched
works), and prints hits and false matches of each variant beside the published rules.
The descriptor distances are computed once and reused (the comparison is deterministic).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import numpy as np

from bench.accuracy.__main__ import build_registry, search_flags
from bench.accuracy.dataset import Query
from bench.accuracy.external import EvalSet, load_evalset
from registry.fingerprints import VARIANTS, Hashes
from registry.matching import rules
from registry.matching.rules import DEFAULT_MATCHING, ItemVerdicts, MatchingConfig, Verdict


@dataclass(frozen=True)
class Pair:
    """One verified (query hashes, registered variant) pair, as the rules see it."""

    query: int  # index into EvalSet queries then probes
    k: int  # index into the query's searched hashes (0: whole query)
    work: int
    variant: str


Veto = Callable[[Pair, Verdict], bool]
ItemRule = Callable[[int, dict[int, tuple[str, Verdict]]], dict[int, tuple[str, Verdict]]]
# (hits per edit, queries per edit and "probes", false matches, matched works per query)
Result = tuple[
    Counter[str],
    Counter[str],
    list[tuple[int, list[int]]],
    dict[int, dict[int, tuple[str, Verdict]]],
]


class Runner:
    def __init__(self, evalset: EvalSet, config: MatchingConfig = DEFAULT_MATCHING) -> None:
        self.evalset = evalset
        self.config = config
        self.registry, self.weak = build_registry(evalset.dataset, config)
        self.queries: list[Query] = [*evalset.dataset.queries, *evalset.dataset.distinct]
        self._verdicts: dict[tuple[int, int, int, str, MatchingConfig], Verdict] = {}
        self.candidates = [self._candidates(q) for q in self.queries]
        # Each query's upright region, an index into its searched hashes (rules.verify_item).
        self.upright = [
            None if q.fingerprint is None else q.fingerprint.upright_searched()
            for q in self.queries
        ]

    def _candidates(
        self, query: Query
    ) -> tuple[list[Hashes], dict[int, list[tuple[str, int, Hashes]]]] | None:
        fingerprint = query.fingerprint
        if fingerprint is None or rules.is_weak(fingerprint, self.config):
            return None
        searched = fingerprint.searched()
        found = self.registry.index.search(
            np.array([h.phash for h in searched], dtype=np.uint64),
            np.array([h.dhash for h in searched], dtype=np.uint64),
            **search_flags(fingerprint),
        )
        by_work: dict[int, list[tuple[str, int, Hashes]]] = {}
        for k, work, variant in zip(
            found.query_index.tolist(), found.work_id.tolist(), found.variant.tolist(), strict=True
        ):
            by_work.setdefault(work, []).append(
                (VARIANTS[variant], k, self.registry.hashes[work, variant])
            )
        return searched, by_work

    def item(
        self,
        number: int,
        config: MatchingConfig,
        veto: Veto | None = None,
        regions: bool = True,
        demote: Veto | None = None,
    ) -> ItemVerdicts:
        """rules.verify_item for query `number`, verdicts cached; `veto` refuses a matched
        pair, `demote` makes a strong one weak (it still matches), both inside the decision so
        that verify_item goes on to the work's other variants as the registry would."""
        found = self.candidates[number]
        if found is None:
            return ItemVerdicts()
        searched, by_work = found
        if not regions:
            by_work = {
                w: [p for p in pairs if p[1] == 0]
                for w, pairs in by_work.items()
                if any(p[1] == 0 for p in pairs)
            }
        ids = {id(h): k for k, h in enumerate(searched)}
        work_of = {id(h): (w, v) for w, pairs in by_work.items() for v, _, h in pairs}
        original = rules.verify

        def cached(
            query: Hashes,
            candidate: Hashes,
            cfg: MatchingConfig = DEFAULT_MATCHING,
            *,
            region: bool = False,
            variant: str = "original",
        ) -> Verdict:
            work, _ = work_of[id(candidate)]
            key = (number, ids[id(query)], work, variant, cfg)
            verdict = self._verdicts.get(key)
            if verdict is None:
                verdict = original(query, candidate, cfg, region=region, variant=variant)
                self._verdicts[key] = verdict
            pair = Pair(number, ids[id(query)], work, variant)
            if verdict.matched and veto is not None and veto(pair, verdict):
                return replace(verdict, matched=False)
            if verdict.strong and demote is not None and demote(pair, verdict):
                return replace(verdict, strong=False)
            return verdict

        rules.verify = cached  # type: ignore[assignment]
        try:
            return rules.verify_item(searched, by_work, config, upright=self.upright[number])
        finally:
            rules.verify = original

    def settled_by(self, number: int, work: int, variant: str, verdict: Verdict) -> int:
        """Which of the query's searched hashes (0: the whole query) gave `verdict`."""
        found = self.candidates[number]
        assert found is not None
        for _, k, _ in found[1][work]:
            if self._verdicts.get((number, k, work, variant, self.config)) is verdict:
                return k
        raise LookupError("the verdict was not made by this runner")

    def expected(self, number: int) -> int | None:
        return self.queries[number].work

    def run(
        self,
        config: MatchingConfig | None = None,
        veto: Veto | None = None,
        item_rule: ItemRule | None = None,
        regions: bool = True,
    ) -> Result:
        config = config or self.config
        hits: Counter[str] = Counter()
        totals: Counter[str] = Counter()
        false: list[tuple[int, list[int]]] = []
        matched_all: dict[int, dict[int, tuple[str, Verdict]]] = {}
        for number, query in enumerate(self.queries):
            item = self.item(number, config, veto, regions)
            matched = {} if item.over_budget else dict(item.matched)
            if item_rule is not None and matched:
                matched = item_rule(number, matched)
            matched_all[number] = matched
            if query.work is None:
                totals["probes"] += 1
                if matched:
                    false.append((number, sorted(matched)))
            else:
                totals[query.edit] += 1
                hits[query.edit] += query.work in matched
        return hits, totals, false, matched_all


def summary(name: str, result: Result, base: Result | None = None) -> str:
    hits, totals, false, _ = result
    probes = totals["probes"]
    line = (
        f"{name:<48} hits {sum(hits.values()):>5} of {sum(totals.values()) - probes}"
        f"  false {len(false):>4} of {probes} ({len(false) / max(probes, 1):.1%})"
    )
    if base is not None:
        lost = {e: base[0][e] - hits[e] for e in base[0] if base[0][e] - hits[e] > 0}
        gained = {e: hits[e] - base[0][e] for e in hits if hits[e] - base[0][e] > 0}
        if lost:
            line += "  lost " + ", ".join(f"{e} {n}" for e, n in sorted(lost.items()))
        if gained:
            line += "  gained " + ", ".join(f"{e} {n}" for e, n in sorted(gained.items()))
    return line


def ratio_rule(rho: float, at_least: int) -> ItemRule:
    """An item that matched `at_least` works, the best scoring over `rho` times the second
    best, matches none of them: the query is not distinctive among the registered works."""

    def rule(_: int, matched: dict[int, tuple[str, Verdict]]) -> dict[int, tuple[str, Verdict]]:
        if len(matched) < at_least:
            return matched
        best, second = sorted(verdict.score for _, verdict in matched.values())[:2]
        return {} if best > rho * second else matched

    return rule


def _distance_veto(name: str, limit: float, near_only: bool = False) -> Veto:
    def veto(pair: Pair, verdict: Verdict) -> bool:
        if near_only and verdict.distances["changed"] >= NEAR:
            return False
        return verdict.distances[name] > limit

    return veto


def _pdq_veto(limit: int) -> Veto:
    # Regions carry no PDQ: only the whole query's pairs can be held to it.
    return lambda pair, verdict: pair.k == 0 and verdict.distances["pdq"] > limit


# The descriptor calls a pair a near copy below this share of changed cells.
NEAR = 0.005


def experiments(runner: Runner, base: Result) -> None:
    """Every rule variant of docs/matching.md (section 10, precision), against `base`."""
    config = runner.config
    tiny = 1e-6
    variants: list[tuple[str, Result]] = [
        ("no dHash-only candidate", Runner(runner.evalset, replace(config, dhash_radius=-1)).run()),
        ("no query regions", runner.run(regions=False)),
        ("max_changed 0.10", runner.run(replace(config, max_changed=0.10))),
        (
            "no overlay inside the picture",
            runner.run(replace(config, max_overlay=tiny, region_max_overlay=tiny)),
        ),
        ("max_scattered 0.008", runner.run(replace(config, max_scattered=0.008))),
        ("max_luma 0.06", runner.run(replace(config, max_luma=0.06))),
    ]
    for at_least in (2, 3, 5):
        for rho in (0.9, 0.5):
            variants.append(
                (
                    f"ratio test: {at_least}+ works, best > {rho} x second",
                    runner.run(item_rule=ratio_rule(rho, at_least)),
                )
            )
    for bits in (100, 120):
        variants.append((f"whole query within {bits} PDQ bits", runner.run(veto=_pdq_veto(bits))))
    for limit in (0.06, 0.04):
        variants.append((f"colour <= {limit}", runner.run(veto=_distance_veto("colour", limit))))
        variants.append(
            (
                f"colour <= {limit} on near copies",
                runner.run(veto=_distance_veto("colour", limit, near_only=True)),
            )
        )
    variants += oracles(runner)
    for name, result in variants:
        print(summary(name, result, base), flush=True)


def oracles(runner: Runner) -> list[tuple[str, Result]]:
    """The best a check on one kind of pair could do: every probe's pair of that kind
    refused, no edited query's."""
    radius = runner.config.phash_radius

    def probe(pair: Pair) -> bool:
        return runner.expected(pair.query) is None

    def near(verdict: Verdict) -> bool:
        return verdict.distances["changed"] < NEAR

    def relaxed(pair: Pair, verdict: Verdict) -> bool:
        found_by_dhash = verdict.distances["phash"] > radius
        return pair.k > 0 or verdict.distances["overlay"] > 0 or found_by_dhash

    return [
        (
            "oracle: every probe's near-copy pair refused",
            runner.run(veto=lambda p, v: probe(p) and near(v)),
        ),
        (
            "oracle: every probe's pair with changes refused",
            runner.run(veto=lambda p, v: probe(p) and not near(v)),
        ),
        (
            "oracle: probe pairs via region, overlay or dHash only refused",
            runner.run(veto=lambda p, v: probe(p) and relaxed(p, v)),
        ),
    ]


def fine_check(runner: Runner, base: Result, folder: Path, sample: int | None) -> None:
    """The 64x64 check (bench.fine) on every pair the published rules matched that the
    descriptor calls a near copy: how many true and false pairs each limit refuses."""
    from bench import fine

    query_paths, work_paths = manifest_paths(folder, sample)
    _, _, _, matched = base
    rows: list[tuple[bool, str, dict[str, float]]] = []
    for number, works in matched.items():
        expected = runner.expected(number)
        for work, (variant, verdict) in works.items():
            if verdict.distances["changed"] >= NEAR or expected not in (None, work):
                continue
            k = runner.settled_by(number, work, variant, verdict)
            query = fine.grey(fine.query_pictures(query_paths[number])[k])
            registered = fine.grey(fine.work_pictures(work_paths[work])[variant])
            rows.append(
                (
                    expected is None,
                    runner.queries[number].edit,
                    fine.fine_distances(query, registered),
                )
            )
    true_rows = [row for row in rows if not row[0]]
    false_rows = [row for row in rows if row[0]]
    print(f"near copies matched: {len(true_rows)} true pairs, {len(false_rows)} false pairs")
    for limit in (0.01, 0.02, 0.03):
        for alpha in (0.0, 0.9):
            # alpha: a query less sharp than alpha x the registered picture lost its detail
            # (blur, downscaling) and is not held to the finer picture.
            def refused(
                feats: dict[str, float], limit: float = limit, alpha: float = alpha
            ) -> bool:
                lost = feats["q_sharp"] < alpha * feats["r_sharp"]
                return feats["changed"] > limit and not lost

            lost_true = Counter(edit for _, edit, f in true_rows if refused(f))
            worst = ", ".join(f"{edit} {n}" for edit, n in lost_true.most_common(4))
            print(
                f"  64x64 changed <= {limit}, detail loss below {alpha}: refuses "
                f"{sum(lost_true.values())} true pairs ({worst}), "
                f"{sum(refused(f) for _, _, f in false_rows)} false pairs"
            )


def fine_veto(runner: Runner, folder: Path, sample: int | None, limit: float, alpha: float) -> Veto:
    """Refuse a near copy whose 64x64 grey pictures differ in over `limit` of the cells,
    unless the query is less sharp than `alpha` times the registered picture."""
    from bench import fine

    query_paths, work_paths = manifest_paths(folder, sample)

    def veto(pair: Pair, verdict: Verdict) -> bool:
        if verdict.distances["changed"] >= NEAR:
            return False
        query = fine.grey(fine.query_pictures(query_paths[pair.query])[pair.k])
        registered = fine.grey(fine.work_pictures(work_paths[pair.work])[pair.variant])
        feats = fine.fine_distances(query, registered)
        return feats["changed"] > limit and feats["q_sharp"] >= alpha * feats["r_sharp"]

    return veto


def fine_work_rule(
    runner: Runner, folder: Path, sample: int | None, limit: float, alpha: float
) -> ItemRule:
    """The 64x64 check applied to the work: a matched work is refused when any of its
    candidate pairs is a near copy to the descriptor and refused by the check (fine_veto),
    whichever path settled it."""
    veto = fine_veto(runner, folder, sample, limit, alpha)

    def rule(
        number: int, matched: dict[int, tuple[str, Verdict]]
    ) -> dict[int, tuple[str, Verdict]]:
        found = runner.candidates[number]
        assert found is not None
        searched, by_work = found
        kept = {}
        for work, settled in matched.items():
            refused = False
            for variant, k, registered in by_work[work]:
                verdict = rules.verify(
                    searched[k], registered, runner.config, region=k > 0, variant=variant
                )
                if verdict.matched and veto(Pair(number, k, work, variant), verdict):
                    refused = True
                    break
            if not refused:
                kept[work] = settled
        return kept

    return rule


def orb_experiments(runner: Runner, base: Result, folder: Path, sample: int | None) -> None:
    """Pairs found or accepted by a relaxed path (a query region, an overlay inside the
    picture, dHash only) confirmed by ORB keypoints and a RANSAC similarity fit (bench.fine):
    at least `least` inliers, checked only when both pictures have `needed` keypoints."""
    from bench import fine

    query_paths, work_paths = manifest_paths(folder, sample)
    radius = runner.config.phash_radius
    query_points = cache(lambda n, k: fine.keypoints(fine.query_pictures(query_paths[n])[k]))
    work_points = cache(lambda w, v: fine.keypoints(fine.work_pictures(work_paths[w])[v]))

    @cache
    def inliers(pair: Pair) -> int:
        return fine.inliers(query_points(pair.query, pair.k), work_points(pair.work, pair.variant))

    def veto_of(least: int, needed: int, share: float | None = None, lost: float = 0.0) -> Veto:
        """At least `least` inliers; with `share`, that share of the fewer keypoints if it
        is less; not checked when the query has under `lost` times the registered
        picture's keypoints (it lost its detail)."""

        def veto(pair: Pair, verdict: Verdict) -> bool:
            found_by_dhash = verdict.distances["phash"] > radius
            if not (pair.k > 0 or verdict.distances["overlay"] > 0 or found_by_dhash):
                return False
            in_query = len(query_points(pair.query, pair.k)[0])
            in_work = len(work_points(pair.work, pair.variant)[0])
            fewer = min(in_query, in_work)
            if fewer < needed or in_query < lost * in_work:
                return False
            limit = least if share is None else min(least, share * fewer)
            return inliers(pair) < limit

        return veto

    for least in (4, 6, 8, 15):
        for needed in (0, 30):
            name = f"relaxed paths: {least}+ ORB inliers when {needed}+ keypoints"
            print(summary(name, runner.run(veto=veto_of(least, needed)), base), flush=True)
    for least, share in ((8, 0.1), (12, 0.2)):
        name = f"relaxed paths: min({least}, {share} x fewer keypoints) ORB inliers"
        print(summary(name, runner.run(veto=veto_of(least, 0, share)), base), flush=True)
    for least in (8, 15):
        name = f"relaxed paths: {least}+ ORB inliers unless the query has under half the keypoints"
        print(summary(name, runner.run(veto=veto_of(least, 0, lost=0.5)), base), flush=True)


def manifest_paths(folder: Path, sample: int | None) -> tuple[list[str], list[str]]:
    """The files of load_evalset's queries (edited, then probes) and registered works."""
    lines = [
        json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines() if line
    ]
    seen: Counter[tuple[str, bool]] = Counter()
    kept = []
    for line in lines:
        if line["kind"] != "query":
            continue
        group = (line["edit"], line["work"] is None)
        seen[group] += 1
        if sample is None or seen[group] <= sample:
            kept.append(line)
    queries = [q["path"] for q in kept if q["work"] is not None]
    queries += [q["path"] for q in kept if q["work"] is None]
    works = [w["path"] for w in lines if w["kind"] == "work" and w["split"] == "registered"]
    return queries, works


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval", type=Path, required=True)
    parser.add_argument("--sample", type=int)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument(
        "--orb", action="store_true", help="also ORB confirmation of the relaxed paths"
    )
    parser.add_argument(
        "--fine", action="store_true", help="also the 64x64 check on near copies (decodes images)"
    )
    args = parser.parse_args()
    evalset = load_evalset(args.eval, args.processes, args.sample)
    runner = Runner(evalset)
    base = runner.run()
    print(summary("v3 (published rules)", base), flush=True)
    experiments(runner, base)
    if args.orb:
        orb_experiments(runner, base, args.eval, args.sample)
    if args.fine:
        fine_check(runner, base, args.eval, args.sample)
        for limit, alpha in ((0.03, 0.9), (0.02, 0.9)):
            veto = fine_veto(runner, args.eval, args.sample, limit, alpha)
            name = f"64x64 changed <= {limit} on near copies, unless sharpness < {alpha}"
            print(summary(name, runner.run(veto=veto), base), flush=True)
            rule = fine_work_rule(runner, args.eval, args.sample, limit, alpha)
            name = f"the same, refusing the work on every path ({limit}, {alpha})"
            print(summary(name, runner.run(item_rule=rule), base), flush=True)


if __name__ == "__main__":
    main()
