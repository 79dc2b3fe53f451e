"""Reads of the consent ledger: its head (the registry version) and its events, in order.

The only module that names the ledger's columns or reads its head; exports, the verifier and
the services read through these two functions.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from registry.ledger import GENESIS_HASH, LedgerEntry
from registry.models import ConsentEvent, LedgerCheckpoint

# The columns of one ledger entry, in the order of registry.ledger.LedgerEntry's fields.
LEDGER_COLUMNS = (
    "sequence",
    "kind",
    "artist_id",
    "work_id",
    "payload",
    "created_at",
    "previous_hash",
    "hash",
)


@dataclass(frozen=True)
class RegistryVersion:
    """The ledger head: every screening records the version it read."""

    sequence: int
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return {"sequence": self.sequence, "hash": self.hash}


def registry_version(*, until: datetime | None = None) -> RegistryVersion:
    """The ledger head now, or the head as it stood before `until`."""
    events = ConsentEvent.objects.order_by("-sequence")
    if until is not None:
        events = events.filter(created_at__lt=until)
    head = events.values_list("sequence", "hash").first()
    if head is None:
        return RegistryVersion(0, GENESIS_HASH)
    return RegistryVersion(*head)


def ledger_rows(*, up_to: int | None = None) -> Iterator[LedgerEntry]:
    """Every event from the first (up to sequence `up_to`, if given), in order, streamed."""
    events = ConsentEvent.objects.order_by("sequence")
    if up_to is not None:
        events = events.filter(sequence__lte=up_to)
    for row in events.values_list(*LEDGER_COLUMNS).iterator(chunk_size=5000):
        yield LedgerEntry(*row)


def latest_checkpoint() -> LedgerCheckpoint | None:
    """The last signed checkpoint of the ledger's head, None before the first is published."""
    return LedgerCheckpoint.objects.order_by("-sequence").first()
