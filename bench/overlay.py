"""Overlays against the plain baselines, offline: `python -m bench.overlay --eval FOLDER`.

Fingerprints come from bench.accuracy's cache (load_evalset); every query's candidates are
found once, and the item decision (rules.verify_item) is re-run with `rules.verify` replaced
by each variant of the verification (`variants`: without the rules for pairs the plain
hashes accept, the PDQ@31 rule for pHash pairs only, for every plain path, and as published
with `pdq_path_radius`), each pair's verdict computed
once per variant (a run takes seconds once the fingerprints are cached). Prints, per edit,
recall by any match and by strong match beside plain pHash@10 and PDQ@31 on the same files
("<" where a variant is below either), false matches (all probes, flat graphics), any and
strong, edited queries matched to a wrong work, the probes and wrong-work queries each
variant matches that the one before it does not, and why each edited query a plain hash
finds is missed (`causes`: the weak-image gate, or which kind of candidate pair was refused).

A last variant gives the query's untrimmed frame (a region) a PDQ, the file's plain PDQ
standing in for it: what the rule for pairs both plain hashes accept would find if regions
carried a PDQ on the wire (they carry zeros).

`--explain EDIT` prints, for each query of EDIT that plain pHash@10 or PDQ@31 finds and the
published rules miss, the distances of its work's candidate pairs; `--pictures DIR` saves
side-by-sides (query | registered original) of those queries as PNG.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from PIL import Image

from bench.accuracy.__main__ import plain_matches
from bench.accuracy.external import EvalSet, load_evalset
from bench.corpus2 import FLAT_KINDS
from bench.precision import Runner, manifest_paths
from registry.fingerprints import Hashes, decode_image
from registry.fingerprints.hashing import hash_image
from registry.matching import rules
from registry.matching.rules import DEFAULT_MATCHING, MatchingConfig, Verdict

VerifyFunction = Callable[..., Verdict]


@dataclass
class Outcome:
    """What one verification variant decided on the evaluation set."""

    any: Counter[str] = field(default_factory=Counter)
    strong: Counter[str] = field(default_factory=Counter)
    total: Counter[str] = field(default_factory=Counter)
    # Edited queries a plain hash finds and this variant does not: (edit, query number).
    below_plain: list[tuple[str, int]] = field(default_factory=list)
    false_any: Counter[str] = field(default_factory=Counter)  # "all", "flat"
    false_strong: Counter[str] = field(default_factory=Counter)
    probes: Counter[str] = field(default_factory=Counter)
    false_numbers: set[int] = field(default_factory=set)
    strong_false_numbers: set[int] = field(default_factory=set)
    # Edited queries matched to a work other than their own (any match, strong match).
    wrong_numbers: set[int] = field(default_factory=set)
    strong_wrong_numbers: set[int] = field(default_factory=set)
    # Items over the verification budget (decided invalid): "edited", "probes".
    over_budget: Counter[str] = field(default_factory=Counter)


class Harness:
    """One evaluation set's candidates and plain-hash baselines, verified under variants."""

    def __init__(self, evalset: EvalSet, config: MatchingConfig = DEFAULT_MATCHING) -> None:
        self.runner = Runner(evalset, config)
        self.config = config
        self.evalset = evalset
        registry = self.runner.registry
        self.plain = [plain_matches(query, registry) for query in self.runner.queries]
        probes = len(evalset.dataset.distinct)
        edited = len(self.runner.queries) - probes
        self.flat = [False] * edited + [kind in FLAT_KINDS for kind in evalset.probe_categories]
        self._memo: dict[tuple[str, int, int, int, str], Verdict] = {}

    def decide(self, name: str, verify: VerifyFunction, number: int) -> rules.ItemVerdicts:
        """rules.verify_item for one query, `verify` standing in for rules.verify."""
        found = self.runner.candidates[number]
        if found is None:
            return rules.ItemVerdicts()
        searched, by_work = found
        ids = {id(h): k for k, h in enumerate(searched)}
        work_of = {id(h): w for w, pairs in by_work.items() for _, _, h in pairs}
        original = rules.verify

        def cached(
            query: Hashes,
            candidate: Hashes,
            config: MatchingConfig = DEFAULT_MATCHING,
            *,
            region: bool = False,
            variant: str = "original",
        ) -> Verdict:
            key = (name, number, ids[id(query)], work_of[id(candidate)], variant)
            verdict = self._memo.get(key)
            if verdict is None:
                verdict = verify(query, candidate, config, region=region, variant=variant)
                self._memo[key] = verdict
            return verdict

        rules.verify = cached
        try:
            upright = self.runner.upright[number]
            return rules.verify_item(searched, by_work, self.config, upright=upright)
        finally:
            rules.verify = original

    def run(self, name: str, verify: VerifyFunction) -> Outcome:
        outcome = Outcome()
        for number, query in enumerate(self.runner.queries):
            item = self.decide(name, verify, number)
            outcome.over_budget["probes" if query.work is None else "edited"] += item.over_budget
            matched = set() if item.over_budget else set(item.matched)
            strong = set() if item.over_budget else set(item.strong)
            if query.work is None:
                groups = ["all", "flat"] if self.flat[number] else ["all"]
                for group in groups:
                    outcome.probes[group] += 1
                    outcome.false_any[group] += bool(matched)
                    outcome.false_strong[group] += bool(strong)
                if matched:
                    outcome.false_numbers.add(number)
                if strong:
                    outcome.strong_false_numbers.add(number)
                continue
            outcome.total[query.edit] += 1
            if matched - {query.work}:
                outcome.wrong_numbers.add(number)
            if strong - {query.work}:
                outcome.strong_wrong_numbers.add(number)
            outcome.any[query.edit] += query.work in matched
            outcome.strong[query.edit] += query.work in strong
            by_phash, by_pdq = self.plain[number]
            if query.work in by_phash | by_pdq and query.work not in matched:
                outcome.below_plain.append((query.edit, number))
        return outcome

    def baseline(self) -> tuple[Counter[str], Counter[str], Counter[str]]:
        """Per edit: hits of plain pHash@10, of PDQ@31; false matches of each ("phash", "pdq")."""
        phash: Counter[str] = Counter()
        pdq: Counter[str] = Counter()
        false: Counter[str] = Counter()
        for number, query in enumerate(self.runner.queries):
            by_phash, by_pdq = self.plain[number]
            if query.work is None:
                false["phash"] += bool(by_phash)
                false["pdq"] += bool(by_pdq)
                continue
            phash[query.edit] += query.work in by_phash
            pdq[query.edit] += query.work in by_pdq
        return phash, pdq, false


def table(harness: Harness, outcomes: dict[str, Outcome]) -> str:
    """Per-edit recall (any / strong) of each variant, the baselines, and false matches."""
    phash, pdq, false = harness.baseline()
    names = list(outcomes)
    first = outcomes[names[0]]
    lines = [
        f"{'edit':<15}"
        + "".join(f"{name[:17]:>18}" for name in names)
        + f"{'pHash@10':>9}{'PDQ@31':>7}"
    ]
    for edit in harness.evalset.edits:
        n = first.total[edit]
        cells = "".join(
            f"{outcomes[name].any[edit]:>9}/{outcomes[name].strong[edit]:<3}"
            f"{'<' if outcomes[name].any[edit] < max(phash[edit], pdq[edit]) else ' ':>6}"
            for name in names
        )
        lines.append(f"{edit:<15}{cells}{phash[edit]:>9}{pdq[edit]:>7}   (of {n})")
    totals = "".join(
        f"{sum(o.any.values()):>9}/{sum(o.strong.values()):<8}" for o in outcomes.values()
    )
    lines.append(f"{'hits any/strong':<15}{totals}")
    for group in ("all", "flat"):
        cells = "".join(
            f"{o.false_any[group]:>9}/{o.false_strong[group]:<8}" for o in outcomes.values()
        )
        extra = f"{false['phash']:>9}{false['pdq']:>7}" if group == "all" else ""
        lines.append(f"{'false ' + group:<15}{cells}{extra}   (of {first.probes[group]})")
    wrong = "".join(
        f"{len(o.wrong_numbers):>9}/{len(o.strong_wrong_numbers):<8}" for o in outcomes.values()
    )
    lines.append(f"{'wrong work':<15}{wrong}")
    below = "".join(f"{len(o.below_plain):>18}" for o in outcomes.values())
    lines.append(f"{'below plain':<15}{below}")
    over = "".join(
        f"{o.over_budget['edited']:>9}/{o.over_budget['probes']:<8}" for o in outcomes.values()
    )
    lines.append(f"{'over budget':<15}{over}   (edited/probes)")
    return "\n".join(lines)


def causes(harness: Harness, outcome: Outcome) -> str:
    """Why each edited query a plain hash finds is missed, counted per edit: its registered
    work refused by the weak-image gate (registered for exact copies only), the query refused
    by the gate, no candidate pair of its work, a pair found by the whole query's pHash
    refused, one found by the whole query's dHash only refused, or only a region's pairs
    refused (the untrimmed frame, whose box is the whole frame, or an XY-cut rectangle);
    for a refused pair, the limits its nearest pair on that path breaks."""
    runner = harness.runner
    config = harness.config
    counts: dict[str, Counter[str]] = {}
    for edit, number in outcome.below_plain:
        query = runner.queries[number]
        found = runner.candidates[number]
        if query.work in runner.weak:
            cause = "work gated"
        elif found is None:
            cause = "query gated"
        elif query.work not in found[1]:
            cause = "no candidate"
        else:
            searched = found[0]
            pairs = found[1][query.work]

            def phash(pair: tuple[str, int, Hashes], searched: list[Hashes] = searched) -> int:
                return (pair[2].phash ^ searched[pair[1]].phash).bit_count()

            near = [p for p in pairs if p[1] == 0 and phash(p) <= config.phash_radius]
            whole = [p for p in pairs if p[1] == 0]
            regions = [p for p in pairs if p[1] > 0]
            assert query.fingerprint is not None
            boxes = [box for box, _ in query.fingerprint.regions]
            if near:
                cause, path = "pHash pair refused", near
            elif whole:
                cause, path = "dHash pair refused", whole
            elif any(boxes[p[1] - 1] == (0, 0, 1000, 1000) for p in regions):
                cause, path = "untrimmed frame refused", regions
            else:
                cause, path = "XY-cut region refused", regions
            variant, k, registered = min(path, key=phash)
            verdict = rules.verify(searched[k], registered, config, region=k > 0, variant=variant)
            # Every hash agreeing (rules.verify's `pdq_path_radius`): held to the whole
            # query's limits, not its path's stricter ones.
            vouched = rules.vouched_for(
                searched[k], registered, verdict.distances, config, region=k > 0
            )
            broken = broken_limits(verdict, config, k > 0 and not vouched, variant, vouched)
            if not rules._pdq_agrees(searched[k], registered, config, config.pdq_radius):
                broken.append("PDQ over its radius")  # so the rule for plain pairs cannot help
            cause += f" ({'+'.join(broken)})"
        counts.setdefault(edit, Counter())[cause] += 1
    lines = ["missed queries a plain hash finds, by cause (the limits the nearest pair breaks):"]
    for edit, counted in counts.items():
        lines.append(f"  {edit:<15}" + ", ".join(f"{c} {n}" for c, n in counted.most_common()))
    return "\n".join(lines)


def broken_limits(
    verdict: Verdict, config: MatchingConfig, region: bool, variant: str, vouched: bool = False
) -> list[str]:
    """The descriptor limits a refused pair breaks, with the limits of its path (rules.verify:
    stricter for a dHash-only pair, a region, a registered crop, unless every hash the pair
    carries agrees: `vouched`)."""
    d = verdict.distances
    if "luma" not in d:
        return ["not compared"]  # a region against a registered crop
    limits = {
        "luma": config.max_luma,
        "colour": config.max_colour,
        "changed": config.max_changed,
        "overlay": config.max_overlay,
        "scattered": config.max_scattered,
        "changed_ink": config.max_changed_ink,
    }
    if d["phash"] > config.phash_radius and d["dhash"] <= config.dhash_radius and not vouched:
        limits["changed"] = min(limits["changed"], config.dhash_max_changed)
        limits["scattered"] = min(limits["scattered"], config.dhash_max_scattered)
        limits["changed_ink"] = min(limits["changed_ink"], config.dhash_max_changed_ink)
    if region:
        limits["changed"] = min(limits["changed"], config.region_max_changed)
        limits["overlay"] = min(limits["overlay"], config.region_max_overlay)
    if variant.startswith("crop_"):
        limits["changed"] = min(limits["changed"], config.crop_max_changed)
    broken = [name for name, limit in limits.items() if d[name] > limit]
    return broken or ["PDQ rule's evidence"]


def explain(
    harness: Harness,
    outcome: Outcome,
    edit: str,
    folder: tuple[Path, int],
    pictures: Path | None,
) -> None:
    """The distances of the missed queries' nearest pairs with their own work; `folder` is
    the evaluation set and its sample, for the pictures' files."""
    runner = harness.runner
    query_paths, work_paths = manifest_paths(*folder)
    for edit_name, number in outcome.below_plain:
        if edit_name != edit:
            continue
        query = runner.queries[number]
        found = runner.candidates[number]
        by_phash, by_pdq = harness.plain[number]
        plain = f"plain pHash {'yes' if query.work in by_phash else 'no'}"
        plain += f", PDQ {'yes' if query.work in by_pdq else 'no'}"
        pairs = [] if found is None or query.work not in found[1] else found[1][query.work]
        print(f"query {number} ({query.key}): {plain}; {len(pairs)} candidate pairs")
        assert found is not None or not pairs
        for variant, k, registered in pairs[:4]:
            searched = found[0] if found else []
            verdict = rules.verify(
                searched[k], registered, harness.config, region=k > 0, variant=variant
            )
            shown = {key: verdict.distances[key] for key in sorted(verdict.distances)}
            print(f"   {variant:<14} k={k} score {verdict.score}: {shown}")
        if pictures is not None and query.work is not None:
            pictures.mkdir(parents=True, exist_ok=True)
            side_by_side(query_paths[number], work_paths[query.work]).save(
                pictures / f"{edit}-{number}.png"
            )


def side_by_side(left: str, right: str, height: int = 320) -> Image.Image:
    """Two pictures scaled to one height, next to each other."""
    images = [Image.open(path).convert("RGB") for path in (left, right)]
    scaled = [im.resize((max(1, im.width * height // im.height), height)) for im in images]
    out = Image.new("RGB", (sum(im.width for im in scaled) + 8, height), (255, 0, 255))
    scaled_x = 0
    for im in scaled:
        out.paste(im, (scaled_x, 0))
        scaled_x += im.width + 8
    return out


def variants(config: MatchingConfig) -> dict[str, VerifyFunction]:
    """The verification without the rules for pairs the plain hashes accept (version 3 as
    first published, `pdq_radius` and `pdq_path_radius` -1), with the PDQ@31 rule for pairs
    the whole query's pHash found only (as first adopted: a dHash-only pair verified without
    it), with it on every plain path but without `pdq_path_radius` (as published before that
    rule), and as published now."""
    verify = rules.verify

    no_pdq = replace(config, pdq_radius=-1, pdq_path_radius=-1)
    no_path_rule = replace(config, pdq_path_radius=-1)

    def without_pdq(
        query: Hashes, candidate: Hashes, _: MatchingConfig = config, **path: Any
    ) -> Verdict:
        return verify(query, candidate, no_pdq, **path)

    def phash_pairs_only(
        query: Hashes, candidate: Hashes, _: MatchingConfig = config, **path: Any
    ) -> Verdict:
        by_phash = (query.phash ^ candidate.phash).bit_count() <= config.phash_radius
        return verify(query, candidate, no_path_rule if by_phash else no_pdq, **path)

    def without_path_rule(
        query: Hashes, candidate: Hashes, _: MatchingConfig = config, **path: Any
    ) -> Verdict:
        return verify(query, candidate, no_path_rule, **path)

    def published(
        query: Hashes, candidate: Hashes, _: MatchingConfig = config, **path: Any
    ) -> Verdict:
        return verify(query, candidate, config, **path)

    return {
        "without the PDQ rule": without_pdq,
        "pHash pairs only": phash_pairs_only,
        "PDQ@31 rule only": without_path_rule,
        "published": published,
    }


def untrimmed_frame_pdq(
    harness: Harness, config: MatchingConfig, own: dict[int, tuple[bytes, int]] | None = None
) -> VerifyFunction:
    """The published verification with the query's untrimmed frame (a region whose box is the
    whole frame) carrying a PDQ, as a client would send it if regions carried one: `own`
    maps a query's number to its frame's (PDQ, quality) (`frame_pdqs`); without it the
    file's plain PDQ stands in (the file as decoded, not trimmed, at full size; quality, which
    the plain hashes do not keep, taken as 100)."""
    verify = rules.verify
    stand_in: dict[int, tuple[bytes, int]] = {}
    for number, (found, query) in enumerate(
        zip(harness.runner.candidates, harness.runner.queries, strict=True)
    ):
        if found is None or query.fingerprint is None:
            continue
        for k, (box, _) in enumerate(query.fingerprint.regions, start=1):
            if box == (0, 0, 1000, 1000):
                pdq = (query.plain.pdq, 100) if own is None else own.get(number)
                if pdq is not None:
                    stand_in[id(found[0][k])] = pdq

    def with_frame_pdq(
        query: Hashes, candidate: Hashes, _: MatchingConfig = config, **path: Any
    ) -> Verdict:
        frame = stand_in.get(id(query))
        if frame is not None:
            query = replace(query, pdq=frame[0], pdq_quality=frame[1])
        return verify(query, candidate, config, **path)

    return with_frame_pdq


def _frame_pdq(path: str) -> tuple[bytes, int]:
    hashes = hash_image(decode_image(Path(path).read_bytes()).untrimmed)
    return hashes.pdq, hashes.pdq_quality


def frame_pdqs(
    harness: Harness, folder: tuple[Path, int], processes: int
) -> dict[int, tuple[bytes, int]]:
    """The PDQ and quality of each query's untrimmed frame, from its file (decoded and
    normalized as the fingerprint does, not trimmed), for the queries that have one."""
    paths = manifest_paths(*folder)[0]
    numbers = [
        number
        for number, query in enumerate(harness.runner.queries)
        if query.fingerprint is not None
        and any(box == (0, 0, 1000, 1000) for box, _ in query.fingerprint.regions)
    ]
    with multiprocessing.Pool(processes) as pool:
        found = pool.map(_frame_pdq, [paths[number] for number in numbers], chunksize=16)
    return dict(zip(numbers, found, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval", type=Path, required=True, help="an evaluation set's folder")
    parser.add_argument(
        "--sample", type=int, default=100, help="first N queries of each edit and as many probes"
    )
    parser.add_argument("--processes", type=int, default=2, help="to fingerprint an uncached set")
    parser.add_argument("--explain", help="print the missed queries of this edit")
    parser.add_argument(
        "--frame-pdq",
        action="store_true",
        help="hash each query's untrimmed frame for its PDQ (decodes the files) instead of "
        "letting the file's plain PDQ stand in",
    )
    parser.add_argument("--pictures", type=Path, help="save side-by-sides of the missed queries")
    args = parser.parse_args()
    harness = Harness(load_evalset(args.eval, args.processes, args.sample))
    verifications = variants(harness.config)
    own = frame_pdqs(harness, (args.eval, args.sample), args.processes) if args.frame_pdq else None
    verifications["untrimmed frame's PDQ"] = untrimmed_frame_pdq(harness, harness.config, own)
    outcomes = {name: harness.run(name, verify) for name, verify in verifications.items()}
    print(table(harness, outcomes), flush=True)
    ordered = list(outcomes.items())
    for (_, before), (name, outcome) in itertools.pairwise(ordered):
        # Against the variant before it: what this variant's change alone adds.
        added = sorted(outcome.false_numbers - before.false_numbers)
        wrong = sorted(outcome.wrong_numbers - before.wrong_numbers)
        print(f"{name}: new false matches {added}, new wrong-work matches {wrong}")
    published = outcomes["published"]
    print(causes(harness, published))
    if args.explain:
        explain(harness, published, args.explain, (args.eval, args.sample), args.pictures)


if __name__ == "__main__":
    main()
