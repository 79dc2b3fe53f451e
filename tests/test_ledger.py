"""The consent ledger: hash-chained, append-only in the database, verifiable."""

import itertools
import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from registry.ledger import GENESIS_HASH
from registry.models import ConsentEvent, Permission, Purpose
from registry.selectors.ledger import registry_version
from registry.services.terms import default_terms_set

TABLE = "registry_consentevent"


@pytest.fixture
def ledger(mallory):
    """Four events: an unverified artist's defaults for each purpose (a verified one's
    verification would be an event too)."""
    for purpose in Purpose.values:
        default_terms_set(artist=mallory, purpose=purpose, permission=Permission.ALLOWED)
    return list(ConsentEvent.objects.order_by("sequence"))


def _execute(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.fixture
def tamper():
    """SQL as a database superuser would run it, with the append-only trigger switched off."""
    _execute("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE waits for no deferred FK check
    _execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER registry_consentevent_append_only")
    return _execute


def _verify_fails_at(sequence):
    with pytest.raises(CommandError, match=f"broken at event {sequence}"):
        call_command("verify_ledger")


def test_each_event_chains_to_the_one_before(ledger):
    assert [event.sequence for event in ledger] == [1, 2, 3, 4]
    assert ledger[0].previous_hash == GENESIS_HASH
    for before, after in itertools.pairwise(ledger):
        assert after.previous_hash == before.hash
    assert registry_version().as_dict() == {"sequence": 4, "hash": ledger[-1].hash}


def test_verify_ledger_passes_on_an_untouched_ledger(ledger, capsys):
    call_command("verify_ledger")

    assert f"4 events, head hash {ledger[-1].hash}" in capsys.readouterr().out


@pytest.mark.parametrize("statement", [f"UPDATE {TABLE} SET kind = 'x'", f"DELETE FROM {TABLE}"])
def test_the_database_refuses_to_update_or_delete_an_event(ledger, statement):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        _execute(statement)

    assert ConsentEvent.objects.count() == 4


def test_verify_ledger_names_an_edited_event(ledger, tamper):
    tamper(f"UPDATE {TABLE} SET payload = %s WHERE sequence = 2", ['{"permission": "allowed"}'])

    _verify_fails_at(2)


def test_verify_ledger_names_a_deleted_event(ledger, tamper):
    tamper(f"DELETE FROM {TABLE} WHERE sequence = 2")

    _verify_fails_at(3)


def test_verify_ledger_names_reordered_events(ledger, tamper):
    tamper(f"UPDATE {TABLE} SET sequence = 999 WHERE sequence = 2")
    tamper(f"UPDATE {TABLE} SET sequence = 2 WHERE sequence = 3")
    tamper(f"UPDATE {TABLE} SET sequence = 3 WHERE sequence = 999")

    _verify_fails_at(2)


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_never_fork_the_chain(mallory):
    def write_defaults(writer):
        try:
            for change in range(10):
                default_terms_set(
                    artist=mallory,
                    purpose=Purpose.AI_TRAINING,
                    permission=Permission.ALLOWED,
                    attribution=f"writer {writer}, change {change}",
                )
        finally:
            connection.close()

    writers = [threading.Thread(target=write_defaults, args=(n,)) for n in range(3)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()

    sequences = list(ConsentEvent.objects.order_by("sequence").values_list("sequence", flat=True))
    assert sequences == list(range(1, 31))
    call_command("verify_ledger")
