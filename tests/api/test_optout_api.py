"""Artists' opt-out endpoints: their site prefixes, and their terms emitted as signals."""

import io
import json

import pytest

from registry.models import ArtistSite, ConsentEvent, Permission, Purpose
from registry.optout import read_headers, read_image
from registry.services.sites import site_verify
from registry.services.terms import default_terms_set, terms_set


def test_an_artist_registers_a_site_prefix_stored_normalized_and_unverified(alice_api):
    response = alice_api.post(
        "/api/v1/artist/sites", {"url_prefix": "HTTPS://Alice.Example:443/art/./"}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["url_prefix"] == "https://alice.example/art/"
    assert response.json()["verified"] is False


@pytest.mark.parametrize(
    "prefix", ["ftp://alice.example/", "https://alice.example/?q=1", "not a url"]
)
def test_a_bad_prefix_is_refused_with_a_reason(alice_api, prefix):
    response = alice_api.post("/api/v1/artist/sites", {"url_prefix": prefix}, format="json")

    assert response.status_code == 400 and response.json()["detail"]
    assert not ArtistSite.objects.exists()


def test_a_prefix_belongs_to_one_artist_and_only_its_owner_removes_it(alice_api, bob_api):
    site = alice_api.post(
        "/api/v1/artist/sites", {"url_prefix": "https://alice.example/"}, format="json"
    ).json()
    # Once verified: an unverified registration owns nothing (test_attacker_review).
    site_verify(site=ArtistSite.objects.get(pk=site["id"]))

    taken = bob_api.post(
        "/api/v1/artist/sites", {"url_prefix": "https://alice.example/"}, format="json"
    )
    bobs_delete = bob_api.delete(f"/api/v1/artist/sites/{site['id']}")
    bobs_list = bob_api.get("/api/v1/artist/sites").json()

    assert taken.status_code == 400 and "registered already" in taken.json()["detail"]
    assert bobs_delete.status_code == 404 and bobs_list == []
    assert alice_api.delete(f"/api/v1/artist/sites/{site['id']}").status_code == 204


def test_removing_a_verified_site_is_on_the_ledger(alice, alice_api):
    site = alice_api.post(
        "/api/v1/artist/sites", {"url_prefix": "https://alice.example/"}, format="json"
    ).json()
    site_verify(site=ArtistSite.objects.get(pk=site["id"]))

    alice_api.delete(f"/api/v1/artist/sites/{site['id']}")

    # alice's own verification by staff (the fixture) comes first.
    kinds = list(ConsentEvent.objects.values_list("kind", flat=True))
    assert kinds == ["assurance_changed", "site_verified", "site_removed"]


def test_signals_say_the_artists_defaults_and_our_readers_agree(alice, alice_api):
    alice_api.post(
        "/api/v1/artist/sites", {"url_prefix": "https://alice.example/art/"}, format="json"
    )

    headers = alice_api.get("/api/v1/artist/signals", {"kind": "headers"}).content.decode()
    tdmrep = alice_api.get("/api/v1/artist/signals", {"kind": "tdmrep"}).content.decode()
    ai_txt = alice_api.get("/api/v1/artist/signals", {"kind": "ai-txt"}).content.decode()
    bad = alice_api.get("/api/v1/artist/signals", {"kind": "robots"})

    parsed = dict(line.split(": ", 1) for line in headers.splitlines())
    assert {r.source for r in read_headers(parsed)} >= {"http:X-Robots-Tag"}
    assert "https://alice.example/.well-known/tdmrep.json" in tdmrep
    rules = json.loads(tdmrep.split("\n", 1)[1])
    assert rules[0]["location"] == "/art/" and rules[0]["tdm-reservation"] == 1
    assert "Disallow: /" in ai_txt
    assert bad.status_code == 400

    for purpose in Purpose.values:
        default_terms_set(artist=alice, purpose=purpose, permission=Permission.ALLOWED)
    allowed = alice_api.get("/api/v1/artist/signals", {"kind": "headers"}).content.decode()
    assert "tdm-reservation: 0" in allowed and "noai" not in allowed


def test_a_works_tagged_image_carries_its_terms_and_is_only_its_artists(
    alice, alice_api, bob_api, register_work
):
    work = register_work(alice, seed=1)
    terms_set(
        artist=alice, works=[work], purpose=Purpose.AI_INFERENCE, permission=Permission.ALLOWED
    )

    response = alice_api.get(f"/api/v1/artist/works/{work.pk}/tagged-image")
    other = bob_api.get(f"/api/v1/artist/works/{work.pk}/tagged-image")

    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    data = b"".join(response.streaming_content) if response.streaming else response.content
    reserved = {purpose for r in read_image(data) for purpose in r.purposes}
    assert "ai_training" in reserved
    assert other.status_code == 404
    assert io.BytesIO(data).getbuffer().nbytes > 1000
