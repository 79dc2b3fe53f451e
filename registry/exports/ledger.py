"""The consent ledger as JSON Lines: a header, one line per event, and a signed checkpoint.

The checkpoint (sequence, head hash, time) is signed with the registry's receipt key, so a
copy that was cut short, extended or re-hashed after export no longer verifies.
"""

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.utils import timezone

from registry.exports.cells import json_text
from registry.exports.context import VERIFY_LEDGER, receipt_key
from registry.ledger import GENESIS_HASH, canonical_time
from registry.models import ConsentEvent
from registry.receipts import sign
from registry.signing import receipt_signing_key

EXPORT_TYPE = "consentry.ledger-export"
CHECKPOINT_TYPE = "consentry.ledger-checkpoint"
_FIELDS = ("sequence", "kind", "artist_id", "work_id", "payload", "created_at")


def _head(until: datetime | None) -> tuple[int, str]:
    events = ConsentEvent.objects.order_by("-sequence")
    if until is not None:
        events = events.filter(created_at__lt=until)
    head = events.values_list("sequence", "hash").first()
    return head if head is not None else (0, GENESIS_HASH)


def event_line(row: tuple[Any, ...]) -> str:
    sequence, kind, artist_id, work_id, payload, created_at, previous_hash, hash_ = row
    return json_text(
        {
            "type": "event",
            "sequence": sequence,
            "kind": kind,
            "artist_id": artist_id,
            "work_id": work_id,
            "payload": payload,
            "created_at": canonical_time(created_at),
            "previous_hash": previous_hash,
            "hash": hash_,
        }
    )


def checkpoint(sequence: int, head_hash: str) -> dict[str, Any]:
    document = {
        "type": CHECKPOINT_TYPE,
        "sequence": sequence,
        "head_hash": head_hash,
        "time": timezone.now().isoformat(),
        "key_id": receipt_key()["key_id"],
    }
    return {**document, "signature": sign(document, receipt_signing_key())}


def ledger_jsonl(*, until: datetime | None = None) -> Iterator[str]:
    """Every event from the first up to the head (at `until`, if given), then the checkpoint.

    The head is read first: events appended while the export runs are left out, so the
    checkpoint always names the last line written.
    """
    sequence, head_hash = _head(until)
    yield (
        json_text(
            {
                "type": EXPORT_TYPE,
                "version": 1,
                "genesis_hash": GENESIS_HASH,
                "exported_at": timezone.now().isoformat(),
                "until": until.isoformat() if until else None,
                "receipt_key": receipt_key(),
                "verify": VERIFY_LEDGER,
            }
        )
        + "\n"
    )
    rows = (
        ConsentEvent.objects.filter(sequence__lte=sequence)
        .order_by("sequence")
        .values_list(*_FIELDS, "previous_hash", "hash")
    )
    for row in rows.iterator(chunk_size=5000):
        yield event_line(row) + "\n"
    yield json_text(checkpoint(sequence, head_hash)) + "\n"
