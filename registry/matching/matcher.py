"""The candidate search: exact pHash search over every registered variant, plus exact dHash
search over the variants framed like the original (MatchingConfig.dhash_variants).

Each candidate is then verified by `rules.verify`; this module only finds them. Plain Python,
no Django: the server wraps it with its PostgreSQL loading, bench/accuracy measures what it
finds and bench/matching how fast. docs/index.md has the memory model of both indexes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from registry.fingerprints import VARIANTS
from registry.matching.index import HammingIndex, SearchResult
from registry.matching.rules import DEFAULT_MATCHING, MatchingConfig

VARIANT_NUMBER = {name: number for number, name in enumerate(VARIANTS)}
# Candidates packed into one int64 (query, work id, variant) while they fit these bounds.
_QUERY_LIMIT = 1 << 23
_WORK_LIMIT = 1 << 32


@dataclass(frozen=True)
class Candidates:
    """Parallel arrays: each (query, work, variant) once, whichever search found it."""

    query_index: np.ndarray
    work_id: np.ndarray
    variant: np.ndarray

    def __len__(self) -> int:
        return int(self.query_index.size)


def variant_numbers(names: list[str] | tuple[str, ...]) -> np.ndarray:
    return np.array([VARIANT_NUMBER[name] for name in names], dtype=np.uint8)


@dataclass(frozen=True)
class JointLimits:
    """pHash and dHash required to agree together: an entry found by its pHash within the
    radius stays a candidate only if its dHash is within `dhash_given_phash[p]` (p its pHash
    distance), and one found by its dHash only if its pHash is within `phash_given_dhash[d]`.
    Each index then keeps the other hash beside every entry (8 bytes).

    Measured on real art and not made the default (docs/benchmarks.md, "Second filters
    before the descriptor"): every setting that cut the candidates by more than a few percent
    lost the true work of some edited queries.
    """

    dhash_given_phash: tuple[int, ...]
    phash_given_dhash: tuple[int, ...]


class CandidateIndex:
    def __init__(
        self,
        config: MatchingConfig = DEFAULT_MATCHING,
        joint: JointLimits | None = None,
        **index_options: int,
    ) -> None:
        self.config = config
        self.joint = joint
        if joint is not None:
            index_options = {**index_options, "companion_words": 1}
        self._phash = HammingIndex(radius=config.phash_radius, **index_options)
        self._dhash = HammingIndex(radius=max(config.dhash_radius, 0), **index_options)
        self._dhash_numbers = variant_numbers(
            [name for name in config.dhash_variants if name in VARIANT_NUMBER]
        )
        if config.dhash_radius < 0:  # the dHash search is off: nothing to index for it
            self._dhash_numbers = self._dhash_numbers[:0]
        self._upright_numbers = variant_numbers(
            [name for name in config.upright_dhash_variants if name in VARIANT_NUMBER]
        )

    @classmethod
    def from_arrays(
        cls,
        work_ids: np.ndarray,
        variants: np.ndarray,
        phashes: np.ndarray,
        dhashes: np.ndarray,
        config: MatchingConfig = DEFAULT_MATCHING,
        joint: JointLimits | None = None,
    ) -> CandidateIndex:
        index = cls(config, joint)
        index.add(work_ids, variants, phashes, dhashes)
        return index

    @classmethod
    def from_loader(
        cls,
        load: Callable[[], Sequence[np.ndarray]],
        config: MatchingConfig = DEFAULT_MATCHING,
    ) -> CandidateIndex:
        """A full build from `load()`: (work ids, variants, pHashes, dHashes), as `from_arrays`.

        The index holds the only references to the loaded arrays, so the dHash column is let
        go as soon as its index is built, before the larger pHash index is: the build peaks at
        both indexes plus the loaded arrays less that column (docs/index.md, memory model).
        """
        index = cls(config)
        work_ids, variants, phashes, dhashes = load()
        index._add_dhashes(work_ids, variants, dhashes, phashes)
        del dhashes
        index._phash.add(work_ids, variants, phashes)
        return index

    def add(
        self, work_ids: np.ndarray, variants: np.ndarray, phashes: np.ndarray, dhashes: np.ndarray
    ) -> None:
        companions = dhashes if self.joint is not None else None
        self._phash.add(work_ids, variants, phashes, companions=companions)
        self._add_dhashes(work_ids, variants, dhashes, phashes)

    def _add_dhashes(
        self, work_ids: np.ndarray, variants: np.ndarray, dhashes: np.ndarray, phashes: np.ndarray
    ) -> None:
        if self._dhash_numbers.size:
            framed = np.isin(variants, self._dhash_numbers)  # read in place, never copied
            companions = phashes if self.joint is not None else None
            self._dhash.add(work_ids, variants, dhashes, where=framed, companions=companions)

    def remove_works(self, work_ids: set[int] | list[int]) -> None:
        self._phash.remove_works(work_ids)
        self._dhash.remove_works(work_ids)

    def search(
        self,
        phashes: np.ndarray,
        dhashes: np.ndarray,
        *,
        by_dhash: np.ndarray | None = None,
        upright: np.ndarray | None = None,
    ) -> Candidates:
        """Every candidate of each query (a pHash and its dHash). `by_dhash`, a boolean per
        query: only those are searched by dHash too (None: all). A query region's dHash-only
        candidates are never verified (rules.verify_item), so they need not be found; but
        for `upright`, a boolean per query (a query's upright region), the dHash is searched
        too and its candidates kept through `config.upright_dhash_variants` only."""
        if upright is not None and by_dhash is not None:
            by_dhash = np.asarray(by_dhash, dtype=bool) | np.asarray(upright, dtype=bool)
        joint = self.joint
        if joint is None:
            found = [self._phash.search(phashes)]
        else:
            found = [
                self._phash.search(
                    phashes, companions=dhashes, limits=np.array(joint.dhash_given_phash)
                )
            ]
        query_index = [found[0].query_index]
        if self.config.dhash_radius >= 0:
            positions = None if by_dhash is None else np.flatnonzero(by_dhash)
            chosen_d = dhashes if positions is None else np.asarray(dhashes)[positions]
            chosen_p = phashes if positions is None else np.asarray(phashes)[positions]
            if joint is None:
                by_d = self._dhash.search(chosen_d)
            else:
                by_d = self._dhash.search(
                    chosen_d, companions=chosen_p, limits=np.array(joint.phash_given_dhash)
                )
            rows = by_d.query_index if positions is None else positions[by_d.query_index]
            if upright is not None:
                # The upright region's dHash reaches only the variants framed as it is.
                kept = ~np.asarray(upright, dtype=bool)[rows] | np.isin(
                    by_d.variant, self._upright_numbers
                )
                by_d = SearchResult(
                    by_d.query_index[kept],
                    by_d.work_id[kept],
                    by_d.variant[kept],
                    by_d.distance[kept],
                )
                rows = rows[kept]
            found.append(by_d)
            query_index.append(rows)
        query = np.concatenate(query_index).astype(np.int64)
        work = np.concatenate([f.work_id for f in found]).astype(np.int64)
        variant = np.concatenate([f.variant for f in found]).astype(np.int64)
        if (
            query.size
            and query.max() < _QUERY_LIMIT
            and 0 <= work.min() <= work.max() < _WORK_LIMIT
        ):
            # One int64 per candidate: on real hashes a batch has millions of candidates, and
            # a unique over rows sorted them field by field, twice as slow as the search.
            keys = np.sort(query << 40 | work << 8 | variant)
            keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]
            return Candidates(
                keys >> 40, (keys >> 8) & (_WORK_LIMIT - 1), (keys & 255).astype(np.uint8)
            )
        rows = np.unique(np.stack([query, work, variant], axis=1), axis=0)
        return Candidates(rows[:, 0], rows[:, 1], rows[:, 2].astype(np.uint8))

    def __len__(self) -> int:
        return len(self._phash)

    @property
    def phash_index(self) -> HammingIndex:
        """The pHash search, over every registered variant (read-only use: logs, benchmarks)."""
        return self._phash

    @property
    def dhash_index(self) -> HammingIndex:
        """The dHash search, over the variants in `config.dhash_variants`."""
        return self._dhash

    def memory_bytes(self) -> int:
        return self._phash.memory_bytes() + self._dhash.memory_bytes()
