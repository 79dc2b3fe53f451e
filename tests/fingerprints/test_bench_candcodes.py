"""bench.candcodes: the longer candidate codes and the load they bring are counted right, since
its figures decide whether a code can replace today's candidate rule."""

from __future__ import annotations

import numpy as np
from PIL import Image

from bench.candcodes import (
    CODES_OF,
    Items,
    Pool,
    candidates_at,
    decoy_histograms,
    distances,
    filtered_candidates,
    widest_radius,
)
from registry.fingerprints.hashing import hash_image
from registry.matching.rules import DEFAULT_MATCHING
from tests.fingerprints.images import painting


def _items(pictures: list[Image.Image]) -> Items:
    return Items.of([hash_image(picture) for picture in pictures])


def test_the_descriptor_codes_keep_a_brightened_copy_close_and_a_different_picture_far() -> None:
    work, other = painting(3, (200, 150)), painting(8, (200, 150))
    brighter = Image.eval(work, lambda v: min(255, int(v * 1.15) + 10))
    items = _items([work, brighter, other])
    for name, bits in (("dct64", 64), ("dct128", 128), ("dct256", 256)):
        code = CODES_OF[name](items)
        assert code.shape == (3, bits // 64)
        d = distances(code, code)
        assert d[0, 0] == 0 and d[0, 1] < bits // 8 < d[0, 2]


def test_the_load_counts_pairs_of_other_families_only_and_leaves_copies_out() -> None:
    pictures = [painting(seed, (160, 120)) for seed in (1, 2, 3)]
    items = _items([*pictures, pictures[0]])  # the last is a copy of the first
    family = np.array([0, 0, 1, 2])  # 1 and 2 share a family; 4 copies 1 in another family
    names = np.array(["a", "b", "c"])
    pool = Pool(items, family, names, {name: make(items) for name, make in CODES_OF.items()})
    hist, total = decoy_histograms(pool, DEFAULT_MATCHING)
    # Six pairs: one within a family, one a copy (PDQ 0); four are counted.
    assert total == 4
    assert all(int(hist[name].sum()) == 4 for name in CODES_OF)
    assert int(hist["today"].sum()) == 4


def test_candidates_scale_with_the_share_of_pairs_within_the_radius() -> None:
    hist = np.zeros(65, np.int64)
    hist[3], hist[10] = 1, 999  # one pair in a thousand within 3 bits
    per_pair = 1_000_000 * 12.1 / 1000
    assert candidates_at(hist, 1000, 2) == 0
    assert candidates_at(hist, 1000, 3) == per_pair
    assert widest_radius(hist, 1000, per_pair) == 9
    assert widest_radius(hist, 1000, per_pair - 1) == 2
    split = np.zeros((2, 65), np.int64)
    split[0, 5], split[1, 5] = 1, 1  # admitted by pHash, and by dHash only
    assert filtered_candidates(split, 1000, 4) == 0
    assert filtered_candidates(split, 1000, 5) == 1_000_000 * (12.1 + 4.1) / 1000
