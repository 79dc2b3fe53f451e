"""Screenings: items arrive in chunks, each chunk is decided once, and the screening finishes
once, with a signed receipt."""

import json
import logging
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from registry.chunk_wire import complete_item, content_digest, unpack_payloads
from registry.fingerprints import ImageFingerprint
from registry.gatekeeper import (
    ALLOWED,
    DENIED,
    INVALID,
    UNREGISTERED,
    ItemDecision,
    reason_kinds,
    weakest_assurance,
)
from registry.matching.rules import DEFAULT_MATCHING
from registry.merkle import chunk_leaf, decision_leaf, root_of_leaves
from registry.models import (
    MinimumAssurance,
    Organization,
    Purpose,
    Screening,
    ScreeningChunk,
    ScreeningItem,
    ScreeningMode,
    ScreeningStatus,
    WorkScreening,
)
from registry.receipts import (
    BOUND_DIGEST_VERSION,
    MERKLE_DESCRIPTION,
    MERKLE_DIGEST_VERSION,
    chunks_digest,
    key_id,
    sign,
)
from registry.selectors.decisions import AWAITING_VERIFICATION, awaits_verification, decide_items
from registry.selectors.ledger import registry_version
from registry.services.bulk import insert_rows
from registry.services.screening_uploads import UPLOAD_FIELD, fingerprinted_item
from registry.signing import receipt_signing_key
from registry.unlisted import Unlisted, encode

MAX_ITEM_ID_LENGTH = 512
# Levels of lists and objects inside an item; an honest one has three at most (its opt-out
# signals). Deeper ones are refused: storing and re-reading them nears the JSON codec's limit.
MAX_ITEM_NESTING = 16
logger = logging.getLogger(__name__)


class ChunkConflict(ValidationError):
    """A chunk number re-sent with different content, or sent to a closed screening."""


# The published description of how candidates are found: words, not a setting.
_MATCHING_TEXT = ("candidates",)


def refuse_other_matching(screening: Screening) -> None:
    """A new chunk would be decided by the registry's matching as it is now: refused when that
    is not the matching the screening recorded (and its receipt will name), after an upgrade."""
    recorded = {k: v for k, v in screening.matching.items() if k not in _MATCHING_TEXT}
    current = {k: v for k, v in DEFAULT_MATCHING.to_dict().items() if k not in _MATCHING_TEXT}
    if recorded == current:
        return
    raise ChunkConflict(
        "the registry's matching changed since this screening started (fingerprint version "
        f"{recorded.get('fingerprint_version')}, now {current['fingerprint_version']}); its "
        "receipt would name the wrong one: start a new screening."
    )


def _unstorable(text: str) -> bool:
    """PostgreSQL text holds neither NUL nor what is not UTF-8 (an unpaired surrogate)."""
    if "\x00" in text:
        return True
    try:
        text.encode()
    except UnicodeEncodeError:
        return True
    return False


def _holds_unstorable_text(item: Any) -> bool:
    # A walk, not recursion: the JSON parser accepts nesting deeper than a recursion could go.
    pending = [item]
    while pending:
        value = pending.pop()
        if isinstance(value, str) and _unstorable(value):
            return True
        if isinstance(value, Mapping):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False


def _nested_too_deeply(item: Mapping[str, Any]) -> bool:
    pending = [(value, 1) for value in item.values() if isinstance(value, dict | list)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_ITEM_NESTING:
            return True
        children = value.values() if isinstance(value, dict) else value
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _may_hold_unstorable_text(text: str) -> bool:
    """Whether JSON text from `json.dumps(..., ensure_ascii=False)` might hold a NUL or an
    unpaired surrogate: it writes a NUL as the escape \\u0000 and leaves a surrogate as it is.
    One pass over the text in C, where walking every value of 10,000 items costs 0.2 s; a
    literal backslash-u0000 in some text is a false alarm that the walk then clears."""
    return "\\u0000" in text or _unstorable(text)


def _refuse_missing_fields(
    item: Mapping[str, Any], position: int, *, uploaded: bool, hashes_only: bool
) -> None:
    """A fingerprint field left out is the client's mistake, answered now, naming the field; a
    field present but malformed is decided `invalid` (fail closed). An item the client could
    not read says so in `unreadable` instead of a fingerprint. Items of a binary chunk
    (`hashes_only`) await their verification fields, marked by the registry."""
    if "unreadable" in item:
        return
    if AWAITING_VERIFICATION in item:
        if hashes_only:
            return
        raise ValidationError(
            f"item {position} ({item['id']!r}) carries {AWAITING_VERIFICATION!r}, which only "
            "the server writes: send every fingerprint field."
        )
    if UPLOAD_FIELD in item:
        if uploaded:
            return  # the worker fingerprints the file
        raise ValidationError(
            f"item {position} ({item['id']!r}) carries {UPLOAD_FIELD!r}, which only the "
            "server writes: send its fingerprint, or the image as a multipart file."
        )
    missing = [name for name in ImageFingerprint.WIRE_FIELDS if name not in item]
    if missing:
        raise ValidationError(
            f"item {position} ({item['id']!r}) lacks the required field"
            f"{'s' if len(missing) > 1 else ''} {', '.join(missing)}: send every fingerprint "
            "field (see the schema at /api/v1/docs), or 'unreadable' with why the image "
            "could not be read."
        )


def validate_items(
    items: Sequence[Any], *, uploaded: bool = False, hashes_only: bool = False
) -> str:
    """The envelope of each item: an id to answer under, and only text PostgreSQL can store
    (refused here: the worker would fail to store the item, and nobody would answer). Its
    fingerprint is judged later. Returns the items as the JSON text a chunk keeps. `uploaded`
    items were made by the server from files (their bytes, fingerprinted by the worker)."""
    if len(items) > settings.CONSENTRY_MAX_ITEMS_PER_REQUEST:
        raise ValidationError(
            f"{len(items)} items is more than the {settings.CONSENTRY_MAX_ITEMS_PER_REQUEST} "
            "allowed per request; send them in chunks."
        )
    seen: set[str] = set()
    for position, item in enumerate(items):
        item_id = item.get("id") if isinstance(item, Mapping) else None
        if not isinstance(item_id, str) or not 0 < len(item_id) <= MAX_ITEM_ID_LENGTH:
            raise ValidationError(
                f"item {position} needs an 'id': a string of 1 to {MAX_ITEM_ID_LENGTH} characters."
            )
        if item_id in seen:
            raise ValidationError(f"item id {item_id!r} appears twice in this request.")
        seen.add(item_id)
        if _nested_too_deeply(item):
            raise ValidationError(
                f"item {position} nests lists or objects more than {MAX_ITEM_NESTING} levels deep."
            )
    text = json.dumps(items, ensure_ascii=False, separators=(",", ":"))
    if _may_hold_unstorable_text(text):
        for position, item in enumerate(items):
            if _holds_unstorable_text(item):
                raise ValidationError(
                    f"item {position} holds text with a NUL character or an unpaired surrogate."
                )
    for position, item in enumerate(items):
        _refuse_missing_fields(item, position, uploaded=uploaded, hashes_only=hashes_only)
    return text


def chunk_items(chunk: ScreeningChunk) -> list[dict[str, Any]]:
    """A chunk's items as received: for a chunk sent as hashes, each completed with the
    verification payload kept for it (checked against its hashes when it came)."""
    items: list[dict[str, Any]] = json.loads(chunk.payload)
    for position, payload in unpack_payloads(bytes(chunk.verification or b"")).items():
        item = items[position]
        if awaits_verification(item):
            complete_item(item, payload)
            del item[AWAITING_VERIFICATION]
    return items


def enqueue_chunk(chunk_id: int) -> None:
    """Send the chunk's task; if the broker is unreachable, beat's sweep sends it later."""
    from registry.tasks import decide_chunk  # tasks import services; the import goes one way

    try:
        decide_chunk.delay(chunk_id)
    except Exception:  # whatever the broker raised, the chunk waits for the sweep
        logger.warning("Could not enqueue chunk %s; the stalled-chunk sweep will.", chunk_id)


def _enqueue(chunk: ScreeningChunk) -> None:
    transaction.on_commit(lambda: enqueue_chunk(chunk.pk))


def stalled_chunk_ids(
    *, older_than: timedelta, awaiting_older_than: timedelta | None = None
) -> list[int]:
    """Undecided chunks to send to the worker again: those received `older_than` ago, and
    those still waiting for verification payloads only after `awaiting_older_than` (their
    client may be resuming; once decided, their unverified items are `invalid` for good)."""
    now = timezone.now()
    waited = awaiting_older_than if awaiting_older_than is not None else older_than
    stalled = ScreeningChunk.objects.filter(decided_at__isnull=True).filter(
        Q(awaiting_payloads=False, received_at__lt=now - older_than)
        | Q(awaiting_payloads=True, received_at__lt=now - waited)
    )
    return list(stalled.values_list("pk", flat=True)[:1000])


def refuse_other_content(chunk: ScreeningChunk, items: Sequence[Mapping[str, Any]]) -> None:
    """A chunk number sent again must carry the same items (ids and hashes) it first did."""
    if chunk.content_digest:
        same = chunk.content_digest == content_digest(items)
    else:  # received before its content was kept
        same = chunk.item_count == len(items)
    if not same:
        raise ChunkConflict(
            f"chunk {chunk.number} was received already with other items (ids or hashes "
            "differ): a resumed run must send the same inputs in the same order, or start a "
            "new screening."
        )


def _add_chunk(
    screening: Screening, number: int, items: Sequence[Mapping[str, Any]], payload: str
) -> ScreeningChunk:
    chunk = ScreeningChunk.objects.create(
        screening=screening,
        number=number,
        item_count=len(items),
        payload=payload,
        content_digest=content_digest(items),
    )
    _enqueue(chunk)
    return chunk


@transaction.atomic
def screening_create(
    *,
    organization: Organization,
    purpose: str,
    mode: str = ScreeningMode.CONSENT_REQUIRED,
    items: Sequence[Mapping[str, Any]] = (),
    keep_open: bool = False,
    min_assurance: str = MinimumAssurance.VERIFIED,
    uploaded: bool = False,
) -> Screening:
    """Start a screening. With keep_open, more chunks follow and `screening_close` ends it.
    A permission counts only from a claim at `min_assurance` or above."""
    if purpose not in Purpose.values:
        raise ValidationError(
            f"Unknown purpose {purpose!r}; use one of {', '.join(Purpose.values)}."
        )
    if mode not in ScreeningMode.values:
        raise ValidationError(
            f"Unknown mode {mode!r}; use one of {', '.join(ScreeningMode.values)}."
        )
    if min_assurance not in MinimumAssurance.values:
        raise ValidationError(
            f"Unknown min_assurance {min_assurance!r}; "
            f"use one of {', '.join(MinimumAssurance.values)}."
        )
    payload = validate_items(items, uploaded=uploaded)
    version = registry_version()
    screening = Screening.objects.create(
        organization=organization,
        purpose=purpose,
        mode=mode,
        min_assurance=min_assurance,
        status=ScreeningStatus.RECEIVING if keep_open else ScreeningStatus.RUNNING,
        accepting_chunks=keep_open,
        total_items=len(items),
        registry_sequence=version.sequence,
        registry_hash=version.hash,
        matching=DEFAULT_MATCHING.to_dict(),
    )
    if items:
        _add_chunk(screening, 0, items, payload)
    elif not keep_open:
        _finish(screening)
    return screening


@transaction.atomic
def screening_add_chunk(
    *,
    screening: Screening,
    number: int,
    items: Sequence[Mapping[str, Any]],
    uploaded: bool = False,
) -> tuple[ScreeningChunk, bool]:
    """Add chunk `number`; re-sending a chunk already received is a no-op (created is False)."""
    payload = validate_items(items, uploaded=uploaded)
    locked = Screening.objects.select_for_update().get(pk=screening.pk)
    existing = ScreeningChunk.objects.filter(screening=locked, number=number).first()
    if existing is not None:
        refuse_other_content(existing, items)
        return existing, False
    if not locked.accepting_chunks:
        raise ChunkConflict("this screening is closed; start a new one.")
    refuse_other_matching(locked)
    if not items:
        raise ValidationError("a chunk needs at least one item.")
    chunk = _add_chunk(locked, number, items, payload)
    Screening.objects.filter(pk=locked.pk).update(total_items=F("total_items") + len(items))
    return chunk, True


@transaction.atomic
def screening_close(*, screening: Screening) -> Screening:
    """No more chunks: the screening finishes when its last chunk is decided."""
    locked = Screening.objects.select_for_update().get(pk=screening.pk)
    if locked.accepting_chunks:
        locked.accepting_chunks = False
        locked.status = ScreeningStatus.RUNNING
        locked.save(update_fields=["accepting_chunks", "status"])
        _finish_if_done(locked)
    return locked


_ITEM_COLUMNS = (
    "screening_id",
    "chunk_id",
    "position",
    "item_id",
    "url",
    "decision",
    "reason",
    "reasons",
    "matches",
    "credit",
)
_NO_MATCHES = "[]"
_WORK_SCREENING_COLUMNS = (
    "work_id",
    "screening_id",
    "item_id",
    "organization_id",
    "decision",
    "decided_at",
)


def _json(value: list[dict[str, Any]]) -> str:
    return json.dumps(value, ensure_ascii=False) if value else _NO_MATCHES


def _listed(decision: ItemDecision) -> bool:
    """Whether an item gets a row: it matched a work, or was denied (a work or a reservation
    refused it). Withdrawals, "who screened my work" and the exports need these one by one;
    the unregistered and invalid rest is counted and covered by the chunk's Merkle root."""
    return decision.decision in (ALLOWED, DENIED) or bool(decision.matches)


def _insert_items(
    chunk: ScreeningChunk, raw_items: Sequence[Mapping[str, Any]], decisions: Sequence[ItemDecision]
) -> None:
    insert_rows(
        ScreeningItem,
        _ITEM_COLUMNS,
        (
            (
                chunk.screening_id,
                chunk.pk,
                position,
                raw["id"],
                str(raw.get("url") or "")[:2048],
                decision.decision,
                decision.stored_reason,
                _json([reason.as_dict() for reason in decision.reasons]),
                _json(decision.matches),
                _json(decision.credit),
            )
            for position, (raw, decision) in enumerate(zip(raw_items, decisions, strict=True))
            if _listed(decision)
        ),
    )


def _insert_work_screenings(
    chunk: ScreeningChunk, decisions: Sequence[ItemDecision], decided_at: Any
) -> None:
    matched = {position: d for position, d in enumerate(decisions) if d.matches}
    if not matched:
        return
    item_pks = dict(
        ScreeningItem.objects.filter(chunk=chunk, position__any=matched).values_list(
            "position", "pk"
        )
    )
    screening = chunk.screening
    insert_rows(
        WorkScreening,
        _WORK_SCREENING_COLUMNS,
        (
            (
                work_id,
                screening.pk,
                item_pks[position],
                screening.organization_id,
                d.decision,
                decided_at,
            )
            for position, d in matched.items()
            for work_id in d.work_ids
        ),
    )


def _sha256(raw: Mapping[str, Any]) -> str | None:
    # As sent (the client's or, for uploads, the server's hash); an unreadable file has none.
    value = raw.get("sha256")
    return value if isinstance(value, str) else None


def _leaves(
    raw_items: Sequence[Mapping[str, Any]], decisions: Sequence[ItemDecision]
) -> Iterator[bytes]:
    for raw, decision in zip(raw_items, decisions, strict=True):
        yield decision_leaf(
            raw["id"], decision.decision, decision.stored_reason, decision.work_ids, _sha256(raw)
        )


def _unlisted(decisions: Sequence[ItemDecision]) -> list[Unlisted | None]:
    return [
        None if _listed(decision) else Unlisted(position, decision.decision, decision.stored_reason)
        for position, decision in enumerate(decisions)
    ]


def chunk_record_decisions(
    *,
    chunk: ScreeningChunk,
    raw_items: Sequence[Mapping[str, Any]],
    decisions: Sequence[ItemDecision],
) -> None:
    """Keep a decided chunk's outcome, inside the caller's transaction, whatever path brought
    its items: rows for the items that matched or were denied, counts for every decision, the
    Merkle root of all of them, and the unlisted items' decisions by position."""
    now = timezone.now()
    _insert_items(chunk, raw_items, decisions)
    _insert_work_screenings(chunk, decisions, now)
    counts = Counter(decision.decision for decision in decisions)
    unlisted = _unlisted(decisions)
    chunk.merkle_root = root_of_leaves(_leaves(raw_items, decisions))
    chunk.digest_version = MERKLE_DIGEST_VERSION
    chunk.unlisted = encode(unlisted)
    chunk.allowed_items, chunk.denied_items = counts[ALLOWED], counts[DENIED]
    chunk.unregistered_items, chunk.invalid_items = counts[UNREGISTERED], counts[INVALID]
    # The fingerprints have served; the decisions are what is kept.
    chunk.decided_at, chunk.payload, chunk.verification = now, "", b""
    chunk.save(
        update_fields=[
            "merkle_root",
            "digest_version",
            "unlisted",
            "allowed_items",
            "denied_items",
            "unregistered_items",
            "invalid_items",
            "decided_at",
            "payload",
            "verification",
        ]
    )
    levels = Counter(
        level for decision in decisions if (level := weakest_assurance(decision)) is not None
    )
    entries = [entry for entry in unlisted if entry is not None]
    _count(
        chunk.screening_id,
        counts,
        levels,
        Counter(entry.decision for entry in entries),
        Counter(
            f"{entry.decision}: {kind}"
            for entry in entries
            for kind in reason_kinds(entry.decision, entry.reason)
        ),
    )


def chunk_decide(*, chunk_id: int) -> bool:
    """Decide every item of a chunk in one transaction; False when it was decided already.

    Idempotent: a task delivered twice, or redelivered after its worker died mid-way, finds
    the chunk decided (or its rolled-back attempt gone) and writes exactly one result per item.
    """
    with transaction.atomic():
        # Only the chunk's row is locked for the whole decision ("self": joined rows would be
        # locked too), so the client's next chunk need not wait for this one to be decided.
        chunk = (
            ScreeningChunk.objects.select_for_update(of=("self",))
            .select_related("screening")
            .get(pk=chunk_id)
        )
        if chunk.decided_at is not None:
            return False
        screening = chunk.screening
        # Uploaded files are fingerprinted here, in the worker, never in the request.
        raw_items = [fingerprinted_item(raw) for raw in chunk_items(chunk)]
        decisions = decide_items(
            organization=screening.organization,
            purpose=screening.purpose,
            items=raw_items,
            min_assurance=screening.min_assurance,
            mode=screening.mode,
        )
        chunk_record_decisions(chunk=chunk, raw_items=raw_items, decisions=decisions)
    return True


def _count(
    screening_id: Any,
    counts: Counter[str],
    levels: Counter[str],
    unlisted: Counter[str],
    unlisted_reasons: Counter[str],
) -> None:
    # The screening row is locked last and briefly: chunks of one screening decided in
    # parallel only queue for this small update, not for their whole work.
    screening = Screening.objects.select_for_update().get(pk=screening_id)
    merged = Counter(screening.counts) + counts
    screening.counts = dict(merged)
    screening.assurance_counts = dict(Counter(screening.assurance_counts) + levels)
    screening.unlisted_counts = dict(Counter(screening.unlisted_counts) + unlisted)
    screening.unlisted_reasons = dict(Counter(screening.unlisted_reasons) + unlisted_reasons)
    screening.done_items += sum(counts.values())
    screening.save(
        update_fields=[
            "counts",
            "assurance_counts",
            "unlisted_counts",
            "unlisted_reasons",
            "done_items",
        ]
    )
    _finish_if_done(screening)


def _finish_if_done(screening: Screening) -> None:
    if (
        not screening.accepting_chunks
        and screening.status != ScreeningStatus.FINISHED
        and screening.done_items == screening.total_items
    ):
        _finish(screening)


def _digests(screening: Screening) -> dict[str, Any]:
    """Version 3: every chunk's Merkle root (number, items, root) and the root over them, so
    that any one item's decision can be proved with its path. Version 2 lists chunk digests
    of lines; a screening with a chunk decided before either stays at 1 (a digest of the
    chunks' digests or roots, checked by its signature only)."""
    chunks = list(
        screening.chunks.order_by("number").values_list(
            "number", "item_count", "digest", "merkle_root", "digest_version"
        )
    )
    versions = {version for *_, version in chunks}
    if versions <= {MERKLE_DIGEST_VERSION}:
        return {
            "version": MERKLE_DIGEST_VERSION,
            "merkle": MERKLE_DESCRIPTION,
            "decisions_root": root_of_leaves(
                chunk_leaf(number, items, root) for number, items, _, root, _ in chunks
            ),
            "chunks": [[number, items, root] for number, items, _, root, _ in chunks],
            # Counted, not listed: no row each, proved by the chunks' roots.
            "unlisted": {
                decision: int(screening.unlisted_counts.get(decision, 0))
                for decision in (INVALID, UNREGISTERED)
            },
        }
    pairs = [(number, root or digest) for number, _, digest, root, _ in chunks]
    if versions != {BOUND_DIGEST_VERSION}:
        return {"version": 1, "decisions_digest": chunks_digest(pairs)}
    return {
        "version": BOUND_DIGEST_VERSION,
        "decisions_digest": chunks_digest(pairs),
        "chunks": [[number, items, digest] for number, items, digest, _, _ in chunks],
    }


def _receipt(screening: Screening, finished_at: Any) -> dict[str, Any]:
    public_key = receipt_signing_key().public_key()
    return {
        "type": "consentry.screening-receipt",
        **_digests(screening),
        "screening_id": str(screening.id),
        "organization": {"id": screening.organization_id, "name": screening.organization.name},
        "purpose": screening.purpose,
        "mode": screening.mode,
        # What an `allowed` rests on: the least assurance a permission needed, and how many
        # allowed items relied on each level (the weakest among each item's permissions).
        "min_assurance": screening.min_assurance,
        "allowed_by_assurance": dict(sorted(screening.assurance_counts.items())),
        "items": screening.total_items,
        "counts": {
            decision: screening.counts.get(decision, 0)
            for decision in sorted({"allowed", "denied", "unregistered", "invalid"})
        },
        "registry_version": {
            "sequence": screening.registry_sequence,
            "hash": screening.registry_hash,
        },
        "matching": screening.matching,
        "created_at": screening.created_at.isoformat(),
        "finished_at": finished_at.isoformat(),
        "key_id": key_id(public_key),
    }


def _finish(screening: Screening) -> None:
    now = timezone.now()
    receipt = _receipt(screening, now)
    finished = (
        Screening.objects.filter(pk=screening.pk)
        .exclude(status=ScreeningStatus.FINISHED)
        .update(
            status=ScreeningStatus.FINISHED,
            finished_at=now,
            receipt=receipt,
            receipt_signature=sign(receipt, receipt_signing_key()),
        )
    )
    if finished:
        screening.refresh_from_db()
