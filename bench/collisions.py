"""How often the candidate rule pairs two different real pictures: `python -m bench.collisions`.

How far the candidate rule is from at most 20 candidates a query at 10M works. Hashes every
distinct picture of corpus2's pool (and the smaller pictures the pool leaves out: icons and
sprites from 32 px), normalized as the
server normalizes a query (registry.fingerprints.decode: flattened on white, trimmed, at
working size), then counts over every pair from *different families* how many fall within
the candidate radius: pHash <= 10, and pHash <= 10 or dHash <= 10 (the rule CandidateIndex
answers today). Per kind of art (pairs of two pictures of that kind) and over all pairs.
Pairs within PDQ 31 in another family are reported apart: the same picture shipped twice.

From the rates, the expected candidates per query at 1M, 10M and 100M works, with the
registry's entries per work (every registered variant is a pHash entry; the dHash variants
are dHash entries, as bench.matching counts them).

The codes are saved to .cache/corpus2/codes.npz for `bench.matching --realistic`.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from collections import Counter
from pathlib import Path

import imagehash
import numpy as np
import pdqhash
from PIL import Image

from bench.corpus2 import (
    GAMES,
    ICON_THEMES,
    MIN_LONG_SIDE,
    ROOT,
    _game,
    _icons,
    build_pool,
    unpack,
)
from registry.fingerprints import FINGERPRINT_VERSION, ImageDecodeError
from registry.fingerprints.decode import decode_image
from registry.fingerprints.descriptor import DESCRIPTOR_BYTES, describe
from registry.fingerprints.fingerprint import information
from registry.matching.rules import DEFAULT_MATCHING

CODES = ROOT / "codes.npz"
SMALLEST = 32
SCALES = (1_000_000, 10_000_000, 100_000_000)
COPY_PDQ = 31
BLOCK = 2048


def _pictures() -> list[tuple[str, str, str]]:
    """(file, kind, family) of every distinct picture: the pool and the smaller ones."""
    pool = build_pool()
    found = [(str(ROOT / p.source), p.kind, p.family) for p in pool]
    unpacked = unpack()
    small = []
    for package in ICON_THEMES:
        small += [(path, kind, family) for _, path, kind, family in _icons(unpacked, package)]
    for package in GAMES:
        small += [(path, kind, family) for _, path, kind, family in _game(unpacked, package)]
    taken = {file for file, _, _ in found}
    for path, kind, family in small:
        if str(path) in taken:
            continue
        try:
            with Image.open(path) as image:
                long_side, short_side = max(image.size), min(image.size)
        except (OSError, ValueError):
            continue
        if SMALLEST <= long_side < MIN_LONG_SIDE and short_side >= SMALLEST // 2:
            found.append((str(path), kind, family))
    return found


def _hash(path: str) -> tuple[int, int, bytes, bytes, float] | None:
    try:
        trimmed = decode_image(Path(path).read_bytes()).trimmed
    except (ImageDecodeError, OSError):
        return None
    gray = trimmed.convert("L")
    bits, _quality = pdqhash.compute(np.asarray(trimmed))
    return (
        int(str(imagehash.phash(gray)), 16),
        int(str(imagehash.dhash(gray)), 16),
        np.packbits(bits.astype(np.uint8)).tobytes(),
        describe(trimmed),
        information(trimmed),
    )


# Every array a saved file must hold; an older file (without the descriptors, or hashed by
# another fingerprint version) is rebuilt.
SAVED = ("phash", "dhash", "pdq", "descriptor", "information", "kind", "family", "version")


def load_codes(processes: int = 2) -> dict[str, np.ndarray]:
    if CODES.exists():
        with np.load(CODES) as saved:
            if all(name in saved.files for name in SAVED) and (
                int(saved["version"]) == FINGERPRINT_VERSION
            ):
                return {name: saved[name] for name in saved.files}
    pictures = _pictures()
    # Identical bytes were dropped by the pool; identical pictures in other files are
    # caught by the PDQ check on colliding pairs.
    with multiprocessing.Pool(processes) as workers:
        hashed = workers.map(_hash, [file for file, _, _ in pictures], chunksize=32)
    keep = [index for index, found in enumerate(hashed) if found is not None]
    codes: dict[str, np.ndarray] = {
        "phash": np.array([hashed[i][0] for i in keep], dtype=np.uint64),  # type: ignore[index]
        "dhash": np.array([hashed[i][1] for i in keep], dtype=np.uint64),  # type: ignore[index]
        "pdq": np.frombuffer(
            b"".join(hashed[i][2] for i in keep),  # type: ignore[index]
            dtype=np.uint64,
        ).reshape(len(keep), 4),
        "descriptor": np.frombuffer(
            b"".join(hashed[i][3] for i in keep),  # type: ignore[index]
            dtype=np.uint8,
        ).reshape(len(keep), DESCRIPTOR_BYTES),
        "information": np.array([hashed[i][4] for i in keep]),  # type: ignore[index]
        "version": np.array(FINGERPRINT_VERSION),
        "kind": np.array([pictures[i][1] for i in keep]),
        "family": np.array([pictures[i][2] for i in keep]),
    }
    partial = CODES.with_name(f"{CODES.stem}.partial.npz")
    np.savez(partial, **codes)  # type: ignore[arg-type]
    partial.rename(CODES)  # a reader never sees half a file
    return codes


def pair_counts(codes: dict[str, np.ndarray], radius: int, dhash_radius: int) -> dict[str, Counter]:
    """Per kind (and "all"): pairs from different families, how many collide by each rule.

    A pair is a near copy (the same picture in two families) when its PDQ distance is within
    COPY_PDQ; those pairs are counted apart and left out of the collision counts."""
    phash, dhash, pdq = codes["phash"], codes["dhash"], codes["pdq"]
    family = np.unique(codes["family"], return_inverse=True)[1]
    kinds, kind = np.unique(codes["kind"], return_inverse=True)
    counts: dict[str, Counter] = {name: Counter() for name in ["all", *kinds.tolist()]}
    n = phash.size
    for start in range(0, n, BLOCK):
        rows = slice(start, min(n, start + BLOCK))
        # Pairs (i, j) with j > i only.
        columns = np.arange(start, n)
        upper = columns[None, :] > np.arange(rows.start, rows.stop)[:, None]
        other_family = family[rows, None] != family[None, columns]
        valid = upper & other_family
        near_p = np.bitwise_count(phash[rows, None] ^ phash[None, columns]) <= radius
        near_d = np.bitwise_count(dhash[rows, None] ^ dhash[None, columns]) <= dhash_radius
        rule = (near_p | near_d) & valid
        copies = np.zeros_like(rule)
        where = np.nonzero(rule)
        if where[0].size:
            distance = np.bitwise_count(pdq[rows][where[0]] ^ pdq[columns][where[1]]).sum(axis=1)
            copies[where[0][distance <= COPY_PDQ], where[1][distance <= COPY_PDQ]] = True
        same_kind = kind[rows, None] == kind[None, columns]
        masks = [("all", valid)]
        masks += [
            (kinds[k], valid & same_kind & (kind[rows, None] == k)) for k in range(kinds.size)
        ]
        for name, mask in masks:
            tally = counts[name]
            tally["pairs"] += int(mask.sum())
            tally["copies"] += int((copies & mask).sum())
            clean = mask & ~copies
            tally["phash"] += int((near_p & clean).sum())
            tally["dhash_only"] += int((near_d & ~near_p & clean).sum())
            tally["union"] += int(((near_p | near_d) & clean).sum())
    for name, kind_count in zip(kinds.tolist(), np.bincount(kind), strict=True):
        counts[name]["pictures"] = int(kind_count)
    counts["all"]["pictures"] = n
    return counts


def entries_per_work() -> tuple[float, float]:
    """(pHash, dHash) entries per registered work, as bench.matching's registry has them."""
    from bench.matching.__main__ import dhash_numbers, registered_variants
    from registry.matching.matcher import variant_numbers

    always, optional = registered_variants()
    margin_share = 0.1
    phash = len(always) + margin_share * len(optional)
    framed = set(dhash_numbers(DEFAULT_MATCHING).tolist())
    dhash = sum(1 for number in variant_numbers(always).tolist() if number in framed) + (
        margin_share * sum(1 for number in variant_numbers(optional).tolist() if number in framed)
    )
    return phash, dhash


def report(codes: dict[str, np.ndarray]) -> None:
    config = DEFAULT_MATCHING
    counts = pair_counts(codes, config.phash_radius, config.dhash_radius)
    phash_entries, dhash_entries = entries_per_work()
    print(
        f"{codes['phash'].size:,} distinct real pictures in {np.unique(codes['family']).size} "
        f"families (Debian packages of bench/corpus2.py), normalized as the server does; "
        f"pairs from different families only"
    )
    print(
        f"rule: pHash <= {config.phash_radius}; today's: pHash <= {config.phash_radius} or "
        f"dHash <= {config.dhash_radius}. Registry: {phash_entries:.2f} pHash and "
        f"{dhash_entries:.2f} dHash entries per work"
    )
    header = (
        f"{'kind':<12}{'pictures':>9}{'pairs':>14}{'copies':>8}{'pHash<=10':>11}"
        f"{'or dHash':>10}" + "".join(f"{f'cand@{s // 1_000_000}M':>12}" for s in SCALES)
    )
    print(header)
    print("-" * len(header))
    order = ["all", *sorted(name for name in counts if name != "all")]
    for name in order:
        tally = counts[name]
        pairs = tally["pairs"]
        if not pairs:
            continue
        phash_rate = tally["phash"] / pairs
        dhash_only_rate = tally["dhash_only"] / pairs
        union_rate = tally["union"] / pairs
        projected = [
            scale * (phash_rate * phash_entries + dhash_only_rate * dhash_entries)
            for scale in SCALES
        ]
        print(
            f"{name:<12}{tally['pictures']:>9,}{pairs:>14,}{tally['copies']:>8,}"
            f"{phash_rate:>11.2e}{union_rate:>10.2e}"
            + "".join(f"{value:>12,.0f}" for value in projected)
        )
    print(
        "cand@N: expected candidate entries per query at N works = N x (pHash rate x pHash "
        "entries + dHash-only rate x dHash entries); uniform random codes: "
        f"{_uniform_rate(config.phash_radius):.1e} per pair"
    )
    phash = codes["phash"]
    chunk = (phash & np.uint64(0xFFFF)).astype(np.int64)
    top = np.bincount(chunk, minlength=1 << 16).max() / phash.size
    print(
        f"most common 16-bit chunk value (low bits of pHash): {top:.2%} of pictures "
        f"(uniform: {1 / (1 << 16):.4%})"
    )


def _uniform_rate(radius: int) -> float:
    from math import comb

    return sum(comb(64, k) for k in range(radius + 1)) / 2**64


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.collisions", description=__doc__)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    started = time.perf_counter()
    codes = load_codes(args.processes)
    report(codes)
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
