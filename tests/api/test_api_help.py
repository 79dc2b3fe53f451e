"""Calling the API by hand: a missing field, a wrong auth scheme and a format named in the URL
are answered with what to send instead."""

import json

import pytest

from tests.api.conftest import item

CHECK = "/api/v1/check"


@pytest.mark.parametrize("endpoint", ["check", "screening", "chunk"])
def test_an_item_without_a_required_fingerprint_field_is_a_400_naming_the_field(acme_api, endpoint):
    incomplete = item("cat", 1)
    del incomplete["pdq"], incomplete["descriptor"]
    body = {"purpose": "ai_training", "items": [item("dog", 2), incomplete]}
    if endpoint == "check":
        response = acme_api.post(CHECK, body, format="json")
    elif endpoint == "screening":
        response = acme_api.post("/api/v1/screenings", body, format="json")
    else:
        opened = acme_api.post(
            "/api/v1/screenings", {"purpose": "ai_training", "keep_open": True}, format="json"
        ).json()
        response = acme_api.post(
            opened["links"]["chunks"], {"number": 0, "items": body["items"]}, format="json"
        )

    assert response.status_code == 400, response.content
    detail = response.json()["detail"]
    assert "item 1 ('cat')" in detail and "pdq, descriptor" in detail


def test_a_present_but_malformed_fingerprint_still_fails_closed(acme_api, works):
    body = {"purpose": "ai_training", "items": [item("mine", 1, phash="not hex")]}

    response = acme_api.post(CHECK, body, format="json")

    assert response.status_code == 200
    (result,) = response.json()["items"]
    assert result["decision"] == "invalid" and not result["passes"]
    assert "malformed fingerprint" in result["reason"]


def test_an_unreadable_item_needs_no_fingerprint_and_is_invalid(acme_api):
    body = {"purpose": "ai_training", "items": [{"id": "x", "unreadable": "truncated JPEG"}]}

    response = acme_api.post(CHECK, body, format="json")

    assert response.status_code == 200
    assert response.json()["items"][0]["decision"] == "invalid"


@pytest.mark.parametrize(
    ("header", "named"),
    [("Bearer abc.def", "'Bearer' is not accepted"), (None, "No API key was sent")],
)
def test_a_missing_or_wrong_scheme_says_to_send_api_key(acme, client, header, named):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.post(
        CHECK, {"purpose": "ai_training", "items": []}, content_type="application/json", **extra
    )

    assert response.status_code == 401
    detail = response.json()["detail"]
    assert named in detail and "Authorization: Api-Key <key>" in detail
    assert response["WWW-Authenticate"] == "Api-Key"


def test_the_items_can_be_asked_for_as_jsonl_in_the_url(acme_api, works, run_pending):
    started = acme_api.post(
        "/api/v1/screenings",
        {"purpose": "ai_training", "items": [item("mine", 1), item("stranger", 40)]},
        format="json",
    ).json()
    run_pending()
    items_url = started["links"]["items"]

    response = acme_api.get(items_url, {"format": "jsonl"})
    unknown = acme_api.get(items_url, {"format": "csv"})

    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    assert {line["id"]: line["decision"] for line in lines} == {"mine": "allowed"}
    assert response["Consentry-Counted-Only"] == "unregistered=1, invalid=0"
    assert unknown.status_code == 400
    assert (
        "jsonl" in unknown.json()["format"][0]
        and "Accept: application/x-ndjson" in (unknown.json()["format"][0])
    )
    assert acme_api.get(items_url, {"format": "json"}).json()["results"]
