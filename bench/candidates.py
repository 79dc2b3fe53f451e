"""Second filters for the candidate stage, on real art: `python -m bench.candidates --eval DIR`.

Every option is a rule on a candidate pair (query, registered variant) that today's candidate
rule (pHash within `phash_radius`, or dHash within `dhash_radius` on the framed variants)
already admits. Two things are measured per option, on real pictures only:

- what it keeps: over the edited queries of an evaluation set (bench.evalset, e.g.
  /work/cache/eval-dev), per edit, the queries whose true work stops being a candidate
  ("candidacy lost") and, among the queries the verification matches to their true work, the
  ones it would no longer match ("matches lost"). Every searched part of a query counts (the
  whole, and its regions where the fingerprints have them);
- what it costs: over the pictures of `bench.collisions` (weak pictures and near copies left
  out, pairs from different families), the candidates per query it lets through at 1M, 10M and
  100M works, as `bench.matching --realistic` projects them.

The features are cheap by design: the other 64-bit hash, PDQ's 256 bits (stored per variant),
and the correlation of the 8x8 and 16x16 grey pictures read from the descriptor (a compact
code of 32 to 128 bytes that would have to be stored beside the index).
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.accuracy.external import load_evalset
from bench.collisions import CODES
from bench.matching.realistic import SCALES, colliding_pairs, load_pictures, other_family_pairs
from registry.fingerprints import Hashes
from registry.fingerprints.descriptor import parse
from registry.matching.rules import DEFAULT_MATCHING, MatchingConfig, verify

PHASH_ENTRIES, DHASH_ENTRIES = 12.1, 4.1  # per work, as bench.collisions counts them


@dataclass(frozen=True)
class Pairs:
    """Parallel arrays of candidate pairs and their features."""

    dp: np.ndarray
    dd: np.ndarray
    dq: np.ndarray  # PDQ distance; -1 where the query part has no PDQ (a region)
    r8: np.ndarray
    r16: np.ndarray
    framed: np.ndarray


Rule = Callable[[Pairs], np.ndarray]


def grey_codes(descriptors: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """(8x8, 16x16) grey pictures of each descriptor, centred and scaled to unit length."""
    grey = np.stack([parse(d).grey for d in descriptors]).astype(np.float64)
    out = []
    for size in (8, 16):
        f = grey.shape[1] // size
        small = grey.reshape(len(grey), size, f, size, f).mean(axis=(2, 4)).reshape(len(grey), -1)
        small -= small.mean(axis=1, keepdims=True)
        norm = np.sqrt((small**2).sum(axis=1, keepdims=True))
        out.append(small / np.where(norm == 0, 1, norm))
    return out[0], out[1]


def options(config: MatchingConfig) -> list[tuple[str, Rule]]:
    radius = config.phash_radius

    def joint(dhash_limit: int, phash_limit: int) -> Rule:
        return lambda p: (
            ((p.dp <= radius) & (p.dd <= dhash_limit))
            | ((p.dd <= config.dhash_radius) & p.framed & (p.dp <= phash_limit))
        )

    def pdq(limit: int) -> Rule:
        return lambda p: (p.dq <= limit) | (p.dq < 0)

    def grey8(level: float) -> Rule:
        return lambda p: p.r8 >= level

    def grey16(level: float) -> Rule:
        return lambda p: p.r16 >= level

    def dhash_only(limit: int) -> Rule:
        return lambda p: (p.dp <= radius) | (p.dd <= limit)

    found: list[tuple[str, Rule]] = [("today's rule", lambda p: np.ones(p.dp.size, bool))]
    for limit in (80, 100, 110):
        found.append((f"PDQ <= {limit} (regions pass)", pdq(limit)))
    for level in (0.3, 0.5, 0.7, 0.9):
        found.append((f"8x8 grey correlation >= {level}", grey8(level)))
        found.append((f"16x16 grey correlation >= {level}", grey16(level)))
    for dhash_limit, phash_limit in ((20, 16), (28, 24), (32, 28), (40, 36)):
        found.append(
            (
                f"pHash and dHash: d <= {dhash_limit} | p <= {phash_limit}",
                joint(dhash_limit, phash_limit),
            )
        )
    for limit in (6, 8, 9):
        found.append((f"dHash-only candidates within {limit}", dhash_only(limit)))
    return found


def _verifier(config: MatchingConfig) -> Callable[[Hashes, Hashes, bool, str], bool]:
    """`rules.verify`, told whether the query part is a region and the variant's name."""
    return lambda q, c, region, variant: (
        verify(q, c, config, region=region, variant=variant).matched
    )


def true_pairs(folder: Path, sample: int | None, config: MatchingConfig) -> tuple[Pairs, dict]:
    """Features of every (edited query, true work's variant) pair today's rule admits."""
    evalset = load_evalset(folder, 2, sample)
    dataset = evalset.dataset
    check = _verifier(config)
    framed_names = set(config.dhash_variants)
    rows: list[tuple] = []
    query_of, edit_of, matched = [], [], []
    descriptors: list[bytes] = []
    for number, query in enumerate(dataset.queries):
        registered = dataset.registered[query.work].fingerprints if query.work is not None else None
        if query.fingerprint is None or registered is None:
            continue
        searched = getattr(
            query.fingerprint, "searched", lambda fp=query.fingerprint: [fp.hashes]
        )()
        for part, hashes in enumerate(searched):
            for name, variant in registered.variants.items():
                dp = (hashes.phash ^ variant.phash).bit_count()
                dd = (hashes.dhash ^ variant.dhash).bit_count()
                framed = name in framed_names
                if dp > config.phash_radius and not (framed and dd <= config.dhash_radius):
                    continue
                dq = (
                    (
                        int.from_bytes(hashes.pdq, "big") ^ int.from_bytes(variant.pdq, "big")
                    ).bit_count()
                    if any(hashes.pdq)
                    else -1
                )
                rows.append((dp, dd, dq, framed))
                descriptors += [hashes.descriptor, variant.descriptor]
                query_of.append(number)
                edit_of.append(query.edit)
                matched.append(check(hashes, variant, part > 0, name))
    r8, r16 = grey_codes(descriptors)
    table = np.array(rows, dtype=np.int64).reshape(-1, 4)
    pairs = Pairs(
        table[:, 0],
        table[:, 1],
        table[:, 2],
        (r8[0::2] * r8[1::2]).sum(axis=1),
        (r16[0::2] * r16[1::2]).sum(axis=1),
        table[:, 3].astype(bool),
    )
    extra = {
        "query": np.array(query_of),
        "edit": np.array(edit_of),
        "matched": np.array(matched, dtype=bool),
        "edits": evalset.edits,
        "queries": len(dataset.queries),
    }
    return pairs, extra


def decoy_pairs(config: MatchingConfig) -> tuple[Pairs, int, int]:
    """Features of every colliding pair of real pictures from different families."""
    pictures = load_pictures(str(CODES), config)
    pairs, _ = colliding_pairs(pictures, config)
    a, b = pairs[:, 0], pairs[:, 1]
    r8, r16 = grey_codes([pictures.descriptor[i].tobytes() for i in range(pictures.phash.size)])
    features = Pairs(
        np.bitwise_count(pictures.phash[a] ^ pictures.phash[b]).astype(np.int64),
        np.bitwise_count(pictures.dhash[a] ^ pictures.dhash[b]).astype(np.int64),
        np.bitwise_count(pictures.pdq[a] ^ pictures.pdq[b]).sum(axis=1).astype(np.int64),
        (r8[a] * r8[b]).sum(axis=1),
        (r16[a] * r16[b]).sum(axis=1),
        np.ones(a.size, bool),  # every picture stands for a framed variant too
    )
    return features, other_family_pairs(pictures.family), pictures.phash.size


def report(true: Pairs, extra: dict, decoys: Pairs, total: int, config: MatchingConfig) -> None:
    query, edit, matched = extra["query"], extra["edit"], extra["matched"]
    candidates_of = set(query.tolist())
    matched_of = set(query[matched].tolist())
    print(
        f"edited queries: {extra['queries']:,}; whose true work is a candidate today: "
        f"{len(candidates_of):,}; matched to it by the verification: {len(matched_of):,}"
    )
    header = (
        f"{'option':<44}{'cand. lost':>11}{'matches lost':>13}"
        + "".join(f"{f'@{n // 1_000_000}M':>10}" for n in SCALES)
        + "  matches lost per edit"
    )
    print(header)
    print("-" * len(header))
    for name, rule in options(config):
        keep = rule(true)
        lost_candidacy = candidates_of - set(query[keep].tolist())
        lost_matches = matched_of - set(query[keep & matched].tolist())
        passed = rule(decoys)
        near_p = decoys.dp <= config.phash_radius
        per_work = (
            (passed & near_p).sum() * PHASH_ENTRIES + (passed & ~near_p).sum() * DHASH_ENTRIES
        ) / total
        edits_of = {q: e for q, e in zip(query.tolist(), edit.tolist(), strict=True)}
        per_edit = Counter(edits_of[q] for q in lost_matches)
        print(
            f"{name:<44}{len(lost_candidacy):>11}{len(lost_matches):>13}"
            + "".join(f"{n * per_work:>10,.0f}" for n in SCALES)
            + "  "
            + " ".join(f"{e}:{c}" for e, c in per_edit.most_common())
        )
    print(
        "@N: candidates per query at N works (pairs of real pictures from different families, "
        "weak pictures and near copies left out)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.candidates", description=__doc__)
    parser.add_argument("--eval", type=Path, required=True, help="a folder from bench.evalset")
    parser.add_argument("--sample", type=int, default=None, help="queries per edit")
    args = parser.parse_args()
    started = time.perf_counter()
    config = DEFAULT_MATCHING
    true, extra = true_pairs(args.eval, args.sample, config)
    decoys, total, pictures = decoy_pairs(config)
    print(f"evaluation set {args.eval}; {pictures:,} real pictures for the load ({total:,} pairs)")
    report(true, extra, decoys, total, config)
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
