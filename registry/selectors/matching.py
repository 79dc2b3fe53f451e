"""Finding registered works for fingerprints, through this process's in-memory index.

PostgreSQL holds the truth. The index is built from the Fingerprint table and kept in step with
it through the ledger: every registration, removal and refingerprinting is a ledger event, so
catching up means replaying the events after the sequence the index reflects.
"""

import threading
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import numpy as np
from django.db import connection
from django.db.models import Case, Value, When

from registry.chunk_wire import HashedQuery
from registry.fingerprints import VARIANTS, Hashes, ImageFingerprint, to_unsigned64
from registry.gatekeeper import SOURCE_URL, Box, covers_whole_picture
from registry.ledger import GENESIS_HASH
from registry.matching.matcher import VARIANT_NUMBER, CandidateIndex, Candidates
from registry.matching.rules import DEFAULT_MATCHING, MatchingConfig, verify_item
from registry.models import ConsentEvent, ConsentEventKind, Fingerprint, Work
from registry.selectors.ledger import RegistryVersion, registry_version

_INDEX_EVENTS = (
    ConsentEventKind.WORK_REGISTERED,
    ConsentEventKind.WORK_REMOVED,
    ConsentEventKind.WORK_REFINGERPRINTED,
)
_LOAD_CHUNK = 50_000
_COLUMNS = ("work_id", "number", "phash", "dhash")  # the order of VariantArrays


@dataclass(frozen=True)
class WorkMatch:
    work_id: int
    artist_id: int
    variant: str
    distances: dict[str, int | float]
    exact: bool = False
    region: Box | None = None  # the query region that found it; None: the whole query
    strong: bool = False  # a whole-picture near copy (rules.Verdict.strong)

    @property
    def close(self) -> bool:
        """Whether this match may allow an item (gatekeeper.MatchedWork.close): a source
        URL never does."""
        return (self.exact and self.variant != SOURCE_URL) or self.strong


class VariantArrays(NamedTuple):
    work_ids: np.ndarray
    variants: np.ndarray
    phashes: np.ndarray
    dhashes: np.ndarray


def _variant_arrays(work_ids: Iterable[int] | None = None) -> VariantArrays:
    """(work ids, variant numbers, pHashes, dHashes) of active works' variants, as numpy arrays.

    Read through a plain cursor in large batches into four preallocated columns: a full build
    reads every registered variant, a hundred million rows at ten million works, and neither
    model instances nor a list of batches would fit beside the index (docs/index.md).
    """
    number = Case(
        *(When(variant=name, then=Value(n)) for name, n in VARIANT_NUMBER.items()),
        default=Value(-1),  # variants of another fingerprint version take no part
    )
    rows = (
        Fingerprint.objects.filter(work__removed_at__isnull=True)
        .annotate(number=number)
        .filter(number__gte=0)
    )
    if work_ids is not None:
        work_ids = list(work_ids)
        if not work_ids:
            return _empty_columns(0)
        rows = rows.filter(work_id__in=work_ids)
    columns, filled = _empty_columns(rows.count()), 0
    sql, params = rows.values_list(*_COLUMNS).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(_LOAD_CHUNK):
            block = np.array(batch, dtype=np.int64)
            if filled + len(block) > columns.work_ids.size:  # rows registered since the count
                columns = _grown(columns, filled + len(block))
            for column, values in zip(columns, block.T, strict=True):
                column[filled : filled + len(block)] = values
            filled += len(block)
    return VariantArrays(*(column[:filled] for column in columns))


def _empty_columns(size: int) -> VariantArrays:
    # The signed 64-bit hashes PostgreSQL stores are the same bits as the unsigned codes.
    return VariantArrays(
        np.empty(size, np.int64),
        np.empty(size, np.uint8),
        np.empty(size, np.int64),
        np.empty(size, np.int64),
    )


def _grown(columns: VariantArrays, needed: int) -> VariantArrays:
    size = max(needed, 2 * columns.work_ids.size)
    return VariantArrays(*(np.resize(column, size) for column in columns))


class RegistryIndex:
    """The per-process candidate index; `sync` brings it up to the registry's current version."""

    def __init__(self, config: MatchingConfig = DEFAULT_MATCHING) -> None:
        self.config = config
        self._index: CandidateIndex | None = None
        self._version = RegistryVersion(0, GENESIS_HASH)
        self._lock = threading.Lock()

    def sync(self) -> RegistryVersion:
        """Catch up with every committed registration and removal; return the version reached."""
        with self._lock:
            head = registry_version()
            if self._index is not None and head == self._version:
                return self._version  # the usual case: one query, nothing new since
            if self._index is None or not self._still_on_chain():
                self._index = self._build(head)
            else:
                self._catch_up(self._index, head)
            return self._version

    def search(
        self,
        phashes: np.ndarray,
        dhashes: np.ndarray,
        *,
        by_dhash: np.ndarray | None = None,
        upright: np.ndarray | None = None,
    ) -> Candidates:
        # No lock: the index answers each search from one consistent snapshot of itself.
        index = self._index
        if index is None:
            raise RuntimeError("sync() the index before searching it.")
        return index.search(phashes, dhashes, by_dhash=by_dhash, upright=upright)

    @property
    def joint_limited(self) -> bool:
        """Whether the pHash search is filtered by the item's dHash too (matcher.JointLimits)."""
        return self._index is not None and self._index.joint is not None

    def reset(self) -> None:
        with self._lock:
            self._index = None

    def _still_on_chain(self) -> bool:
        # The event the index was built at must still be there with the same hash. It is not
        # after a rolled-back transaction the index saw, or a database restored from a backup:
        # then the index is rebuilt rather than trusted.
        if self._version.sequence == 0:
            return True
        stored = ConsentEvent.objects.filter(sequence=self._version.sequence)
        return list(stored.values_list("hash", flat=True)) == [self._version.hash]

    def _build(self, head: RegistryVersion) -> CandidateIndex:
        # The head was read before loading: whatever is loaded is at least that new, and the
        # events after it are replayed (idempotently) on the next sync.
        # The loader's arrays are handed over, not kept: the index frees what it has indexed.
        index = CandidateIndex.from_loader(_variant_arrays, config=self.config)
        self._version = head
        return index

    def _catch_up(self, index: CandidateIndex, head: RegistryVersion) -> None:
        if head.sequence <= self._version.sequence:
            return
        events = ConsentEvent.objects.filter(
            sequence__gt=self._version.sequence, kind__in=_INDEX_EVENTS
        ).values_list("work_id", flat=True)
        changed = {work_id for work_id in events if work_id is not None}
        # Remove then re-add: replaying a registration the build already loaded stays harmless.
        index.remove_works(changed)
        index.add(*_variant_arrays(changed))
        self._version = head


_shared_index = RegistryIndex()


def shared_index() -> RegistryIndex:
    return _shared_index


def _candidate_hashes(
    pairs: set[tuple[int, str]], *, ignore_artist: int | None = None
) -> dict[tuple[int, str], tuple[int, Hashes]]:
    """The stored hashes of each candidate (work, variant) of an active work, with its artist;
    `ignore_artist`'s works are left out.

    Two index lookups rather than one join: joined, PostgreSQL merge-joins against the whole
    work table (0.4 s at a million works) for a few hundred candidate works.
    """
    if not pairs:
        return {}
    artist_of = dict(
        Work.objects.active()
        .filter(pk__any={work for work, _ in pairs})
        .values_list("pk", "artist_id")
    )
    if ignore_artist is not None:
        artist_of = {work: artist for work, artist in artist_of.items() if artist != ignore_artist}
    wanted = [(work, variant) for work, variant in pairs if work in artist_of]
    rows = _fingerprint_rows(wanted)
    return {
        (work_id, variant): (
            artist_of[work_id],
            Hashes(
                phash=to_unsigned64(phash),
                dhash=to_unsigned64(dhash),
                pdq=bytes(pdq),
                pdq_quality=pdq_quality,
                descriptor=bytes(descriptor),
            ),
        )
        for work_id, variant, phash, dhash, pdq, pdq_quality, descriptor in rows
        # The SQLite read covers every listed variant of every candidate work.
        if (work_id, variant) in pairs
    }


_PAIRS_SQL = """
    SELECT f.work_id, f.variant, f.phash, f.dhash, f.pdq, f.pdq_quality, f.descriptor
    FROM registry_fingerprint f
    JOIN unnest(%s::bigint[], %s::text[]) AS wanted(work_id, variant)
      ON f.work_id = wanted.work_id AND f.variant = wanted.variant
"""


def _fingerprint_rows(pairs: Sequence[tuple[int, str]]) -> Iterable[tuple[Any, ...]]:
    """The hash columns of exactly these (work, variant) pairs.

    A screening chunk has thousands of candidate pairs, and each work 13 variants: on
    PostgreSQL only the pairs are read (one unique-index probe each), not every variant of
    every candidate work with its 1 KB descriptor.
    """
    if not pairs:
        return []
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_PAIRS_SQL, [[w for w, _ in pairs], [v for _, v in pairs]])
            return cursor.fetchall()
    return Fingerprint.objects.filter(
        work_id__in={work for work, _ in pairs}, variant__in={variant for _, variant in pairs}
    ).values_list("work_id", "variant", "phash", "dhash", "pdq", "pdq_quality", "descriptor")


def exact_copies(sha256s: Collection[str]) -> dict[str, list[WorkMatch]]:
    """The active works each SHA-256 is the exact copy of (those it is not a copy of: absent)."""
    return {
        sha256: [
            WorkMatch(work_id, artist_id, "original", {"sha256": 0}, True)
            for work_id, artist_id in works
        ]
        for sha256, works in _works_by_sha256(sha256s).items()
    }


def _exact_matches(fingerprints: Sequence[ImageFingerprint]) -> dict[str, list[tuple[int, int]]]:
    return _works_by_sha256({fp.sha256 for fp in fingerprints})


def _works_by_sha256(sha256s: Collection[str]) -> dict[str, list[tuple[int, int]]]:
    by_sha: dict[str, list[tuple[int, int]]] = defaultdict(list)
    if not sha256s:
        return by_sha
    rows = Work.objects.active().filter(sha256__any=set(sha256s))
    for work_id, artist_id, sha256 in rows.values_list("pk", "artist_id", "sha256"):
        by_sha[sha256].append((work_id, artist_id))
    return by_sha


def _best_per_work(matches: Iterable[WorkMatch]) -> list[WorkMatch]:
    best: dict[int, WorkMatch] = {}
    for match in matches:
        current = best.get(match.work_id)
        if current is None or _closeness(match) < _closeness(current):
            best[match.work_id] = match
    return sorted(best.values(), key=lambda match: match.work_id)


def _closeness(match: WorkMatch) -> tuple[bool, float]:
    return (not match.exact, float(match.distances.get("phash", 0)))


@dataclass(frozen=True)
class ItemMatches:
    """What one query item matched, and whether it ran out of its verification budget."""

    matches: list[WorkMatch]
    # More candidates than MatchingConfig.max_verifications: the unverified ones might be
    # the item's work, so the item must not be decided on what was verified (fail closed).
    over_budget: bool = False
    # Candidate works the budget left unverified (rules.ItemVerdicts.unverified).
    unverified: frozenset[int] = frozenset()
    # Works matched weakly whose strong or whole-picture look the budget cut short
    # (rules.ItemVerdicts.unsettled).
    unsettled: frozenset[int] = frozenset()


def match_items(
    fingerprints: Sequence[ImageFingerprint],
    *,
    index: RegistryIndex | None = None,
    ignore_artist: int | None = None,
    registration: bool = False,
) -> list[ItemMatches]:
    """For each fingerprint, every active registered work it matches (best variant per work),
    with the item's verification budget enforced and what it left unverified reported.

    Candidates are grouped per work: a work's variants are verified nearest pHash first and
    the first that matches settles the work, so its other variants cost nothing.
    `ignore_artist`: this artist's works are not candidates (a registration compares a new
    work with other artists' works only, and spends no budget on the artist's own series).
    `registration`: a new work's check, with its larger budget
    (MatchingConfig.registration_max_verifications).
    """
    if not fingerprints:
        return []
    index = index or shared_index()
    searched, per_item = _candidates_per_item(fingerprints, index)
    hashes = _candidate_hashes(
        {
            (work_id, variant)
            for works in per_item
            for work_id, pairs in works.items()
            for variant, _ in pairs
        },
        ignore_artist=ignore_artist,
    )
    config = index.config
    if registration:
        config = replace(config, max_verifications=config.registration_max_verifications)
    items = [
        _verify_item(
            own, _boxes(fingerprint), works, hashes, config, fingerprint.upright_searched()
        )
        for own, fingerprint, works in zip(searched, fingerprints, per_item, strict=True)
    ]
    exact = _exact_matches(fingerprints)
    for result, fingerprint in zip(items, fingerprints, strict=True):
        for work_id, artist_id in exact.get(fingerprint.sha256, []):
            result.matches.append(WorkMatch(work_id, artist_id, "original", {"sha256": 0}, True))
    return [replace(result, matches=_best_per_work(result.matches)) for result in items]


def _candidates_per_item(
    fingerprints: Sequence[ImageFingerprint], index: RegistryIndex
) -> tuple[list[list[Hashes]], list[dict[int, list[tuple[str, int]]]]]:
    """Each item's searched hashes (whole, then regions), and per item its candidate works,
    each with its (variant, index of the searched hashes that found it) pairs."""
    index.sync()
    # Each item is searched as a whole and by its regions (fingerprints.regions); by dHash
    # as a whole and by its upright region.
    searched = [fingerprint.searched() for fingerprint in fingerprints]
    owner = [(item, k) for item, hashes in enumerate(searched) for k in range(len(hashes))]
    count = len(owner)
    upright = [fingerprint.upright_searched() for fingerprint in fingerprints]
    candidates = index.search(
        np.fromiter((h.phash for hashes in searched for h in hashes), dtype=np.uint64, count=count),
        np.fromiter((h.dhash for hashes in searched for h in hashes), dtype=np.uint64, count=count),
        by_dhash=np.fromiter((k == 0 for _, k in owner), dtype=bool, count=count),
        upright=np.fromiter((k == upright[item] for item, k in owner), dtype=bool, count=count),
    )
    per_item: list[dict[int, list[tuple[str, int]]]] = [defaultdict(list) for _ in fingerprints]
    for row, work_id, number in zip(
        candidates.query_index.tolist(),
        candidates.work_id.tolist(),
        candidates.variant.tolist(),
        strict=True,
    ):
        item, k = owner[int(row)]
        per_item[item][int(work_id)].append((VARIANTS[number], k))
    return searched, per_item


# Candidate works whose stored hashes (a 1 KB descriptor a variant) one batch of a full check
# loads at once.
FULL_CHECK_BATCH = 2000


def match_item_fully(
    fingerprint: ImageFingerprint,
    *,
    ignore_artist: int,
    before_work: int,
    index: RegistryIndex | None = None,
    batch: int = FULL_CHECK_BATCH,
) -> list[WorkMatch]:
    """Every other artist's work registered before `before_work` that the fingerprint
    matches, with no verification budget: an operator's check of a held work
    (services.works.work_hold_review). The candidate works are verified in batches (each
    batch with a budget it cannot exhaust); a work's verdict never depends on another's
    once the budget is no limit, so the batches decide as one unlimited pass would."""
    index = index or shared_index()
    (searched,), (works,) = _candidates_per_item([fingerprint], index)
    earlier = sorted(work_id for work_id in works if work_id < before_work)
    boxes = _boxes(fingerprint)
    found: list[WorkMatch] = []
    for start in range(0, len(earlier), batch):
        part = {work_id: works[work_id] for work_id in earlier[start : start + batch]}
        pairs = {
            (work_id, variant)
            for work_id, found_pairs in part.items()
            for variant, _ in found_pairs
        }
        hashes = _candidate_hashes(pairs, ignore_artist=ignore_artist)
        # Every pass compares a (work, variant, hashes) triple once at most.
        unlimited = sum(len(found_pairs) for found_pairs in part.values()) + 1
        config = replace(index.config, max_verifications=unlimited)
        result = _verify_item(searched, boxes, part, hashes, config, fingerprint.upright_searched())
        if result.over_budget or result.unverified or result.unsettled:
            raise RuntimeError("an unlimited check ran out of its budget")
        found += result.matches
    for work_id, artist_id in _exact_matches([fingerprint]).get(fingerprint.sha256, []):
        if artist_id != ignore_artist and work_id < before_work:
            found.append(WorkMatch(work_id, artist_id, "original", {"sha256": 0}, True))
    return _best_per_work(found)


def _boxes(fingerprint: ImageFingerprint) -> list[Box | None]:
    """The box of each of `fingerprint.searched()`: None for the whole query."""
    return [None, *(box for box, _ in fingerprint.regions)]


def _verify_item(
    searched: list[Hashes],
    boxes: list[Box | None],
    works: dict[int, list[tuple[str, int]]],
    hashes: dict[tuple[int, str], tuple[int, Hashes]],
    config: MatchingConfig,
    upright: int | None,
) -> ItemMatches:
    """Verify an item's candidates (rules.verify_item); `searched` are the item's hashes
    (whole, then regions), each candidate names the one that found it; `boxes` their boxes;
    `upright` which of them is the upright region."""
    candidates = {
        work_id: [
            (variant, k, hashes[work_id, variant][1])
            for variant, k in pairs
            if (work_id, variant) in hashes
        ]
        for work_id, pairs in works.items()
    }
    # The untrimmed frame stands for the whole picture as the whole query does.
    whole = [covers_whole_picture(box) for box in boxes]
    result = verify_item(searched, candidates, config, whole=whole, upright=upright)
    found = [
        WorkMatch(
            work_id,
            hashes[work_id, variant][0],
            variant,
            dict(verdict.distances),
            region=boxes[result.found_by[work_id]],
            strong=verdict.strong,
        )
        for work_id, (variant, verdict) in result.matched.items()
    ]
    return ItemMatches(found, result.over_budget, result.unverified, result.unsettled)


def has_candidates(
    queries: Sequence[HashedQuery], *, index: RegistryIndex | None = None
) -> list[bool]:
    """For each item sent as hashes alone, whether any active work is a candidate for it:
    found by the index's hash search or by its SHA-256. Needs no descriptor: it says which
    items must be verified, never that one matched."""
    if not queries:
        return []
    index = index or shared_index()
    index.sync()
    if index.joint_limited:
        # Phase 1 does not carry a region's dHash: a search that filters by it would drop a
        # region's true candidates, and the item would be decided unregistered unverified.
        raise RuntimeError("phase 1 cannot search an index with joint limits; use one phase")
    # The regions are searched as in `match_items`: a copy only a region finds needs verifying,
    # found by the region's pHash, or by the upright region's dHash (other regions' dHash-only
    # candidates are never verified, and phase 1 does not carry their dHash: 0 stands for it,
    # never searched).
    sizes = np.fromiter((1 + len(q.region_phashes) for q in queries), np.int64, len(queries))
    owner = np.repeat(np.arange(len(queries)), sizes)
    total = int(sizes.sum())
    phashes = np.fromiter(
        (code for q in queries for code in (q.fingerprint.hashes.phash, *q.region_phashes)),
        dtype=np.uint64,
        count=total,
    )
    dhashes = np.zeros(total, dtype=np.uint64)
    whole = np.zeros(total, dtype=bool)
    starts = np.cumsum(sizes) - sizes
    dhashes[starts] = np.fromiter(
        (q.fingerprint.hashes.dhash for q in queries), np.uint64, len(queries)
    )
    whole[starts] = True
    upright = np.zeros(total, dtype=bool)
    for start, query in zip(starts.tolist(), queries, strict=True):
        if query.upright is not None:
            number, dhash = query.upright
            upright[start + 1 + number] = True
            dhashes[start + 1 + number] = dhash
    candidates = index.search(phashes, dhashes, by_dhash=whole, upright=upright)
    searched = np.zeros(len(queries), dtype=bool)
    searched[owner[candidates.query_index]] = True
    exact = _works_by_sha256({q.fingerprint.sha256 for q in queries})
    return [
        bool(hit) or q.fingerprint.sha256 in exact for hit, q in zip(searched, queries, strict=True)
    ]
