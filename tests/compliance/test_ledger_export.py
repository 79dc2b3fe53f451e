"""An exported ledger verifies offline; editing, deleting or reordering a line, cutting the
file short or forging the checkpoint is caught, naming the first broken entry."""

import json
from datetime import datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command
from django.core.management.base import CommandError

from registry.exports.ledger import ledger_jsonl
from registry.exports.ledger_check import LedgerExportError, verify_ledger_export
from registry.ledger import LedgerEntry, entry_hash
from registry.models import Permission, Purpose
from registry.receipts import public_pem, sign
from registry.services.terms import default_terms_set
from registry.signing import receipt_signing_key


@pytest.fixture
def exported(mallory):
    """Four events (an unverified artist's defaults per purpose; a verified one's verification
    would be a fifth), exported: header, 4 events, checkpoint."""
    for purpose in Purpose.values:
        default_terms_set(artist=mallory, purpose=purpose, permission=Permission.ALLOWED)
    return "".join(ledger_jsonl()).splitlines()


@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "registry-key.pem"
    path.write_text(public_pem(receipt_signing_key().public_key()))
    return path


def _check(lines):
    return verify_ledger_export(lines, receipt_signing_key().public_key())


def _event(line):
    return json.loads(line)


def test_an_untouched_export_verifies(exported):
    verified = _check(exported)

    assert verified.events == 4 and verified.head_sequence == 4
    assert verified.head_hash == _event(exported[4])["hash"]


def test_the_command_verifies_a_file_with_the_public_key(exported, key_file, tmp_path, capsys):
    path = tmp_path / "ledger.jsonl"
    path.write_text("\n".join(exported) + "\n")

    call_command("verify_ledger", export=str(path), key_file=str(key_file))

    assert "The exported ledger holds: 4 events" in capsys.readouterr().out


def test_the_command_names_the_first_broken_entry(exported, key_file, tmp_path):
    edited = _event(exported[2])
    edited["payload"]["permission"] = "not_allowed"
    exported[2] = json.dumps(edited)
    path = tmp_path / "ledger.jsonl"
    path.write_text("\n".join(exported))

    with pytest.raises(CommandError, match="broken at event 2: its content does not match"):
        call_command("verify_ledger", export=str(path), key_file=str(key_file))


def test_an_edited_line_is_named(exported):
    edited = _event(exported[3])
    edited["kind"] = "work_removed"
    exported[3] = json.dumps(edited)

    with pytest.raises(LedgerExportError, match="broken at event 3: its content"):
        _check(exported)


def test_a_deleted_line_is_named(exported):
    del exported[2]  # event 2

    with pytest.raises(LedgerExportError, match="broken at event 3: expected sequence 2"):
        _check(exported)


def test_reordered_lines_are_named(exported):
    exported[2], exported[3] = exported[3], exported[2]

    with pytest.raises(LedgerExportError, match="broken at event 3: expected sequence 2"):
        _check(exported)


def test_a_line_made_unreadable_is_named(exported):
    exported[2] = exported[2][:-5]

    with pytest.raises(LedgerExportError, match="broken at event 2: line 3 is not valid JSON"):
        _check(exported)


def test_events_cut_from_the_end_are_caught_by_the_checkpoint(exported):
    del exported[4]  # event 4; the checkpoint still names it

    with pytest.raises(LedgerExportError, match="broken at event 4: it is missing"):
        _check(exported)


def test_a_file_without_its_checkpoint_is_refused(exported):
    with pytest.raises(LedgerExportError, match="no checkpoint"):
        _check(exported[:-1])


def test_an_altered_checkpoint_fails_its_signature(exported):
    checkpoint = _event(exported[-1])
    checkpoint["time"] = "2020-01-01T00:00:00+00:00"
    exported[-1] = json.dumps(checkpoint)

    with pytest.raises(LedgerExportError, match="signature does not verify"):
        _check(exported)


def test_a_checkpoint_signed_by_another_key_fails(exported):
    checkpoint = _event(exported[-1])
    document = {key: value for key, value in checkpoint.items() if key != "signature"}
    exported[-1] = json.dumps(
        {**document, "signature": sign(document, Ed25519PrivateKey.generate())}
    )

    with pytest.raises(LedgerExportError, match="signature does not verify"):
        _check(exported)


def test_a_rehashed_chain_still_fails_the_signed_checkpoint(exported):
    """Someone who rewrites an event and re-hashes every later one cannot re-sign."""
    previous = _event(exported[1])["previous_hash"]
    for number in range(1, 5):
        event = _event(exported[number])
        if number == 2:
            event["payload"]["permission"] = "not_allowed"
        event["previous_hash"] = previous
        entry = LedgerEntry(
            **{k: event[k] for k in ("sequence", "kind", "artist_id", "work_id", "payload")},
            created_at=datetime.fromisoformat(event["created_at"]),
            previous_hash=previous,
            hash="",
        )
        event["hash"] = previous = entry_hash(entry)
        exported[number] = json.dumps(event)

    with pytest.raises(
        LedgerExportError, match="broken at event 4: its hash is not the checkpoint"
    ):
        _check(exported)


def test_the_database_ledger_check_is_unchanged(exported, capsys):
    call_command("verify_ledger")

    assert "The ledger holds: 4 events, head hash" in capsys.readouterr().out
