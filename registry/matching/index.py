"""Exact Hamming-radius search over 64-bit perceptual hashes of registered work variants.

A query is a 64-bit code; the answer is every registered (work, variant) whose code lies
within the search radius. Nothing is approximate: the multi-index hashing below is exact by
the pigeonhole argument, and a test compares it with a brute-force scan. docs/index.md has
the design, the measurements that chose it and the memory model.

Pigeonhole. Cut the 64 bits into m disjoint chunks (they need not cover all 64 bits). If
hamming(q, x) <= r, the chunk distances d_t sum to at most r. Probe chunk t within radius
r_t, with sum(r_t + 1) > r, i.e. sum(r_t) >= r - m + 1: if no chunk were within its probe
radius, every d_t >= r_t + 1 and their sum would exceed r. So some table finds x. A radius
r_t = -1 skips table t, which is how small radii probe fewer tables.

Storage. A table keeps each entry's code without the table's chunk (the bucket gives it back):
6 bytes for a 16-bit chunk. Table 0 is in row order with the payload (work id, variant); a
match found through another table is looked up in table 0 by its code, so no table keeps row
numbers. Removed works are listed per segment, not flagged per entry.

Plain Python and numba; no Django import (docs/design.md, "Architecture").
"""

from __future__ import annotations

import itertools
import math
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np

from registry.matching import _kernels

__all__ = [
    "HammingIndex",
    "Layout",
    "SearchResult",
    "choose_layout",
    "estimated_memory_bytes",
    "probe_radii",
    "warm_up",
]

# work ids, variants, codes, companion codes (n x words, words may be 0)
_Columns = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
_EVERY_ROW = np.zeros(0, np.bool_)  # a selection that is empty selects every row
_NO_LIMITS = np.zeros(0, np.int64)  # companion limits that let every entry through
_INT32 = np.iinfo(np.int32)

CODE_BITS = 64
MAX_CHUNK_BITS = 24  # a 2**24-bucket offset table is 128 MiB; wider chunks never paid off
TAIL_LIMIT = 8192  # newest entries are scanned; a full tail is sealed into the delta segment
MIN_BASE_MERGE = 1 << 17  # the delta is merged into the base when larger than this ...
BASE_MERGE_FRACTION = 8  # ... and than 1/8 of the base, so merges cost O(1) per entry amortised
QUERY_PAIRS_PER_BLOCK = 1 << 23  # (query, bucket) pairs per kernel call: 32 MiB of int32
BLOCKS_PER_THREAD = 4  # in batches of 8,192 queries a block or more

# Per-query cost model, in nanoseconds, measured on the 2-core Xeon this was written on
# (bench/matching). Only the ratios matter: they pick the layout and scan-versus-probe.
_PAIR_NS_CACHED = 6.0  # one (query, bucket) pair while the bucket table stays in L2
_PAIR_NS_MEMORY = 60.0  # the same once it spills: a cache miss on the bucket, hardly grouped
_CANDIDATE_NS = 0.2  # one vectorised XOR + popcount + compare
_SCAN_NS = 0.3  # one brute-force entry, memory bandwidth included
_TABLE_NS = 50.0  # fixed work per table and query (keys, grouping, loop set-up)
_L2_TABLE_BITS = 17
_REST_PART_BITS = 16  # rests are kept in 16-bit parts


@dataclass(frozen=True)
class SearchResult:
    """Parallel arrays, one row per match, sorted by query, then distance, work, variant."""

    query_index: np.ndarray  # int64, position in the searched batch
    work_id: np.ndarray  # int64
    variant: np.ndarray  # uint8, the variant number given to `add`
    distance: np.ndarray  # int32, Hamming distance 0..radius

    def __len__(self) -> int:
        return int(self.query_index.size)


@dataclass(frozen=True)
class Layout:
    """Disjoint chunks of the code, one hash table each: chunk t is bits [shift, shift+width)."""

    widths: tuple[int, ...]

    @property
    def shifts(self) -> tuple[int, ...]:
        return tuple(itertools.accumulate((0, *self.widths[:-1])))

    def __str__(self) -> str:
        return "+".join(str(w) for w in self.widths) + " bits"


SCAN_LAYOUT = Layout((0,))  # one bucket holding every code: what the tail is, and it is scanned


@lru_cache(maxsize=256)
def flip_masks(width: int, radius: int) -> np.ndarray:
    """Every `width`-bit mask of at most `radius` set bits: the buckets probed around a key."""
    masks = [0]
    for flips in range(1, min(radius, width) + 1):
        for bits in itertools.combinations(range(width), flips):
            masks.append(sum(1 << b for b in bits))
    array = np.array(masks, dtype=np.uint64)
    array.flags.writeable = False
    return array


def _ball_size(width: int, radius: int) -> int:
    return sum(math.comb(width, k) for k in range(min(radius, width) + 1)) if radius >= 0 else 0


def _probe_cost_ns(width: int, radius: int, entries: int) -> float:
    probes = _ball_size(width, radius)
    pair_ns = _PAIR_NS_CACHED if width <= _L2_TABLE_BITS else _PAIR_NS_MEMORY
    return probes * (pair_ns + _CANDIDATE_NS * entries / (1 << width))


def probe_radii(layout: Layout, radius: int, entries: int) -> tuple[int, ...]:
    """Per-table probe radii with sum(r_t) = radius - m + 1 (the pigeonhole bound), cheapest first.

    Greedy from all -1 (every table skipped): each step raises the table whose next ring
    of buckets costs least. Any split meeting the bound is exact; this one is fast.
    """
    radii = [-1] * len(layout.widths)
    for _ in range(radius + 1):
        step = [
            _probe_cost_ns(w, r + 1, entries) - _probe_cost_ns(w, r, entries)
            for w, r in zip(layout.widths, radii, strict=True)
        ]
        radii[step.index(min(step))] += 1
    return tuple(radii)


def estimated_cost_ns(layout: Layout | None, radius: int, entries: int) -> float:
    """Estimated nanoseconds per query; `None` is the brute-force scan."""
    if layout is None:
        return _SCAN_NS * entries
    radii = probe_radii(layout, radius, entries)
    probes = sum(_probe_cost_ns(w, r, entries) for w, r in zip(layout.widths, radii, strict=True))
    return probes + _TABLE_NS * len(layout.widths)


def estimated_memory_bytes(
    entries: int, layout: Layout | None, work_id_bytes: int = 4, companion_words: int = 0
) -> int:
    """Bytes of a segment of `entries`: per table a rest per entry and the bucket bounds, and
    the payload (work id, variant, companion code). `None` is the scanned tail: one table,
    the whole code."""
    layout = layout or SCAN_LAYOUT
    tables = (len(layout.widths) * entries + _kernels.SCAN_STEP) * _rest_bytes(layout)
    bounds = sum(((1 << w) + 1) * 8 for w in layout.widths)
    return entries * (work_id_bytes + 1 + 8 * companion_words) + tables + bounds


def _rest_bytes(layout: Layout) -> int:
    return 2 * _rest_parts(layout)


def _rest_parts(layout: Layout) -> int:
    """16-bit parts per rest: 3 for chunks of 16 bits or more, else 4 (at least 3)."""
    return max(3, -(-(CODE_BITS - min(layout.widths)) // _REST_PART_BITS))


def _candidate_layouts(max_tables: int) -> Iterable[Layout]:
    for tables in range(1, max_tables + 1):
        for width in range(4, min(MAX_CHUNK_BITS, CODE_BITS // tables) + 1):
            yield Layout((width,) * tables)
        base, extra = divmod(CODE_BITS, tables)
        if base < MAX_CHUNK_BITS:  # all 64 bits covered, the chunk widths differing by one
            yield Layout((base + 1,) * extra + (base,) * (tables - extra))


def choose_layout(entries: int, radius: int, max_tables: int = 4) -> Layout | None:
    """The cheapest layout for `entries` codes at `radius`, or None where a scan is cheaper."""
    best: Layout | None = None
    best_cost = estimated_cost_ns(None, radius, entries)
    for layout in _candidate_layouts(max_tables):
        cost = estimated_cost_ns(layout, radius, entries)
        if cost < best_cost:
            best, best_cost = layout, cost
    return best


@dataclass(frozen=True)
class _Plan:
    """How one segment answers one radius: the probe radii and masks, or a scan."""

    scan: bool
    radii: np.ndarray
    masks: np.ndarray
    mask_starts: np.ndarray

    @property
    def max_masks(self) -> int:
        return int(np.diff(self.mask_starts).max(initial=1))


@dataclass(frozen=True, eq=False)
class _Segment:
    """An immutable batch of entries with its tables; only the removed works are ever replaced.

    Table t occupies columns `t*n:(t+1)*n` of `rests` (each entry's code without chunk t, in
    16-bit parts, one per row of `rests`, grouped by chunk t) and `offsets[offset_starts[t]:]`
    (bucket bounds). Rows are table 0's order; `work_ids`, `variants` and `companions` are in
    that order. The tail has `SCAN_LAYOUT`: one bucket, whose rests are the whole codes.
    """

    layout: Layout
    work_ids: np.ndarray  # int32 where every id fits, else int64
    variants: np.ndarray
    companions: np.ndarray  # uint64, (n, companion words)
    offsets: np.ndarray
    offset_starts: np.ndarray
    rests: np.ndarray  # uint16, (parts, tables * n + padding)
    dead_works: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # sorted
    dead_entries: int = 0
    plans: dict[int, _Plan] = field(default_factory=dict, compare=False)

    @property
    def size(self) -> int:
        return int(self.work_ids.size)

    @property
    def live(self) -> int:
        return self.size - self.dead_entries

    def nbytes(self) -> int:
        arrays = (
            self.work_ids,
            self.variants,
            self.companions,
            self.offsets,
            self.rests,
            self.dead_works,
        )
        return sum(a.nbytes for a in arrays)

    def row_codes(self) -> np.ndarray:
        codes = np.empty(self.size, dtype=np.uint64)
        width = self.layout.widths[0]
        _kernels.table_codes(
            self.offsets[: (1 << width) + 1],
            self.rests,
            0,
            width,
            codes,
        )
        return codes

    def live_rows(self) -> slice | np.ndarray:
        if not self.dead_entries:
            return slice(None)
        return ~_members(self.work_ids, self.dead_works)[0]

    def without_works(self, work_ids: np.ndarray) -> _Segment:
        fresh = np.setdiff1d(work_ids, self.dead_works, assume_unique=True)
        hit, count = _members(self.work_ids, fresh)
        if not count:
            return self
        # A new segment, never an in-place write: a search running on the old state keeps
        # a consistent view.
        present = np.unique(self.work_ids[hit]).astype(np.int64)
        return replace(
            self,
            dead_works=np.union1d(self.dead_works, present),
            dead_entries=self.dead_entries + count,
            plans=self.plans,
        )

    def explain(self, radius: int) -> str:
        if self.layout == SCAN_LAYOUT:
            return "scan"
        plan = self.plan(radius)
        how = "scan of table 0" if plan.scan else f"probe radii {tuple(plan.radii.tolist())}"
        return f"{self.layout}, {how}"

    def plan(self, radius: int) -> _Plan:
        cached = self.plans.get(radius)
        if cached is None:
            cached = self.plans[radius] = self._make_plan(radius)
        return cached

    def _make_plan(self, radius: int) -> _Plan:
        empty = np.zeros(0, dtype=np.uint64)
        layout = self.layout
        if layout == SCAN_LAYOUT or estimated_cost_ns(None, radius, self.size) <= estimated_cost_ns(
            layout, radius, self.size
        ):
            return _Plan(True, np.zeros(0, np.int64), empty, np.zeros(1, np.int64))
        radii = probe_radii(layout, radius, self.size)
        per_table = [
            flip_masks(w, r) if r >= 0 else empty for w, r in zip(layout.widths, radii, strict=True)
        ]
        starts = np.cumsum([0] + [m.size for m in per_table], dtype=np.int64)
        return _Plan(False, np.array(radii, np.int64), np.concatenate(per_table), starts)

    def search(
        self, queries: np.ndarray, radius: int, companions: np.ndarray, limits: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(query position, row, distance) of every live match in this segment whose
        companion code passes `limits` (none: every match)."""
        plan = self.plan(radius)
        capacity = 64 + 2 * queries.size
        while True:
            out_query = np.empty(capacity, np.int32)
            out_row = np.empty(capacity, np.int64)
            out_distance = np.empty(capacity, np.int32)
            outputs = (out_query, out_row, out_distance)
            found = self._run(plan, queries, radius, (companions, limits), outputs)
            if found <= capacity:
                break
            capacity = found  # the kernel counted every match: one re-run fits them all
        query, row, distance = out_query[:found], out_row[:found], out_distance[:found]
        if self.dead_entries:  # matches are few: removed works are dropped here, not per entry
            live = ~_members(self.work_ids[row], self.dead_works)[0]
            query, row, distance = query[live], row[live], distance[live]
        return query, row, distance

    def _run(
        self,
        plan: _Plan,
        queries: np.ndarray,
        radius: int,
        filtering: tuple[np.ndarray, np.ndarray],
        outputs: tuple[np.ndarray, np.ndarray, np.ndarray],
    ) -> int:
        query_companions, limits = filtering
        companion = (query_companions, self.companions, limits)
        layout = self.layout
        if plan.scan:  # table 0, at the start of the rest arrays
            width = layout.widths[0]
            return int(
                _kernels.search_scan(
                    queries,
                    radius,
                    0,
                    width,
                    self.offsets[: (1 << width) + 1],
                    self.rests,
                    *companion,
                    *outputs,
                )
            )
        return int(
            _kernels.search_tables(
                queries,
                radius,
                np.array(layout.shifts, np.int64),
                np.array(layout.widths, np.int64),
                plan.radii,
                self.offset_starts,
                self.offsets,
                self.rests,
                plan.masks,
                plan.mask_starts,
                *companion,
                *outputs,
            )
        )


def _members(values: np.ndarray, members: np.ndarray) -> tuple[np.ndarray, int]:
    """(whether each value is one of the sorted, unique `members`; how many are)."""
    if not members.size:
        return np.zeros(values.size, dtype=np.bool_), 0
    first, span = int(members[0]), int(members[-1]) - int(members[0]) + 1
    if span > 8 * values.size + (1 << 26):  # a bitmap would outweigh the values: search
        mask = np.isin(values, members)
        return mask, int(np.count_nonzero(mask))
    bitmap = np.zeros(span // 8 + 1, dtype=np.uint8)
    offsets = members - first
    np.bitwise_or.at(bitmap, offsets >> 3, (1 << (offsets & 7)).astype(np.uint8))
    mask = np.empty(values.size, dtype=np.bool_)
    return mask, int(_kernels.mark_members(values, first, bitmap, mask))


def _build_segment(
    columns: _Columns,
    selected: np.ndarray,
    layout: Layout | None,
    run: Callable[[Sequence[Callable[[], None]]], None],
) -> _Segment:
    """A segment of the selected rows (every row if `selected` is empty). The caller's arrays
    are only read: every array of the segment is new, in table 0's order."""
    work_ids, variants, codes, companions = columns
    layout = layout or SCAN_LAYOUT
    n = int(np.count_nonzero(selected)) if selected.size else int(codes.size)
    if n >= 2**31:
        raise ValueError("a segment holds fewer than 2**31 entries; shard the index")
    fits_int32 = not work_ids.size or (
        work_ids.min() >= _INT32.min and work_ids.max() <= _INT32.max
    )
    work_dtype = np.int32 if fits_int32 else np.int64
    sizes = [(1 << w) + 1 for w in layout.widths]
    offset_starts = np.cumsum([0, *sizes[:-1]], dtype=np.int64)
    offsets = np.empty(sum(sizes), dtype=np.int64)
    # Zeroed: the padding after the last table is read by scans, never matched.
    rests = np.zeros((_rest_parts(layout), n * len(sizes) + _kernels.SCAN_STEP), np.uint16)
    out_work_ids = np.empty(n, dtype=work_dtype)
    out_variants = np.empty(n, dtype=np.uint8)
    out_companions = np.empty((n, companions.shape[1]), dtype=np.uint64)
    no_payload = (
        np.zeros(0, dtype=work_dtype),
        np.zeros(0, dtype=np.uint8),
        np.zeros((0, companions.shape[1]), dtype=np.uint64),
    )

    def build(t: int, shift: int, width: int) -> Callable[[], None]:
        start = int(offset_starts[t])
        payload = (out_work_ids, out_variants, out_companions) if t == 0 else no_payload
        return lambda: _kernels.build_table(
            codes,
            selected,
            shift,
            width,
            offsets[start : start + sizes[t]],
            rests,
            t * n,
            work_ids,
            variants,
            companions,
            *payload,
        )

    run([build(t, s, w) for t, (s, w) in enumerate(zip(layout.shifts, layout.widths, strict=True))])
    return _Segment(
        layout, out_work_ids, out_variants, out_companions, offsets, offset_starts, rests
    )


@dataclass(frozen=True)
class _State:
    """What one search reads. Writers build a new state and swap it in with one assignment."""

    base: _Segment | None = None
    delta: _Segment | None = None
    tail: _Segment | None = None

    def segments(self) -> list[_Segment]:
        return [s for s in (self.base, self.delta, self.tail) if s is not None and s.size]


def _as_codes(codes: object, what: str) -> np.ndarray:
    array = np.ascontiguousarray(codes)
    if array.dtype == np.int64:
        array = array.view(np.uint64)  # a PostgreSQL bigint column holds the same 64 bits
    if array.dtype != np.uint64 or array.ndim != 1:
        raise TypeError(f"{what} must be a 1-D uint64 (or int64) array")
    return array


def _as_companions(companions: object, size: int, words: int, what: str) -> np.ndarray:
    """(size, words) uint64; an index without companion codes takes none (None)."""
    if companions is None:
        if words:
            raise ValueError(f"{what}: this index keeps {words} companion words per entry")
        return np.zeros((size, 0), np.uint64)
    array = np.ascontiguousarray(companions)
    if array.dtype == np.int64:
        array = array.view(np.uint64)
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    if array.dtype != np.uint64 or array.shape != (size, words):
        raise ValueError(f"{what} must be uint64 of shape ({size}, {words})")
    return array


def _as_columns(
    work_ids: object, variants: object, codes: object, companions: object, words: int
) -> _Columns:
    """The caller's arrays, converted only where their dtype is not one the kernels take."""
    codes_array = _as_codes(codes, "codes")
    ids = np.ascontiguousarray(work_ids)
    if ids.dtype not in (np.int64, np.int32):
        ids = np.ascontiguousarray(ids, dtype=np.int64)
    numbers = np.ascontiguousarray(variants)
    if not (codes_array.size == ids.size == numbers.size) or ids.ndim != 1:
        raise ValueError("work_ids, variants and codes must have the same length")
    if numbers.size and (numbers.min() < 0 or numbers.max() > 255):
        raise ValueError("variant numbers must fit in 0..255")
    extra = _as_companions(companions, codes_array.size, words, "companions")
    return ids, np.ascontiguousarray(numbers, dtype=np.uint8), codes_array, extra


def _as_selection(where: object, size: int) -> np.ndarray:
    if where is None:
        return _EVERY_ROW
    selected = np.ascontiguousarray(where, dtype=np.bool_)
    if selected.shape != (size,):
        raise ValueError("where must be one boolean per entry")
    return selected


def _live_arrays(segments: Iterable[_Segment], words: int, *more: _Columns) -> _Columns:
    """Every live entry of `segments`, then the rows of `more`, in one new set of arrays: a
    merge holds one copy of the registry beside the old segments, never two."""
    parts: list[_Columns] = []
    for s in segments:
        live = s.live_rows()
        codes = s.row_codes()
        parts.append(
            (
                s.work_ids[live],
                s.variants[live],
                codes[live] if s.dead_entries else codes,
                s.companions[live],
            )
        )
    parts.extend(more)
    if not parts:
        return (
            np.zeros(0, np.int64),
            np.zeros(0, np.uint8),
            np.zeros(0, np.uint64),
            np.zeros((0, words), np.uint64),
        )
    fits_int32 = all(
        not p[0].size or (p[0].min() >= _INT32.min and p[0].max() <= _INT32.max) for p in parts
    )
    work_ids = np.concatenate([p[0] for p in parts], dtype=np.int32 if fits_int32 else np.int64)
    variants = np.concatenate([p[1] for p in parts], dtype=np.uint8)
    codes = np.concatenate([p[2] for p in parts], dtype=np.uint64)
    companions = np.concatenate([p[3] for p in parts], dtype=np.uint64)
    return work_ids, variants, codes, companions


class HammingIndex:
    """Exact search of 64-bit codes within a Hamming radius, updated in place.

    Three segments: the base and the delta carry multi-index tables, the tail (the newest
    few thousand entries) is scanned. `add` appends to the tail; a full tail is merged into
    the delta, a large delta into the base, so each merge is rebuilt from arrays in O(n).
    `remove_works` lists the works as removed in each segment (tombstones); merges drop them.

    One writer at a time. Searches may run in other threads meanwhile: each reads one
    immutable snapshot, so it sees an update completely or not at all.
    """

    registry_version: int

    def __init__(
        self,
        *,
        radius: int,
        threads: int | None = None,
        max_tables: int = 4,
        companion_words: int = 0,
    ) -> None:
        self.radius = _checked_radius(radius)
        self.threads = threads or _available_cpus()
        self.max_tables = max_tables
        # Each entry may carry a second code of this many 64-bit words, which a search can
        # require to lie within limits of the query's (`search(..., companions, limits)`).
        self.companion_words = companion_words
        self.registry_version = 0  # the caller sets the ledger sequence it loaded up to
        self._state = _State()
        self._write_lock = threading.Lock()

    @classmethod
    def from_arrays(
        cls,
        work_ids: np.ndarray,
        variants: np.ndarray,
        codes: np.ndarray,
        *,
        radius: int,
        registry_version: int = 0,
        where: np.ndarray | None = None,
        companions: np.ndarray | None = None,
        **options: int,
    ) -> HammingIndex:
        """A full build from arrays, e.g. loaded from PostgreSQL (`where` as in `add`)."""
        if companions is not None and "companion_words" not in options:
            options["companion_words"] = 1 if companions.ndim == 1 else int(companions.shape[1])
        index = cls(radius=radius, **options)
        index.add(work_ids, variants, codes, where=where, companions=companions)
        index.registry_version = registry_version
        return index

    def __len__(self) -> int:
        """Live (not removed) entries."""
        return sum(s.live for s in self._state.segments())

    def memory_bytes(self) -> int:
        """Bytes held in the index's arrays: tables, payload (work id, variant, companion code)
        and tombstones."""
        return sum(s.nbytes() for s in self._state.segments())

    def describe(self, radius: int | None = None) -> list[tuple[str, int, str]]:
        """(segment, entries, how it is searched at `radius`) for logs and the benchmark."""
        radius = self.radius if radius is None else _checked_radius(radius)
        state = self._state
        named = (("base", state.base), ("delta", state.delta), ("tail", state.tail))
        return [(name, s.size, s.explain(radius)) for name, s in named if s is not None]

    def add(
        self,
        work_ids: np.ndarray,
        variants: np.ndarray,
        codes: np.ndarray,
        *,
        where: np.ndarray | None = None,
        companions: np.ndarray | None = None,
    ) -> None:
        """Register entries (those where `where` is true, if given); they are found by every
        search that starts after this returns. `companions`: each entry's companion code,
        (entries, companion_words) uint64, required when the index keeps them.

        The caller's arrays are read, never kept or written: the index holds its own compact
        copy (work ids as int32 where they fit). `where` spares the caller a filtered copy.
        """
        columns = _as_columns(work_ids, variants, codes, companions, self.companion_words)
        selected = _as_selection(where, columns[2].size)
        count = int(np.count_nonzero(selected)) if selected.size else columns[2].size
        if not count:
            return
        with self._write_lock:
            state = self._state
            empty = all(s is None for s in (state.base, state.delta, state.tail))
            if count > TAIL_LIMIT and empty:
                # The full build from PostgreSQL: tables straight from the caller's arrays.
                self._state = _State(base=self._build(columns, selected))
                return
            pending: _Columns = columns if not selected.size else (*(c[selected] for c in columns),)
            if state.tail is not None:
                pending = _live_arrays([state.tail], self.companion_words, pending)
            if pending[0].size <= TAIL_LIMIT:
                tail = _build_segment(pending, _EVERY_ROW, None, self._run_all)
                self._state = replace(state, tail=tail)
            else:
                self._state = self._merged(state, pending)

    def remove_works(self, work_ids: Iterable[int]) -> None:
        """Tombstone every entry these works have now: no later search returns them.

        Entries added for the same work id afterwards are new entries and are found.
        """
        ids = np.unique(np.fromiter(work_ids, dtype=np.int64))
        if not ids.size:
            return
        with self._write_lock:
            state = self._state
            segments = (state.base, state.delta, state.tail)
            state = _State(*(s.without_works(ids) if s is not None else None for s in segments))
            dead = sum(s.size - s.live for s in state.segments())
            # Dead entries still cost probes and memory; past a quarter, rebuild without them.
            if dead > max(TAIL_LIMIT, (sum(s.size for s in state.segments()) - dead) // 4):
                state = self._compacted(state)
            self._state = state

    def compact(self) -> None:
        """Rebuild everything into one base segment, dropping tombstones."""
        with self._write_lock:
            self._state = self._compacted(self._state)

    def _compacted(self, state: _State) -> _State:
        columns = _live_arrays(state.segments(), self.companion_words)
        return _State(base=self._build(columns)) if columns[0].size else _State()

    def search(
        self,
        codes: np.ndarray,
        radius: int | None = None,
        *,
        companions: np.ndarray | None = None,
        limits: np.ndarray | None = None,
    ) -> SearchResult:
        """Every live entry within `radius` (default: the index's) of each query code.

        With `companions` (the queries' companion codes) and `limits`, only the entries whose
        companion code lies within `limits[d]` bits of the query's, d being their distance
        (the last limit for distances past its end): a second code that must agree too,
        checked where the match is found, so the entries it refuses are never collected.
        """
        radius = self.radius if radius is None else _checked_radius(radius)
        queries = _as_codes(codes, "query codes")
        if limits is None or not self.companion_words:
            query_companions = np.zeros((queries.size, self.companion_words), np.uint64)
            limits = _NO_LIMITS
        else:
            query_companions = _as_companions(
                companions, queries.size, self.companion_words, "query companions"
            )
            limits = np.ascontiguousarray(limits, dtype=np.int64)
            if limits.ndim != 1 or not limits.size:
                raise ValueError("limits must be a non-empty 1-D array")
        segments = self._state.segments()
        if not queries.size or not segments:
            return _empty_result()
        blocks = self._blocks(queries, segments, radius)
        filtering = limits
        results: list[tuple[int, list[tuple[np.ndarray, np.ndarray, np.ndarray]]]] = [
            (start, []) for start, _ in blocks
        ]

        def work(k: int) -> Callable[[], None]:
            start, stop = blocks[k]
            return lambda: results[k][1].extend(
                s.search(queries[start:stop], radius, query_companions[start:stop], filtering)
                for s in segments
            )

        self._run_all([work(k) for k in range(len(blocks))])
        return _collect(results, segments)

    def _blocks(
        self, queries: np.ndarray, segments: list[_Segment], radius: int
    ) -> list[tuple[int, int]]:
        # Large enough that each bucket read serves many queries, small enough to bound the
        # pair array; at least one block per thread, and in large batches several, so that a
        # thread whose core is busy elsewhere takes fewer of them (the pool hands them out as
        # threads free up), and their pair arrays stay smaller: 5% less CPU, measured.
        max_masks = max(s.plan(radius).max_masks for s in segments)
        size = max(256, QUERY_PAIRS_PER_BLOCK // max_masks)
        count = max(
            math.ceil(queries.size / size),
            min(self.threads, queries.size // 256),
            min(self.threads * BLOCKS_PER_THREAD, queries.size // 8192),
            1,
        )
        bounds = np.linspace(0, queries.size, count + 1).astype(np.int64)
        return [(int(a), int(b)) for a, b in itertools.pairwise(bounds)]

    def _merged(self, state: _State, tail: _Columns) -> _State:
        base_size = state.base.live if state.base is not None else 0
        delta = [state.delta] if state.delta is not None else []
        pending_size = sum(s.live for s in delta) + tail[0].size
        if pending_size <= max(MIN_BASE_MERGE, base_size // BASE_MERGE_FRACTION):
            words = self.companion_words
            return _State(base=state.base, delta=self._build(_live_arrays(delta, words, tail)))
        if state.base is None and state.delta is None:
            return _State(base=self._build(tail))
        merged = [s for s in (state.base, state.delta) if s is not None]
        return _State(base=self._build(_live_arrays(merged, self.companion_words, tail)))

    def _build(self, columns: _Columns, selected: np.ndarray = _EVERY_ROW) -> _Segment:
        count = int(np.count_nonzero(selected)) if selected.size else columns[2].size
        layout = choose_layout(count, self.radius, self.max_tables)
        return _build_segment(columns, selected, layout, self._run_all)

    def _run_all(self, tasks: Sequence[Callable[[], None]]) -> None:
        if len(tasks) <= 1 or self.threads <= 1:
            for task in tasks:
                task()
            return
        for future in [_executor(self.threads).submit(task) for task in tasks]:
            future.result()


def _available_cpus() -> int:
    affinity = getattr(os, "sched_getaffinity", None)  # Linux: the CPUs this process may use
    return len(affinity(0)) if affinity else os.cpu_count() or 1


def _checked_radius(radius: int) -> int:
    if not 0 <= radius <= CODE_BITS:
        raise ValueError(f"radius must be in 0..{CODE_BITS}, got {radius}")
    return int(radius)


def _empty_result() -> SearchResult:
    return SearchResult(
        np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.uint8), np.zeros(0, np.int32)
    )


def _collect(
    results: list[tuple[int, list[tuple[np.ndarray, np.ndarray, np.ndarray]]]],
    segments: list[_Segment],
) -> SearchResult:
    query_parts, work_parts, variant_parts, distance_parts = [], [], [], []
    for start, per_segment in results:
        for segment, (query, row, distance) in zip(segments, per_segment, strict=True):
            query_parts.append(query.astype(np.int64) + start)
            work_parts.append(segment.work_ids[row].astype(np.int64))
            variant_parts.append(segment.variants[row])
            distance_parts.append(distance)
    query_index = np.concatenate(query_parts)
    work_id = np.concatenate(work_parts)
    variant = np.concatenate(variant_parts)
    distance = np.concatenate(distance_parts)
    order = np.lexsort((variant, work_id, distance, query_index))
    return SearchResult(query_index[order], work_id[order], variant[order], distance[order])


def warm_up() -> None:
    """Compile (or load from numba's cache) every kernel, so a worker's first search is fast.

    Runs the real code paths on small indexes, so the kernels see the argument types that
    builds and searches will give them: 16-bit chunks (6-byte rests) as in a large base,
    narrower ones as in the delta, the whole code in the tail, and int32 and int64 work ids.
    """
    rng = np.random.default_rng(0)
    size = TAIL_LIMIT + 1
    codes = rng.integers(0, 2**63, size, dtype=np.uint64)
    variants = np.zeros(size, np.uint8)
    for first_id in (0, 2**40):  # work ids stored as int32, then as int64
        work_ids = np.arange(first_id, first_id + size)
        index = HammingIndex(radius=8, threads=1)
        index.add(work_ids, variants, codes)  # tables with narrow chunks
        index.add(work_ids[:1], variants[:1], codes[:1])  # tail
        index.search(codes[:4])
        index.search(codes[:4], radius=CODE_BITS)  # scans table 0
        paired = HammingIndex(radius=8, threads=1, companion_words=1)
        paired.add(work_ids, variants, codes, companions=codes[::-1])  # with companion codes
        paired.search(codes[:4], companions=codes[-4:], limits=np.array([8]))
        index.remove_works([int(work_ids[0])])
        index.compact()
        no_companions = np.zeros((size, 0), np.uint64)
        wide = _build_segment(
            (work_ids, variants, codes, no_companions),
            _EVERY_ROW,
            Layout((16,) * 4),
            index._run_all,
        )
        wide.search(codes[:4], 8, no_companions[:4], _NO_LIMITS)
        wide.search(codes[:4], CODE_BITS, no_companions[:4], _NO_LIMITS)
        wide.row_codes()


_executors: dict[int, Executor] = {}
_executors_lock = threading.Lock()


def _after_fork_in_child() -> None:
    # A pool inherited through fork (Celery's prefork workers) has no threads left in the
    # child and would never run a task, and the lock may have been held mid-fork: start anew.
    global _executors_lock
    _executors.clear()
    _executors_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _executor(threads: int) -> Executor:
    # One pool per thread count for the process: kernels release the GIL, so its threads
    # run on separate cores.
    with _executors_lock:
        if threads not in _executors:
            _executors[threads] = ThreadPoolExecutor(threads, thread_name_prefix="hamming")
        return _executors[threads]
