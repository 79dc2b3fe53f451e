"""`python -m bench.matching --realistic`: the index on codes distributed like real hashes.

Uniform random codes are the best case for multi-index hashing: every bucket holds about
the same number of entries and two codes almost never fall within the radius. Real pHashes
and dHashes cluster (mostly-white drawings share many bits). This mode builds the same
registry twice, once with uniform codes and once with *realistic* codes, and searches the
same kind of query batch in both:

- realistic registered codes: the (pHash, dHash) pair of a real picture drawn at random
  from half of the families hashed by `bench.collisions` (.cache/corpus2/codes.npz), with
  k random bits flipped in each (k uniform in --flips), so a million works are not a few
  thousand codes repeated;
- realistic queries: real pictures of the *other* half of the families (never the same
  picture as a registered one), perturbed the same way; a share of them planted within
  the radius of a registered entry, as in the uniform mode, to check recall.

Printed per mode: q/s, candidates per query (non-planted queries: the load a distinct item
brings), the candidates per registered entry (comparable with bench.collisions' rates),
and the index entries touched per probe (bucket entries read, before the distance check).
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import time
from dataclasses import dataclass

import numpy as np

from registry.matching.index import choose_layout, flip_masks, probe_radii
from registry.matching.matcher import CandidateIndex
from registry.matching.rules import MatchingConfig

CODES_HINT = "run `python -m bench.collisions` first: it hashes the real pictures"


@dataclass(frozen=True)
class RealCodes:
    phash: np.ndarray
    dhash: np.ndarray


def load_real(path: str) -> tuple[RealCodes, RealCodes]:
    """(codes of the registry's families, codes of the queries' families)."""
    from pathlib import Path

    if not Path(path).exists():
        raise SystemExit(f"bench.matching --realistic: no real codes at {path}; {CODES_HINT}")
    with np.load(path) as saved:
        phash, dhash, family = saved["phash"], saved["dhash"], saved["family"]
    side = np.array(
        [hashlib.sha1(name.encode()).digest()[0] % 2 for name in family.tolist()],  # noqa: S324
        dtype=bool,
    )
    return RealCodes(phash[~side], dhash[~side]), RealCodes(phash[side], dhash[side])


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
) -> tuple[np.ndarray, np.ndarray]:
    pick = rng.integers(0, real.phash.size, count)
    return (
        flip_bits(rng, real.phash[pick], *flips),
        flip_bits(rng, real.dhash[pick], *flips),
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


def measure_mode(
    name: str,
    registry: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    queries: tuple[np.ndarray, np.ndarray],
    dhash_rows: np.ndarray,
    planted: np.ndarray,
    config: MatchingConfig,
    threads: int,
    repeat: int,
) -> dict[str, float]:
    work_ids, variants, phashes, dhashes = registry
    start = time.perf_counter()
    index = CandidateIndex.from_arrays(work_ids, variants, phashes, dhashes, config)
    build = time.perf_counter() - start
    for part in (index.phash_index, index.dhash_index):
        part.threads = threads
    query_p, query_d = queries
    walls, cpus = [], []
    result = None
    for _ in range(max(1, repeat)):
        wall, cpu = time.perf_counter(), time.process_time()
        result = index.search(query_p, query_d)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    assert result is not None
    count = query_p.size
    unplanted = np.ones(count, bool)
    unplanted[planted] = False
    per_query = np.bincount(result.query_index, minlength=count)
    works_per_query = np.bincount(
        np.unique(result.query_index.astype(np.int64) << 32 | result.work_id.astype(np.int64))
        >> 32,
        minlength=count,
    )
    sample = np.flatnonzero(unplanted)[:2000]
    framed = dhash_rows
    figures = {
        "build_s": build,
        "qps": count / statistics.median(walls),
        "cpu_qps": count / statistics.median(cpus),
        "candidates": float(per_query[unplanted].mean()),
        "candidates_p99": float(np.percentile(per_query[unplanted], 99)),
        "works": float(works_per_query[unplanted].mean()),
        "per_entry": float(per_query[unplanted].mean()) / phashes.size,
        "touched_phash": entries_touched(phashes, query_p[sample], config.phash_radius),
        "touched_dhash": entries_touched(dhashes[framed], query_d[sample], config.dhash_radius)
        if config.dhash_radius >= 0
        else 0.0,
        "entries": float(phashes.size),
        "dhash_entries": float(framed.sum()),
    }
    found = set(
        (result.query_index.astype(np.int64) << 32 | result.work_id.astype(np.int64)).tolist()
    )
    figures["recall"] = float(
        np.mean([(int(q) << 32 | int(w)) in found for q, w in planted_pairs(planted, work_ids)])
    )
    print(
        f"  {name:<10} build {build:6.1f} s; {figures['qps']:>9,.0f} q/s "
        f"({figures['cpu_qps']:,.0f} per busy core); "
        f"candidates/query {figures['candidates']:8.2f} (p99 "
        f"{figures['candidates_p99']:.0f}; {figures['works']:.2f} works); per entry "
        f"{figures['per_entry']:.1e}; entries touched/probe pHash {figures['touched_phash']:,.0f}, "
        f"dHash {figures['touched_dhash']:,.0f}; planted recall {figures['recall']:.2%}"
    )
    return figures


_PLANTED_ROWS: dict[int, int] = {}


def planted_pairs(planted: np.ndarray, work_ids: np.ndarray) -> list[tuple[int, int]]:
    return [(int(q), int(work_ids[_PLANTED_ROWS[int(q)]])) for q in planted]


def plant(
    rng: np.random.Generator,
    phashes: np.ndarray,
    query_p: np.ndarray,
    share: float,
    radius: int,
) -> np.ndarray:
    """A share of the queries made within `radius` (in pHash) of a random registered entry."""
    count = query_p.size
    at = rng.permutation(count)[: int(count * share)]
    rows = rng.integers(0, phashes.size, at.size)
    flips = rng.integers(0, radius + 1, at.size)
    near = phashes[rows].copy()
    for step in range(radius):
        bit = np.uint64(1) << rng.integers(0, 64, at.size).astype(np.uint64)
        near ^= np.where(flips > step, bit, np.uint64(0))
    query_p[at] = near
    _PLANTED_ROWS.clear()
    _PLANTED_ROWS.update(zip(at.tolist(), rows.tolist(), strict=True))
    return at


def run(
    args: argparse.Namespace,
    config: MatchingConfig,
    make_registry: object,
    dhash_numbers: object,
    codes_path: str,
) -> None:
    low, high = (int(part) for part in args.flips.split(","))
    registry_real, query_real = load_real(codes_path)
    print(
        f"\nrealistic mode (--realistic): {registry_real.phash.size:,} real pictures for the "
        f"registry, {query_real.phash.size:,} others for the queries (families split in two), "
        f"{low}..{high} random bits flipped per code; {args.works:,} works, "
        f"{args.queries:,} queries, {args.planted:.0%} planted"
    )
    rng = np.random.default_rng(args.seed + 7)
    base = make_registry(args.works, args.margin_share, args.seed)  # type: ignore[operator]
    dhash_rows = np.isin(base.variants, dhash_numbers(config))  # type: ignore[operator]
    results = {}
    for mode in ("uniform", "realistic"):
        if mode == "uniform":
            phashes, dhashes = base.phashes, base.dhashes
            query_p = rng.integers(0, 2**64, args.queries, dtype=np.uint64, endpoint=False)
            query_d = rng.integers(0, 2**64, args.queries, dtype=np.uint64, endpoint=False)
        else:
            phashes, dhashes = realistic_pairs(rng, registry_real, base.phashes.size, (low, high))
            query_p, query_d = realistic_pairs(rng, query_real, args.queries, (low, high))
        planted = plant(rng, phashes, query_p, args.planted, config.phash_radius)
        results[mode] = measure_mode(
            mode,
            (base.work_ids, base.variants, phashes, dhashes),
            (query_p, query_d),
            dhash_rows,
            planted,
            config,
            args.threads,
            args.repeat,
        )
    uniform, real = results["uniform"], results["realistic"]
    print(
        f"  realistic / uniform: q/s x{real['qps'] / uniform['qps']:.2f}; candidates per query "
        f"{real['candidates']:.2f} vs {uniform['candidates']:.4f}; entries touched per pHash "
        f"probe x{real['touched_phash'] / max(uniform['touched_phash'], 1e-9):.1f}"
    )
    scale = 1 / args.works
    print(
        "  projected candidates per query (linear in works, same codes): "
        + ", ".join(
            f"{n // 1_000_000}M works {real['candidates'] * n * scale:,.0f}"
            for n in (1_000_000, 10_000_000, 100_000_000)
        )
    )
