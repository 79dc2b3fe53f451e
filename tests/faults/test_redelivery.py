"""A task delivered twice changes nothing (quick: part of `make test`).

Brokers deliver at least once: acks_late and reject_on_worker_lost hand a chunk's message
back when its worker dies, and beat's sweep re-sends chunks that look stalled. Whatever the
number of deliveries, in sequence or at the same time, a chunk is decided once.
"""

import threading
from typing import Any

import pytest
from django.db import DatabaseError, connection

from registry import compliance_tasks, tasks
from registry.models import (
    Permission,
    Purpose,
    Screening,
    ScreeningChunk,
    ScreeningItem,
    WithdrawalNotice,
    WorkScreening,
)
from registry.services import screenings as screening_services
from registry.services.organizations import organization_create
from registry.services.screenings import screening_create
from registry.services.terms import terms_set
from registry.tasks import decide_chunk, requeue_stalled_chunks
from tests.api.conftest import item


@pytest.fixture
def allowed_work(alice, register_work):
    work = register_work(alice, seed=1)
    terms_set(artist=alice, works=[work], purpose=Purpose.AI_TRAINING, permission="allowed")
    return work


def _screening(organization_name: str = "Acme AI") -> tuple[Screening, ScreeningChunk]:
    organization = organization_create(name=organization_name)
    items = [item("repost", 1), item("stranger", 40), item("broken", 5, phash="zz")]
    screening = screening_create(
        organization=organization, purpose=Purpose.AI_TRAINING, items=items
    )
    return screening, screening.chunks.get()


def _outcome(screening: Screening) -> tuple[Any, ...]:
    screening.refresh_from_db()
    rows = ScreeningItem.objects.filter(screening=screening).order_by("position")
    return (
        list(rows.values_list("item_id", "decision", "matches")),
        WorkScreening.objects.filter(screening=screening).count(),
        screening.counts,
        screening.done_items,
        screening.status,
        screening.receipt,
        screening.receipt_signature,
        [
            (*values, bytes(unlisted))
            for *values, unlisted in screening.chunks.values_list(
                "digest", "merkle_root", "decided_at", *COUNTERS, "unlisted"
            )
        ],
    )


COUNTERS = ("allowed_items", "denied_items", "unregistered_items", "invalid_items")


def _counted(screening: Screening) -> tuple[int, ...]:
    """Per decision, the items the screening's chunks decided (with a row or without)."""
    rows = screening.chunks.values_list(*COUNTERS)
    return tuple(sum(row[n] for row in rows) for n in range(len(COUNTERS)))


@pytest.mark.django_db
def test_a_chunk_task_delivered_twice_decides_once(allowed_work):
    screening, chunk = _screening()

    first = decide_chunk.apply(args=[chunk.pk])
    after_first = _outcome(screening)
    second = decide_chunk.apply(args=[chunk.pk])

    assert first.get() is True and second.get() is False
    assert _outcome(screening) == after_first
    decisions = [decision for _id, decision, _m in after_first[0]]
    assert decisions == ["allowed"]  # the unregistered and invalid items are counted
    assert _counted(screening) == (1, 0, 1, 1)
    assert after_first[1] == 1 and after_first[4] == "finished"


@pytest.mark.django_db
def test_the_stalled_chunk_sweep_resending_a_decided_chunk_changes_nothing(
    allowed_work, settings, monkeypatch
):
    settings.CONSENTRY_STALLED_CHUNK_SECONDS = 0
    screening, chunk = _screening()
    sent: list[int] = []
    monkeypatch.setattr(tasks, "enqueue_chunk", sent.append)

    assert requeue_stalled_chunks.apply().get() == 1  # undecided: sent again
    decide_chunk.apply(args=[chunk.pk])
    decided = _outcome(screening)
    assert requeue_stalled_chunks.apply().get() == 0  # decided: left alone

    assert sent == [chunk.pk]
    for chunk_id in sent:  # the re-sent message arrives after all
        assert decide_chunk.apply(args=[chunk_id]).get() is False
    assert _outcome(screening) == decided


@pytest.mark.django_db
def test_an_attempt_that_failed_midway_leaves_nothing_and_the_retry_decides_once(
    allowed_work, monkeypatch
):
    screening, chunk = _screening()
    real_insert = screening_services._insert_work_screenings

    def fail_after_the_items(*args: Any) -> None:
        raise DatabaseError("connection lost after the items were written")

    monkeypatch.setattr(screening_services, "_insert_work_screenings", fail_after_the_items)
    with pytest.raises(DatabaseError):
        screening_services.chunk_decide(chunk_id=chunk.pk)
    assert not ScreeningItem.objects.filter(screening=screening).exists()

    monkeypatch.setattr(screening_services, "_insert_work_screenings", real_insert)
    assert screening_services.chunk_decide(chunk_id=chunk.pk) is True
    outcome = _outcome(screening)
    assert len(outcome[0]) == 1 and outcome[3] == 3 and _counted(screening) == (1, 0, 1, 1)


@pytest.mark.django_db(transaction=True)
def test_the_same_chunk_delivered_to_two_workers_at_once_is_decided_once(alice, register_work):
    work = register_work(alice, seed=1)
    terms_set(artist=alice, works=[work], purpose=Purpose.AI_TRAINING, permission="allowed")
    screening, chunk = _screening()
    start = threading.Barrier(2)
    results: list[bool] = []

    def deliver() -> None:
        start.wait()
        try:
            results.append(decide_chunk.apply(args=[chunk.pk]).get())
        finally:
            connection.close()

    workers = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=120)

    assert sorted(results) == [False, True]
    outcome = _outcome(screening)
    assert len(outcome[0]) == 1 and outcome[1] == 1 and outcome[3] == 3
    assert _counted(screening) == (1, 0, 1, 1)


@pytest.mark.django_db
def test_a_withdrawal_fan_out_delivered_twice_notifies_once(allowed_work, alice):
    screening, chunk = _screening()
    decide_chunk.apply(args=[chunk.pk])
    (event,) = terms_set(
        artist=alice,
        works=[allowed_work],
        purpose=Purpose.AI_TRAINING,
        permission=Permission.NOT_ALLOWED,
    )

    first = compliance_tasks.fan_out_withdrawal.apply(args=[event.pk]).get()
    second = compliance_tasks.fan_out_withdrawal.apply(args=[event.pk]).get()

    assert (first, second) == (1, 0)
    notice = WithdrawalNotice.objects.get()
    assert notice.organization == screening.organization and notice.item_count == 1
