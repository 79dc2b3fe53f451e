"""Numba kernels behind `registry.matching.index`: segment builds, the multi-index probe, the scan.

A table stores, for each entry, its code without the table's chunk (the "rest"): the bucket an
entry lies in is its chunk, so the rest and the bucket give back the whole code. A 16-bit chunk
leaves 48 bits, kept as three uint16 parts in three arrays (`rests[0..2]`; narrower chunks
need a fourth): 6 bytes where a copy of the code and a row number took 12, and a scan in 16-bit
lanes compares twice as many entries per instruction as one in 64-bit lanes. Tables keep no
row numbers: table 0 is in row order (the payload, work id and variant, is sorted with it),
and a match found through another table is looked up in table 0 by its code.

Every kernel is `nogil`, so the index runs one per thread on a slice of the queries and both
cores work at once without numba's own threading layer (which is not safe to enter from
several Python threads, as Celery and WSGI servers do). `cache=True` keeps the machine code
in `__pycache__`, so a worker compiles once per machine, not once per start.

Indices into the big arrays are `uint64` on purpose: numba adds a negative-index wraparound
check to every signed subscript, and that check alone keeps LLVM from vectorising the scan
loops (measured: 0.45 ns per candidate signed, 0.15 ns unsigned, with VPOPCNTQ).
"""

from collections.abc import Callable
from typing import Any, cast

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

# An index into the big arrays: a Python int to mypy, a uint64 in compiled code.
Index = int | np.uint64

_U0 = np.uint64(0)
_U1 = np.uint64(1)
_U16 = np.uint64(16)
_U32 = np.uint64(32)
_U48 = np.uint64(48)
_LOW16 = np.uint64(0xFFFF)
# Rests are scanned in whole vectors of this many entries, past a bucket's end: the rest arrays
# carry this much padding after the last table, and a scan that overreaches only re-checks.
SCAN_STEP = 32
_STEP_MASK = np.uint64(SCAN_STEP - 1)


@intrinsic
def _ctpop(typingctx: Any, value: Any) -> Any:
    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        ctpop = builder.module.declare_intrinsic("llvm.ctpop", [ir.IntType(64)])
        return builder.call(ctpop, [args[0]])

    return types.int64(types.uint64), codegen


@intrinsic
def _ctpop16(typingctx: Any, value: Any) -> Any:
    if not isinstance(value, types.Integer):
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        low = args[0]
        if low.type.width > 16:
            low = builder.trunc(low, ir.IntType(16))
        elif low.type.width < 16:
            low = builder.zext(low, ir.IntType(16))
        ctpop = builder.module.declare_intrinsic("llvm.ctpop", [ir.IntType(16)])
        return builder.call(ctpop, [low])

    return types.uint16(value), codegen


# Population count as LLVM's ctpop: POPCNT, or VPOPCNTQ in a vectorised loop. Only callable
# from compiled code; the cast gives mypy the signature the intrinsic has there.
popcount = cast("Callable[[np.uint64], int]", _ctpop)
# The same over the low 16 bits of any integer: a loop of it vectorises as VPOPCNTW, 32 lanes
# an instruction (measured: 0.065 ns per 48-bit rest, against 0.11 in 32-bit lanes).
popcount16 = cast("Callable[[Any], np.uint16]", _ctpop16)


@njit(cache=True, nogil=True, inline="always")
def _rest(code: np.uint64, shift: np.uint64, width: np.uint64) -> np.uint64:
    """The code without bits [shift, shift + width), the bits above moved down to close the gap."""
    low = code & ((_U1 << shift) - _U1)
    top = shift + width
    if top >= 64:  # a shift by 64 is undefined in LLVM
        return low
    return low | ((code >> top) << shift)


@njit(cache=True, nogil=True, inline="always")
def _code(key: np.uint64, rest: np.uint64, shift: np.uint64, width: np.uint64) -> np.uint64:
    """The inverse of `_rest`: the chunk `key` put back at `shift`."""
    code = (rest & ((_U1 << shift) - _U1)) | (key << shift)
    top = shift + width
    if top >= 64:
        return code
    return code | ((rest >> shift) << top)


@njit(cache=True, nogil=True)
def _value(rests: np.ndarray, j: Index) -> np.uint64:
    """The rest at column `j`, from its 16-bit parts."""
    value = np.uint64(rests[0, j]) | (np.uint64(rests[1, j]) << _U16)
    value |= np.uint64(rests[2, j]) << _U32
    if rests.shape[0] == 4:
        value |= np.uint64(rests[3, j]) << _U48
    return value


@njit(cache=True, nogil=True)
def build_table(
    codes: np.ndarray,
    selected: np.ndarray,
    shift: int,
    width: int,
    out_offsets: np.ndarray,
    out_rests: np.ndarray,
    first_column: int,
    work_ids: np.ndarray,
    variants: np.ndarray,
    companions: np.ndarray,
    out_work_ids: np.ndarray,
    out_variants: np.ndarray,
    out_companions: np.ndarray,
) -> None:
    """Counting sort of the selected codes (all if `selected` is empty) by their chunk, then
    each bucket sorted by rest.

    Bucket k of the table is columns `first_column + [out_offsets[k], out_offsets[k + 1])` of
    `out_rests`. Table 0 also sorts the payload with it (`out_work_ids` non-empty): work id,
    variant and companion code. Within a bucket equal codes are then neighbours, so a search
    finds a code's rows in table 0 by bisection and skips a repeated code by looking one back:
    real hashes repeat (blank and near-blank pictures share codes by the thousand), and both
    were linear scans of the bucket. O(n log(bucket) + 2**width).
    """
    ushift, uwidth = np.uint64(shift), np.uint64(width)
    chunk_mask = (_U1 << uwidth) - _U1
    buckets = 1 << width
    parts = out_rests.shape[0]
    everything = selected.size == 0
    starts = np.zeros(buckets + 1, np.int64)
    for i in range(codes.size):
        if everything or selected[i]:
            starts[np.int64((codes[i] >> ushift) & chunk_mask) + 1] += 1
    for k in range(buckets):
        starts[k + 1] += starts[k]
    out_offsets[:] = starts
    payload = out_work_ids.size > 0
    for i in range(codes.size):
        if not (everything or selected[i]):
            continue
        code = codes[i]
        key = np.int64((code >> ushift) & chunk_mask)
        slot = starts[key]
        starts[key] = slot + 1
        rest = _rest(code, ushift, uwidth)
        for part in range(parts):
            out_rests[part, first_column + slot] = (rest >> np.uint64(16 * part)) & _LOW16
        if payload:
            out_work_ids[slot] = work_ids[i]
            out_variants[slot] = variants[i]
            for word in range(companions.shape[1]):
                out_companions[slot, word] = companions[i, word]
    _sort_buckets(out_offsets, out_rests, first_column, out_work_ids, out_variants, out_companions)


@njit(cache=True, nogil=True)
def _sort_buckets(
    offsets: np.ndarray,
    rests: np.ndarray,
    first_column: int,
    work_ids: np.ndarray,
    variants: np.ndarray,
    companions: np.ndarray,
) -> None:
    """Sort every bucket's columns by rest, the payload with them where there is one."""
    payload = work_ids.size > 0
    parts = rests.shape[0]
    for k in range(offsets.size - 1):
        lo, hi = offsets[k], offsets[k + 1]
        if hi - lo < 2:
            continue
        values = np.empty(hi - lo, np.uint64)
        ordered = True
        for j in range(lo, hi):
            values[j - lo] = _value(rests, np.uint64(first_column + j))
            if j > lo and values[j - lo] < values[j - lo - 1]:
                ordered = False
        if ordered:
            continue
        order = np.argsort(values, kind="mergesort")
        for part in range(parts):
            column = rests[part, first_column + lo : first_column + hi].copy()
            for j in range(hi - lo):
                rests[part, first_column + lo + j] = column[order[j]]
        if payload:
            ids = work_ids[lo:hi].copy()
            numbers = variants[lo:hi].copy()
            codes = companions[lo:hi].copy()
            for j in range(hi - lo):
                work_ids[lo + j] = ids[order[j]]
                variants[lo + j] = numbers[order[j]]
                for word in range(codes.shape[1]):
                    companions[lo + j, word] = codes[order[j], word]


@njit(cache=True, nogil=True)
def table_codes(
    offsets: np.ndarray,
    rests: np.ndarray,
    shift: int,
    width: int,
    out_codes: np.ndarray,
) -> None:
    """The whole codes of table 0 (the first columns of `rests`), in its order: row order.
    Merges need them."""
    ushift, uwidth = np.uint64(shift), np.uint64(width)
    for k in range(offsets.size - 1):
        for j in range(np.uint64(offsets[k]), np.uint64(offsets[k + 1])):
            out_codes[j] = _code(np.uint64(k), _value(rests, j), ushift, uwidth)


@njit(cache=True, nogil=True)
def _closest(
    part0: np.ndarray, part1: np.ndarray, part2: np.ndarray, lo: Index, hi: Index, rest: np.uint64
) -> int:
    # A lower bound of the distance from a query's rest to a bucket's: the smallest over the
    # low 48 bits (all of a 16-bit chunk's rest) of the bucket and what follows it up to a
    # whole number of vectors. Branch-free in 16-bit lanes so that LLVM vectorises it, and
    # no scalar tail (4 ns less per probe of a 78-entry bucket). A bucket within reach is
    # re-scanned exactly by the caller. (A fourth part in the loop made every call 65 ns
    # slower, even where it was skipped, so narrower chunks make do with the bound.)
    query0, query1 = np.uint16(rest & _LOW16), np.uint16((rest >> _U16) & _LOW16)
    query2 = np.uint16((rest >> _U32) & _LOW16)
    best = np.uint16(64)
    for j in range(lo, lo + ((hi - lo + _STEP_MASK) & ~_STEP_MASK)):
        distance = popcount16(part0[j] ^ query0) + popcount16(part1[j] ^ query1)
        best = min(best, np.uint16(distance + popcount16(part2[j] ^ query2)))
    return int(best)


@njit(cache=True, nogil=True)
def _seen_earlier_in_bucket(rests: np.ndarray, lo: Index, j: Index, value: np.uint64) -> bool:
    # Within a bucket an equal rest is an equal code, whose rows the first copy reported;
    # buckets are sorted by rest, so a copy is the entry just before.
    return bool(j > lo and _value(rests, j - _U1) == value)


@njit(cache=True, nogil=True)
def _first_at_least(rests: np.ndarray, lo: Index, hi: Index, value: np.uint64) -> Index:
    """The first column of [lo, hi), sorted by rest, whose rest is not below `value`."""
    while lo < hi:
        middle = lo + ((hi - lo) >> _U1)
        if _value(rests, middle) < value:
            lo = middle + _U1
        else:
            hi = middle
    return lo


@njit(cache=True, nogil=True)
def _companion_passes(
    query_companions: np.ndarray,
    query: int,
    companions: np.ndarray,
    row: Index,
    distance: int,
    limits: np.ndarray,
) -> bool:
    """Whether the entry's companion code is within the limit for this primary distance
    (`limits[distance]`, the last limit beyond its end); no limits: every entry passes."""
    if limits.size == 0:
        return True
    limit = limits[min(distance, limits.size - 1)]
    total = 0
    for word in range(companions.shape[1]):
        total += popcount(query_companions[query, word] ^ companions[row, word])
    return total <= limit


@njit(cache=True, nogil=True)
def _emit(
    found: int,
    query: int,
    row: Index,
    distance: int,
    out_query: np.ndarray,
    out_row: np.ndarray,
    out_distance: np.ndarray,
) -> int:
    # Matches beyond the buffers are counted, not written: the caller re-runs with room.
    if found < out_query.size:
        out_query[found] = query
        out_row[found] = row
        out_distance[found] = distance
    return found + 1


@njit(cache=True, nogil=True)
def _found_by_earlier_table(
    diff: np.uint64, table: int, shifts: np.ndarray, widths: np.ndarray, radii: np.ndarray
) -> bool:
    # An entry lies in exactly one bucket per table, so each table meets it at most once; it
    # is reported by the first table whose probe radius covers its chunk distance, and
    # skipped by every later one.
    for u in range(table):
        chunk = (diff >> np.uint64(shifts[u])) & ((_U1 << np.uint64(widths[u])) - _U1)
        if popcount(chunk) <= radii[u]:
            return True
    return False


@njit(cache=True, nogil=True)
def search_tables(
    queries: np.ndarray,
    radius: int,
    shifts: np.ndarray,
    widths: np.ndarray,
    radii: np.ndarray,
    offset_starts: np.ndarray,
    offsets: np.ndarray,
    rests: np.ndarray,
    masks: np.ndarray,
    mask_starts: np.ndarray,
    query_companions: np.ndarray,
    companions: np.ndarray,
    limits: np.ndarray,
    out_query: np.ndarray,
    out_row: np.ndarray,
    out_distance: np.ndarray,
) -> int:
    """Multi-index probe of one segment; returns the number of (query, row) matches, those
    whose companion code passes `limits` (`_companion_passes`).

    For each table the (query, probed bucket) pairs are first grouped by bucket, so that a
    bucket is read from memory once per batch and scanned, from L1, against every query
    that probes it; probing query by query was memory-latency bound (4x slower, measured).
    A probed bucket's key differs from the query's chunk by a known number of bits, so its
    rests are compared against the radius less that number.
    """
    n = offsets[1 << widths[0]]  # table 0's bounds come first; its last is the entry count
    queries_count = queries.size
    found = 0
    shift0, width0 = np.uint64(shifts[0]), np.uint64(widths[0])
    # Views taken once: each costs reference-count updates, 20 ns an entry if taken per entry.
    part0, part1, part2 = rests[0], rests[1], rests[2]
    for t in range(shifts.size):
        first_mask = mask_starts[t]
        mask_count = mask_starts[t + 1] - first_mask
        if mask_count == 0:
            continue
        buckets = 1 << widths[t]
        ushift, uwidth = np.uint64(shifts[t]), np.uint64(widths[t])
        chunk_mask = np.uint64(buckets - 1)
        keys = np.empty(queries_count, np.int64)
        query_rests = np.empty(queries_count, np.uint64)
        for i in range(queries_count):
            keys[i] = np.int64((queries[i] >> ushift) & chunk_mask)
            query_rests[i] = _rest(queries[i], ushift, uwidth)
        group_ends = np.zeros(buckets + 1, np.int64)
        for i in range(queries_count):
            for f in range(first_mask, first_mask + mask_count):
                group_ends[(keys[i] ^ np.int64(masks[f])) + 1] += 1
        for k in range(buckets):
            group_ends[k + 1] += group_ends[k]
        probing = np.empty(queries_count * mask_count, np.int32)
        for i in range(queries_count):
            for f in range(first_mask, first_mask + mask_count):
                key = keys[i] ^ np.int64(masks[f])
                probing[group_ends[key]] = i
                group_ends[key] += 1
        # group_ends[k] is now the end of bucket k's group and the start of bucket k + 1's.
        table_base = np.uint64(t * n)
        offset_base = offset_starts[t]
        group_start = 0
        for k in range(buckets):
            group_end = group_ends[k]
            if group_end == group_start:
                continue
            lo = table_base + np.uint64(offsets[offset_base + k])
            hi = table_base + np.uint64(offsets[offset_base + k + 1])
            if lo == hi:
                group_start = group_end
                continue
            for p in range(group_start, group_end):
                i = probing[p]
                key_diff = np.uint64(k ^ keys[i])
                threshold = radius - popcount(key_diff)
                query_rest = query_rests[i]
                if _closest(part0, part1, part2, lo, hi, query_rest) > threshold:
                    continue
                for j in range(lo, hi):
                    low = popcount16(part0[j] ^ query_rest)
                    low += popcount16(part1[j] ^ (query_rest >> _U16))
                    if low + popcount16(part2[j] ^ (query_rest >> _U32)) > threshold:
                        continue
                    value = _value(rests, j)
                    diff = _code(key_diff, value ^ query_rest, ushift, uwidth)
                    distance = popcount(diff)  # beyond the radius only where rests have 4 parts
                    if distance > radius or _found_by_earlier_table(diff, t, shifts, widths, radii):
                        continue
                    if t == 0:
                        if _companion_passes(query_companions, i, companions, j, distance, limits):
                            found = _emit(found, i, j, distance, out_query, out_row, out_distance)
                    elif not _seen_earlier_in_bucket(rests, lo, j, value):
                        # Every row holding this code, from its bucket in table 0.
                        code = _code(np.uint64(k), value, ushift, uwidth)
                        rest0 = _rest(code, shift0, width0)
                        key0 = np.int64((code >> shift0) & ((_U1 << width0) - _U1))
                        end0 = np.uint64(offsets[key0 + 1])
                        row = _first_at_least(rests, np.uint64(offsets[key0]), end0, rest0)
                        while row < end0 and _value(rests, row) == rest0:
                            if _companion_passes(
                                query_companions, i, companions, row, distance, limits
                            ):
                                found = _emit(
                                    found, i, row, distance, out_query, out_row, out_distance
                                )
                            row += _U1
            group_start = group_end
    return found


@njit(cache=True, nogil=True)
def search_scan(
    queries: np.ndarray,
    radius: int,
    shift: int,
    width: int,
    offsets: np.ndarray,
    rests: np.ndarray,
    query_companions: np.ndarray,
    companions: np.ndarray,
    limits: np.ndarray,
    out_query: np.ndarray,
    out_row: np.ndarray,
    out_distance: np.ndarray,
) -> int:
    """Every entry of table 0 (the first columns of `rests`) compared with every query: its
    columns are the matches' rows (those whose companion passes, as in `search_tables`).

    Scans the tail (one bucket, the whole code as its rest), and any segment at a radius
    where probing costs more.
    """
    found = 0
    ushift, uwidth = np.uint64(shift), np.uint64(width)
    chunk_mask = (_U1 << uwidth) - _U1
    part0, part1, part2 = rests[0], rests[1], rests[2]
    for i in range(queries.size):
        query_key = (queries[i] >> ushift) & chunk_mask
        query_rest = _rest(queries[i], ushift, uwidth)
        for k in range(offsets.size - 1):
            threshold = radius - popcount(np.uint64(k) ^ query_key)
            lo, hi = np.uint64(offsets[k]), np.uint64(offsets[k + 1])
            if threshold < 0 or lo == hi:
                continue
            if _closest(part0, part1, part2, lo, hi, query_rest) > threshold:
                continue
            for j in range(lo, hi):
                low = popcount16(part0[j] ^ query_rest)
                low += popcount16(part1[j] ^ (query_rest >> _U16))
                if low + popcount16(part2[j] ^ (query_rest >> _U32)) > threshold:
                    continue
                rest_distance = popcount(_value(rests, j) ^ query_rest)
                if rest_distance <= threshold:
                    distance = radius - threshold + rest_distance
                    if _companion_passes(query_companions, i, companions, j, distance, limits):
                        found = _emit(found, i, j, distance, out_query, out_row, out_distance)
    return found


@njit(cache=True, nogil=True)
def mark_members(values: np.ndarray, first: int, bitmap: np.ndarray, out: np.ndarray) -> int:
    """`out[i]` = whether bit `values[i] - first` of `bitmap` is set; returns how many are.

    One pass and no temporaries the size of `values` (np.isin made three, and took 20 ns an
    entry on 172M work ids); the bitmap of a 10M-work span stays in L2.
    """
    count = np.int64(0)
    bits = np.int64(bitmap.size) * 8
    for i in range(values.size):
        offset = np.int64(values[i]) - first
        inside = (offset >= 0) & (offset < bits)
        word = np.uint64(offset >> 3) if inside else _U0
        hit = inside & ((bitmap[word] >> np.uint8(offset & 7)) & np.uint8(1) == 1)
        out[i] = hit
        count += np.int64(hit)
    return int(count)
