"""The consent ledger as JSON Lines: a header, one line per event, and a signed checkpoint.

The checkpoint (sequence, head hash, time) is signed with the registry's receipt key, so a
copy that was cut short, extended or re-hashed after export no longer verifies.

An organization's export withholds what concerns others: grants to other organizations (who
licenses what to whom) and disputes between artists. A withheld event keeps its place in the
chain as its sequence and hashes only, so the chain still checks offline; the checkpoint signs
which sequences were withheld, so no event can be withheld after the export was signed.
"""

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from django.utils import timezone

from registry.exports.cells import json_text
from registry.exports.context import VERIFY_LEDGER, receipt_key
from registry.ledger import GENESIS_HASH, LedgerEntry, WithheldSequences, canonical_time
from registry.models import ConsentEventKind
from registry.receipts import sign
from registry.selectors.ledger import ledger_rows, registry_version
from registry.signing import receipt_signing_key

EXPORT_TYPE = "consentry.ledger-export"
CHECKPOINT_TYPE = "consentry.ledger-checkpoint"
_GRANT_KINDS = {ConsentEventKind.GRANT_CREATED, ConsentEventKind.GRANT_REVOKED}
_DISPUTE_KINDS = {ConsentEventKind.DISPUTE_OPENED, ConsentEventKind.DISPUTE_RESOLVED}


def concerns(organization_id: int, kind: str, payload: Mapping[str, Any]) -> bool:
    """Whether an organization's export shows an event: every change of consent that holds
    for everyone, and its own grants; not other organizations' grants, nor disputes."""
    if kind in _GRANT_KINDS:
        return payload.get("organization_id") == organization_id
    return kind not in _DISPUTE_KINDS


def event_line(entry: LedgerEntry) -> str:
    return json_text(
        {
            "type": "event",
            "sequence": entry.sequence,
            "kind": entry.kind,
            "artist_id": entry.artist_id,
            "work_id": entry.work_id,
            "payload": entry.payload,
            "created_at": canonical_time(entry.created_at),
            "previous_hash": entry.previous_hash,
            "hash": entry.hash,
        }
    )


def withheld_line(entry: LedgerEntry) -> str:
    return json_text(
        {
            "type": "withheld",
            "sequence": entry.sequence,
            "previous_hash": entry.previous_hash,
            "hash": entry.hash,
        }
    )


def checkpoint(
    sequence: int,
    head_hash: str,
    *,
    organization_id: int | None = None,
    withheld: WithheldSequences | None = None,
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "type": CHECKPOINT_TYPE,
        "sequence": sequence,
        "head_hash": head_hash,
        "time": timezone.now().isoformat(),
        "key_id": receipt_key()["key_id"],
    }
    if organization_id is not None:
        document["organization_id"] = organization_id
        document["withheld"] = (withheld or WithheldSequences()).as_dict()
    return {**document, "signature": sign(document, receipt_signing_key())}


def ledger_jsonl(
    *, until: datetime | None = None, organization_id: int | None = None
) -> Iterator[str]:
    """Every event from the first up to the head (at `until`, if given), then the checkpoint;
    for an organization, the events that do not concern it withheld.

    The head is read first: events appended while the export runs are left out, so the
    checkpoint always names the last line written.
    """
    head = registry_version(until=until)
    yield (
        json_text(
            {
                "type": EXPORT_TYPE,
                "version": 1,
                "genesis_hash": GENESIS_HASH,
                "exported_at": timezone.now().isoformat(),
                "until": until.isoformat() if until else None,
                "organization_id": organization_id,
                "receipt_key": receipt_key(),
                "verify": VERIFY_LEDGER,
            }
        )
        + "\n"
    )
    withheld = WithheldSequences()
    for entry in ledger_rows(up_to=head.sequence):
        if organization_id is None or concerns(organization_id, entry.kind, entry.payload):
            yield event_line(entry) + "\n"
        else:
            withheld.add(entry.sequence)
            yield withheld_line(entry) + "\n"
    signed = checkpoint(
        head.sequence, head.hash, organization_id=organization_id, withheld=withheld
    )
    yield json_text(signed) + "\n"
