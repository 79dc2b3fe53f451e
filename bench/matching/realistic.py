"""`python -m bench.matching --realistic`: the candidate stage on codes like real hashes.

Uniform random codes are the best case for the candidate search: two codes almost never fall
within the radius, so a query has next to no candidates and nothing to verify. Real pHashes
and dHashes cluster (mostly-white drawings, sprites and icons share most of their bits). This
mode measures, in one run and beside each other:

1. the collision rates of the candidate rule on the real pictures hashed by `bench.collisions`
   (.cache/corpus2/codes.npz): pairs from different families, near copies (PDQ within 31)
   and pictures the weak-image gate refuses left out, as the server leaves them out;
2. the same registry built twice, with uniform codes and with *realistic* codes: the
   (pHash, dHash) pair of a real picture from one half of the families, k random bits flipped
   (k uniform in --flips) so that a million works are not a few thousand codes repeated.
   Queries: real pictures of the other half of the families, perturbed the same way, a share
   of them planted within the radius of a registered entry to check recall;
3. per mode: search q/s, candidates per query (entries and works), verifications per item
   (every candidate a distinct item brings is verified: it matches none, so no early stop),
   the items over the per-item verification budget, the CPU time of one verification on the
   real descriptors, and the items a core decides per second (search plus verification);
   projections to 10M and 100M works (candidates grow linearly with the registry).
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from registry.fingerprints import Hashes
from registry.matching.index import HammingIndex, choose_layout, flip_masks, probe_radii
from registry.matching.matcher import CandidateIndex
from registry.matching.rules import MatchingConfig, verify

CODES_HINT = "run `python -m bench.collisions` first: it hashes the real pictures"
SCALES = (1_000_000, 10_000_000, 100_000_000)
COPY_PDQ = 31
# A verification budget per item, as matching version 3 sets it (MatchingConfig
# max_verifications there); only counted here: the selector enforces it.
BUDGET = 64
VERIFY_SAMPLE = 400  # (query, candidate) pairs timed through rules.verify


@dataclass(frozen=True)
class RealCodes:
    phash: np.ndarray
    dhash: np.ndarray
    picture: np.ndarray  # row in the codes file: its descriptor


@dataclass(frozen=True)
class Pictures:
    """The real pictures of the codes file that the weak-image gate lets through."""

    phash: np.ndarray
    dhash: np.ndarray
    pdq: np.ndarray
    descriptor: np.ndarray
    kind: np.ndarray
    family: np.ndarray
    refused: int


def load_pictures(path: str, config: MatchingConfig) -> Pictures:
    if not Path(path).exists():
        raise SystemExit(f"bench.matching --realistic: no real codes at {path}; {CODES_HINT}")
    with np.load(path) as saved:
        if "information" not in saved.files:
            raise SystemExit(f"bench.matching --realistic: {path} is outdated; {CODES_HINT}")
        strong = saved["information"] >= config.min_information
        return Pictures(
            saved["phash"][strong],
            saved["dhash"][strong],
            saved["pdq"][strong],
            saved["descriptor"][strong],
            saved["kind"][strong],
            saved["family"][strong],
            int((~strong).sum()),
        )


def split(pictures: Pictures) -> tuple[RealCodes, RealCodes]:
    """(codes of the registry's families, codes of the queries' families)."""
    side = np.array(
        [hashlib.sha1(name.encode()).digest()[0] % 2 for name in pictures.family.tolist()],  # noqa: S324
        dtype=bool,
    )
    rows = np.arange(side.size)
    return (
        RealCodes(pictures.phash[~side], pictures.dhash[~side], rows[~side]),
        RealCodes(pictures.phash[side], pictures.dhash[side], rows[side]),
    )


# -- 1. collision rates ----------------------------------------------------------------------


def colliding_pairs(pictures: Pictures, config: MatchingConfig) -> tuple[np.ndarray, np.ndarray]:
    """(pairs (i < j) from different families within pHash or dHash radius, not near copies;
    whether each is within the pHash radius), by a self-join through the index itself."""
    count = pictures.phash.size
    ids, variants = np.arange(count), np.zeros(count, np.uint8)
    found = []
    for codes, radius in (
        (pictures.phash, config.phash_radius),
        (pictures.dhash, config.dhash_radius),
    ):
        result = HammingIndex.from_arrays(ids, variants, codes, radius=radius).search(codes)
        found.append(np.stack([result.query_index, result.work_id], axis=1))
    pairs = np.unique(np.concatenate(found), axis=0)
    pairs = pairs[pairs[:, 0] < pairs[:, 1]]
    family = np.unique(pictures.family, return_inverse=True)[1]
    pairs = pairs[family[pairs[:, 0]] != family[pairs[:, 1]]]
    pdq = np.bitwise_count(pictures.pdq[pairs[:, 0]] ^ pictures.pdq[pairs[:, 1]]).sum(axis=1)
    pairs = pairs[pdq > COPY_PDQ]
    near_p = (
        np.bitwise_count(pictures.phash[pairs[:, 0]] ^ pictures.phash[pairs[:, 1]])
        <= config.phash_radius
    )
    return pairs, near_p


def other_family_pairs(family: np.ndarray) -> int:
    sizes = np.unique(family, return_counts=True)[1].astype(np.int64)
    return int(family.size * (family.size - 1) // 2 - (sizes * (sizes - 1) // 2).sum())


def report_rates(
    pictures: Pictures, config: MatchingConfig, entries: tuple[float, float]
) -> dict[str, float]:
    """Print the rates per kind of art and the candidates per query they imply."""
    pairs, near_p = colliding_pairs(pictures, config)
    phash_entries, dhash_entries = entries
    kinds = Counter(pictures.kind.tolist())
    print(
        f"real pictures (bench.collisions, Debian packages of bench/corpus2.py): "
        f"{pictures.phash.size:,} past the weak-image gate ({pictures.refused:,} refused) in "
        f"{np.unique(pictures.family).size} families: "
        + ", ".join(f"{n:,} {kind}" for kind, n in kinds.most_common())
    )
    print(
        f"  collision rates, pairs from different families (near copies, PDQ <= {COPY_PDQ}, "
        f"left out); registry of {phash_entries:.1f} pHash and {dhash_entries:.1f} dHash "
        f"entries a work"
    )
    header = (
        f"  {'kind':<12}{'pairs':>14}{'pHash<=r':>10}{'dHash only':>11}{'either':>10}"
        + "".join(f"{f'cand@{n // 1_000_000}M':>12}" for n in SCALES)
    )
    print(header)
    rates = {}
    for kind in ["all", *sorted(kinds)]:
        if kind == "all":
            total = other_family_pairs(pictures.family)
            selected = np.ones(near_p.size, bool)
        else:
            mine = pictures.kind == kind
            total = other_family_pairs(pictures.family[mine])
            selected = mine[pairs[:, 0]] & mine[pairs[:, 1]]
        if not total:
            continue
        phash_rate = float((near_p & selected).sum()) / total
        dhash_rate = float((~near_p & selected).sum()) / total
        per_query = phash_rate * phash_entries + dhash_rate * dhash_entries
        if kind == "all":
            rates = {"phash": phash_rate, "dhash_only": dhash_rate, "per_work": per_query}
        print(
            f"  {kind:<12}{total:>14,}{phash_rate:>10.2e}{dhash_rate:>11.2e}"
            f"{phash_rate + dhash_rate:>10.2e}"
            + "".join(f"{n * per_query:>12,.0f}" for n in SCALES)
        )
    uniform = _uniform_rate(config.phash_radius)
    print(
        f"  uniform random codes: {uniform:.1e} a pair "
        f"({SCALES[0] * uniform * (phash_entries + dhash_entries):.2f} candidates a query at 1M)"
    )
    return rates


def _uniform_rate(radius: int) -> float:
    from math import comb

    return sum(comb(64, k) for k in range(radius + 1)) / 2**64


# -- 2. the two registries -------------------------------------------------------------------


def flip_bits(rng: np.random.Generator, codes: np.ndarray, low: int, high: int) -> np.ndarray:
    """Each code with k random bits flipped, k uniform in low..high (a position drawn twice is
    flipped back: cheap at 12M codes, where a permutation per code is not)."""
    flips = rng.integers(low, high + 1, codes.size)
    out = codes.copy()
    for step in range(high):
        bit = np.uint64(1) << rng.integers(0, 64, codes.size).astype(np.uint64)
        out ^= np.where(flips > step, bit, np.uint64(0))
    return out


def realistic_pairs(
    rng: np.random.Generator, real: RealCodes, count: int, flips: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pick = rng.integers(0, real.phash.size, count)
    return (
        flip_bits(rng, real.phash[pick], *flips),
        flip_bits(rng, real.dhash[pick], *flips),
        real.picture[pick],
    )


def entries_touched(codes: np.ndarray, queries: np.ndarray, radius: int) -> float:
    """Mean bucket entries a query reads in a multi-index table of these codes, with the
    layout and probe radii the index would choose for this many entries."""
    layout = choose_layout(codes.size, radius)
    if layout is None:
        return float(codes.size)  # scanned
    radii = probe_radii(layout, radius, codes.size)
    touched = np.zeros(queries.size, np.float64)
    for width, shift, table_radius in zip(layout.widths, layout.shifts, radii, strict=True):
        if table_radius < 0:
            continue
        mask = np.uint64((1 << width) - 1)
        counts = np.bincount(
            ((codes >> np.uint64(shift)) & mask).astype(np.int64), minlength=1 << width
        )
        keys = ((queries >> np.uint64(shift)) & mask).astype(np.int64)
        masks = flip_masks(width, table_radius).astype(np.int64)
        for start in range(0, queries.size, 256):
            block = keys[start : start + 256, None] ^ masks[None, :]
            touched[start : start + 256] += counts[block].sum(axis=1)
    return float(touched.mean())


@dataclass(frozen=True)
class Mode:
    name: str
    phashes: np.ndarray
    dhashes: np.ndarray
    pictures: np.ndarray  # the real picture whose descriptor each registered entry carries
    query_p: np.ndarray
    query_d: np.ndarray
    query_pictures: np.ndarray
    planted: np.ndarray
    planted_rows: np.ndarray


def plant(
    rng: np.random.Generator, phashes: np.ndarray, query_p: np.ndarray, share: float, radius: int
) -> tuple[np.ndarray, np.ndarray]:
    """A share of the queries made within `radius` (in pHash) of a random registered entry:
    (their positions, the rows they were made from)."""
    count = query_p.size
    at = rng.permutation(count)[: int(count * share)]
    rows = rng.integers(0, phashes.size, at.size)
    query_p[at] = flip_bits(rng, phashes[rows], 0, radius)
    return at, rows


# -- 3. measuring ----------------------------------------------------------------------------


def verification_seconds(
    mode: Mode, found_query: np.ndarray, found_row: np.ndarray, pictures: Pictures
) -> float:
    """CPU seconds of one rules.verify on real descriptors, over a sample of the candidates."""
    if not found_query.size:
        return float("nan")
    take = np.linspace(0, found_query.size - 1, min(VERIFY_SAMPLE, found_query.size)).astype(int)
    pairs = [
        (
            Hashes(0, 0, bytes(32), 0, pictures.descriptor[mode.query_pictures[q]].tobytes()),
            Hashes(0, 0, bytes(32), 0, pictures.descriptor[mode.pictures[r]].tobytes()),
        )
        for q, r in zip(found_query[take].tolist(), found_row[take].tolist(), strict=True)
    ]
    verify(*pairs[0])  # compiles the comparison, or loads it from numba's cache
    start = time.process_time()
    for query, candidate in pairs:
        verify(query, candidate)
    return (time.process_time() - start) / len(pairs)


def measure_mode(
    mode: Mode,
    base: tuple[np.ndarray, np.ndarray],
    dhash_rows: np.ndarray,
    pictures: Pictures,
    config: MatchingConfig,
    args: argparse.Namespace,
) -> dict[str, float]:
    work_ids, variants = base
    start = time.perf_counter()
    index = CandidateIndex.from_arrays(work_ids, variants, mode.phashes, mode.dhashes, config)
    build = time.perf_counter() - start
    for part in (index.phash_index, index.dhash_index):
        part.threads = args.threads
    walls, cpus = [], []
    result = None
    for _ in range(max(1, args.repeat)):
        wall, cpu = time.perf_counter(), time.process_time()
        result = index.search(mode.query_p, mode.query_d)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    assert result is not None
    count = mode.query_p.size
    distinct = np.ones(count, bool)
    distinct[mode.planted] = False
    per_query = np.bincount(result.query_index, minlength=count)
    works = np.unique(result.query_index.astype(np.int64) << 32 | result.work_id.astype(np.int64))
    works_per_query = np.bincount(works >> 32, minlength=count)
    # The row of each candidate, for its descriptor: work ids are 1.. in registry order.
    first_row = np.searchsorted(work_ids, result.work_id)
    rows = first_row + _variant_offset(work_ids, variants, first_row, result.variant)
    verify_s = verification_seconds(mode, result.query_index, rows, pictures)
    cpu_search = statistics.median(cpus) / count
    candidates = float(per_query[distinct].mean())
    found = set(
        (result.query_index.astype(np.int64) << 32 | result.work_id.astype(np.int64)).tolist()
    )
    planted_hits = [
        (int(q) << 32 | int(work_ids[r])) in found
        for q, r in zip(mode.planted, mode.planted_rows, strict=True)
    ]
    sample = np.flatnonzero(distinct)[:2000]
    figures = {
        "build_s": build,
        "qps": count / statistics.median(walls),
        "cpu_search_s": cpu_search,
        "candidates": candidates,
        "candidates_p99": float(np.percentile(per_query[distinct], 99)),
        "works": float(works_per_query[distinct].mean()),
        "over_budget": float((per_query[distinct] > BUDGET).mean()),
        "verify_s": verify_s,
        "items_per_core": 1 / (cpu_search + candidates * verify_s),
        "recall": float(np.mean(planted_hits)) if planted_hits else 1.0,
        "touched_phash": entries_touched(mode.phashes, mode.query_p[sample], config.phash_radius),
        "touched_dhash": entries_touched(
            mode.dhashes[dhash_rows], mode.query_d[sample], config.dhash_radius
        ),
    }
    print(
        f"  {mode.name:<10} build {build:5.1f} s; search {figures['qps']:>8,.0f} q/s "
        f"({count / statistics.median(cpus):,.0f} per busy core); entries touched per probe: "
        f"pHash {figures['touched_phash']:,.0f}, dHash {figures['touched_dhash']:,.0f}; "
        f"planted recall {figures['recall']:.2%}"
    )
    print(
        f"  {'':<10} candidates per distinct item {candidates:,.2f} (p99 "
        f"{figures['candidates_p99']:,.0f}) = verifications per item; {figures['works']:,.2f} "
        f"works; over a budget of {BUDGET} verifications: {figures['over_budget']:.1%} of items"
    )
    print(
        f"  {'':<10} one verification {1e6 * verify_s:,.1f} us of CPU (rules.verify, real "
        f"descriptors); items decided per busy core (search + verification): "
        f"{figures['items_per_core']:,.0f}/s"
    )
    return figures


def _variant_offset(
    work_ids: np.ndarray, variants: np.ndarray, first_row: np.ndarray, variant: np.ndarray
) -> np.ndarray:
    """Each candidate's row within its work's rows (variants are stored in a fixed order)."""
    offset = np.zeros(first_row.size, np.int64)
    pending = np.ones(first_row.size, bool)
    for step in range(int(np.bincount(work_ids).max())):
        at = np.minimum(first_row + step, variants.size - 1)
        hit = pending & (variants[at] == variant) & (work_ids[at] == work_ids[first_row])
        offset[hit] = step
        pending &= ~hit
    return offset


def run(
    args: argparse.Namespace,
    config: MatchingConfig,
    make_registry: object,
    dhash_numbers: object,
    codes_path: str,
    entries: tuple[float, float],
) -> None:
    low, high = (int(part) for part in args.flips.split(","))
    pictures = load_pictures(codes_path, config)
    print()
    rates = report_rates(pictures, config, entries)
    registry_real, query_real = split(pictures)
    print(
        f"\nregistries: {args.works:,} works each; realistic codes from "
        f"{registry_real.phash.size:,} pictures, queries from {query_real.phash.size:,} "
        "others (families split in two), "
        f"{low}..{high} random bits flipped per code; {args.queries:,} queries, "
        f"{args.planted:.0%} planted within the pHash radius"
    )
    rng = np.random.default_rng(args.seed + 7)
    base = make_registry(args.works, args.margin_share, args.seed)  # type: ignore[operator]
    dhash_rows = np.isin(base.variants, dhash_numbers(config))  # type: ignore[operator]
    results = {}
    for name in ("uniform", "realistic"):
        size = base.phashes.size
        if name == "uniform":
            phashes, dhashes = base.phashes, base.dhashes
            entry_pictures = rng.integers(0, pictures.phash.size, size)
            query_p = rng.integers(0, 2**64, args.queries, dtype=np.uint64, endpoint=False)
            query_d = rng.integers(0, 2**64, args.queries, dtype=np.uint64, endpoint=False)
            query_pictures = rng.integers(0, pictures.phash.size, args.queries)
        else:
            phashes, dhashes, entry_pictures = realistic_pairs(
                rng, registry_real, size, (low, high)
            )
            query_p, query_d, query_pictures = realistic_pairs(
                rng, query_real, args.queries, (low, high)
            )
        planted, planted_rows = plant(rng, phashes, query_p, args.planted, config.phash_radius)
        mode = Mode(
            name,
            phashes,
            dhashes,
            entry_pictures,
            query_p,
            query_d,
            query_pictures,
            planted,
            planted_rows,
        )
        results[name] = measure_mode(
            mode, (base.work_ids, base.variants), dhash_rows, pictures, config, args
        )
    uniform, real = results["uniform"], results["realistic"]
    scale = 1 / args.works
    print(
        f"  realistic / uniform: search q/s x{real['qps'] / uniform['qps']:.3f}, candidates per "
        f"item {real['candidates']:,.1f} vs {uniform['candidates']:.2f}, items per busy core "
        f"{real['items_per_core']:,.0f} vs {uniform['items_per_core']:,.0f}"
    )
    print("  projections (candidates grow linearly with the registry; search cost taken as at 1M):")
    for works in SCALES:
        measured = real["candidates"] * works * scale
        implied = rates["per_work"] * works
        items = 1 / (real["cpu_search_s"] + measured * real["verify_s"])
        print(
            f"    {works // 1_000_000:>3}M works: {measured:>11,.0f} candidates per item "
            f"(rates above imply {implied:,.0f}), {items:>8,.1f} items per busy core; "
            f"uniform codes {uniform['candidates'] * works * scale:,.2f}"
        )
