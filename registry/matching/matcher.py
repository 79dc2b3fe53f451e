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
from registry.matching.index import HammingIndex
from registry.matching.rules import DEFAULT_MATCHING, MatchingConfig

VARIANT_NUMBER = {name: number for number, name in enumerate(VARIANTS)}


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


class CandidateIndex:
    def __init__(self, config: MatchingConfig = DEFAULT_MATCHING, **index_options: int) -> None:
        self.config = config
        self._phash = HammingIndex(radius=config.phash_radius, **index_options)
        self._dhash = HammingIndex(radius=max(config.dhash_radius, 0), **index_options)
        self._dhash_numbers = variant_numbers(
            [name for name in config.dhash_variants if name in VARIANT_NUMBER]
        )
        if config.dhash_radius < 0:  # the dHash search is off: nothing to index for it
            self._dhash_numbers = self._dhash_numbers[:0]

    @classmethod
    def from_arrays(
        cls,
        work_ids: np.ndarray,
        variants: np.ndarray,
        phashes: np.ndarray,
        dhashes: np.ndarray,
        config: MatchingConfig = DEFAULT_MATCHING,
    ) -> CandidateIndex:
        index = cls(config)
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
        index._add_dhashes(work_ids, variants, dhashes)
        del dhashes
        index._phash.add(work_ids, variants, phashes)
        return index

    def add(
        self, work_ids: np.ndarray, variants: np.ndarray, phashes: np.ndarray, dhashes: np.ndarray
    ) -> None:
        self._phash.add(work_ids, variants, phashes)
        self._add_dhashes(work_ids, variants, dhashes)

    def _add_dhashes(self, work_ids: np.ndarray, variants: np.ndarray, dhashes: np.ndarray) -> None:
        if self._dhash_numbers.size:
            framed = np.isin(variants, self._dhash_numbers)  # read in place, never copied
            self._dhash.add(work_ids, variants, dhashes, where=framed)

    def remove_works(self, work_ids: set[int] | list[int]) -> None:
        self._phash.remove_works(work_ids)
        self._dhash.remove_works(work_ids)

    def search(self, phashes: np.ndarray, dhashes: np.ndarray) -> Candidates:
        found = [self._phash.search(phashes)]
        if self.config.dhash_radius >= 0:
            found.append(self._dhash.search(dhashes))
        rows = np.unique(
            np.stack(
                [
                    np.concatenate([f.query_index for f in found]).astype(np.int64),
                    np.concatenate([f.work_id for f in found]).astype(np.int64),
                    np.concatenate([f.variant for f in found]).astype(np.int64),
                ],
                axis=1,
            ),
            axis=0,
        )
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
