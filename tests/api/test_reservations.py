"""The gatekeeper's rule *embedded reservations*: reservations deny an item even when no
registered work matches it."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from registry.models import Permission, Purpose
from registry.optout import embedded_to_wire, write_data_mining
from registry.services.sites import site_register, site_verify
from registry.services.terms import default_terms_set
from tests.api.conftest import image_bytes, item

PROHIBITED_AI_TRAINING = "http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-AIMLTRAINING"


def _check(client, items, purpose="ai_training", mode="respect_opt_outs"):
    response = client.post(
        "/api/v1/check", {"purpose": purpose, "mode": mode, "items": items}, format="json"
    )
    assert response.status_code == 200, response.content
    return {entry["id"]: entry for entry in response.json()["items"]}


def test_an_iptc_reservation_sent_by_the_client_denies_an_unregistered_item(db, acme_api):
    tagged = write_data_mining(image_bytes(70), PROHIBITED_AI_TRAINING)
    reserved = item("reserved", 70, embedded=embedded_to_wire(tagged))

    training = _check(acme_api, [reserved, item("plain", 71)])
    mining = _check(acme_api, [reserved], purpose="data_mining")

    assert training["reserved"]["decision"] == "denied" and not training["reserved"]["passes"]
    assert "plus:DataMining" in training["reserved"]["reason"]
    assert training["plain"]["decision"] == "unregistered" and training["plain"]["passes"]
    assert mining["reserved"]["decision"] == "unregistered"  # AI training only was reserved


@pytest.mark.parametrize(
    "headers",
    [{"X-Robots-Tag": "noai"}, {"tdm-reservation": "1"}, {"Content-Usage": "train-ai=n"}],
)
def test_download_headers_deny_the_item(db, acme_api, headers):
    decided = _check(acme_api, [item("downloaded", 72, headers=headers)])

    assert decided["downloaded"]["decision"] == "denied"


def test_an_unparseable_signal_denies_with_a_reason_that_says_so(db, acme_api):
    decided = _check(acme_api, [item("odd", 73, embedded={"iptc_data_mining": 42})])

    assert decided["odd"]["decision"] == "denied"
    assert decided["odd"]["reason"].startswith("reserved by")


def test_a_verified_site_prefix_reserves_items_downloaded_from_it(alice, acme_api):
    site = site_register(artist=alice, url_prefix="https://alice.example/art/")
    url = "https://alice.example/art/cat.jpg"

    before = _check(acme_api, [item("cat", 74, url=url)])
    site_verify(site=site)
    after = _check(acme_api, [item("cat", 74, url=url), item("dog", 75, url="https://x.example/")])
    default_terms_set(artist=alice, purpose=Purpose.AI_TRAINING, permission=Permission.ALLOWED)
    allowed = _check(acme_api, [item("cat", 74, url=url)])

    assert before["cat"]["decision"] == "unregistered"  # not verified yet: no effect
    assert after["cat"]["decision"] == "denied" and "alice.example/art/" in after["cat"]["reason"]
    assert after["dog"]["decision"] == "unregistered"
    assert allowed["cat"]["decision"] == "unregistered"  # her defaults now allow training


def test_an_uploaded_image_is_read_for_embedded_reservations(db, acme_api, run_pending):
    tagged = write_data_mining(image_bytes(76), PROHIBITED_AI_TRAINING)
    response = acme_api.post(
        "/api/v1/screenings",
        {
            "purpose": "ai_training",
            "mode": "respect_opt_outs",
            "images": [SimpleUploadedFile("tagged.jpg", tagged)],
        },
        format="multipart",
    )
    run_pending()

    items = acme_api.get(f"/api/v1/screenings/{response.json()['id']}/items").json()["results"]
    assert [(entry["id"], entry["decision"]) for entry in items] == [("tagged.jpg", "denied")]
