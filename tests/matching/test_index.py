"""The Hamming index against a brute-force scan: exact, whatever the layout, radius or history.

Plain pytest, no database: the index imports no Django.
"""

import multiprocessing
import threading

import numpy as np
import pytest

from registry.matching._kernels import SCAN_STEP
from registry.matching.index import (
    TAIL_LIMIT,
    HammingIndex,
    Layout,
    choose_layout,
    estimated_memory_bytes,
    probe_radii,
)

Match = tuple[int, int, int, int]  # query position, work id, variant, distance


class Registry:
    """The truth the index must agree with: every live (work, variant, code)."""

    def __init__(self) -> None:
        self.work_ids = np.zeros(0, np.int64)
        self.variants = np.zeros(0, np.uint8)
        self.codes = np.zeros(0, np.uint64)

    def add(self, index: HammingIndex, work_ids, variants, codes) -> None:
        index.add(work_ids, variants, codes)
        self.work_ids = np.concatenate([self.work_ids, work_ids])
        self.variants = np.concatenate([self.variants, variants])
        self.codes = np.concatenate([self.codes, codes])

    def remove(self, index: HammingIndex, work_ids) -> None:
        index.remove_works(work_ids)
        keep = ~np.isin(self.work_ids, list(work_ids))
        self.work_ids, self.variants, self.codes = (
            self.work_ids[keep],
            self.variants[keep],
            self.codes[keep],
        )

    def brute_force(self, queries: np.ndarray, radius: int) -> set[Match]:
        matches: set[Match] = set()
        for first in range(0, queries.size, 64):  # bounded memory on large registries
            distances = np.bitwise_count(queries[first : first + 64, None] ^ self.codes[None, :])
            q, e = np.nonzero(distances <= radius)
            matches.update(
                zip(
                    (q + first).tolist(),
                    self.work_ids[e].tolist(),
                    self.variants[e].tolist(),
                    distances[q, e].tolist(),
                    strict=True,
                )
            )
        return matches


def random_codes(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 2**64, n, dtype=np.uint64, endpoint=False)


def works(rng: np.random.Generator, first_work: int, count: int, variants: int = 13):
    work_ids = np.repeat(np.arange(first_work, first_work + count, dtype=np.int64), variants)
    numbers = np.tile(np.arange(variants, dtype=np.uint8), count)
    return work_ids, numbers, random_codes(rng, work_ids.size)


def flip_bits(rng: np.random.Generator, code: np.uint64, count: int) -> np.uint64:
    for bit in rng.choice(64, count, replace=False):
        code ^= np.uint64(1) << np.uint64(bit)
    return code


def queries_near(rng: np.random.Generator, codes: np.ndarray, radius: int, n: int) -> np.ndarray:
    """Codes at exactly radius-1, radius and radius+1 from registered ones, and random ones."""
    picked = codes[rng.integers(0, codes.size, n)]
    distances = np.clip(np.array([radius - 1, radius, radius + 1]), 0, 64)
    near = [flip_bits(rng, c, int(distances[i % 3])) for i, c in enumerate(picked)]
    return np.concatenate([np.array(near, np.uint64), random_codes(rng, n // 3)])


def found(result) -> set[Match]:
    rows = zip(
        result.query_index.tolist(),
        result.work_id.tolist(),
        result.variant.tolist(),
        result.distance.tolist(),
        strict=True,
    )
    matches = set(rows)
    assert len(matches) == len(result), "an entry was reported twice"
    return matches


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240611)


@pytest.fixture
def alice_index(rng) -> tuple[HammingIndex, Registry]:
    """3,000 works of 13 variants each: large enough for multi-index tables."""
    index, registry = HammingIndex(radius=10, threads=2), Registry()
    registry.add(index, *works(rng, 0, 3000))
    return index, registry


@pytest.mark.parametrize("radius", [0, 1, 4, 8, 9, 10, 12])
def test_matches_brute_force_at_each_radius(alice_index, rng, radius):
    index, registry = alice_index
    queries = queries_near(rng, registry.codes, radius, 600)

    assert found(index.search(queries, radius)) == registry.brute_force(queries, radius)


@pytest.mark.parametrize("max_tables", [1, 2, 3, 4])
def test_every_layout_is_exact(rng, max_tables):
    index, registry = HammingIndex(radius=9, max_tables=max_tables), Registry()
    registry.add(index, *works(rng, 0, 2000))
    queries = queries_near(rng, registry.codes, 9, 300)

    assert found(index.search(queries)) == registry.brute_force(queries, 9)


@pytest.mark.parametrize("radius", range(13))
def test_a_code_at_the_radius_is_found_and_one_beyond_is_not(alice_index, rng, radius):
    index, registry = alice_index
    target = registry.codes[1234]
    at_radius = flip_bits(rng, target, radius)
    beyond = at_radius
    while np.bitwise_count(beyond ^ target) != radius + 1:
        beyond = flip_bits(rng, at_radius, 1)

    result = index.search(np.array([at_radius, beyond], np.uint64), radius)

    hits = {(q, w, v) for q, w, v, _ in found(result)}
    assert (0, int(registry.work_ids[1234]), int(registry.variants[1234])) in hits
    assert (1, int(registry.work_ids[1234]), int(registry.variants[1234])) not in hits


def test_probe_radii_meet_the_pigeonhole_bound():
    for layout in [Layout((16,) * 4), Layout((22, 21, 21)), Layout((12,) * 4), Layout((8,))]:
        for radius in range(0, 25):
            radii = probe_radii(layout, radius, entries=10**6)
            # If every chunk distance exceeded its probe radius, the total would exceed radius.
            assert sum(r + 1 for r in radii) > radius


def test_layout_scales_with_the_registry():
    assert choose_layout(100, 10) is None  # a scan is cheaper than any table
    assert choose_layout(13_000_000, 10) == Layout((16, 16, 16, 16))
    three_tables = choose_layout(130_000_000, 10, max_tables=3)
    assert three_tables is not None and len(three_tables.widths) == 3


def test_adds_after_the_build_are_found(alice_index, rng):
    index, registry = alice_index
    first = 3000
    # One work (the tail), a batch past the tail limit (the delta), then past the base
    # merge threshold (a new base): each stage must agree with brute force.
    for count in (1, 5, TAIL_LIMIT // 13 + 10, 12_000):
        registry.add(index, *works(rng, first, count))
        first += count
        queries = queries_near(rng, registry.codes[-count * 13 :], 8, 300)
        assert found(index.search(queries, 8)) == registry.brute_force(queries, 8)
    assert len(index) == registry.codes.size
    assert {name for name, _, _ in index.describe()} >= {"base"}


def test_a_removed_work_is_never_returned_again(alice_index, rng):
    index, registry = alice_index
    bob_works = [7, 8, 2999]
    bob_codes = registry.codes[np.isin(registry.work_ids, bob_works)].copy()
    registry.remove(index, bob_works)

    assert not set(index.search(bob_codes, 12).work_id.tolist()) & set(bob_works)
    # Nor after merges and a compaction rebuild the segments.
    registry.add(index, *works(rng, 5000, TAIL_LIMIT // 13 + 1))
    index.compact()
    assert not set(index.search(bob_codes, 12).work_id.tolist()) & set(bob_works)
    assert len(index) == registry.codes.size
    queries = queries_near(rng, registry.codes, 10, 300)
    assert found(index.search(queries)) == registry.brute_force(queries, 10)


def test_removing_from_the_tail_and_the_delta(rng):
    index, registry = HammingIndex(radius=8), Registry()
    registry.add(index, *works(rng, 0, 1000))  # the delta
    registry.add(index, *works(rng, 1000, 3))  # the tail
    removed = registry.codes[np.isin(registry.work_ids, [5, 1001])]
    registry.remove(index, [5, 1001])

    queries = np.concatenate([removed, queries_near(rng, registry.codes, 8, 200)])
    assert found(index.search(queries)) == registry.brute_force(queries, 8)


def test_a_removed_then_re_added_work_is_found_once(alice_index, rng):
    # The ledger replay removes the works it saw change, then adds their current rows.
    index, registry = alice_index
    carol = registry.work_ids == 42
    carol_rows = registry.work_ids[carol], registry.variants[carol], registry.codes[carol]
    registry.remove(index, [42])
    registry.add(index, *carol_rows)

    result = index.search(carol_rows[2], 0)

    assert found(result) == registry.brute_force(carol_rows[2], 0)
    assert np.count_nonzero(result.work_id == 42) >= 13


def test_removals_of_scattered_ids_match_brute_force(rng):
    # Removed works are matched with a bitmap over their span: ids at its edges, ids outside
    # the registry and ids on byte boundaries must all be handled alike.
    index, registry = HammingIndex(radius=8), Registry()
    registry.add(index, *works(rng, 100, 3000))
    removed = [100, 107, 108, 115, 116, 3099, 5, 99_999, *rng.integers(100, 3100, 40).tolist()]
    gone = registry.codes[np.isin(registry.work_ids, removed)]
    registry.remove(index, removed)

    queries = np.concatenate([queries_near(rng, registry.codes, 8, 300), gone])

    assert found(index.search(queries)) == registry.brute_force(queries, 8)
    assert len(index) == registry.codes.size


def test_many_removals_trigger_a_rebuild(alice_index):
    index, registry = alice_index
    registry.remove(index, range(0, 2000))

    assert len(index) == registry.codes.size
    assert [name for name, _, _ in index.describe()] == ["base"]
    queries = registry.codes[:100]
    assert found(index.search(queries)) == registry.brute_force(queries, 10)


def test_an_empty_index(rng):
    index = HammingIndex(radius=10)

    result = index.search(random_codes(rng, 5))

    assert len(result) == 0 and len(index) == 0 and index.memory_bytes() == 0
    index.remove_works([1, 2])
    index.compact()
    assert len(index.search(np.zeros(0, np.uint64))) == 0


def test_identical_codes_of_many_works_are_all_returned(rng):
    # Blank or near-blank images share one hash: one huge bucket, every work must come back.
    index, registry = HammingIndex(radius=8), Registry()
    work_ids, variants, codes = works(rng, 0, 2000)
    codes[::3] = codes[0]
    registry.add(index, work_ids, variants, codes)

    queries = np.array([codes[0], flip_bits(rng, codes[0], 8), flip_bits(rng, codes[0], 9)])
    result = index.search(queries)

    assert found(result) == registry.brute_force(queries, 8)
    assert np.count_nonzero(result.query_index == 0) >= codes.size // 3


def test_any_radius_up_to_64_is_exact(alice_index, rng):
    index, registry = alice_index
    queries = random_codes(rng, 20)

    for radius in (20, 64):  # answered by scanning, the cheaper plan here
        assert found(index.search(queries, radius)) == registry.brute_force(queries, radius)


def test_results_are_sorted_by_query_then_distance(alice_index, rng):
    index, registry = alice_index
    result = index.search(queries_near(rng, registry.codes, 12, 300), 12)

    keys = list(zip(result.query_index.tolist(), result.distance.tolist(), strict=True))
    assert keys == sorted(keys)
    assert result.query_index.dtype == np.int64 and result.work_id.dtype == np.int64


def test_signed_bigint_codes_are_the_same_bits(rng):
    index = HammingIndex(radius=4)
    codes = random_codes(rng, 50)
    index.add(np.arange(50), np.zeros(50, np.uint8), codes.view(np.int64))

    result = index.search(codes.view(np.int64)[:3], 0)

    assert result.work_id.tolist() == [0, 1, 2]


def test_bad_input_is_refused():
    index = HammingIndex(radius=8)
    with pytest.raises(ValueError):
        HammingIndex(radius=65)
    with pytest.raises(ValueError):
        index.search(np.zeros(1, np.uint64), radius=-1)
    with pytest.raises(ValueError):
        index.add(np.arange(2), np.zeros(1, np.uint8), np.zeros(2, np.uint64))
    with pytest.raises(ValueError):
        index.add(np.arange(1), np.array([256]), np.zeros(1, np.uint64))
    with pytest.raises(TypeError):
        index.search(np.zeros(1, np.float64))


def test_the_caller_keeps_its_arrays(rng):
    index = HammingIndex(radius=2)
    work_ids, variants, codes = works(rng, 0, 10)
    index.add(work_ids, variants, codes)
    original = codes.copy()
    codes[:] = 0
    work_ids[:] = -1

    result = index.search(original[:1], 0)

    assert result.work_id.tolist() == [0]


def _search_in_child(index: HammingIndex, codes: np.ndarray) -> None:
    assert index.search(codes, 0).work_id.size == codes.size


def test_a_forked_worker_can_search_an_index_built_before_the_fork(alice_index):
    # Celery's prefork children inherit the parent's index (and its thread pool, if any).
    index, registry = alice_index
    queries = registry.codes[:600]
    index.search(queries)  # starts the parent's pool
    child = multiprocessing.get_context("fork").Process(
        target=_search_in_child, args=(index, queries)
    )
    child.start()
    child.join(timeout=60)

    assert child.exitcode == 0


def test_only_the_rows_where_selects_are_registered(rng):
    # CandidateIndex indexes dHashes of some variants only, without a filtered copy.
    work_ids, variants, codes = works(rng, 0, 1000)
    where = np.isin(variants, [0, 4, 5])
    index = HammingIndex.from_arrays(work_ids, variants, codes, radius=10, where=where)
    registry = Registry()
    registry.work_ids, registry.variants, registry.codes = (
        work_ids[where],
        variants[where],
        codes[where],
    )

    queries = np.concatenate([queries_near(rng, codes, 10, 300), codes[~where][:50]])

    assert len(index) == int(where.sum())
    assert found(index.search(queries)) == registry.brute_force(queries, 10)


@pytest.fixture(scope="module")
def dave_index() -> tuple[HammingIndex, Registry]:
    """25,000 works of 13 variants, large enough for four 16-bit tables (6-byte rests). Works
    0-39 share one code on variant 0, and a tenth of the works have two variants alike."""
    rng = np.random.default_rng(7)
    work_ids, variants, codes = works(rng, 0, 25_000)
    codes[work_ids < 40] = np.where(variants[work_ids < 40] == 0, codes[0], codes[work_ids < 40])
    twins = np.flatnonzero((variants == 2) & (work_ids % 10 == 0))
    codes[twins] = codes[twins - 1]
    index, registry = HammingIndex(radius=10, threads=2), Registry()
    registry.add(index, work_ids, variants, codes)
    return index, registry


def test_a_base_of_16_bit_chunks_matches_brute_force(dave_index):
    index, registry = dave_index
    rng = np.random.default_rng(8)
    (name, size, how), *_ = index.describe()
    assert (name, size) == ("base", registry.codes.size) and how.startswith("16+16+16+16 bits")

    for radius in (6, 10, 12):
        queries = queries_near(rng, registry.codes, radius, 300)
        assert found(index.search(queries, radius)) == registry.brute_force(queries, radius)


def test_a_shared_code_found_through_a_later_table_reports_every_work_once(dave_index):
    # Three flipped bits in chunk 0 are beyond table 0's probe radius (2): the later tables
    # find the code, and table 0 gives every row that holds it.
    index, registry = dave_index
    shared = registry.codes[0]
    query = np.array([shared ^ np.uint64(0b111), shared ^ np.uint64(0b111 << 16)], np.uint64)

    result = index.search(query)

    assert found(result) == registry.brute_force(query, 10)
    assert np.count_nonzero(result.query_index == 0) >= 40


def test_a_removed_work_sharing_a_code_with_live_ones_is_dropped_alone(dave_index):
    _, registry = dave_index
    index = HammingIndex(radius=10)
    index.add(registry.work_ids, registry.variants, registry.codes)
    query = np.array([registry.codes[0] ^ np.uint64(0b111)], np.uint64)

    index.remove_works([3, 17])

    got = index.search(query).work_id.tolist()
    assert 3 not in got and 17 not in got and len(set(got) & set(range(40))) == 38


def test_a_base_costs_what_the_memory_model_says(dave_index):
    index, registry = dave_index
    layout = Layout((16,) * 4)

    # Four 6-byte rests, a 4-byte work id and a variant per entry; the bucket bounds, and a
    # vector of padding after the last table.
    assert index.memory_bytes() == estimated_memory_bytes(registry.codes.size, layout)
    bounds = 4 * (2**16 + 1) * 8
    assert index.memory_bytes() == 29 * registry.codes.size + bounds + SCAN_STEP * 6


def test_work_ids_beyond_32_bits_come_back_whole(rng):
    index, registry = HammingIndex(radius=8), Registry()
    work_ids, variants, codes = works(rng, 0, 2000)
    registry.add(index, work_ids + 2**40, variants, codes)
    registry.add(index, *works(rng, 2**33, 3))  # the tail
    registry.remove(index, [2**40 + 5, 2**33 + 1])  # ids too far apart for a bitmap

    queries = queries_near(rng, registry.codes, 8, 300)

    assert found(index.search(queries)) == registry.brute_force(queries, 8)


def test_searches_during_updates_see_whole_snapshots(alice_index, rng):
    # A writer adds and removes other works while readers search: entries present throughout
    # must be found by every search, whatever update is half done.
    index, registry = alice_index
    steady = registry.codes[:500]
    misses: list[int] = []

    def reader() -> None:
        for _ in range(20):
            misses.append(500 - np.unique(index.search(steady, 0).query_index).size)

    readers = [threading.Thread(target=reader) for _ in range(2)]
    for thread in readers:
        thread.start()
    for step in range(20):
        index.add(*works(rng, 10_000 + step * 700, 700))
        index.remove_works(range(10_000 + step * 700, 10_000 + step * 700 + 350))
    for thread in readers:
        thread.join()

    assert misses and not any(misses)


# -- companion codes: a second code each entry carries, which a search may require to agree --


def _companion_truth(registry: Registry, companions, queries, query_companions, radius, limits):
    """Brute force of the joint rule: within `radius`, and the companion within the limit
    for that distance (the last limit past the end of `limits`)."""
    wanted = set()
    for match in registry.brute_force(queries, radius):
        position, work, variant, distance = match
        rows = np.flatnonzero((registry.work_ids == work) & (registry.variants == variant))
        extra = int(np.bitwise_count(companions[rows[0]] ^ query_companions[position]).sum())
        if extra <= limits[min(distance, len(limits) - 1)]:
            wanted.add(match)
    return wanted


def _skewed_codes(rng: np.random.Generator, n: int) -> np.ndarray:
    """Codes like real pHashes: half of them a few bits from one of 20 common codes (blank
    and near-blank pictures), many repeated exactly."""
    codes = random_codes(rng, n)
    common = random_codes(rng, 20)
    skewed = rng.random(n) < 0.5
    codes[skewed] = common[rng.integers(0, 20, int(skewed.sum()))]
    for row in np.flatnonzero(skewed & (rng.random(n) < 0.5)):
        codes[row] = flip_bits(rng, codes[row], int(rng.integers(1, 4)))
    return codes


def test_skewed_codes_repeated_by_the_thousand_match_brute_force(rng):
    work_ids, variants, _ = works(rng, 0, 2000)
    codes = _skewed_codes(rng, work_ids.size)
    index, registry = HammingIndex(radius=10, threads=2), Registry()
    registry.add(index, work_ids, variants, codes)
    queries = queries_near(rng, codes, 10, 120)

    assert found(index.search(queries)) == registry.brute_force(queries, 10)


@pytest.mark.parametrize("words", [1, 2])
def test_companion_limits_are_applied_exactly(rng, words):
    work_ids, variants, _ = works(rng, 0, 2500)
    codes = _skewed_codes(rng, work_ids.size)
    companions = rng.integers(0, 2**64, (work_ids.size, words), dtype=np.uint64)
    index = HammingIndex(radius=10, threads=2, companion_words=words)
    index.add(work_ids, variants, codes, companions=companions)
    registry = Registry()
    registry.work_ids, registry.variants, registry.codes = work_ids, variants, codes
    picked = rng.integers(0, codes.size, 150)
    queries = queries_near(rng, codes, 10, 150)[:150]
    # Companions near those of the entries the queries were made from: some within the
    # limits, some beyond.
    query_companions = companions[picked].copy()
    for position in range(150):
        for word in range(words):
            flips = int(rng.integers(0, 16 // words))
            query_companions[position, word] = flip_bits(
                rng, query_companions[position, word], flips
            )
    limits = np.array([14, 12, 10, 10, 8, 8, 6])

    result = index.search(queries, companions=query_companions, limits=limits)

    assert found(result) == _companion_truth(
        registry, companions, queries, query_companions, 10, limits
    )
    assert len(result) < len(index.search(queries))  # the limits refused some entries


def test_a_near_copy_is_found_and_a_decoy_with_another_companion_is_not(rng):
    """Two registered works with the same blank-picture code: the query's companion agrees
    with one of them only, and only that one is a candidate."""
    blank = np.uint64(0x8000_0000_0000_0000)
    work_ids, variants, codes = works(rng, 10, 1000)
    codes[:2] = blank
    work_ids[:2] = (1, 2)
    companions = random_codes(rng, codes.size)
    index = HammingIndex(radius=10, companion_words=1)
    index.add(work_ids, variants, codes, companions=companions)
    query = np.array([flip_bits(rng, blank, 3)], np.uint64)
    query_companion = np.array([flip_bits(rng, companions[0], 5)], np.uint64)

    result = index.search(query, companions=query_companion, limits=np.array([12]))

    assert 1 in result.work_id.tolist() and 2 not in result.work_id.tolist()
    assert {1, 2} <= set(index.search(query).work_id.tolist())  # both without the limits


def test_companions_follow_their_entries_through_updates(rng):
    words = 1
    index = HammingIndex(radius=10, threads=2, companion_words=words)
    registry = Registry()
    all_companions = np.zeros((0, words), np.uint64)
    for first in (0, 20_000, 30_000):  # the base, then merges through the tail and delta
        work_ids, variants, codes = works(rng, first, 800 if first else 3000)
        companions = random_codes(rng, codes.size).reshape(-1, 1)
        index.add(work_ids, variants, codes, companions=companions)
        registry.work_ids = np.concatenate([registry.work_ids, work_ids])
        registry.variants = np.concatenate([registry.variants, variants])
        registry.codes = np.concatenate([registry.codes, codes])
        all_companions = np.concatenate([all_companions, companions])
    removed = [5, 20_003, 30_007]
    index.remove_works(removed)
    index.compact()
    keep = ~np.isin(registry.work_ids, removed)
    registry.work_ids, registry.variants, registry.codes = (
        registry.work_ids[keep],
        registry.variants[keep],
        registry.codes[keep],
    )
    all_companions = all_companions[keep]
    picked = rng.integers(0, registry.codes.size, 100)
    queries = queries_near(rng, registry.codes, 10, 100)[:100]
    query_companions = all_companions[picked] ^ np.uint64(0b1111)
    limits = np.array([6])

    result = index.search(queries, companions=query_companions, limits=limits)

    assert found(result) == _companion_truth(
        registry, all_companions, queries, query_companions, 10, limits
    )


def test_an_index_with_companions_refuses_entries_without_them(rng):
    index = HammingIndex(radius=10, companion_words=1)
    work_ids, variants, codes = works(rng, 0, 10)
    with pytest.raises(ValueError, match="companion"):
        index.add(work_ids, variants, codes)
    with pytest.raises(ValueError, match="companions"):
        index.add(work_ids, variants, codes, companions=np.zeros((3, 1), np.uint64))
