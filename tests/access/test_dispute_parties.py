"""docs/admin.md promises that an artist sees their own disputes but never the other artist's
work. bob registers a painting; alice registers a near-copy later, which opens a dispute. Nothing
alice can read (her ledger, her work's history, the public credits by id) names bob or his work."""

import pytest
from django.urls import reverse

from registry.models import ConsentEvent, ConsentEventKind, Dispute, DisputeResolution, Work
from registry.services.disputes import dispute_resolve
from tests.admin.conftest import client_for
from tests.admin.conftest import operator as operator

BOB_TITLE = "Harbour at dusk"


@pytest.fixture
def dispute(alice, bob, register_work) -> Dispute:
    register_work(bob, seed=5, title=BOB_TITLE)
    register_work(alice, seed=5, title="My harbour")
    return Dispute.objects.get()


def _reveals_bob(html: str, dispute: Dispute) -> list[str]:
    bob_work = dispute.existing_work_id
    clues = {
        "bob's name": "Bob Chen",
        "bob's title": BOB_TITLE,
        "the payload field": "existing_work_id",
        "bob's work id in the payload": f"<th>existing_work_id</th><td><code>{bob_work}<",
        "bob's work id in the summary": f"work {bob_work}",
    }
    return [clue for clue, text in clues.items() if text in html]


def test_alices_ledger_does_not_reveal_the_other_party(dispute, alice):
    client = client_for(alice.user)
    opened = ConsentEvent.objects.get(kind=ConsentEventKind.DISPUTE_OPENED)
    assert opened.artist_id == alice.pk  # the event is about alice's work: she reads it

    listing = client.get(reverse("admin:registry_consentevent_changelist"))
    detail = client.get(reverse("admin:registry_consentevent_change", args=[opened.pk]))

    assert listing.status_code == detail.status_code == 200
    assert f"Dispute {dispute.pk} opened" in listing.content.decode()
    assert _reveals_bob(listing.content.decode(), dispute) == []
    assert _reveals_bob(detail.content.decode(), dispute) == []


def test_alices_work_history_does_not_reveal_the_other_party(dispute, alice):
    client = client_for(alice.user)

    history = client.get(
        reverse("admin:registry_work_history", args=[dispute.claimed_work_id])
    ).content.decode()

    assert f"Dispute {dispute.pk} opened" in history
    assert _reveals_bob(history, dispute) == []


def test_operators_still_see_both_works(dispute, operator):
    opened = ConsentEvent.objects.get(kind=ConsentEventKind.DISPUTE_OPENED)

    detail = client_for(operator).get(
        reverse("admin:registry_consentevent_change", args=[opened.pk])
    )

    row = f"<th>existing_work_id</th><td><code>{dispute.existing_work_id}</code>"
    assert row in detail.content.decode()


def test_enumerating_public_credits_does_not_reveal_a_disputed_party(dispute, client):
    last = Work.objects.order_by("-pk").values_list("pk", flat=True)[0]

    answers = [client.get(f"/api/v1/credits/{work_id}") for work_id in range(1, last + 5)]

    assert not any("Bob Chen" in answer.content.decode() for answer in answers)
    assert not any(BOB_TITLE in answer.content.decode() for answer in answers)
    assert client.get(f"/api/v1/credits/{dispute.existing_work_id}").status_code == 404


def test_the_credit_is_back_once_the_dispute_is_resolved(dispute, operator, client):
    dispute_resolve(
        dispute=dispute, resolution=DisputeResolution.KEEP_EXISTING, resolved_by=operator
    )

    credit = client.get(f"/api/v1/credits/{dispute.existing_work_id}")

    assert credit.status_code == 200
    assert credit.json()["artist"] == "Bob Chen"
