"""A ledger the application cannot rewrite: on PostgreSQL the application's role,
set up here as `grant_app_role` sets it up in production, may append to the ledger and read it
but may not update, delete, truncate or alter it; and `verify_ledger` compares the tables the
gatekeeper reads with the replayed ledger."""

import importlib
import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from psycopg import sql

from registry.demo_art import artwork_bytes
from registry.models import (
    Artist,
    ConsentEvent,
    DisputeResolution,
    LedgerCheckpoint,
    OrganizationKind,
    Permission,
    Purpose,
    Screening,
    Terms,
)
from registry.receipts import public_pem, sign, verify
from registry.selectors.ledger import registry_version
from registry.services.disputes import dispute_resolve
from registry.services.grants import grant_create, grant_revoke
from registry.services.organizations import organization_kind_set
from registry.services.screenings import screening_create
from registry.services.terms import default_terms_set, terms_set
from registry.services.works import work_register
from registry.signing import receipt_signing_key
from registry.tasks import publish_ledger_checkpoint
from tests.conftest import _SEED_BASE

LEDGER = "registry_consentevent"


def _execute(statement: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement)


@pytest.fixture
def app_role(db, monkeypatch) -> str:
    """A fresh login role with the application's grants; gone with the test's transaction."""
    if connection.vendor != "postgresql":
        pytest.fail("The application role is a PostgreSQL feature; run the tests on PostgreSQL.")
    role = f"consentry_app_test_{secrets.token_hex(4)}"
    monkeypatch.setenv("TEST_APP_ROLE_PASSWORD", secrets.token_urlsafe(16))
    call_command("grant_app_role", role, "--create-with-password-env", "TEST_APP_ROLE_PASSWORD")
    return role


@contextmanager
def as_role(role: str) -> Iterator[None]:
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("SET ROLE {}").format(sql.Identifier(role)).as_string(cursor.connection)
        )
    try:
        yield
    finally:
        _execute("RESET ROLE")


@pytest.fixture
def ledger(alice, acme, register_work):
    """Events of every kind the replay reads: works, terms, defaults, grants, a dispute."""
    work = register_work(alice, seed=1, allow=["ai_training"], license="CC-BY-4.0")
    terms_set(
        artist=alice, works=[work], purpose=Purpose.DATA_MINING, permission=Permission.LICENSED
    )
    default_terms_set(artist=alice, purpose=Purpose.AI_INFERENCE, permission=Permission.ALLOWED)
    grant = grant_create(
        artist=alice, organization=acme, purposes=[Purpose.DATA_MINING], works=[work]
    )
    grant_create(
        artist=alice, organization=acme, purposes=[Purpose.AI_TRAINING], covers_all_works=True
    )
    grant_revoke(grant=grant)
    return work


@pytest.mark.parametrize(
    ("statement", "refusal"),
    [
        (f"UPDATE {LEDGER} SET kind = 'x'", "permission denied"),
        (f"DELETE FROM {LEDGER}", "permission denied"),
        (f"TRUNCATE {LEDGER} CASCADE", "permission denied"),
        (
            f"ALTER TABLE {LEDGER} DISABLE TRIGGER registry_consentevent_append_only",
            "must be owner",
        ),
        (f"ALTER TABLE {LEDGER} DISABLE TRIGGER ALL", "must be owner"),
    ],
)
def test_the_application_role_cannot_rewrite_the_ledger(ledger, app_role, statement, refusal):
    events = list(ConsentEvent.objects.order_by("sequence").values_list("sequence", "hash"))

    with as_role(app_role), pytest.raises(DatabaseError, match=refusal), transaction.atomic():
        _execute(statement)

    assert list(ConsentEvent.objects.order_by("sequence").values_list("sequence", "hash")) == events


def test_the_application_role_still_appends_reads_and_changes_terms(ledger, alice, app_role):
    before = ConsentEvent.objects.count()

    with as_role(app_role):
        terms_set(
            artist=alice,
            works=[ledger],
            purpose=Purpose.AI_TRAINING,
            permission=Permission.NOT_ALLOWED,
        )
        assert ConsentEvent.objects.count() == before + 1

    assert Terms.objects.get(work=ledger, purpose=Purpose.AI_TRAINING).permission == "not_allowed"
    call_command("verify_ledger")


def test_the_application_role_registers_a_platforms_key_in_the_ledger(ledger, acme, app_role):
    key = public_pem(Ed25519PrivateKey.generate().public_key())

    with as_role(app_role):
        organization_kind_set(
            organization=acme,
            kind=OrganizationKind.PLATFORM,
            url_prefix="https://acme.example/",
            attestation_key=key,
        )

    event = ConsentEvent.objects.order_by("-sequence")[0]
    assert event.kind == "platform_settings_changed"
    assert event.payload["organization_id"] == acme.pk
    call_command("verify_ledger")


def test_grant_app_role_refuses_an_unknown_role_without_a_password(db):
    with pytest.raises(CommandError, match="No database role"):
        call_command("grant_app_role", f"nobody_{secrets.token_hex(4)}")


def test_verify_ledger_replays_an_untouched_registry(ledger, bob, capsys):
    copy = work_register(artist=bob, data=artwork_bytes(_SEED_BASE + 1), title="Copy")
    (dispute,) = copy.disputes
    dispute_resolve(
        dispute=dispute,
        resolution=DisputeResolution.KEEP_EXISTING,
        resolved_by=User.objects.create(username="olga"),
    )

    call_command("verify_ledger")

    assert "events, head hash" in capsys.readouterr().out


def _tamper(statement: str, params: list[Any]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def test_verify_ledger_names_a_terms_row_changed_behind_its_back(ledger):
    _tamper(
        "UPDATE registry_terms SET permission = 'allowed' WHERE work_id = %s AND purpose = %s",
        [ledger.pk, Purpose.DATA_MINING],
    )

    with pytest.raises(CommandError, match=f"terms of work {ledger.pk} for data_mining"):
        call_command("verify_ledger")


@pytest.mark.parametrize(
    ("statement", "names"),
    [
        ("UPDATE registry_work SET removed_at = now() WHERE id = %(work)s", "work {work}"),
        ("UPDATE registry_artist SET assurance = 'self_asserted'", "artist {artist}"),
        ("UPDATE registry_grant SET revoked_at = NULL", "grant grant-"),
        (
            "UPDATE registry_defaultterms SET attribution = 'edited' WHERE artist_id = %(artist)s",
            "default terms of artist {artist} for ai_inference",
        ),
        ("DELETE FROM registry_terms WHERE work_id = %(work)s", "terms of work {work}"),
    ],
)
def test_verify_ledger_names_other_rows_changed_behind_its_back(ledger, alice, statement, names):
    values = {"work": ledger.pk, "artist": alice.pk}
    _tamper(statement, values)  # type: ignore[arg-type]

    with pytest.raises(CommandError, match=names.format(**values)):
        call_command("verify_ledger")


def _save_receipts(folder, screenings) -> None:
    for number, screening in enumerate(screenings):
        receipt = {"document": screening.receipt, "signature": screening.receipt_signature}
        (folder / f"receipt-{number}.json").write_text(json.dumps(receipt))


def _finished_screening(acme) -> Screening:
    screening = screening_create(organization=acme, purpose=Purpose.AI_TRAINING, items=[])
    screening.refresh_from_db()
    assert screening.receipt is not None
    return screening


def _receipt(screening: Screening) -> dict[str, Any]:
    assert screening.receipt is not None
    return screening.receipt


def test_verify_ledger_checks_a_folder_of_receipts(ledger, acme, tmp_path, capsys):
    _save_receipts(tmp_path, [_finished_screening(acme), _finished_screening(acme)])

    call_command("verify_ledger", receipts=str(tmp_path))

    assert "2 receipts are signed and name versions on this ledger" in capsys.readouterr().out


def test_verify_ledger_names_a_forged_receipt(ledger, acme, tmp_path):
    screening = _finished_screening(acme)
    _receipt(screening)["counts"]["allowed"] += 1
    _save_receipts(tmp_path, [screening])

    with pytest.raises(CommandError, match=r"receipt-0\.json: the receipt's signature"):
        call_command("verify_ledger", receipts=str(tmp_path))


def test_verify_ledger_names_a_receipt_from_another_ledger(ledger, acme, tmp_path):
    screening = _finished_screening(acme)
    document = {**_receipt(screening), "registry_version": {"sequence": 2, "hash": "ab" * 32}}
    receipt = {"document": document, "signature": sign(document, receipt_signing_key())}
    (tmp_path / "other.json").write_text(json.dumps(receipt))

    with pytest.raises(CommandError, match=r"other\.json: the registry version .* not on the"):
        call_command("verify_ledger", receipts=str(tmp_path))


def test_beat_publishes_a_signed_checkpoint_of_the_head_once(ledger, client):
    assert publish_ledger_checkpoint.apply().get() == registry_version().sequence
    assert publish_ledger_checkpoint.apply().get() == registry_version().sequence

    (stored,) = LedgerCheckpoint.objects.all()
    published = client.get("/api/v1/ledger/checkpoint").json()
    assert published["document"]["sequence"] == registry_version().sequence
    assert published["document"]["head_hash"] == registry_version().hash
    verify(published["document"], published["signature"], receipt_signing_key().public_key())
    assert stored.signature == published["signature"]


def test_no_checkpoint_for_an_empty_ledger(db, client):
    assert publish_ledger_checkpoint.apply().get() == 0
    assert client.get("/api/v1/ledger/checkpoint").status_code == 404


def test_the_application_role_cannot_rewrite_a_checkpoint(ledger, app_role):
    publish_ledger_checkpoint.apply().get()

    with (
        as_role(app_role),
        pytest.raises(DatabaseError, match="permission denied"),
        transaction.atomic(),
    ):
        _execute("UPDATE registry_ledgercheckpoint SET head_hash = 'x'")


def test_the_migration_makes_verified_artists_operator_verified_on_the_ledger(mallory, bob):
    """Migration 0004's data step, run on the current schema: an artist verified before
    assurance levels existed becomes operator_verified, with its ledger event."""
    from django.apps import apps

    migration = importlib.import_module("registry.migrations.0008_assurance")
    Artist.objects.filter(pk=mallory.pk).update(verified=True)  # as a pre-0004 row would be

    migration.verified_artists_to_operator_verified(apps, None)

    mallory.refresh_from_db()
    assert mallory.assurance == "operator_verified"
    event = ConsentEvent.objects.get(kind="assurance_changed", artist=mallory)
    assert event.payload["evidence"] == migration.EVIDENCE
    bob.refresh_from_db()  # verified through the service already: no second event
    assert ConsentEvent.objects.filter(kind="assurance_changed", artist=bob).count() == 1
    call_command("verify_ledger")
