"""An organization's ledger export holds the events that concern it: consent that holds for
everyone and its own grants. Other organizations' grants and artists' disputes are withheld as
hashes only, so the export still verifies offline and tampering is still caught."""

import json
from typing import Any

import pytest
from django.core.management import call_command

from registry.exports.ledger_check import LedgerExportError, verify_ledger_export
from registry.models import ConsentEvent, ConsentEventKind, Dispute, Purpose
from registry.receipts import public_pem
from registry.services.grants import grant_create, grant_revoke
from registry.signing import receipt_signing_key
from tests.api.conftest import api_client


@pytest.fixture
def ledger(works, alice, bob, acme, globex, register_work) -> dict[str, Any]:
    """alice grants acme her licensed work; bob grants globex his; globex's grant is revoked;
    bob registers a near-copy of alice's allowed work, which opens a dispute."""
    to_acme = grant_create(
        artist=alice, organization=acme, purposes=[Purpose.AI_TRAINING], works=[works["licensed"]]
    )
    to_globex = grant_create(
        artist=bob, organization=globex, purposes=[Purpose.AI_TRAINING], works=[works["refused"]]
    )
    grant_revoke(grant=to_globex)
    register_work(bob, seed=1, title="Bob's copy")
    assert Dispute.objects.exists()
    return {"to_acme": to_acme, "to_globex": to_globex}


def _export(organization) -> list[str]:
    response: Any = api_client(organization).get("/api/v1/exports/ledger")
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode().splitlines()


def _records(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines]


def _check(lines: list[str]):
    return verify_ledger_export(lines, receipt_signing_key().public_key())


def _sequences(kind: str) -> set[int]:
    return set(ConsentEvent.objects.filter(kind=kind).values_list("sequence", flat=True))


def test_acme_sees_its_own_grants_but_not_globexs(ledger, acme):
    lines = _export(acme)
    records = {r["sequence"]: r for r in _records(lines) if r["type"] in ("event", "withheld")}
    grant_events = ConsentEvent.objects.filter(
        kind__in=[ConsentEventKind.GRANT_CREATED, ConsentEventKind.GRANT_REVOKED]
    )

    for event in grant_events:
        shown = records[event.sequence]
        if event.payload["organization_id"] == acme.pk:
            assert shown["type"] == "event" and shown["payload"] == event.payload
        else:
            assert shown == {
                "type": "withheld",
                "sequence": event.sequence,
                "previous_hash": event.previous_hash,
                "hash": event.hash,
            }
    assert ledger["to_globex"].reference not in "\n".join(lines)


def test_globex_sees_its_own_grants_but_not_acmes(ledger, globex):
    text = "\n".join(_export(globex))

    assert ledger["to_globex"].reference in text
    assert ledger["to_acme"].reference not in text


def test_disputes_are_withheld_and_consent_for_everyone_is_shown(ledger, acme):
    records = {
        r["sequence"]: r for r in _records(_export(acme)) if r["type"] in ("event", "withheld")
    }

    for sequence in _sequences(ConsentEventKind.DISPUTE_OPENED):
        assert records[sequence]["type"] == "withheld"
    for kind in (ConsentEventKind.WORK_REGISTERED, ConsentEventKind.TERMS_CHANGED):
        for sequence in _sequences(kind):
            assert records[sequence]["type"] == "event"


def test_a_scoped_export_verifies_offline(ledger, acme, tmp_path, capsys):
    lines = _export(acme)
    verified = _check(lines)

    withheld = sum(1 for r in _records(lines) if r["type"] == "withheld")
    assert withheld >= 3  # globex's grant and its revocation, the dispute
    assert verified.withheld == withheld
    assert verified.events + verified.withheld == ConsentEvent.objects.count()
    path, key = tmp_path / "ledger.jsonl", tmp_path / "key.pem"
    path.write_text("\n".join(lines) + "\n")
    key.write_text(public_pem(receipt_signing_key().public_key()))
    call_command("verify_ledger", export=str(path), key_file=str(key))
    assert f"({withheld} withheld)" in capsys.readouterr().out


def _index(lines: list[str], kind: str) -> int:
    return next(i for i, record in enumerate(_records(lines)) if record.get("type") == kind)


def test_an_edited_event_of_a_scoped_export_is_named(ledger, acme):
    lines = _export(acme)
    records = _records(lines)
    at = next(i for i, r in enumerate(records) if r.get("kind") == ConsentEventKind.GRANT_CREATED)
    records[at]["payload"]["purposes"] = ["ai_training", "data_mining"]
    lines[at] = json.dumps(records[at])

    with pytest.raises(LedgerExportError, match=f"event {records[at]['sequence']}: its content"):
        _check(lines)


def test_a_withheld_events_hash_cannot_be_changed(ledger, acme):
    lines = _export(acme)
    at = _index(lines, "withheld")
    record = json.loads(lines[at])
    record["hash"] = "f" * 64
    lines[at] = json.dumps(record)

    with pytest.raises(LedgerExportError, match=f"event {record['sequence'] + 1}: its previous"):
        _check(lines)


def test_an_event_withheld_after_the_export_was_signed_is_caught(ledger, acme):
    lines = _export(acme)
    at = _index(lines, "event")
    record = json.loads(lines[at])
    lines[at] = json.dumps(
        {key: record[key] for key in ("sequence", "previous_hash", "hash")} | {"type": "withheld"}
    )

    with pytest.raises(LedgerExportError, match="withheld or restored after the export"):
        _check(lines)


def test_a_withheld_event_cannot_be_filled_in(ledger, acme):
    """Whoever invents content for a withheld event cannot make it match the hash."""
    lines = _export(acme)
    at = _index(lines, "withheld")
    record = json.loads(lines[at])
    invented = {
        **record,
        "type": "event",
        "kind": "grant_created",
        "artist_id": None,
        "work_id": None,
        "payload": {"organization_id": 1},
        "created_at": "2026-01-01T00:00:00.000000+00:00",
    }
    lines[at] = json.dumps(invented)

    with pytest.raises(LedgerExportError, match=f"event {record['sequence']}: its content"):
        _check(lines)
