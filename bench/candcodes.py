"""Longer candidate codes on real art: `python -m bench.candcodes --eval DIR`.

Today's candidate rule (pHash within 10 over every registered variant, or dHash within 10 over
the framed ones) lets through about 1e-3 of the pairs of different real pictures, thousands
of candidates a query at 1M works. This measures whether a more discriminative code, computed
from what the fingerprint already carries for every registered variant and every query (no
new bits on the wire), would do with at most `--target` candidates a query and lose no true
work on any edit:

- `pdq`: PDQ's 256 bits, computed on the normalised (trimmed) variant;
- `dctN`: the N lowest frequencies (zig-zag order, the constant one left out) of the 2-D DCT of
  the descriptor's 32x32 grey picture, each bit whether its coefficient is above their median
  (pHash's construction, at N bits instead of 64);
- `pHash`, `dHash` and `dct64` as references (dct64 is pHash's construction on the descriptor).

Two measures per code, on real pictures only:

1. the load: over the pictures of `bench.collisions` that pass the weak-image gate, pairs from
   different families (near copies, PDQ within 31, left out), the share within each radius and
   the candidate entries a query at 1M works it implies (every registered variant an entry,
   12.1 a work, as `bench.matching --realistic` counts them). The largest radius within
   `--target` candidates is the one compared below;
2. what it keeps: over the edited queries of an evaluation set (bench.evalset), per edit, the
   queries whose true work is a candidate (some variant within the radius) and those the
   verification then matches (some such variant verifies), beside today's rule on the same
   queries. And, per query, the decoys at 1M works expected nearer than the true work (from
   its distances to the real pictures of other families): what a top-k search would need.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.fft import dctn

from bench.accuracy.external import load_evalset
from bench.collisions import CODES, load_codes
from registry.fingerprints import Hashes
from registry.fingerprints.descriptor import DESCRIPTOR_BYTES, GREY_GRID, parse
from registry.matching.rules import DEFAULT_MATCHING, MatchingConfig, verify

ENTRIES_PER_WORK = 12.1  # pHash entries per registered work, as bench.collisions counts them
DHASH_ENTRIES_PER_WORK = 4.1
WORKS = 1_000_000
COPY_PDQ = 31
BLOCK = 96


@dataclass(frozen=True)
class Items:
    """Parallel arrays of hashed pictures (pool pictures, query parts or registered variants)."""

    phash: np.ndarray  # uint64
    dhash: np.ndarray  # uint64
    pdq: np.ndarray  # uint64, (n, 4)
    descriptor: np.ndarray  # uint8, (n, DESCRIPTOR_BYTES)

    @classmethod
    def of(cls, hashes: list[Hashes]) -> Items:
        return cls(
            np.array([h.phash for h in hashes], dtype=np.uint64),
            np.array([h.dhash for h in hashes], dtype=np.uint64),
            np.frombuffer(b"".join(h.pdq for h in hashes), dtype=np.uint64).reshape(-1, 4),
            np.frombuffer(b"".join(h.descriptor for h in hashes), dtype=np.uint8).reshape(
                -1, DESCRIPTOR_BYTES
            ),
        )


def _zigzag(size: int) -> list[tuple[int, int]]:
    return sorted(
        ((u, v) for u in range(size) for v in range(size)), key=lambda c: (c[0] + c[1], c)
    )


def dct_code(descriptors: np.ndarray, bits: int) -> np.ndarray:
    """pHash's construction on the descriptor's grey grid, with `bits` frequencies: (n, words)."""
    cells = _zigzag(GREY_GRID)[1 : bits + 1]
    rows = np.array([u for u, _ in cells])
    columns = np.array([v for _, v in cells])
    out = np.zeros((len(descriptors), bits), dtype=bool)
    for start in range(0, len(descriptors), 4096):
        grey = np.stack([parse(d.tobytes()).grey for d in descriptors[start : start + 4096]])
        coefficients = dctn(grey.astype(np.float64), axes=(1, 2), norm="ortho")[:, rows, columns]
        out[start : start + 4096] = coefficients > np.median(coefficients, axis=1, keepdims=True)
    return _packed(out)


def _packed(bits: np.ndarray) -> np.ndarray:
    words = -(-bits.shape[1] // 64)
    padded = np.zeros((bits.shape[0], words * 64), dtype=np.uint8)
    padded[:, : bits.shape[1]] = bits
    return np.packbits(padded, axis=1).view(np.uint64).reshape(bits.shape[0], words)


CODES_OF: dict[str, Callable[[Items], np.ndarray]] = {
    "pHash": lambda items: items.phash[:, None],
    "dHash": lambda items: items.dhash[:, None],
    "dct64": lambda items: dct_code(items.descriptor, 64),
    "pdq": lambda items: items.pdq,
    "dct128": lambda items: dct_code(items.descriptor, 128),
    "dct256": lambda items: dct_code(items.descriptor, 256),
}
BITS = {"pHash": 64, "dHash": 64, "dct64": 64, "pdq": 256, "dct128": 128, "dct256": 256}


def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamming distances between every row of `a` (m, words) and of `b` (n, words): (m, n)."""
    return np.bitwise_count(a[:, None, :] ^ b[None, :, :]).sum(axis=2, dtype=np.int32)


# -- 1. the load ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Pool:
    items: Items
    family: np.ndarray  # int, family number
    family_names: np.ndarray
    codes: dict[str, np.ndarray]


def load_pool(config: MatchingConfig) -> Pool:
    saved = load_codes()
    strong = saved["information"] >= config.min_information
    items = Items(
        saved["phash"][strong],
        saved["dhash"][strong],
        saved["pdq"][strong],
        saved["descriptor"][strong],
    )
    names, family = np.unique(saved["family"][strong], return_inverse=True)
    return Pool(items, family, names, {name: make(items) for name, make in CODES_OF.items()})


def decoy_histograms(pool: Pool, config: MatchingConfig) -> tuple[dict[str, np.ndarray], int]:
    """Per code, how many pairs from different families (near copies left out) lie at each
    distance; and "today" (index 0: neither, 1: pHash within its radius, 2: dHash only)."""
    n = pool.family.size
    hist: dict[str, np.ndarray] = {name: np.zeros(BITS[name] + 1, np.int64) for name in CODES_OF}
    # Per code, the distances of the pairs today's rule admits, by pHash and by dHash only.
    second = {name: np.zeros((2, BITS[name] + 1), np.int64) for name in CODES_OF}
    today = np.zeros(3, np.int64)
    for start in range(0, n, BLOCK):
        stop = min(n, start + BLOCK)
        rows = np.arange(start, stop)
        upper = np.arange(n)[None, :] > rows[:, None]
        valid = upper & (pool.family[rows, None] != pool.family[None, :])
        valid &= distances(pool.items.pdq[rows], pool.items.pdq) > COPY_PDQ
        near_p = distances(pool.codes["pHash"][rows], pool.codes["pHash"]) <= config.phash_radius
        near_d = distances(pool.codes["dHash"][rows], pool.codes["dHash"]) <= config.dhash_radius
        for name, code in pool.codes.items():
            d = distances(code[rows], code)
            hist[name] += np.bincount(d[valid], minlength=BITS[name] + 1)
            second[name][0] += np.bincount(d[valid & near_p], minlength=BITS[name] + 1)
            second[name][1] += np.bincount(d[valid & near_d & ~near_p], minlength=BITS[name] + 1)
        today[1] += int((near_p & valid).sum())
        today[2] += int((near_d & ~near_p & valid).sum())
    total = int(hist["pHash"].sum())
    today[0] = total - today[1] - today[2]
    hist["today"] = today
    hist.update({f"{name}|today": split for name, split in second.items()})
    return hist, total


def cached_histograms(pool: Pool, config: MatchingConfig) -> tuple[dict[str, np.ndarray], int]:
    """`decoy_histograms`, kept beside the codes file (minutes of CPU on 27,000 pictures)."""
    stat = CODES.stat()
    radii = (config.phash_radius, config.dhash_radius)
    key = f"{stat.st_size}-{stat.st_mtime_ns}-{'-'.join(CODES_OF)}-{radii}"
    digest = hashlib.sha1(key.encode()).hexdigest()[:12]  # noqa: S324 - a cache key
    cache = CODES.with_name(f"candcodes-{digest}.npz")
    if cache.exists():
        with np.load(cache) as saved:
            return {name: saved[name] for name in saved.files if name != "total"}, int(
                saved["total"]
            )
    hist, total = decoy_histograms(pool, config)
    np.savez(cache, total=np.array(total), **hist)  # type: ignore[arg-type]
    return hist, total


def candidates_at(hist: np.ndarray, total: int, radius: int) -> float:
    """Candidate entries a query at WORKS works within `radius`."""
    return WORKS * ENTRIES_PER_WORK * float(hist[: radius + 1].sum()) / total


def today_candidates(hist: np.ndarray, total: int) -> float:
    return WORKS * (hist[1] * ENTRIES_PER_WORK + hist[2] * DHASH_ENTRIES_PER_WORK) / total


def filtered_candidates(split: np.ndarray, total: int, limit: int) -> float:
    """Candidate entries a query at WORKS works when today's candidates must also lie within
    `limit` in the code (a second filter, the two-level key)."""
    kept = split[:, : limit + 1].sum(axis=1)
    return WORKS * (kept[0] * ENTRIES_PER_WORK + kept[1] * DHASH_ENTRIES_PER_WORK) / total


def widest_radius(hist: np.ndarray, total: int, target: float) -> int:
    radius = -1
    while radius + 1 < hist.size and candidates_at(hist, total, radius + 1) <= target:
        radius += 1
    return radius


# -- 2. what each code keeps -----------------------------------------------------------------


@dataclass
class TrueWork:
    """One edited query against its true work's variants."""

    edit: str
    today_candidate: bool
    today_matched: bool
    nearest: dict[str, int]  # per code, the distance to the nearest variant
    matched_within: dict[str, int]  # per code, the distance of the nearest verifying variant
    # The same over the variants today's rule admits only (the code as a second filter).
    filtered_nearest: dict[str, int]
    filtered_matched: dict[str, int]
    decoys_nearer: dict[str, float]  # per code, decoy entries at WORKS works within `nearest`
    # ... and within `matched_within`: a top-k search matches the work when this is under k
    decoys_before_match: dict[str, float]


def true_works(
    folder: Path, sample: int | None, pool: Pool, config: MatchingConfig
) -> tuple[list[TrueWork], list[str]]:
    evalset = load_evalset(folder, 2, sample)
    dataset = evalset.dataset
    framed = set(config.dhash_variants)
    names = {name: i for i, name in enumerate(pool.family_names.tolist())}
    found: list[TrueWork] = []
    scale = WORKS * ENTRIES_PER_WORK / pool.family.size
    for query in dataset.queries:
        if query.fingerprint is None or query.work is None:
            continue
        work = dataset.registered[query.work]
        registered = work.fingerprints
        if registered is None:
            continue
        variant_names = list(registered.variants)
        variants = Items.of([registered.variants[v] for v in variant_names])
        asked = Items.of([query.fingerprint.hashes])
        verdicts = np.array(
            [
                verify(query.fingerprint.hashes, registered.variants[v], config).matched
                for v in variant_names
            ]
        )
        dp = np.bitwise_count(variants.phash ^ asked.phash[0])
        dd = np.bitwise_count(variants.dhash ^ asked.dhash[0])
        is_framed = np.array([v in framed for v in variant_names])
        candidate = (dp <= config.phash_radius) | (is_framed & (dd <= config.dhash_radius))
        # Decoys: pool pictures of other families than the work's, not copies of it.
        decoy = pool.family != names.get(work.work.family, -1)
        original = Items.of([registered.image.hashes])
        decoy &= distances(original.pdq, pool.items.pdq)[0] > COPY_PDQ
        nearest, matched_within, nearer, before_match = {}, {}, {}, {}
        filtered_nearest, filtered_matched = {}, {}
        for name, make in CODES_OF.items():
            d = distances(make(asked), make(variants))[0]
            nearest[name] = int(d.min())
            matched_within[name] = _least(d, verdicts)
            filtered_nearest[name] = _least(d, candidate)
            filtered_matched[name] = _least(d, candidate & verdicts)
            to_decoys = distances(make(asked), pool.codes[name][decoy])[0]
            nearer[name] = scale * float((to_decoys <= d.min()).sum())
            before_match[name] = scale * float((to_decoys <= matched_within[name]).sum())
        found.append(
            TrueWork(
                edit=query.edit,
                today_candidate=bool(candidate.any()),
                today_matched=bool((candidate & verdicts).any()),
                nearest=nearest,
                matched_within=matched_within,
                filtered_nearest=filtered_nearest,
                filtered_matched=filtered_matched,
                decoys_nearer=nearer,
                decoys_before_match=before_match,
            )
        )
    return found, evalset.edits


def _least(values: np.ndarray, where: np.ndarray) -> int:
    return int(values[where].min()) if where.any() else NEVER


NEVER = 1 << 20


def report_load(
    hist: dict[str, np.ndarray], total: int, target: float
) -> tuple[dict[str, int], dict[str, int]]:
    """Print the candidates each code brings; (radius alone, limit as a second filter) per
    code, the widest within `target`."""
    today = today_candidates(hist["today"], total)
    print(
        f"load: {total:,} pairs of real pictures from different families (near copies left "
        f"out); candidate entries a query at {WORKS:,} works, {ENTRIES_PER_WORK} entries a work"
    )
    print(f"  today's rule (pHash <= 10, or dHash <= 10 on the framed variants): {today:,.0f}")
    alone = {name: widest_radius(hist[name], total, target) for name in CODES_OF}
    second = {name: _widest_filter(hist[f"{name}|today"], total, target) for name in CODES_OF}
    for name in CODES_OF:
        r = alone[name]
        steps = sorted({r + 1, r + 3, r + 6, r + 10, r + 20} - {BITS[name] + 1})
        within = candidates_at(hist[name], total, max(r, 0))
        print(
            f"  {name:<7} alone: radius {r} within {target:g} ({within:,.1f}); "
            + ", ".join(
                f"r{x}: {candidates_at(hist[name], total, x):,.0f}"
                for x in steps
                if x <= BITS[name]
            )
            + f"; as a second filter on today's: limit {second[name]} within {target:g}"
        )
    return alone, second


def report(
    hist: dict[str, np.ndarray], total: int, works: list[TrueWork], edits: list[str], target: float
) -> None:
    alone, second = report_load(hist, total, target)
    by_edit: dict[str, list[TrueWork]] = {edit: [] for edit in edits}
    for work in works:
        by_edit[work.edit].append(work)
    matched = [w for w in works if w.today_matched]
    print(
        f"\nedited queries: {len(works):,}; true work a candidate today: "
        f"{sum(w.today_candidate for w in works):,}; matched to it today: {len(matched):,}"
    )
    print(
        f"today's matches lost per edit, at {target:g} candidates a query at 1M: the code alone at "
        f"its radius; as a second filter on today's candidates; top-{target:g} (the true work "
        "nearer than the expected 20th decoy)"
    )
    rules: list[tuple[str, Callable[[TrueWork], bool]]] = []
    for name in CODES_OF:
        rules.append((f"{name} r{alone[name]}", _at_most("matched_within", name, alone[name])))
        rules.append(
            (f"today&{name}<={second[name]}", _at_most("filtered_matched", name, second[name]))
        )
        rules.append((f"{name} top-{target:g}", _under("decoys_before_match", (name,), target)))
    # Two top-k searches sharing the budget: the true work kept when either code ranks it.
    share = target / 2
    for first, other in (
        ("pdq", "dct256"),
        ("dHash", "dct256"),
        ("pHash", "dct256"),
        ("dHash", "pdq"),
    ):
        pair = (first, other)
        rules.append((f"{first}|{other} top-{share:g}", _under("decoys_before_match", pair, share)))
    header = f"{'rule':<24}{'lost':>6}  per edit"
    print(header)
    print("-" * 100)
    for label, keeps in rules:
        lost = Counter(w.edit for w in matched if not keeps(w))
        print(
            f"{label:<24}{sum(lost.values()):>6}  "
            + " ".join(f"{e}:{c}" for e, c in lost.most_common())
        )
    _report_per_edit(by_edit, alone, target)
    print("\nto lose none of today's matches: the largest distance needed, and its load")
    for name in CODES_OF:
        need = max((w.matched_within[name] for w in matched), default=0)
        need_filter = max((w.filtered_matched[name] for w in matched), default=0)
        worst = Counter(
            {
                e: max((w.matched_within[name] for w in g if w.today_matched), default=0)
                for e, g in by_edit.items()
            }
        )
        load = candidates_at(hist[name], total, min(need, BITS[name]))
        load_filter = filtered_candidates(
            hist[f"{name}|today"], total, min(need_filter, BITS[name])
        )
        print(
            f"  {name:<7} alone: radius {need} -> {load:,.0f}; "
            f"second filter: limit {need_filter} -> {load_filter:,.0f}; "
            "hardest edits " + " ".join(f"{e}:{r}" for e, r in worst.most_common(6))
        )
    print("\ndecoy entries at 1M expected nearer than the true work, over today's matched queries:")
    for name in CODES_OF:
        values = np.array([w.decoys_before_match[name] for w in matched])
        print(
            f"  {name:<7} median {np.median(values):,.1f}, p90 {np.percentile(values, 90):,.0f}, "
            f"p99 {np.percentile(values, 99):,.0f}, max {values.max():,.0f}; under {target:g}: "
            f"{(values < target).mean():.1%}"
        )


def _at_most(field: str, name: str, limit: float) -> Callable[[TrueWork], bool]:
    """Whether a query's `field` (a distance per code) is within `limit` for code `name`."""
    return lambda work: getattr(work, field)[name] <= limit


def _under(field: str, names: tuple[str, ...], limit: float) -> Callable[[TrueWork], bool]:
    """Whether any of the codes `names` has the query's `field` (decoys nearer) under `limit`:
    top-k searches by each code, the true work kept when one of them ranks it."""
    return lambda work: min(getattr(work, field)[name] for name in names) < limit


def _report_per_edit(
    by_edit: dict[str, list[TrueWork]], alone: dict[str, int], target: float
) -> None:
    """Per edit: the true work among the candidates; today's matches kept; matches gained
    (a verifying variant found where today's rule finds none)."""
    share = target / 2
    columns: list[tuple[str, Callable[[TrueWork], bool], Callable[[TrueWork], bool]]] = [
        ("today", lambda w: w.today_candidate, lambda w: w.today_matched),
    ]
    for name in ("pdq", "dct128", "dct256"):
        r = alone[name]
        columns.append(
            (f"{name} r{r}", _at_most("nearest", name, r), _at_most("matched_within", name, r))
        )
    for name in ("pdq", "dct256"):
        columns.append(
            (
                f"{name} top-{target:g}",
                _under("decoys_nearer", (name,), target),
                _under("decoys_before_match", (name,), target),
            )
        )
    columns.append(
        (
            f"dHash|pdq top-{share:g}",
            _under("decoys_nearer", ("dHash", "pdq"), share),
            _under("decoys_before_match", ("dHash", "pdq"), share),
        )
    )
    print(
        "\nper edit: true work a candidate / today's matches kept / matches gained (today's rule "
        "has no verifying variant among its candidates)"
    )
    print(f"{'edit':<16}{'n':>5}" + "".join(f"{label:>18}" for label, _, _ in columns))
    for edit, group in [*by_edit.items(), ("all", [w for g in by_edit.values() for w in g])]:
        if not group:
            continue
        cells = []
        for _, is_candidate, matches in columns:
            kept = sum(w.today_matched and matches(w) for w in group)
            gained = sum(not w.today_matched and matches(w) for w in group)
            cells.append(f"{sum(map(is_candidate, group))}/{kept}/{gained}")
        print(f"{edit:<16}{len(group):>5}" + "".join(f"{cell:>18}" for cell in cells))


def _widest_filter(split: np.ndarray, total: int, target: float) -> int:
    limit = -1
    while limit + 1 < split.shape[1] and filtered_candidates(split, total, limit + 1) <= target:
        limit += 1
    return limit


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.candcodes", description=__doc__)
    parser.add_argument(
        "--eval", type=Path, help="a folder from bench.evalset (else the load only)"
    )
    parser.add_argument("--sample", type=int, default=None, help="queries per edit")
    parser.add_argument("--target", type=float, default=20.0, help="candidates a query at 1M")
    args = parser.parse_args()
    started = time.perf_counter()
    config = DEFAULT_MATCHING
    pool = load_pool(config)
    print(
        f"{pool.family.size:,} real pictures past the weak-image gate ({CODES}); "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"one real picture stands for {WORKS * ENTRIES_PER_WORK / pool.family.size:,.0f} entries "
        f"at {WORKS:,} works: a top-k estimate under that means no picture of another family "
        "at the true work's distance or nearer (ties count against it)"
    )
    hist, total = cached_histograms(pool, config)
    if args.eval is None:
        report_load(hist, total, args.target)
        return
    works, edits = true_works(args.eval, args.sample, pool, config)
    report(hist, total, works, edits, args.target)
    print(f"({time.perf_counter() - started:.0f} s, load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
