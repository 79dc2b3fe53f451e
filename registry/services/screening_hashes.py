"""Chunks that come in two phases (registry.chunk_wire): hashes first, then the verification
payloads of the items the registry asks for. Both end in the chunk the JSON path stores, and
the worker decides it as it decides every chunk (services.screenings.chunk_decide).

A chunk waits, not enqueued, while an item it holds needs a payload. If the payloads do not
come within CONSENTRY_VERIFICATION_WAIT_SECONDS, the stalled-chunk sweep decides it anyway,
and those items are `invalid`: the decision re-checks candidacy itself, so neither a lying
client nor a work registered since phase 1 lets an unverified item through. A client that
comes back later is told which positions expired so.

A chunk number stands for its content (chunk_wire.content_digest): sent again with other
items, or completed by payloads naming another content, it is refused, so that no payload is
ever spliced onto another image's hashes.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F

from registry.chunk_wire import (
    HashedQuery,
    WireFormatError,
    complete_item,
    content_digest,
    pack_payloads,
    unpack_payloads,
)
from registry.gatekeeper import UNREGISTERED, ReasonCode, passes
from registry.models import Screening, ScreeningChunk
from registry.selectors.decisions import (
    AWAITING_VERIFICATION,
    awaiting_marker,
    awaits_verification,
    verification_needed,
)
from registry.services.screenings import (
    ChunkConflict,
    chunk_items,
    enqueue_chunk,
    refuse_other_content,
    refuse_other_matching,
    validate_items,
)
from registry.unlisted import decode


@dataclass(frozen=True)
class HashedChunk:
    """Where a two-phase chunk stands: the positions whose payload the registry still needs
    (empty once it is on its way to the worker), and whether this request changed it."""

    chunk: ScreeningChunk
    changed: bool
    needed: list[int]
    # Positions decided `invalid` without their payload, which came too late: screen again.
    expired: list[int] = field(default_factory=list)


def _awaiting(items: Sequence[Mapping[str, Any]], *, whole: bool) -> list[dict[str, Any]]:
    # Unreadable items are decided as they are; every other one waits for its verification.
    return [
        dict(item)
        if "unreadable" in item
        else {**item, AWAITING_VERIFICATION: awaiting_marker(whole=whole)}
        for item in items
    ]


def _unregistered_passes(screening: Screening) -> bool:
    """Whether `unregistered` passes: then an item's fields that phase 1 leaves out decide
    whether it passes (malformed, JSON would decide it `invalid`), and must be seen."""
    return passes(UNREGISTERED, screening.mode)


def _expired(chunk: ScreeningChunk) -> list[int]:
    """Positions of a chunk decided while still awaiting payloads, that were decided without."""
    if chunk.decided_at is None or not chunk.awaiting_payloads:
        return []
    return [
        entry.position
        for entry in decode(bytes(chunk.unlisted))
        if entry.reason.startswith(ReasonCode.VERIFICATION_MISSING)
    ]


def _enqueue_when_committed(chunk: ScreeningChunk) -> None:
    chunk_id = chunk.pk
    transaction.on_commit(lambda: enqueue_chunk(chunk_id))


def _resent(existing: ScreeningChunk, items: Sequence[Mapping[str, Any]]) -> HashedChunk:
    """A chunk number received before: the same items get what is still needed; others 409."""
    refuse_other_content(existing, items)
    return HashedChunk(existing, False, _still_needed(existing), _expired(existing))


def screening_add_hashes(
    *,
    screening: Screening,
    number: int,
    items: Sequence[Mapping[str, Any]],
    queries: Sequence[HashedQuery | None] | None = None,
) -> HashedChunk:
    """Phase 1: store chunk `number` as hashes and say which items must be verified. Sent
    again, it changes nothing and answers the positions still needed (a resumed client).
    `queries`: what the search reads of each item, as chunk_wire.decode_hashes built it."""
    # A resent chunk, or one for a closed screening, is answered before the search: the search
    # is the slow part, and a resuming client must not pay it again. Checked again under lock.
    existing = ScreeningChunk.objects.filter(screening=screening, number=number).first()
    if existing is not None:
        return _resent(existing, items)
    if not screening.accepting_chunks:
        raise ChunkConflict("this screening is closed; start a new one.")
    refuse_other_matching(screening)
    marked = _awaiting(items, whole=_unregistered_passes(screening))
    # Searched before the screening's row is locked. The marks it writes are stored with the
    # items, so the envelope is checked after it.
    needed = verification_needed(marked, queries)
    payload = validate_items(marked, hashes_only=True)
    with transaction.atomic():
        locked = Screening.objects.select_for_update().get(pk=screening.pk)
        existing = ScreeningChunk.objects.filter(screening=locked, number=number).first()
        if existing is not None:
            return _resent(existing, items)
        if not locked.accepting_chunks:
            raise ChunkConflict("this screening is closed; start a new one.")
        chunk = ScreeningChunk.objects.create(
            screening=locked,
            number=number,
            item_count=len(items),
            payload=payload,
            content_digest=content_digest(items),
            awaiting_payloads=bool(needed),
        )
        Screening.objects.filter(pk=locked.pk).update(total_items=F("total_items") + len(items))
        if not needed:
            _enqueue_when_committed(chunk)
    return HashedChunk(chunk, True, needed)


def _still_needed(chunk: ScreeningChunk) -> list[int]:
    if chunk.decided_at is not None or not chunk.payload:
        return []
    return verification_needed(chunk_items(chunk))


@transaction.atomic
def screening_verify_chunk(
    *, screening: Screening, number: int, digest: str, payloads: Mapping[int, Mapping[str, Any]]
) -> HashedChunk:
    """Phase 2: the verification fields of some items of chunk `number`. Once no item needs
    one any more (candidacy checked again if the registry changed since it was last), the
    chunk goes to the worker. A payload sent again, or for an item that did not need one, is
    harmless."""
    chunk = (
        ScreeningChunk.objects.select_for_update(of=("self",))
        .filter(screening=screening, number=number)
        .first()
    )
    if chunk is None:
        raise ChunkConflict(f"chunk {number} has not been received; send its hashes first.")
    if digest != chunk.content_digest:
        raise ChunkConflict(
            f"these payloads name other items than chunk {number} holds (its content digest "
            "differs): send the payloads of the items its hashes carried."
        )
    if chunk.decided_at is not None:
        # Decided already: after an earlier phase 2 (this one is a retry), or by the sweep
        # without it (its items that needed verifying are `invalid`: `expired` says which).
        return HashedChunk(chunk, False, [], _expired(chunk))
    items = chunk_items(chunk)
    marks = [item.get(AWAITING_VERIFICATION) for item in items]
    outside = sorted(position for position in payloads if not 0 <= position < len(items))
    if outside:
        raise ValidationError(
            f"position {outside[0]} is outside chunk {number}, which holds {len(items)} items."
        )
    needed_before = verification_needed(items)
    # Marked again when the registry changed since phase 1 (a work registered or removed).
    remarked = any(
        item.get(AWAITING_VERIFICATION) is not mark for item, mark in zip(items, marks, strict=True)
    )
    if not needed_before:
        if chunk.awaiting_payloads:  # a work removed since: nothing is a candidate any more
            chunk.awaiting_payloads = False
            chunk.save(update_fields=["awaiting_payloads"])
            _enqueue_when_committed(chunk)
        return HashedChunk(chunk, False, [])  # on its way to the worker
    filled = [position for position in payloads if awaits_verification(items[position])]
    for position in filled:
        try:
            complete_item(items[position], payloads[position])
        except WireFormatError as error:
            raise ValidationError(f"position {position}: {error}") from None
        del items[position][AWAITING_VERIFICATION]
    if not filled:
        return HashedChunk(chunk, False, needed_before)
    needed = sorted(set(needed_before) - set(filled))
    changed = ["verification", "awaiting_payloads"]
    if not remarked:
        # The items' text stays as phase 1 stored it, and is not sent to PostgreSQL again
        # (it would write it anew); the payloads go beside it, in binary.
        kept = unpack_payloads(bytes(chunk.verification or b""))
        kept.update((position, dict(payloads[position])) for position in filled)
        chunk.verification = pack_payloads(kept)
    else:
        changed.append("payload")
        # A registry changed since phase 1 marked its items again (verification_needed):
        # the items are stored whole, payloads in, as JSON. Only numbers and hex were added
        # to items whose text was checked with their hashes.
        chunk.payload = json.dumps(items, ensure_ascii=False, separators=(",", ":"))
        chunk.verification = b""
    if not needed:
        chunk.awaiting_payloads = False
        _enqueue_when_committed(chunk)
    chunk.save(update_fields=changed)
    return HashedChunk(chunk, True, needed)
