"""Access control in the admin: alice sees only her own things, bob never sees alice's, and
operators see everything. Every way in is tried: lists, change pages, search, filters,
autocomplete, actions, exports, thumbnails and the custom pages."""

import pytest
from django.urls import reverse

from registry.models import (
    ConsentEvent,
    DisputeStatus,
    Grant,
    Permission,
    Purpose,
    Terms,
)
from registry.services.grants import grant_create
from registry.services.works import work_remove
from tests.admin.conftest import client_for

pytestmark = pytest.mark.django_db


def _work_pages(work_id: int) -> list[str]:
    return [
        reverse("admin:registry_work_change", args=[work_id]),
        reverse("admin:registry_work_history", args=[work_id]),
        reverse("admin:registry_work_screenings", args=[work_id]),
        reverse("admin:registry_work_thumbnail", args=[work_id]),
    ]


def test_an_artist_lists_only_her_own_works(two_artists, alice_client, bob_client):
    page = alice_client.get(reverse("admin:registry_work_changelist"))
    assert page.status_code == 200
    assert b"Alice Spring" in page.content and b"Alice Summer" in page.content
    assert b"Bob Winter" not in page.content

    page = bob_client.get(reverse("admin:registry_work_changelist"))
    assert b"Bob Winter" in page.content and b"Alice" not in page.content


def test_another_artists_work_answers_404_or_a_redirect_never_its_data(two_artists, bob_client):
    spring = two_artists["alice"][0]
    for url in _work_pages(spring.pk):
        response = bob_client.get(url)
        assert response.status_code in {302, 404}, url
        assert b"Alice Spring" not in response.content
        if response.status_code == 302:
            assert str(spring.pk) not in response["Location"].replace("/admin/", "")


def test_the_owner_reaches_every_page_of_her_work(two_artists, alice_client):
    spring = two_artists["alice"][0]
    for url in _work_pages(spring.pk):
        assert alice_client.get(url).status_code == 200, url
    thumbnail = alice_client.get(reverse("admin:registry_work_thumbnail", args=[spring.pk]))
    assert thumbnail["Content-Type"] == "image/webp"
    assert "private" in thumbnail["Cache-Control"]


def _listed(response) -> set[int]:
    return {row.pk for row in response.context["cl"].result_list}


def test_search_and_filters_stay_within_the_artists_own_works(two_artists, alice, bob_client):
    url = reverse("admin:registry_work_changelist")
    spring = two_artists["alice"][0]
    assert _listed(bob_client.get(url, {"q": "Alice Spring"})) == set()
    assert _listed(bob_client.get(url, {"q": spring.sha256})) == set()
    # Filtering on alice's artist id narrows bob's own list; it never widens it.
    assert _listed(bob_client.get(url, {"artist__id__exact": alice.pk})) == set()
    assert _listed(bob_client.get(url, {"terms_ai_training": "not_allowed"})) == {
        two_artists["bob"][0].pk
    }
    assert b"Alice Spring" not in bob_client.get(url, {"q": "Spring"}).content


def test_autocomplete_offers_only_the_artists_own_works(two_artists, bob_client, alice_client):
    url = reverse("admin:autocomplete")
    params = {"app_label": "registry", "model_name": "grant", "field_name": "works", "term": ""}
    bob_titles = {row["text"] for row in bob_client.get(url, params).json()["results"]}
    assert bob_titles == {"Bob Winter"}
    alice_search = alice_client.get(url, {**params, "term": "Winter"}).json()["results"]
    assert alice_search == []
    work_remove(work=two_artists["alice"][1])
    alice_titles = {row["text"] for row in alice_client.get(url, params).json()["results"]}
    assert alice_titles == {"Alice Spring"}


def test_actions_ignore_another_artists_works(two_artists, bob_client):
    spring = two_artists["alice"][0]
    bob_work = two_artists["bob"][0]
    response = bob_client.post(
        reverse("admin:registry_work_changelist"),
        {
            "action": "allow_purpose",
            "purpose": Purpose.AI_TRAINING,
            "_selected_action": [spring.pk, bob_work.pk],
        },
    )
    assert response.status_code == 302
    assert not Terms.objects.filter(work=spring).exists()
    assert Terms.objects.get(work=bob_work, purpose=Purpose.AI_TRAINING).permission == (
        Permission.ALLOWED
    )


def test_the_csv_export_holds_only_the_artists_own_works(two_artists, bob_client):
    spring = two_artists["alice"][0]
    bob_work = two_artists["bob"][0]
    response = bob_client.post(
        reverse("admin:registry_work_changelist"),
        {"action": "export_csv", "_selected_action": [spring.pk, bob_work.pk]},
    )
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert "Bob Winter" in body and "Alice" not in body


def test_grants_disputes_screenings_and_ledger_are_scoped(
    two_artists, alice, bob, acme, register_work, screen, alice_client, bob_client
):
    grant_create(
        artist=alice, organization=acme, purposes=[Purpose.AI_TRAINING], covers_all_works=True
    )
    # bob registers a near-copy of alice's work: a dispute both can see, each from their side.
    register_work(bob, seed=1, title="Bob copy of Spring")
    screen(acme, [1, 2])

    grants = reverse("admin:registry_grant_changelist")
    assert b"Acme AI" in alice_client.get(grants).content
    assert b"Acme AI" not in bob_client.get(grants).content
    alice_grant = Grant.objects.get(artist=alice)
    assert bob_client.get(
        reverse("admin:registry_grant_change", args=[alice_grant.pk])
    ).status_code in {
        302,
        404,
    }

    matches = reverse("admin:registry_workscreening_changelist")
    assert b"Alice Spring" in alice_client.get(matches).content
    assert b"Alice" not in bob_client.get(matches).content

    ledger = reverse("admin:registry_consentevent_changelist")
    alice_event = ConsentEvent.objects.filter(artist=alice).earliest("sequence")
    assert b"Alice Spring" in alice_client.get(ledger).content
    assert b"Alice Spring" not in bob_client.get(ledger).content
    assert bob_client.get(
        reverse("admin:registry_consentevent_change", args=[alice_event.pk])
    ).status_code in {302, 404}

    disputes = reverse("admin:registry_dispute_changelist")
    bob_view = bob_client.get(disputes)
    assert b"Bob copy of Spring" in bob_view.content and b"Alice Spring" not in bob_view.content
    dispute = alice.works.get(title="Alice Spring").disputes_as_existing.get()
    assert dispute.status == DisputeStatus.OPEN
    bob_detail = bob_client.get(reverse("admin:registry_dispute_change", args=[dispute.pk]))
    assert bob_detail.status_code == 200
    assert b"Alice Spring" not in bob_detail.content
    assert reverse(
        "admin:registry_work_thumbnail", args=[dispute.existing_work_id]
    ).encode() not in (bob_detail.content)


def test_artists_cannot_open_the_operators_pages(two_artists, acme, alice_client):
    for name in ["organization", "organizationapikey", "screening"]:
        response = alice_client.get(reverse(f"admin:registry_{name}_changelist"))
        assert response.status_code == 403, name
    assert alice_client.get(reverse("admin:auth_user_changelist")).status_code == 403
    index = alice_client.get(reverse("admin:index"))
    assert b"/admin/registry/organization/" not in index.content
    assert b"/admin/registry/work/" in index.content


def test_an_artist_sees_only_her_own_profile(alice, bob, alice_client):
    response = alice_client.get(reverse("admin:registry_artist_changelist"))
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:registry_artist_change", args=[alice.pk])
    assert alice_client.get(reverse("admin:registry_artist_change", args=[bob.pk])).status_code in {
        302,
        404,
    }


def test_operators_see_everything(two_artists, operator_client):
    works = operator_client.get(reverse("admin:registry_work_changelist"))
    assert b"Alice Spring" in works.content and b"Bob Winter" in works.content
    spring = two_artists["alice"][0]
    for url in _work_pages(spring.pk):
        assert operator_client.get(url).status_code == 200, url
    for name in ["organization", "organizationapikey", "screening", "artist", "consentevent"]:
        assert operator_client.get(reverse(f"admin:registry_{name}_changelist")).status_code == 200


def test_the_ledger_is_read_only_even_for_a_superuser(two_artists, django_user_model):
    root = django_user_model.objects.create_superuser("root", "", "x-long-password-1")
    client = client_for(root)
    event = ConsentEvent.objects.earliest("sequence")
    assert client.get(reverse("admin:registry_consentevent_add")).status_code == 403
    change = client.post(
        reverse("admin:registry_consentevent_change", args=[event.pk]), {"kind": "work_removed"}
    )
    assert change.status_code == 403
    assert (
        client.get(reverse("admin:registry_consentevent_delete", args=[event.pk])).status_code
        == 403
    )
    event.refresh_from_db()
    assert event.kind != "work_removed"


def test_a_staff_user_who_is_neither_artist_nor_operator_sees_nothing(two_artists, db):
    from tests.factories import UserFactory

    client = client_for(UserFactory(username="mallory"))
    assert client.get(reverse("admin:registry_work_changelist")).status_code == 403
    spring = two_artists["alice"][0]
    assert client.get(reverse("admin:registry_work_thumbnail", args=[spring.pk])).status_code == 404
