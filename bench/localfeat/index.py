"""An inverted index of binary descriptors by exact substrings (multi-index hashing, radius 0).

Each 256-bit descriptor is cut into `tables` substrings of `chunk_bytes` bytes; each table maps a
substring value to the registered descriptors holding it (sorted arrays, one binary search a
lookup). Two descriptors of one corner seen twice differ in a few bits, so at least one of their
substrings is often equal. A hit counts only when the whole descriptors are within
`max_distance` bits (the registered descriptors are kept for the geometric verification
anyway). A query keypoint votes once for each work it hits; the works with the most votes are
the candidates. Buckets holding more than `max_bucket` of all registered descriptors (corners
every flat graphic has) are not read: their entries cost the most and say the least.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.localfeat.features import DESCRIPTOR_BYTES, Features


@dataclass(frozen=True)
class IndexConfig:
    chunk_bytes: int = 6
    tables: int = 5
    max_distance: int = 64  # bits of 256
    max_bucket: float = 2e-5  # share of all registered descriptors
    candidates: int = 8  # works handed to the geometric verification
    min_votes: int = 3


@dataclass(frozen=True)
class Lookup:
    votes: dict[int, int]  # work number -> query keypoints that hit it
    touched: int  # index entries read
    skipped: int  # entries in buckets too full to read


def substrings(descriptors: np.ndarray, config: IndexConfig) -> np.ndarray:
    """uint64 (n, tables): each table's substring of each descriptor."""
    used = config.chunk_bytes * config.tables
    assert used <= DESCRIPTOR_BYTES
    chunks = descriptors[:, :used].reshape(len(descriptors), config.tables, config.chunk_bytes)
    weights = np.uint64(256) ** np.arange(config.chunk_bytes, dtype=np.uint64)
    return (chunks.astype(np.uint64) * weights).sum(axis=2, dtype=np.uint64)


class SubstringIndex:
    def __init__(self, works: list[Features], config: IndexConfig) -> None:
        self.config = config
        counts = np.array([len(work) for work in works], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(counts)])
        self.work_of = np.repeat(np.arange(len(works), dtype=np.int32), counts)
        self.descriptors = np.concatenate(
            [work.descriptors for work in works] or [np.zeros((0, DESCRIPTOR_BYTES), np.uint8)]
        )
        keys = substrings(self.descriptors, config)
        self.order = np.argsort(keys, axis=0, kind="stable").astype(np.int32)
        self.sorted_keys = np.take_along_axis(keys, self.order, axis=0)
        self.cap = max(1, int(config.max_bucket * len(self.descriptors)))

    @property
    def entries(self) -> int:
        return int(self.sorted_keys.size)

    def bucket_sizes(self) -> np.ndarray:
        """The number of entries of every non-empty bucket, all tables."""
        sizes = []
        for table in range(self.config.tables):
            _, count = np.unique(self.sorted_keys[:, table], return_counts=True)
            sizes.append(count)
        return np.concatenate(sizes)

    def lookup(self, query: Features) -> Lookup:
        if len(query) == 0 or len(self.descriptors) == 0:
            return Lookup({}, 0, 0)
        keys = substrings(query.descriptors, self.config)
        hit_query: list[np.ndarray] = []
        hit_entry: list[np.ndarray] = []
        touched = skipped = 0
        for table in range(self.config.tables):
            column = self.sorted_keys[:, table]
            low = np.searchsorted(column, keys[:, table], side="left")
            high = np.searchsorted(column, keys[:, table], side="right")
            size = high - low
            full = size > self.cap
            skipped += int(size[full].sum())
            size[full] = 0
            touched += int(size.sum())
            if not size.any():
                continue
            which = np.repeat(np.arange(len(keys)), size)
            starts = np.repeat(low - np.cumsum(size) + size, size)
            rows = starts + np.arange(len(which))
            hit_query.append(which)
            hit_entry.append(self.order[rows, table])
        if not hit_query:
            return Lookup({}, touched, skipped)
        pairs = np.unique(
            np.stack([np.concatenate(hit_query), np.concatenate(hit_entry)], axis=1), axis=0
        )
        distance = np.bitwise_count(
            query.descriptors[pairs[:, 0]] ^ self.descriptors[pairs[:, 1]]
        ).sum(axis=1)
        close = pairs[distance <= self.config.max_distance]
        voters = np.unique(np.stack([self.work_of[close[:, 1]], close[:, 0]], axis=1), axis=0)
        works, votes = np.unique(voters[:, 0], return_counts=True)
        return Lookup(dict(zip(works.tolist(), votes.tolist(), strict=True)), touched, skipped)

    def candidates(self, lookup: Lookup) -> list[int]:
        ranked = sorted(lookup.votes.items(), key=lambda item: (-item[1], item[0]))
        best = ranked[: self.config.candidates]
        return [work for work, votes in best if votes >= self.config.min_votes]

    def work_descriptors(self, work: int) -> np.ndarray:
        return self.descriptors[self.offsets[work] : self.offsets[work + 1]]
