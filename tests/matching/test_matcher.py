"""The candidate search is exactly the pair-wise rule `is_candidate`, applied to every entry."""

import weakref
from dataclasses import replace

import numpy as np
import pytest

from registry.fingerprints import VARIANTS, Hashes
from registry.matching.index import HammingIndex
from registry.matching.matcher import VARIANT_NUMBER, CandidateIndex, JointLimits, variant_numbers
from registry.matching.rules import DEFAULT_MATCHING, is_candidate


def _flip(codes, bits, rng):
    """Flip `bits` random bits of each code."""
    flipped = codes.copy()
    for position in range(codes.size):
        for bit in rng.choice(64, size=bits, replace=False):
            flipped[position] ^= np.uint64(1) << np.uint64(bit)
    return flipped


@pytest.fixture
def registry():
    rng = np.random.default_rng(9)
    works = np.repeat(np.arange(300, dtype=np.int64), len(VARIANTS))
    variants = np.tile(np.arange(len(VARIANTS), dtype=np.uint8), 300)
    phashes = rng.integers(0, 2**64, works.size, dtype=np.uint64)
    dhashes = rng.integers(0, 2**64, works.size, dtype=np.uint64)
    return works, variants, phashes, dhashes, rng


def _rows_of(codes, near):
    """The registered row nearest each of `near`."""
    return np.array([int(np.argmin(np.bitwise_count(codes ^ code))) for code in near])


def _queries(registry, rng):
    _, _, phashes, dhashes, _ = registry
    rows = rng.choice(phashes.size, size=400, replace=False)
    # Half near in pHash only, half near in dHash only; of each half, half at the radius and
    # half just past it (drawn per query, not once for all: one draw of 11 bits, past the
    # radius for every query, left the tests nothing to find when the variant count moved).
    near_p = np.concatenate(
        [_flip(phashes[rows[:100]], 10, rng), _flip(phashes[rows[100:200]], 11, rng)]
    )
    near_d = np.concatenate(
        [_flip(dhashes[rows[200:300]], 10, rng), _flip(dhashes[rows[300:]], 11, rng)]
    )
    query_p = np.concatenate([near_p, rng.integers(0, 2**64, 200, dtype=np.uint64)])
    query_d = np.concatenate([rng.integers(0, 2**64, 200, dtype=np.uint64), near_d])
    return query_p, query_d


def test_the_union_of_both_searches_equals_the_pairwise_rule(registry):
    works, variants, phashes, dhashes, rng = registry
    index = CandidateIndex.from_arrays(works, variants, phashes, dhashes)
    query_p, query_d = _queries(registry, rng)

    found = index.search(query_p, query_d)

    dhash_numbers = {VARIANT_NUMBER[name] for name in DEFAULT_MATCHING.dhash_variants}
    expected = set()
    for q in range(query_p.size):
        query = Hashes(int(query_p[q]), int(query_d[q]), b"", 0)
        for row in range(works.size):
            entry = Hashes(
                int(phashes[row]),
                int(dhashes[row])
                if variants[row] in dhash_numbers
                else int(query_d[q]) ^ (2**64 - 1),
                b"",
                0,
            )
            if is_candidate(query, entry):
                expected.add((q, int(works[row]), int(variants[row])))
    got = set(
        zip(found.query_index.tolist(), found.work_id.tolist(), found.variant.tolist(), strict=True)
    )
    assert got == expected and len(expected) > 100


def test_queries_left_out_of_the_dhash_search_keep_only_their_phash_candidates(registry):
    works, variants, phashes, dhashes, rng = registry
    index = CandidateIndex.from_arrays(works, variants, phashes, dhashes)
    query_p, query_d = _queries(registry, rng)
    by_dhash = np.arange(query_p.size) % 2 == 0  # every other query, as a region would be

    found = index.search(query_p, query_d, by_dhash=by_dhash)

    both = index.search(query_p, query_d)
    phash_only = index.phash_index.search(query_p)
    expected = {
        (q, w, v)
        for q, w, v in zip(
            both.query_index.tolist(), both.work_id.tolist(), both.variant.tolist(), strict=True
        )
        if by_dhash[q]
    } | set(
        zip(
            phash_only.query_index.tolist(),
            phash_only.work_id.tolist(),
            phash_only.variant.tolist(),
            strict=True,
        )
    )
    got = set(
        zip(found.query_index.tolist(), found.work_id.tolist(), found.variant.tolist(), strict=True)
    )
    assert got == expected
    # The left-out queries lost candidates their dHash alone had found, and only they did.
    lost = {q for q in both.query_index.tolist()} - {q for q, _, _ in got}
    assert lost and not by_dhash[sorted(lost)].any()


def test_removed_works_are_never_candidates_again(registry):
    works, variants, phashes, dhashes, _ = registry
    index = CandidateIndex.from_arrays(works, variants, phashes, dhashes)

    index.remove_works([5])

    found = index.search(phashes[works == 5], dhashes[works == 5])
    assert 5 not in found.work_id.tolist()
    assert len(index) == works.size - len(VARIANTS)


def test_works_added_after_the_build_are_found(registry):
    works, variants, phashes, dhashes, _ = registry
    index = CandidateIndex.from_arrays(works[:13], variants[:13], phashes[:13], dhashes[:13])

    index.add(works[13:], variants[13:], phashes[13:], dhashes[13:])

    found = index.search(phashes[-1:], dhashes[-1:])
    assert int(works[-1]) in found.work_id.tolist()


def _union_rule(works, variants, phashes, dhashes, query_p, query_d, config=DEFAULT_MATCHING):
    """`is_candidate` over every entry, vectorised: what the index must return."""
    known = [name for name in config.dhash_variants if name in VARIANT_NUMBER]
    framed = np.isin(variants, variant_numbers(known))
    expected: set[tuple[int, int, int]] = set()
    for q in range(query_p.size):
        near = np.bitwise_count(phashes ^ query_p[q]) <= config.phash_radius
        near |= framed & (np.bitwise_count(dhashes ^ query_d[q]) <= config.dhash_radius)
        rows = np.flatnonzero(near)
        expected.update(
            (q, work, variant)
            for work, variant in zip(works[rows].tolist(), variants[rows].tolist(), strict=True)
        )
    return expected


def _got(found):
    return set(
        zip(found.query_index.tolist(), found.work_id.tolist(), found.variant.tolist(), strict=True)
    )


@pytest.fixture(scope="module")
def large_registry():
    """30,000 works: both searches use multi-index tables (16-bit chunks for pHash)."""
    rng = np.random.default_rng(11)
    works = np.repeat(np.arange(1, 30_001, dtype=np.int64), len(VARIANTS))
    variants = np.tile(np.arange(len(VARIANTS), dtype=np.uint8), 30_000)
    phashes = rng.integers(0, 2**64, works.size, dtype=np.uint64)
    dhashes = rng.integers(0, 2**64, works.size, dtype=np.uint64)
    return works, variants, phashes, dhashes, rng


def test_the_union_is_exact_on_a_registry_with_tables(large_registry):
    works, variants, phashes, dhashes, rng = large_registry
    index = CandidateIndex.from_arrays(works, variants, phashes, dhashes)
    query_p, query_d = _queries(large_registry, rng)

    found = index.search(query_p, query_d)

    expected = _union_rule(works, variants, phashes, dhashes, query_p, query_d)
    assert _got(found) == expected and len(found) == len(expected) > 100
    assert all("bits" in how for _, _, how in index.phash_index.describe())


def test_a_build_from_a_loader_lets_the_dhashes_go_before_the_phash_index(
    large_registry, monkeypatch
):
    # The full build from PostgreSQL fits its memory budget only if the dHash column is freed
    # before the larger pHash index is built.
    works, variants, phashes, dhashes, rng = large_registry
    loaded = {"dhashes": dhashes.copy()}
    dhash_column = weakref.ref(loaded["dhashes"])
    alive_at_each_build = []
    real_add = HammingIndex.add

    def add(self, *args, **kwargs):
        alive_at_each_build.append(dhash_column() is not None)
        real_add(self, *args, **kwargs)

    monkeypatch.setattr(HammingIndex, "add", add)
    index = CandidateIndex.from_loader(lambda: (works, variants, phashes, loaded.pop("dhashes")))

    assert alive_at_each_build == [True, False]
    query_p, query_d = _queries(large_registry, rng)
    expected = _union_rule(works, variants, phashes, dhashes, query_p, query_d)
    assert _got(index.search(query_p, query_d)) == expected


def test_without_the_dhash_search_no_dhash_is_indexed(registry):
    works, variants, phashes, dhashes, rng = registry
    config = replace(DEFAULT_MATCHING, dhash_radius=-1)
    index = CandidateIndex.from_arrays(works, variants, phashes, dhashes, config=config)
    query_p, query_d = _queries(registry, rng)

    found = index.search(query_p, query_d)

    assert len(index.dhash_index) == 0
    expected = _union_rule(works, variants, phashes, dhashes, query_p, query_d, config)
    assert _got(found) == expected


def test_joint_limits_keep_exactly_the_pairs_whose_other_hash_agrees_too(registry):
    works, variants, phashes, dhashes, rng = registry
    joint = JointLimits(dhash_given_phash=(40, 30, 24), phash_given_dhash=(20,))
    index = CandidateIndex.from_arrays(works, variants, phashes, dhashes, joint=joint)
    query_p, query_d = _queries(registry, rng)
    # Half the pHash-near queries also near in dHash, so that some pairs pass the limits.
    query_d[:100] = _flip(dhashes[_rows_of(phashes, query_p[:100])], 20, rng)

    found = index.search(query_p, query_d)

    framed = np.isin(variants, variant_numbers(DEFAULT_MATCHING.dhash_variants))
    expected = set()
    for q in range(query_p.size):
        p = np.bitwise_count(phashes ^ query_p[q])
        d = np.bitwise_count(dhashes ^ query_d[q])
        by_phash = (p <= 10) & (d <= np.array(joint.dhash_given_phash)[np.minimum(p, 2)])
        by_dhash = framed & (d <= 10) & (p <= 20)
        for row in np.flatnonzero(by_phash | by_dhash):
            expected.add((q, int(works[row]), int(variants[row])))
    got = set(
        zip(found.query_index.tolist(), found.work_id.tolist(), found.variant.tolist(), strict=True)
    )
    assert got == expected and len(got) > 50


def test_joint_limits_find_a_near_copy_and_drop_a_decoy_alike_in_one_hash_only(registry):
    works, variants, phashes, dhashes, rng = registry
    joint = JointLimits(dhash_given_phash=(16,), phash_given_dhash=(16,))
    copy_row, decoy_row = 0, len(VARIANTS) * 5  # the originals of works 0 and 5
    phashes[decoy_row] = _flip(phashes[[copy_row]], 2, rng)[0]  # a decoy alike in pHash only
    index = CandidateIndex.from_arrays(works, variants, phashes, dhashes, joint=joint)
    query_p = _flip(phashes[[copy_row]], 3, rng)
    query_d = _flip(dhashes[[copy_row]], 6, rng)

    found = set(index.search(query_p, query_d).work_id.tolist())
    without = set(
        CandidateIndex.from_arrays(works, variants, phashes, dhashes)
        .search(query_p, query_d)
        .work_id.tolist()
    )

    assert found == {works[copy_row]} and without == {works[copy_row], works[decoy_row]}
