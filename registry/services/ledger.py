"""Appending to the consent ledger, inside the transaction of the change it records."""

from typing import Any

from django.db import connection
from django.utils import timezone

from registry.ledger import canonical_bytes, chain_hash
from registry.models import Artist, ConsentEvent, Work
from registry.selectors.ledger import registry_version
from registry.services.withdrawals import withdrawals_on_commit

# Any constant works; it only has to be the same in every process that appends.
_LEDGER_LOCK_KEY = 0x436F6E73656E74


def _lock_ledger() -> None:
    # Appends must be serialized: two writers reading the same head would fork the chain.
    # PostgreSQL: a transaction-scoped advisory lock, released at commit. SQLite: the IMMEDIATE
    # transaction mode in settings already holds the database's single write lock.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LEDGER_LOCK_KEY])


def ledger_append(
    *,
    kind: str,
    payload: dict[str, Any],
    artist: Artist | None = None,
    work: Work | None = None,
) -> ConsentEvent:
    """Append one event. Must run inside the transaction that makes the change it records."""
    if not connection.in_atomic_block:
        raise RuntimeError("ledger_append must run inside the transaction of the change.")
    _lock_ledger()
    head = registry_version()
    sequence = head.sequence + 1
    created_at = timezone.now()
    artist_id = artist.pk if artist is not None else (work.artist_id if work else None)
    work_id = work.pk if work is not None else None
    canonical = canonical_bytes(
        sequence=sequence,
        kind=kind,
        artist_id=artist_id,
        work_id=work_id,
        payload=payload,
        created_at=created_at,
    )
    event = ConsentEvent.objects.create(
        sequence=sequence,
        kind=kind,
        artist_id=artist_id,
        work_id=work_id,
        payload=payload,
        created_at=created_at,
        previous_hash=head.hash,
        hash=chain_hash(head.hash, canonical),
    )
    withdrawals_on_commit(event)  # tells the organizations concerned, after commit
    return event
