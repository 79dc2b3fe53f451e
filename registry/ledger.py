"""The consent ledger's hash chain, in plain Python so that anyone can verify an export offline.

Each event's hash is SHA-256 over the previous event's hash and a canonical JSON encoding of the
event (sorted keys, no spaces, UTF-8, times in UTC with microseconds). Changing, removing or
reordering any event changes every hash after it.
"""

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class LedgerEntry:
    sequence: int
    kind: str
    artist_id: int | None
    work_id: int | None
    payload: Mapping[str, Any]
    created_at: datetime
    previous_hash: str
    hash: str
    # Left out of an export (only its hashes shown): it links the chain, its content is unseen.
    withheld: bool = False


@dataclass(frozen=True)
class BrokenLink:
    """The first entry at which the chain stops adding up, and why."""

    sequence: int
    reason: str


def canonical_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_bytes(
    *,
    sequence: int,
    kind: str,
    artist_id: int | None,
    work_id: int | None,
    payload: Mapping[str, Any],
    created_at: datetime,
) -> bytes:
    document = {
        "sequence": sequence,
        "kind": kind,
        "artist_id": artist_id,
        "work_id": work_id,
        "payload": payload,
        "created_at": canonical_time(created_at),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(previous_hash: str, canonical: bytes) -> str:
    return hashlib.sha256(previous_hash.encode("ascii") + b"\n" + canonical).hexdigest()


def entry_hash(entry: LedgerEntry) -> str:
    canonical = canonical_bytes(
        sequence=entry.sequence,
        kind=entry.kind,
        artist_id=entry.artist_id,
        work_id=entry.work_id,
        payload=entry.payload,
        created_at=entry.created_at,
    )
    return chain_hash(entry.previous_hash, canonical)


def first_broken_link(entries: Iterable[LedgerEntry]) -> BrokenLink | None:
    """Walk the chain in the order given; None when every link holds.

    Sequences must run 1, 2, 3, ... without gaps, so a deleted event is caught even when the
    events around it were re-hashed by someone with write access.
    """
    expected_sequence = 1
    expected_previous = GENESIS_HASH
    for entry in entries:
        if entry.sequence != expected_sequence:
            return BrokenLink(
                entry.sequence,
                f"expected sequence {expected_sequence}, found {entry.sequence} "
                "(an event was deleted or reordered)",
            )
        if entry.previous_hash != expected_previous:
            return BrokenLink(
                entry.sequence, "its previous hash is not the hash of the event before it"
            )
        if not entry.withheld and entry_hash(entry) != entry.hash:
            return BrokenLink(entry.sequence, "its content does not match its hash (edited)")
        expected_sequence += 1
        expected_previous = entry.hash
    return None


class WithheldSequences:
    """What an export's checkpoint signs about the events it withholds: how many, and a
    SHA-256 over their sequences, built as the export streams (no list of them is kept)."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256()
        self.count = 0

    def add(self, sequence: int) -> None:
        self._digest.update(f"{sequence}\n".encode("ascii"))
        self.count += 1

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "digest": self._digest.hexdigest()}
