"""The operators' pages: verifying artists, resolving disputes side by side, organizations and
their API keys, screenings. Each write goes through a service."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from registry.models import (
    Artist,
    Assurance,
    ConsentEvent,
    ConsentEventKind,
    Dispute,
    DisputeResolution,
    DisputeStatus,
    Organization,
    OrganizationAPIKey,
)
from tests.admin.conftest import client_for
from tests.factories import ArtistFactory

pytestmark = pytest.mark.django_db


def test_operators_verify_artists_in_bulk_with_evidence_and_artists_cannot(
    mallory, operator_client
):
    carol = ArtistFactory.create(user__username="carol", display_name="Carol")
    changelist = reverse("admin:registry_artist_changelist")
    verify = {"action": "verify_artists", "index": 0, "_selected_action": [mallory.pk]}

    operator_client.post(changelist, verify)  # no evidence: nobody is verified
    mallory.refresh_from_db()
    assert mallory.assurance == Assurance.SELF_ASSERTED and not mallory.verified

    operator_client.post(changelist, {**verify, "evidence": "video call, ID and sketches"})
    mallory.refresh_from_db()
    carol.refresh_from_db()
    assert mallory.assurance == Assurance.OPERATOR_VERIFIED
    assert mallory.verified and mallory.verified_at is not None
    event = ConsentEvent.objects.get(kind=ConsentEventKind.ASSURANCE_CHANGED, artist=mallory)
    assert event.payload["evidence"] == "video call, ID and sketches"
    assert event.payload["method"] == "operator" and event.payload["by"]
    assert carol.assurance == Assurance.SELF_ASSERTED and not carol.verified

    carol_client = client_for(carol.user)
    carol_client.post(
        changelist,
        {**verify, "_selected_action": [carol.pk], "evidence": "trust me"},
    )
    carol.refresh_from_db()
    assert carol.assurance == Assurance.SELF_ASSERTED and not carol.verified


def test_an_operator_registers_an_artist_with_a_login(operator_client):
    response = operator_client.post(
        reverse("admin:registry_artist_add"),
        {
            "username": "chen",
            "password": "a-long-enough-passphrase-7",
            "display_name": "Chen Wei 陈伟",
            "credit_line": "",
        },
    )
    assert response.status_code == 302
    artist = Artist.objects.get(user__username="chen")
    assert artist.display_name == "Chen Wei 陈伟" and artist.user.is_staff

    weak = operator_client.post(
        reverse("admin:registry_artist_add"),
        {"username": "li", "password": "123", "display_name": "Li"},
    )
    assert weak.status_code == 200 and "password" in weak.context["adminform"].form.errors


def test_a_dispute_shows_both_works_side_by_side_and_resolves_through_the_service(
    alice, bob, register_work, operator, operator_client
):
    original = register_work(alice, seed=120, title="Original")
    copy = register_work(bob, seed=120, title="Copy")
    dispute = Dispute.objects.get()
    url = reverse("admin:registry_dispute_change", args=[dispute.pk])

    page = operator_client.get(url)
    for work in (original, copy):
        assert reverse("admin:registry_work_thumbnail", args=[work.pk]).encode() in page.content
        assert work.title.encode() in page.content
    assert b"consentry-distances" in page.content
    listing = operator_client.get(reverse("admin:registry_dispute_changelist"))
    assert listing.context["cl"].result_count == 1

    response = operator_client.post(
        url, {"resolution": DisputeResolution.KEEP_EXISTING, "note": "Alice posted it first."}
    )
    assert response.status_code == 302
    dispute.refresh_from_db()
    copy.refresh_from_db()
    assert (dispute.status, dispute.resolution, dispute.resolved_by) == (
        DisputeStatus.RESOLVED,
        DisputeResolution.KEEP_EXISTING,
        operator,
    )
    assert copy.removed_at is not None
    assert ConsentEvent.objects.filter(kind=ConsentEventKind.DISPUTE_RESOLVED).count() == 1
    # Resolved is final: the page is read-only now.
    assert operator_client.get(url).context["has_change_permission"] is False


def test_an_artist_cannot_resolve_her_own_dispute(alice, bob, register_work):
    register_work(alice, seed=121, title="Original")
    register_work(bob, seed=121, title="Copy")
    dispute = Dispute.objects.get()
    bob_client = client_for(bob.user)
    url = reverse("admin:registry_dispute_change", args=[dispute.pk])
    response = bob_client.post(url, {"resolution": DisputeResolution.KEEP_CLAIMED})
    assert response.status_code == 403
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.OPEN


def test_organizations_and_api_keys_secret_shown_once_then_revoked(operator_client):
    response = operator_client.post(reverse("admin:registry_organization_add"), {"name": "Globex"})
    assert response.status_code == 302
    globex = Organization.objects.get(name="Globex")

    created = operator_client.post(
        reverse("admin:registry_organizationapikey_add"),
        {"organization": globex.pk, "name": "training cluster"},
    )
    assert created.status_code == 200
    assert "no-store" in created["Cache-Control"]
    secret = created.context["secret"]
    api_key = OrganizationAPIKey.objects.get(organization=globex)
    assert OrganizationAPIKey.objects.get_from_key(secret) == api_key
    assert secret.encode() in created.content
    assert not any(secret in str(m) for m in get_messages(created.wsgi_request))
    page = operator_client.get(reverse("admin:registry_organization_change", args=[globex.pk]))
    assert api_key.prefix.encode() in page.content and secret.encode() not in page.content

    operator_client.post(
        reverse("admin:registry_organizationapikey_changelist"),
        {"action": "revoke_keys", "index": 0, "_selected_action": [api_key.pk]},
    )
    api_key.refresh_from_db()
    assert api_key.revoked
    with pytest.raises(OrganizationAPIKey.DoesNotExist):
        OrganizationAPIKey.objects.get_from_key(secret)


def test_operators_see_screenings_with_their_receipts(
    alice, acme, register_work, screen, operator_client
):
    register_work(alice, seed=122, title="Seen")
    screening = screen(acme, [122, 123])  # 123 is registered by nobody
    listing = operator_client.get(reverse("admin:registry_screening_changelist"))
    assert listing.context["cl"].result_count == 1
    detail = operator_client.get(reverse("admin:registry_screening_change", args=[screening.pk]))
    assert detail.status_code == 200
    assert b"consentry.screening-receipt" in detail.content
    # What is listed one by one, and what is only counted.
    assert "1 items that matched a registered work or were denied" in detail.content.decode()
    assert "Merkle roots: 1 unregistered, 0 invalid" in detail.content.decode()
    matches = operator_client.get(
        reverse("admin:registry_workscreening_changelist"), {"screening__id__exact": screening.pk}
    )
    assert [row.work.title for row in matches.context["cl"].result_list] == ["Seen"]
