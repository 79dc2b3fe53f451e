"""Verifying an exported consent ledger offline, in plain Python (no Django, no database).

It recomputes every hash of the chain, requires sequences 1, 2, 3, ... without gaps, checks
that the checkpoint names the last event, verifies the checkpoint's Ed25519 signature, and
verifies each platform attestation's signature with the key it carries, which must be the key
the ledger registered for that platform (a `platform_settings_changed` event) before it.
An organization's export withholds some events (sequence and hashes only): they link the
chain like any other, and the signed checkpoint names which were withheld.
"""

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from registry.attestations import AttestationCheck, BadAttestation
from registry.ledger import LedgerEntry, WithheldSequences, first_broken_link
from registry.receipts import ReceiptError, key_id, verify

CHECKPOINT_TYPE = "consentry.ledger-checkpoint"
EXPORT_TYPE = "consentry.ledger-export"


class LedgerExportError(ValueError):
    """The export does not verify; the message names the first broken entry."""


@dataclass(frozen=True)
class VerifiedExport:
    events: int
    head_sequence: int
    withheld: int
    head_hash: str
    checkpoint_time: str
    key_id: str


class _Reader:
    """Walks the lines once: events go to the chain check, the checkpoint is kept aside."""

    def __init__(self, lines: Iterable[str]) -> None:
        self.lines = lines
        self.checkpoint: dict[str, Any] | None = None
        self.last: LedgerEntry | None = None
        self.count = 0
        self.withheld = WithheldSequences()

    def entries(self) -> Iterator[LedgerEntry]:
        for number, line in enumerate(self.lines, start=1):
            if not line.strip():
                continue
            record = _parse(line, number, self.last)
            kind = record.get("type")
            if self.checkpoint is not None:
                raise LedgerExportError(
                    f"line {number} follows the checkpoint; the checkpoint must be the last line"
                )
            if kind == CHECKPOINT_TYPE:
                self.checkpoint = record
            elif kind == "event":
                self.last = _entry(record, number)
                self.count += 1
                yield self.last
            elif kind == "withheld":
                self.last = _withheld(record, number)
                self.withheld.add(self.last.sequence)
                yield self.last
            elif kind != EXPORT_TYPE or number != 1:
                raise LedgerExportError(f"line {number} is neither an event nor the checkpoint")


def _next(last: LedgerEntry | None) -> int:
    return last.sequence + 1 if last else 1


def _parse(line: str, number: int, last: LedgerEntry | None) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        raise LedgerExportError(
            f"The ledger is broken at event {_next(last)}: line {number} is not valid JSON."
        ) from None
    if not isinstance(record, dict):
        raise LedgerExportError(
            f"The ledger is broken at event {_next(last)}: line {number} is not a JSON object."
        )
    return record


def _entry(record: dict[str, Any], number: int) -> LedgerEntry:
    try:
        return LedgerEntry(
            sequence=int(record["sequence"]),
            kind=str(record["kind"]),
            artist_id=record["artist_id"],
            work_id=record["work_id"],
            payload=record["payload"],
            created_at=datetime.fromisoformat(record["created_at"]),
            previous_hash=str(record["previous_hash"]),
            hash=str(record["hash"]),
        )
    except (KeyError, TypeError, ValueError):
        sequence = record.get("sequence", "?")
        raise LedgerExportError(
            f"The ledger is broken at event {sequence}: line {number} misses a field "
            "or has a malformed one."
        ) from None


def _withheld(record: dict[str, Any], number: int) -> LedgerEntry:
    try:
        return LedgerEntry(
            sequence=int(record["sequence"]),
            kind="withheld",
            artist_id=None,
            work_id=None,
            payload={},
            created_at=datetime.min.replace(tzinfo=UTC),
            previous_hash=str(record["previous_hash"]),
            hash=str(record["hash"]),
            withheld=True,
        )
    except (KeyError, TypeError, ValueError):
        sequence = record.get("sequence", "?")
        raise LedgerExportError(
            f"The ledger is broken at event {sequence}: line {number} misses a field "
            "or has a malformed one."
        ) from None


def verify_ledger_export(lines: Iterable[str], public_key: Ed25519PublicKey) -> VerifiedExport:
    """Raise LedgerExportError naming the first broken entry; else what the export proves."""
    reader = _Reader(lines)
    attestations = _AttestationCheck()
    broken = first_broken_link(attestations.watch(reader.entries()))
    if broken is not None:
        raise LedgerExportError(
            f"The ledger is broken at event {broken.sequence}: {broken.reason}."
        )
    # After the chain: an edited line is named as edited first; this catches an attestation
    # whose signature never verified though the chain over it is whole.
    if attestations.bad is not None:
        raise LedgerExportError(
            f"The {attestations.bad.subject} in event {attestations.bad.sequence} does not verify: "
            f"{attestations.bad.reason}."
        )
    checkpoint = reader.checkpoint
    if checkpoint is None:
        raise LedgerExportError("The export has no checkpoint: it was cut short.")
    _check_checkpoint(checkpoint, reader.last)
    _check_withheld(checkpoint, reader.withheld)
    signature = checkpoint.get("signature", "")
    document = {key: value for key, value in checkpoint.items() if key != "signature"}
    try:
        verify(document, str(signature), public_key)
    except ReceiptError:
        raise LedgerExportError(
            f"The checkpoint's signature does not verify with key {key_id(public_key)}: "
            "the checkpoint was altered or signed by another key."
        ) from None
    return VerifiedExport(
        events=reader.count,
        withheld=reader.withheld.count,
        head_sequence=int(checkpoint["sequence"]),
        head_hash=str(checkpoint["head_hash"]),
        checkpoint_time=str(checkpoint.get("time", "")),
        key_id=key_id(public_key),
    )


class _AttestationCheck:
    """Checks each event's platform attestation as the entries stream past (read once)."""

    def __init__(self) -> None:
        self.bad: BadAttestation | None = None
        self._check = AttestationCheck()  # remembers each platform's registered key

    def watch(self, entries: Iterable[LedgerEntry]) -> Iterator[LedgerEntry]:
        for entry in entries:
            if self.bad is None:
                self.bad = self._check.check(entry)
            yield entry


def _check_checkpoint(checkpoint: dict[str, Any], last: LedgerEntry | None) -> None:
    sequence = checkpoint.get("sequence")
    last_sequence = last.sequence if last else 0
    if sequence != last_sequence:
        if isinstance(sequence, int) and sequence > last_sequence:
            raise LedgerExportError(
                f"The ledger is broken at event {last_sequence + 1}: it is missing, yet the "
                f"checkpoint names {sequence} events (events removed from the end)."
            )
        raise LedgerExportError(
            f"The ledger is broken at event {sequence}: the checkpoint names it as the head, "
            f"but the export goes on to event {last_sequence}."
        )
    if last is not None and checkpoint.get("head_hash") != last.hash:
        raise LedgerExportError(
            f"The ledger is broken at event {last.sequence}: its hash is not the checkpoint's "
            "head hash."
        )


def _check_withheld(checkpoint: dict[str, Any], withheld: WithheldSequences) -> None:
    # Compared before the signature: a checkpoint edited to match fails that check next.
    signed = checkpoint.get("withheld", WithheldSequences().as_dict())
    if signed != withheld.as_dict():
        raise LedgerExportError(
            f"The export withholds {withheld.count} events, but its checkpoint names "
            f"{signed.get('count') if isinstance(signed, dict) else '?'}: events were withheld "
            "or restored after the export was signed."
        )
