"""Only the rights holder can say yes (assurance), end to end through the API: a permission
counts only from a verified claim, a restriction from any; a later, less sure claim cannot
freeze an earlier work."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

from registry.models import (
    Assurance,
    ConsentEvent,
    ConsentEventKind,
    Dispute,
    Permission,
    Purpose,
    Work,
)
from registry.services.artists import artist_assurance_set, work_assurance_set
from registry.services.sites import site_register, site_verify
from registry.services.terms import terms_set
from registry.services.works import work_update
from registry.tasks import register_pending_upload
from tests.api.conftest import artist_client, image_bytes, item
from tests.factories import ArtistFactory


def _upload(artist, seed, *, scale=1.0, allow=("ai_training",), license="CC-BY-4.0"):
    """The artist uploads artwork `seed` through the API; returns the new work's id."""
    files = [SimpleUploadedFile(f"art-{seed}.jpg", image_bytes(seed, scale=scale))]
    response = artist_client(artist).post(
        "/api/v1/artist/works",
        {"images": files, "allow": list(allow), "license": license},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    (pending,) = response.json()
    register_pending_upload.apply(args=[pending["id"]]).get()  # as the worker would
    result = artist_client(artist).get(pending["url"]).json()
    assert result["work_id"] is not None, result
    return result["work_id"]


def _screen(client, items, **fields):
    response = client.post(
        "/api/v1/screenings",
        {"purpose": "ai_training", "items": items, **fields},
        format="json",
    )
    assert response.status_code == 202, response.content
    return response.json()


def _decided(client, run_pending, items, **fields):
    """A screening's items by id, once decided, and the screening as finished."""
    screening = _screen(client, items, **fields)
    run_pending()
    listed = client.get(f"/api/v1/screenings/{screening['id']}/items").json()["results"]
    finished = client.get(f"/api/v1/screenings/{screening['id']}").json()
    return {entry["id"]: entry for entry in listed}, finished


def _check(client, items, **fields):
    response = client.post(
        "/api/v1/check", {"purpose": "ai_training", "items": items, **fields}, format="json"
    )
    assert response.status_code == 200, response.content
    return {entry["id"]: entry for entry in response.json()["items"]}


def test_laundering_an_unverified_permission_is_denied_until_staff_verify(
    mallory, acme_api, run_pending
):
    work_id = _upload(mallory, seed=1)  # not hers; she says "allowed, CC-BY-4.0"

    items, screening = _decided(acme_api, run_pending, [item("copy", 1)])

    assert items["copy"]["decision"] == "denied"
    assert f"work {work_id}: consent_unverified" in items["copy"]["reason"]
    assert items["copy"]["credit"] == []
    assert screening["receipt"]["document"]["min_assurance"] == "verified"
    assert screening["receipt"]["document"]["allowed_by_assurance"] == {}
    assert _check(acme_api, [item("copy", 1)])["copy"]["decision"] == "denied"

    call_command(
        "verify_artist", "mallory", "--method", "operator", "--evidence", "met her, saw sketches"
    )

    items, screening = _decided(acme_api, run_pending, [item("copy", 1)])
    assert items["copy"]["decision"] == "allowed"
    (credit,) = items["copy"]["credit"]
    assert credit["work_id"] == work_id and credit["assurance"] == "operator_verified"
    assert screening["allowed_by_assurance"] == {"operator_verified": 1}
    assert screening["receipt"]["document"]["allowed_by_assurance"] == {"operator_verified": 1}
    event = ConsentEvent.objects.get(kind=ConsentEventKind.ASSURANCE_CHANGED, artist=mallory)
    assert event.payload["evidence"] == "met her, saw sketches"
    assert event.payload["previous"] == "self_asserted"


def test_an_organization_may_ask_for_operator_verified_claims(mallory, acme_api, run_pending):
    work_id = _upload(mallory, seed=2)
    # A site's token verifies the works published on that site: hers lists its address there.
    site_verify(site=site_register(artist=mallory, url_prefix="https://mallory.example/art/"))
    artist_assurance_set(artist=mallory, method="site", evidence="token served at her site")
    work_update(
        work=Work.objects.get(pk=work_id),
        title="Copy",
        credit_line="",
        source_urls=["https://mallory.example/art/copy.jpg"],
    )

    default, _ = _decided(acme_api, run_pending, [item("copy", 2)])
    strict, screening = _decided(
        acme_api, run_pending, [item("copy", 2)], min_assurance="operator_verified"
    )

    assert default["copy"]["decision"] == "allowed"
    assert default["copy"]["credit"][0]["assurance"] == "site_verified"
    assert strict["copy"]["decision"] == "denied"
    assert f"work {work_id}: consent_unverified" in strict["copy"]["reason"]
    assert screening["min_assurance"] == "operator_verified"
    assert screening["receipt"]["document"]["min_assurance"] == "operator_verified"
    checked = _check(acme_api, [item("copy", 2)], min_assurance="operator_verified")
    assert checked["copy"]["decision"] == "denied"


def test_a_work_level_attestation_counts_for_that_work_only(mallory, acme_api, run_pending):
    attested = _upload(mallory, seed=3)
    _upload(mallory, seed=4)
    work_assurance_set(
        work=Work.objects.get(pk=attested), method="platform", evidence="upload 8812 on Example"
    )

    items, _ = _decided(acme_api, run_pending, [item("three", 3), item("four", 4)])

    assert items["three"]["decision"] == "allowed"
    assert items["three"]["credit"][0]["assurance"] == "platform_attested"
    assert items["four"]["decision"] == "denied"
    assert "consent_unverified" in items["four"]["reason"]


def test_a_restriction_counts_at_any_assurance(mallory, acme_api, run_pending):
    work_id = _upload(mallory, seed=5, allow=())  # consent first: not allowed

    items, _ = _decided(acme_api, run_pending, [item("copy", 5)], mode="respect_opt_outs")

    assert items["copy"]["decision"] == "denied"
    assert f"work {work_id}: not_allowed" in items["copy"]["reason"]


def test_freezing_a_later_unverified_copy_leaves_the_verified_work_allowed(
    alice, mallory, acme_api, run_pending, register_work
):
    original = register_work(alice, seed=6, title="Original")
    terms_set(
        artist=alice,
        works=[original],
        purpose=Purpose.AI_TRAINING,
        permission=Permission.ALLOWED,
        license="CC-BY-4.0",
    )

    copy_id = _upload(mallory, seed=6, scale=0.9, allow=())  # her copy says "not allowed"

    dispute = Dispute.objects.get(existing_work=original, claimed_work_id=copy_id)
    assert dispute.status == "open" and not dispute.freezes
    assert (dispute.existing_assurance, dispute.claimed_assurance) == (
        Assurance.OPERATOR_VERIFIED,
        Assurance.SELF_ASSERTED,
    )
    opened = ConsentEvent.objects.get(kind=ConsentEventKind.DISPUTE_OPENED, work_id=copy_id)
    assert opened.payload["freezes"] is False
    items, _ = _decided(acme_api, run_pending, [item("copy", 6)])
    assert items["copy"]["decision"] == "allowed", items["copy"]["reason"]
    assert {c["work_id"] for c in items["copy"]["credit"]} == {original.pk}
    assert {m["work_id"] for m in items["copy"]["matches"]} >= {original.pk, copy_id}
    assert _check(acme_api, [item("copy", 6)])["copy"]["decision"] == "allowed"


def test_two_unverified_claims_on_one_picture_are_denied(mallory, acme_api, run_pending):
    trudy = ArtistFactory.create(user__username="trudy")
    first = _upload(mallory, seed=7)
    second = _upload(trudy, seed=7, scale=0.9)
    dispute = Dispute.objects.get(existing_work_id=first, claimed_work_id=second)
    assert dispute.freezes

    items, _ = _decided(acme_api, run_pending, [item("copy", 7)])
    assert items["copy"]["decision"] == "denied"

    # The dispute itself denies, not only the missing verification.
    for artist in (mallory, trudy):
        artist_assurance_set(artist=artist, method="operator", evidence="both checked")
    items, _ = _decided(acme_api, run_pending, [item("copy", 7)])
    assert items["copy"]["decision"] == "denied"
    assert "under_dispute" in items["copy"]["reason"]


def test_a_surer_later_claim_still_fails_closed(alice, mallory, acme_api, run_pending):
    _upload(mallory, seed=8)
    later = _upload(alice, seed=8, scale=0.9)

    dispute = Dispute.objects.get(claimed_work_id=later)
    assert dispute.freezes
    items, _ = _decided(acme_api, run_pending, [item("copy", 8)])
    assert items["copy"]["decision"] == "denied"
    assert f"work {later}: under_dispute" in items["copy"]["reason"]


@pytest.mark.parametrize("value", ["self_asserted", "anything", ""])
def test_an_unknown_minimum_is_refused_naming_the_field(acme_api, value, db):
    for url in ("/api/v1/screenings", "/api/v1/check"):
        response = acme_api.post(
            url,
            {"purpose": "ai_training", "items": [], "min_assurance": value},
            format="json",
        )
        assert response.status_code == 400
        assert "min_assurance" in response.json()


def test_verify_artist_refuses_unknown_users_and_missing_evidence(mallory):
    with pytest.raises(CommandError, match="No artist"):
        call_command("verify_artist", "nobody", "--method", "operator", "--evidence", "x")
    with pytest.raises(CommandError, match="evidence"):
        call_command("verify_artist", "mallory", "--method", "operator", "--evidence", "  ")
    mallory.refresh_from_db()
    assert mallory.assurance == Assurance.SELF_ASSERTED
    assert not ConsentEvent.objects.filter(kind=ConsentEventKind.ASSURANCE_CHANGED).exists()


def test_the_schema_describes_min_assurance_and_each_credits_assurance(db, client):
    response = client.get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    components = response.json()["components"]["schemas"]

    def enum_of(schema):
        if "enum" in schema:
            return set(schema["enum"])
        (ref,) = [part["$ref"] for part in schema.get("allOf", schema.get("oneOf", []))][:1]
        return set(components[ref.rsplit("/", 1)[1]]["enum"])

    for name in ("CheckRequestDoc", "ScreeningRequestDoc"):
        minimum = components[name]["properties"]["min_assurance"]
        assert enum_of(minimum) == {"verified", "operator_verified"}, name
    assert enum_of(components["CreditOut"]["properties"]["assurance"]) == {
        "self_asserted",
        "site_verified",
        "platform_attested",
        "operator_verified",
    }


def test_an_artist_asks_for_site_verification_of_their_own_site_only(
    mallory, bob, django_capture_on_commit_callbacks
):
    mallory_api, bob_api = artist_client(mallory), artist_client(bob)
    site = mallory_api.post(
        "/api/v1/artist/sites", {"url_prefix": "https://mallory.example/art/"}, format="json"
    ).json()
    url = f"/api/v1/artist/sites/{site['id']}/verification"

    assert bob_api.post(url).status_code == 404
    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        response = mallory_api.post(url)

    assert response.status_code == 202
    body = response.json()
    assert body["token_url"] == "https://mallory.example/art/consentry-site-verification.txt"
    assert len(body["token"]) >= 24 and body["verified"] is False
    assert len(enqueued) == 1  # the worker's fetch, sent once the request commits
    assert mallory_api.post(url).json()["token"] == body["token"]  # issued once
