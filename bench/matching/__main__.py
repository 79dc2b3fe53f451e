"""Benchmark of the candidate search as the server runs it: `python -m bench.matching`.

`CandidateIndex` with `DEFAULT_MATCHING`: pHash within `phash_radius` over every registered
variant, union dHash within `dhash_radius` over the variants in `dhash_variants`. A synthetic
registry (uniform random 64-bit codes) of every variant the design registers, and a batch of
queries, a fifth of them planted within the radius of a registered entry: some in pHash only,
some in dHash only, some in both. Prints the build time and peak, queries per second (CPU
time too: the machine is shared), memory, the recall of the planted queries, the exactness
of a sample against a NumPy brute force of the same union rule and the speed-up over it, and
the memory model. `--works 10000000` runs the 10M-work registry (about 10 GiB of RSS);
`--dhash-variants` sizes another configuration than DEFAULT_MATCHING.
"""

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import TypeVar

import numba
import numpy as np
from PIL import Image

from registry.fingerprints import VARIANTS
from registry.fingerprints.decode import DecodedImage
from registry.fingerprints.variants import variant_images
from registry.matching import _kernels
from registry.matching.index import choose_layout, estimated_memory_bytes, warm_up
from registry.matching.matcher import CandidateIndex, Candidates, variant_numbers
from registry.matching.rules import DEFAULT_MATCHING, MatchingConfig

MiB = 2**20
GB = 10**9
TARGET_QPS = 20_000
TARGET_WORKS = 1_000_000
TARGET_SPEEDUP = 100
BUDGET_BYTES = 8 * GB
WORKS_PER_CHUNK = 1_000_000

T = TypeVar("T")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.matching", description=__doc__)
    parser.add_argument("--works", type=int, default=1_000_000)
    parser.add_argument(
        "--margin-share",
        type=float,
        default=0.1,
        help="share of works that had a margin, so also register the optional variants",
    )
    parser.add_argument("--queries", type=int, default=100_000)
    parser.add_argument("--planted", type=float, default=0.2, help="share of planted queries")
    parser.add_argument("--decoys", type=float, default=0.01, help="share of decoy queries")
    parser.add_argument("--batch", type=int, default=1_000, help="the server's batch size")
    parser.add_argument("--brute-sample", type=int, default=100, help="queries scanned by NumPy")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of the full batch")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-updates", action="store_true", help="skip the add/remove step")
    parser.add_argument(
        "--dhash-variants",
        help="comma-separated, instead of DEFAULT_MATCHING's (to size another configuration)",
    )
    parser.add_argument(
        "--realistic",
        action="store_true",
        help="compare uniform codes with codes distributed like real hashes (bench.collisions)",
    )
    parser.add_argument(
        "--flips", default="0,4", help="--realistic: bits flipped in each real code, low,high"
    )
    return parser.parse_args()


@dataclass(frozen=True)
class Registry:
    """Every registered variant's row, as PostgreSQL gives them to the index."""

    work_ids: np.ndarray  # int64
    variants: np.ndarray  # uint8, VARIANTS numbering
    phashes: np.ndarray  # uint64
    dhashes: np.ndarray  # uint64

    def columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return self.work_ids, self.variants, self.phashes, self.dhashes

    @property
    def nbytes(self) -> int:
        return sum(column.nbytes for column in self.columns())


@dataclass(frozen=True)
class Queries:
    phashes: np.ndarray
    dhashes: np.ndarray
    planted_at: np.ndarray  # positions of the planted queries
    planted_row: np.ndarray  # the registry row each was made from
    planted_kind: np.ndarray  # 0: near in pHash only, 1: in dHash only, 2: in both
    decoy_at: np.ndarray  # near in dHash to a variant the dHash search leaves out
    decoy_row: np.ndarray


# -- the registry the design registers --------------------------------------------------------


def registered_variants() -> tuple[list[str], list[str]]:
    """(variants every work registers, variants registered only when trimming changed the
    image), read from `variant_images` on an image with no border to trim."""
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    image = Image.fromarray(noise)
    always = set(variant_images(DecodedImage(image, image, 64, 64)))
    return [v for v in VARIANTS if v in always], [v for v in VARIANTS if v not in always]


def make_registry(works: int, margin_share: float, seed: int) -> Registry:
    """The same registry for the same arguments, built in chunks of works into its final
    arrays: the build's peak then measures the index, not this generator."""
    rng = np.random.default_rng(seed)
    always, optional = registered_variants()
    order = variant_numbers(always + optional)
    counts = len(always) + len(optional) * (rng.random(works) < margin_share)
    total = int(counts.sum())
    work_ids = np.empty(total, np.int64)
    variants = np.empty(total, np.uint8)
    row = 0
    for first in range(0, works, WORKS_PER_CHUNK):
        chunk = counts[first : first + WORKS_PER_CHUNK]
        ids = np.repeat(np.arange(first + 1, first + 1 + chunk.size), chunk)
        within = np.arange(ids.size) - np.repeat(np.cumsum(chunk) - chunk, chunk)
        work_ids[row : row + ids.size] = ids
        variants[row : row + ids.size] = order[within]
        row += ids.size
    phashes = rng.integers(0, 2**64, total, dtype=np.uint64, endpoint=False)
    dhashes = rng.integers(0, 2**64, total, dtype=np.uint64, endpoint=False)
    return Registry(work_ids, variants, phashes, dhashes)


def dhash_numbers(config: MatchingConfig) -> np.ndarray:
    """The variant numbers the dHash search covers (CandidateIndex's own filter)."""
    return variant_numbers([v for v in config.dhash_variants if v in VARIANTS])


def flip_random_bits(rng: np.random.Generator, codes: np.ndarray, radius: int) -> np.ndarray:
    """Each code with k distinct random bits flipped, k uniform in 0..radius."""
    if radius <= 0:
        return codes.copy()
    flips = rng.integers(0, radius + 1, codes.size)
    positions = np.argsort(rng.random((codes.size, 64)), axis=1)[:, :radius].astype(np.uint64)
    bits = np.where(np.arange(radius) < flips[:, None], np.uint64(1) << positions, np.uint64(0))
    return codes ^ np.bitwise_or.reduce(bits, axis=1)


def make_queries(
    rng: np.random.Generator,
    registry: Registry,
    dhash_rows: np.ndarray,
    args: argparse.Namespace,
    config: MatchingConfig,
) -> Queries:
    count = args.queries
    phashes = rng.integers(0, 2**64, count, dtype=np.uint64, endpoint=False)
    dhashes = rng.integers(0, 2**64, count, dtype=np.uint64, endpoint=False)
    special = rng.permutation(count)
    planted_at = special[: int(count * args.planted)]
    decoy_at = special[planted_at.size : planted_at.size + int(count * args.decoys)]
    # 40% near in pHash only, 40% near in dHash only, 20% near in both (reported once).
    kind = np.minimum(np.arange(planted_at.size) * 5 // max(planted_at.size, 1), 4)
    kind = np.array([0, 0, 1, 1, 2])[kind]
    framed = np.flatnonzero(dhash_rows)
    rows = rng.integers(0, registry.phashes.size, planted_at.size)
    near_dhash = kind > 0
    rows[near_dhash] = framed[rng.integers(0, framed.size, int(near_dhash.sum()))]
    near_phash = kind != 1
    phashes[planted_at[near_phash]] = flip_random_bits(
        rng, registry.phashes[rows[near_phash]], config.phash_radius
    )
    dhashes[planted_at[near_dhash]] = flip_random_bits(
        rng, registry.dhashes[rows[near_dhash]], config.dhash_radius
    )
    unframed = np.flatnonzero(~dhash_rows)
    decoy_row = unframed[rng.integers(0, unframed.size, decoy_at.size)]
    dhashes[decoy_at] = flip_random_bits(rng, registry.dhashes[decoy_row], config.dhash_radius)
    return Queries(phashes, dhashes, planted_at, rows, kind, decoy_at, decoy_row)


# -- measuring --------------------------------------------------------------------------------


def memory_status() -> dict[str, int]:
    """Resident set size (now and peak) of this process, in bytes."""
    fields = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) * 1024
    return fields


def reset_peak() -> bool:
    """Start VmHWM again from the current RSS (Linux 4.0+), so a later peak is one step's."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(x.split(":")[1].strip() for x in cpuinfo if x.startswith("model name"))
    except (OSError, StopIteration):
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{model}, {os.cpu_count()} cores, {memory:.1f} GiB; Python {platform.python_version()}, "
        f"numpy {np.__version__}, numba {numba.__version__}; "
        f"load average at start {os.getloadavg()[0]:.2f}"
    )


def timed(run: Callable[[], T], repeat: int) -> tuple[T, list[tuple[float, float]]]:
    """The last result, and (wall, CPU) seconds of each run. CPU time, summed over threads,
    is what stays comparable when other processes share the machine."""
    times = []
    for _ in range(max(repeat, 1)):
        start, cpu = time.perf_counter(), time.process_time()
        result = run()
        times.append((time.perf_counter() - start, time.process_time() - cpu))
    return result, times


def keys(query_index: np.ndarray, work_id: np.ndarray, variant: np.ndarray) -> np.ndarray:
    """One int64 per (query, work, variant): work ids here are below 2**31."""
    return (query_index.astype(np.int64) << 40) | (work_id.astype(np.int64) << 8) | variant


def candidate_keys(found: Candidates) -> np.ndarray:
    return keys(found.query_index, found.work_id, found.variant)


def brute_force(
    registry: Registry,
    dhash_rows: np.ndarray,
    phashes: np.ndarray,
    dhashes: np.ndarray,
    config: MatchingConfig,
) -> tuple[np.ndarray, float]:
    """The reference: per query, one NumPy pass over every pHash and one over every dHash of
    the dHash variants (`is_candidate`, the rule the index must equal), keys of the union."""
    framed = np.flatnonzero(dhash_rows)
    framed_dhashes = registry.dhashes[framed]
    found = []
    start = time.perf_counter()
    for q in range(phashes.size):
        near = np.flatnonzero(
            np.bitwise_count(registry.phashes ^ phashes[q]) <= config.phash_radius
        )
        if config.dhash_radius >= 0:
            near_dhash = np.bitwise_count(framed_dhashes ^ dhashes[q]) <= config.dhash_radius
            near = np.union1d(near, framed[near_dhash])
        found.append(keys(np.full(near.size, q), registry.work_ids[near], registry.variants[near]))
    elapsed = time.perf_counter() - start
    return np.unique(np.concatenate(found)), phashes.size / elapsed


# -- the run ----------------------------------------------------------------------------------


def describe_config(config: MatchingConfig, always: list[str], optional: list[str]) -> str:
    registered = always + optional
    framed = [v for v in config.dhash_variants if v in registered]
    return (
        f"matching: pHash within {config.phash_radius} over every registered variant "
        f"({len(always)} per work, +{len(optional)} if it had a margin: {', '.join(optional)}); "
        f"union dHash within {config.dhash_radius} over {len(framed)}: {', '.join(framed)}"
    )


def print_build(
    index: CandidateIndex, seconds: float, before: int, peak: int, loaded: int, reset: bool
) -> None:
    print(
        f"build (CandidateIndex.from_loader, {index.phash_index.threads} threads): {seconds:.2f} s"
    )
    for name, part in (("pHash", index.phash_index), ("dHash", index.dhash_index)):
        print(
            f"  {name}: {len(part):,} entries, {part.memory_bytes() / MiB:,.1f} MiB "
            f"({part.memory_bytes() / max(len(part), 1):.1f} B/entry); {part.describe()}"
        )
    after = memory_status()["VmRSS"]
    print(
        f"memory: index {index.memory_bytes() / MiB:,.1f} MiB; RSS {after / MiB:,.0f} MiB after "
        f"the build (the loaded arrays, {loaded / MiB:,.0f} MiB, since let go)"
    )
    what = "peak RSS during the build" if reset else "peak RSS so far (VmHWM not resettable)"
    print(
        f"  {what}: {peak / MiB:,.0f} MiB = {before / MiB:,.0f} MiB before it (interpreter, "
        f"kernels) + the loaded arrays + both indexes + build transients"
    )


def bench_search(
    index: CandidateIndex, queries: Queries, registry: Registry, args: argparse.Namespace
) -> dict[str, float]:
    count = queries.phashes.size

    def everything() -> Candidates:
        return index.search(queries.phashes, queries.dhashes)

    result, times = timed(everything, args.repeat)
    qps = [count / wall for wall, _ in times]
    cpu = statistics.median(c for _, c in times)
    threads = index.phash_index.threads
    print(
        f"\nsearch, one batch of {count:,} queries, {threads} threads: "
        f"{statistics.median(qps):,.0f} q/s median of {len(qps)} "
        f"({', '.join(f'{q:,.0f}' for q in qps)})"
    )
    print(
        f"  CPU time: {cpu:.2f} s per {count:,} queries = {count / cpu:,.0f} q/s per busy core; "
        f"load average now {os.getloadavg()[0]:.2f}"
    )
    for part in (index.phash_index, index.dhash_index):
        part.threads = 1
    _, ((one_wall, _),) = timed(everything, 1)
    for part in (index.phash_index, index.dhash_index):
        part.threads = threads
    print(f"  1 thread: {count / one_wall:,.0f} q/s")

    small = min(count, 20 * args.batch)

    def in_batches() -> None:
        for start in range(0, small, args.batch):
            stop = start + args.batch
            index.search(queries.phashes[start:stop], queries.dhashes[start:stop])

    _, ((wall, cpu_small),) = timed(in_batches, 1)
    print(
        f"  in batches of {args.batch:,} (a screening request), {small:,} queries: "
        f"{small / wall:,.0f} q/s, CPU {small / cpu_small:,.0f} q/s per busy core"
    )

    got = candidate_keys(result)
    wanted = keys(
        queries.planted_at,
        registry.work_ids[queries.planted_row],
        registry.variants[queries.planted_row],
    )
    hit = np.isin(wanted, got)
    by_kind = ", ".join(
        f"{name} {int(hit[queries.planted_kind == k].sum()):,}/"
        f"{int((queries.planted_kind == k).sum()):,}"
        for k, name in enumerate(("pHash only", "dHash only", "both"))
    )
    decoys = keys(
        queries.decoy_at,
        registry.work_ids[queries.decoy_row],
        registry.variants[queries.decoy_row],
    )
    print(
        f"  planted recall: {int(hit.sum()):,}/{hit.size:,} = {100 * hit.mean():.2f} % "
        f"({by_kind}); candidates {len(result):,}, each (query, work, variant) once: "
        f"{'yes' if np.unique(got).size == got.size else 'NO'}"
    )
    print(
        f"  decoys (near in dHash to a variant outside dhash_variants): "
        f"{int(np.isin(decoys, got).sum())} of {decoys.size:,} returned"
    )
    return {"qps": statistics.median(qps), "one_thread_qps": count / one_wall, "recall": hit.mean()}


def bench_brute_force(
    index: CandidateIndex,
    queries: Queries,
    registry: Registry,
    dhash_rows: np.ndarray,
    args: argparse.Namespace,
    figures: dict[str, float],
) -> None:
    half = args.brute_sample // 2
    decoys = min(queries.decoy_at.size, half // 5)
    sample_at = np.concatenate(
        [
            queries.planted_at[:half],
            queries.decoy_at[:decoys],
            np.setdiff1d(
                np.arange(4 * half), np.concatenate([queries.planted_at, queries.decoy_at])
            )[: half - decoys],
        ]
    )
    phashes, dhashes = queries.phashes[sample_at], queries.dhashes[sample_at]
    expected, brute_qps = brute_force(registry, dhash_rows, phashes, dhashes, index.config)
    got = np.unique(candidate_keys(index.search(phashes, dhashes)))
    exact = np.array_equal(got, expected)
    speedup = figures["qps"] / brute_qps
    print(
        f"\nNumPy brute force of the union rule (bitwise_count over {registry.phashes.size:,} "
        f"pHashes and {int(dhash_rows.sum()):,} dHashes, 1 thread): {brute_qps:,.2f} q/s on "
        f"{sample_at.size} sampled queries ({half} planted, {decoys} decoys, the rest random)"
    )
    print(
        f"  speed-up: {speedup:,.0f}x ({figures['one_thread_qps'] / brute_qps:,.0f}x thread for "
        f"thread); index == brute force on the sample: {'yes' if exact else 'NO'} "
        f"({expected.size} candidates)"
    )
    figures.update(speedup=speedup, exact=float(exact))


def bench_single_indexes(index: CandidateIndex, queries: Queries, args: argparse.Namespace) -> None:
    """Each index alone, as the first version of this bench measured the pHash one."""
    print("\neach search alone, one batch, CPU time (wall q/s in brackets):")
    runs = (
        ("pHash", index.phash_index, queries.phashes, index.config.phash_radius),
        ("pHash", index.phash_index, queries.phashes, 8),
        ("dHash", index.dhash_index, queries.dhashes, index.config.dhash_radius),
    )
    for name, part, codes, radius in runs:
        _, times = timed(partial(part.search, codes, radius), args.repeat)
        wall = statistics.median(w for w, _ in times)
        cpu = statistics.median(c for _, c in times)
        print(
            f"  {name} within {radius}: {codes.size / cpu:,.0f} q/s per busy core "
            f"({codes.size / wall:,.0f} q/s)"
        )


def bench_updates(
    index: CandidateIndex, registry: Registry, rng: np.random.Generator, args: argparse.Namespace
) -> None:
    """Registrations and removals after the build, then a search of the updated index."""
    steps = []
    first_new = int(registry.work_ids.max()) + 1
    for works in (1, 700):
        new = make_registry(works, args.margin_share, int(rng.integers(2**31)))
        start = time.perf_counter()
        index.add(new.work_ids + first_new, new.variants, new.phashes, new.dhashes)
        steps.append(f"add {works:,} work(s) {1000 * (time.perf_counter() - start):.1f} ms")
        first_new += works
    removed = rng.choice(np.unique(registry.work_ids), 1000, replace=False)
    start = time.perf_counter()
    index.remove_works(removed.tolist())
    steps.append(f"remove 1,000 works {1000 * (time.perf_counter() - start):.1f} ms")
    print(f"\nupdates after the build: {'; '.join(steps)}")
    print(f"  pHash segments now: {index.phash_index.describe()}")
    print(f"  dHash segments now: {index.dhash_index.describe()}")

    dhash_rows = np.isin(registry.variants, dhash_numbers(index.config))
    queries = make_queries(rng, registry, dhash_rows, args, index.config)
    result, ((wall, cpu),) = timed(partial(index.search, queries.phashes, queries.dhashes), 1)
    got = candidate_keys(result)
    live = ~np.isin(registry.work_ids[queries.planted_row], removed)
    wanted = keys(
        queries.planted_at[live],
        registry.work_ids[queries.planted_row[live]],
        registry.variants[queries.planted_row[live]],
    )
    leaked = int(np.isin(result.work_id, removed).sum())
    print(
        f"  search: {queries.phashes.size / wall:,.0f} q/s (CPU {cpu:.2f} s); planted recall "
        f"{100 * np.isin(wanted, got).mean():.2f} %; removed works returned: {leaked}"
    )


def memory_model(
    index: CandidateIndex, registry: Registry, dhash_rows: np.ndarray, works: int, process: int
) -> None:
    """Steady state and full-build peak for 1M and 10M works: the index's own model, which
    the measured bytes above must (and do) equal, plus this process's own `process` bytes."""
    phash_per_work = registry.phashes.size / works
    dhash_per_work = int(dhash_rows.sum()) / works
    loaded_per_row = registry.nbytes / registry.phashes.size
    print(
        f"\nmemory model ({phash_per_work:.2f} pHash and {dhash_per_work:.2f} dHash entries per "
        f"work; GB = 10^9 bytes; budget {BUDGET_BYTES / GB:.0f} GB; process "
        f"{process / GB:.2f} GB):"
    )
    for scale in (1_000_000, 10_000_000):
        parts = {}
        for name, per_work, radius in (
            ("pHash", phash_per_work, index.config.phash_radius),
            ("dHash", dhash_per_work, index.config.dhash_radius),
        ):
            entries = round(scale * per_work)
            layout = choose_layout(entries, radius)
            parts[name] = (entries, layout, estimated_memory_bytes(entries, layout))
        steady = sum(b for _, _, b in parts.values()) + process
        # The loader's arrays, less the dHash column once its index is built.
        peak = steady + parts["pHash"][0] * (loaded_per_row - 8)
        described = "; ".join(
            f"{name} {entries:,} x {layout} = {b / GB:.2f} GB"
            for name, (entries, layout, b) in parts.items()
        )
        print(
            f"  {scale:>10,} works: {described}; steady {steady / GB:.2f} GB "
            f"({'fits' if steady <= BUDGET_BYTES else 'does NOT fit'}); full build "
            f"{peak / GB:.2f} GB at its peak, with {loaded_per_row - 8:.0f} B/row loaded "
            f"({'fits' if peak <= BUDGET_BYTES else 'does NOT fit'})"
        )


def main() -> None:
    args = parse_args()
    print("bench/matching: the candidate search as the server runs it (CandidateIndex)")
    print(f"machine: {machine()}")
    always, optional = registered_variants()
    config = DEFAULT_MATCHING
    if args.dhash_variants:
        names = tuple(args.dhash_variants.split(","))
        if unknown := [name for name in names if name not in VARIANTS]:
            raise SystemExit(f"--dhash-variants: not in VARIANTS: {', '.join(unknown)}")
        config = replace(config, dhash_variants=names)
    print(describe_config(config, always, optional))

    start = time.perf_counter()
    warm_up()
    dispatchers = (
        _kernels.build_table,
        _kernels.search_tables,
        _kernels.search_scan,
        _kernels.table_codes,
        _kernels.mark_members,
    )
    hits = sum(sum(k.stats.cache_hits.values()) for k in dispatchers)
    misses = sum(sum(k.stats.cache_misses.values()) for k in dispatchers)
    print(
        f"JIT warm-up: {time.perf_counter() - start:.2f} s (numba cache: {hits} loaded, "
        f"{misses} compiled), excluded from every figure below"
    )

    if args.realistic:
        from bench.collisions import CODES, entries_per_work
        from bench.matching import realistic

        realistic.run(args, config, make_registry, dhash_numbers, str(CODES), entries_per_work())
        return

    loaded = {}
    reset = False

    def load() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        nonlocal reset
        columns = make_registry(args.works, args.margin_share, args.seed).columns()
        loaded["bytes"] = sum(c.nbytes for c in columns)
        loaded["rss"] = memory_status()["VmRSS"] - loaded["bytes"]
        reset = reset_peak()  # from here: the loaded arrays, then the build
        return columns

    start = time.perf_counter()
    index = CandidateIndex.from_loader(load, config)
    build = time.perf_counter() - start
    peak = memory_status()["VmHWM"]
    for part in (index.phash_index, index.dhash_index):
        part.threads = args.threads
    print(
        f"registry: {args.works:,} works, {args.margin_share:.0%} with a margin; "
        f"{loaded['bytes'] / MiB:,.0f} MiB loaded (work id int64, variant uint8, two int64 "
        f"hashes: {loaded['bytes'] / len(index):.0f} B/row); uniform random 64-bit codes"
    )
    print_build(index, build, loaded["rss"], peak, loaded["bytes"], reset)

    # The same registry again, for planting queries and the brute force.
    registry = make_registry(args.works, args.margin_share, args.seed)
    dhash_rows = np.isin(registry.variants, dhash_numbers(config))
    rng = np.random.default_rng(args.seed + 1)
    queries = make_queries(rng, registry, dhash_rows, args, config)
    print(
        f"queries: {args.queries:,}; {queries.planted_at.size:,} planted within the radius "
        f"(k random bits flipped, k uniform in 0..radius): 40% near in pHash only, 40% in dHash "
        f"only, 20% in both; {queries.decoy_at.size:,} decoys; the rest random"
    )

    figures = bench_search(index, queries, registry, args)
    bench_brute_force(index, queries, registry, dhash_rows, args, figures)
    bench_single_indexes(index, queries, args)
    memory_model(index, registry, dhash_rows, args.works, loaded["rss"])
    if not args.no_updates:
        bench_updates(index, registry, rng, args)
    print(f"\npeak RSS of the whole run: {memory_status()['VmHWM'] / MiB:,.0f} MiB")

    print("\ntargets:")
    qps_verdict = "met" if figures["qps"] >= TARGET_QPS else "NOT met"
    if args.works != TARGET_WORKS:
        qps_verdict += f"; the target is set for {TARGET_WORKS:,} works"
    print(
        f"  {figures['qps']:,.0f} q/s (>= {TARGET_QPS:,}: {qps_verdict}); "
        f"speed-up {figures['speedup']:,.0f}x (>= {TARGET_SPEEDUP}x: "
        f"{'met' if figures['speedup'] >= TARGET_SPEEDUP else 'NOT met'}); "
        f"planted recall {100 * figures['recall']:.2f} % "
        f"({'met' if figures['recall'] == 1.0 else 'NOT met'}); "
        f"exact on the sample: {'yes' if figures['exact'] else 'NO'}"
    )


if __name__ == "__main__":
    main()
