"""Screenings through the HTTP API, decided here as the worker would decide them."""

import json
import threading

import pytest
from django.test import override_settings

from registry.merkle import decision_leaf, root_of_leaves
from registry.models import Permission, Purpose, Screening, ScreeningChunk, ScreeningItem
from registry.services.grants import grant_create
from registry.services.terms import terms_set
from tests.api.conftest import all_decisions, item


def _screen(client, items, mode="consent_required", purpose="ai_training"):
    response = client.post(
        "/api/v1/screenings", {"purpose": purpose, "mode": mode, "items": items}, format="json"
    )
    assert response.status_code == 202, response.content
    return response.json()


def _items(client, screening_id, **params):
    response = client.get(f"/api/v1/screenings/{screening_id}/items", params)
    assert response.status_code == 200, response.content
    return {entry["id"]: entry for entry in response.json()["results"]}


def test_each_decision_kind_with_its_reason_and_credit(acme_api, works, run_pending):
    sent = [
        item("mine", 1),
        item("theirs", 2),
        item("licensed", 3),
        item("stranger", 40),
        item("broken", 5, phash="zz"),  # present but malformed: fail closed
    ]
    screening = _screen(acme_api, sent)
    assert screening["status"] == "running" and screening["progress"] == {"done": 0, "total": 5}

    run_pending()

    decided = all_decisions(acme_api, screening["id"], [[entry["id"] for entry in sent]])
    assert {key: entry["decision"] for key, entry in decided.items()} == {
        "mine": "allowed",
        "theirs": "denied",
        "licensed": "denied",
        "stranger": "unregistered",
        "broken": "invalid",
    }
    (credit,) = decided["mine"]["credit"]
    assert credit | {"url": None} == {
        "artist": "Alice Liu",
        "credit_line": "Alice Liu",
        "title": "Allowed",
        "work_id": works["allowed"].pk,
        "license": "CC-BY-4.0",
        "attribution": "By Alice",
        "url": None,
        "assurance": "operator_verified",
    }
    assert credit["url"].endswith(f"/api/v1/credits/{works['allowed'].pk}")
    assert decided["mine"]["matches"][0]["work_id"] == works["allowed"].pk
    assert "not_allowed" in decided["theirs"]["reason"]
    assert "licensed_without_grant" in decided["licensed"]["reason"]
    assert "malformed fingerprint" in decided["broken"]["reason"]
    assert decided["theirs"]["credit"] == [] and decided["stranger"]["credit"] == []


def test_the_screening_reports_counts_version_and_a_receipt(acme_api, works, run_pending):
    screening = _screen(acme_api, [item("mine", 1), item("stranger", 40)])
    run_pending()

    detail = acme_api.get(f"/api/v1/screenings/{screening['id']}").json()

    assert detail["status"] == "finished"
    assert detail["progress"] == {"done": 2, "total": 2}
    assert detail["counts"] == {"allowed": 1, "unregistered": 1}
    receipt = detail["receipt"]["document"]
    assert receipt["counts"] == {"allowed": 1, "denied": 0, "invalid": 0, "unregistered": 1}
    assert receipt["registry_version"] == detail["registry_version"]
    assert receipt["organization"]["name"] == "Acme AI" and receipt["matching"]


def test_a_grant_lets_the_licensed_work_through_for_that_organization_only(
    alice, acme, acme_api, globex_api, works, run_pending
):
    grant_create(
        artist=alice, organization=acme, purposes=["ai_training"], works=[works["licensed"]]
    )
    ours = _screen(acme_api, [item("licensed", 3)])
    theirs = _screen(globex_api, [item("licensed", 3)])
    run_pending()

    assert _items(acme_api, ours["id"])["licensed"]["decision"] == "allowed"
    assert _items(globex_api, theirs["id"])["licensed"]["decision"] == "denied"


@pytest.mark.parametrize(
    ("mode", "passing"),
    [("consent_required", {"mine"}), ("respect_opt_outs", {"mine", "stranger"})],
)
def test_each_mode_lets_through_what_it_promises(acme_api, works, mode, passing):
    response = acme_api.post(
        "/api/v1/check",
        {
            "purpose": "ai_training",
            "mode": mode,
            "items": [item("mine", 1), item("theirs", 2), item("stranger", 40)],
        },
        format="json",
    )

    assert response.status_code == 200
    results = response.json()["items"]
    assert {entry["id"] for entry in results if entry["passes"]} == passing


def test_a_withdrawal_counts_for_the_next_screening(alice, acme_api, works, run_pending):
    before = _screen(acme_api, [item("mine", 1)])
    run_pending()

    terms_set(
        artist=alice,
        works=[works["allowed"]],
        purpose=Purpose.AI_TRAINING,
        permission=Permission.NOT_ALLOWED,
    )
    after = _screen(acme_api, [item("mine", 1)])
    run_pending()

    assert _items(acme_api, before["id"])["mine"]["decision"] == "allowed"
    assert _items(acme_api, after["id"])["mine"]["decision"] == "denied"
    assert after["registry_version"]["sequence"] > before["registry_version"]["sequence"]


def test_other_purposes_stay_refused(acme_api, works):
    response = acme_api.post(
        "/api/v1/check", {"purpose": "data_mining", "items": [item("mine", 1)]}, format="json"
    )

    assert response.json()["items"][0]["decision"] == "denied"


def test_another_organization_gets_404_for_a_screening_and_its_items(
    acme_api, globex_api, works, run_pending
):
    screening = _screen(acme_api, [item("mine", 1)])
    run_pending()

    for path in ("", "/items", "/decisions", "/close"):
        url = f"/api/v1/screenings/{screening['id']}{path}"
        response = globex_api.post(url) if path == "/close" else globex_api.get(url)
        assert response.status_code == 404, path
    chunk = globex_api.post(
        f"/api/v1/screenings/{screening['id']}/chunks", {"number": 1, "items": []}, format="json"
    )
    assert chunk.status_code == 404
    assert globex_api.get("/api/v1/screenings").json()["results"] == []
    assert len(acme_api.get("/api/v1/screenings").json()["results"]) == 1


def test_without_a_valid_key_every_organization_endpoint_refuses(db, client):
    for url in ("/api/v1/screenings", "/api/v1/check"):
        assert client.post(url, {}, content_type="application/json").status_code == 401
        bad_key = client.post(
            url, {}, content_type="application/json", HTTP_AUTHORIZATION="Api-Key nope.nope"
        )
        assert bad_key.status_code == 401


def test_a_revoked_key_is_refused(acme, acme_api):
    acme.api_keys.update(revoked=True)

    response = acme_api.get("/api/v1/screenings")

    assert response.status_code == 401


@override_settings(CONSENTRY_MAX_ITEMS_PER_REQUEST=3, CONSENTRY_MAX_CHECK_ITEMS=2)
def test_too_many_items_answer_413_with_the_limit(acme_api, works):
    items = [item(f"i{n}", 1) for n in range(4)]

    screening = acme_api.post(
        "/api/v1/screenings", {"purpose": "ai_training", "items": items}, format="json"
    )
    check = acme_api.post(
        "/api/v1/check", {"purpose": "ai_training", "items": items[:3]}, format="json"
    )

    assert screening.status_code == 413 and "3 allowed per request" in screening.json()["detail"]
    assert check.status_code == 413 and "2 a check accepts" in check.json()["detail"]
    assert not Screening.objects.exists()


@override_settings(CONSENTRY_MAX_REQUEST_BYTES=1000)
def test_too_many_bytes_answer_413(acme_api):
    body = json.dumps({"purpose": "ai_training", "items": [{"id": "x" * 2000}]})

    response = acme_api.post("/api/v1/screenings", body, content_type="application/json")

    assert response.status_code == 413


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"purpose": "ai_everything", "items": []}, "purpose"),
        ({"purpose": "ai_training", "mode": "yolo", "items": []}, "mode"),
        ({"purpose": "ai_training", "items": [{"phash": "00"}]}, "needs an 'id'"),
        ({"purpose": "ai_training", "items": [{"id": "a"}, {"id": "a"}]}, "appears twice"),
        ({"purpose": "ai_training", "items": "all of them"}, "must be a list"),
    ],
)
def test_malformed_requests_get_a_clear_400_and_create_nothing(acme_api, body, message):
    response = acme_api.post("/api/v1/screenings", body, format="json")

    assert response.status_code == 400
    assert message in json.dumps(response.json())
    assert not Screening.objects.exists()


def test_throttling_answers_429_with_retry_after(acme_api, globex_api, monkeypatch):
    from django.core.cache import cache

    from registry.api.auth import OrganizationRateThrottle

    cache.clear()
    monkeypatch.setattr(OrganizationRateThrottle, "THROTTLE_RATES", {"organization": "2/min"})
    statuses = [acme_api.get("/api/v1/screenings").status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    assert int(acme_api.get("/api/v1/screenings")["Retry-After"]) > 0
    assert globex_api.get("/api/v1/screenings").status_code == 200  # counted per organization


def test_chunks_then_close_and_a_resent_chunk_changes_nothing(acme_api, works, run_pending):
    created = acme_api.post(
        "/api/v1/screenings", {"purpose": "ai_training", "keep_open": True}, format="json"
    ).json()
    url = f"/api/v1/screenings/{created['id']}"
    first = acme_api.post(f"{url}/chunks", {"number": 0, "items": [item("a", 1)]}, format="json")
    again = acme_api.post(f"{url}/chunks", {"number": 0, "items": [item("a", 1)]}, format="json")
    acme_api.post(f"{url}/chunks", {"number": 1, "items": [item("b", 2)]}, format="json")
    run_pending()
    assert acme_api.get(url).json()["status"] == "receiving"

    closed = acme_api.post(f"{url}/close")

    assert (first.status_code, again.status_code, closed.status_code) == (202, 200, 202)
    detail = acme_api.get(url).json()
    assert detail["status"] == "finished" and detail["progress"] == {"done": 2, "total": 2}
    late = acme_api.post(f"{url}/chunks", {"number": 2, "items": [item("c", 1)]}, format="json")
    assert late.status_code == 409 and "closed" in late.json()["detail"]


def test_items_stream_as_json_lines_and_filter_by_decision(acme_api, works, run_pending):
    screening = _screen(acme_api, [item("mine", 1), item("theirs", 2), item("stranger", 40)])
    run_pending()

    response = acme_api.get(
        f"/api/v1/screenings/{screening['id']}/items", HTTP_ACCEPT="application/x-ndjson"
    )
    lines = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    denied = _items(acme_api, screening["id"], decision="denied")

    assert response["Content-Type"] == "application/x-ndjson"
    # The unregistered item is counted, not listed, and the headers say so.
    assert [line["id"] for line in lines] == ["mine", "theirs"]
    assert response["Consentry-Listed-Items"] == "2"
    assert response["Consentry-Counted-Only"] == "unregistered=1, invalid=0"
    assert list(denied) == ["theirs"]


def test_images_sent_as_files_are_hashed_on_the_server(acme_api, works, run_pending):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.api.conftest import image_bytes

    files = [
        SimpleUploadedFile("mine.jpg", image_bytes(1, scale=0.5)),
        SimpleUploadedFile("broken.jpg", b"\xff\xd8\xff not really"),
    ]
    response = acme_api.post(
        "/api/v1/screenings", {"purpose": "ai_training", "images": files}, format="multipart"
    )
    assert response.status_code == 202, response.content
    run_pending()

    decided = all_decisions(acme_api, response.json()["id"], [["mine.jpg", "broken.jpg"]])
    assert decided["mine.jpg"]["decision"] == "allowed"
    assert decided["broken.jpg"]["decision"] == "invalid"
    assert "could not be read" in decided["broken.jpg"]["reason"]


@pytest.mark.django_db(transaction=True)
def test_the_next_chunk_is_taken_while_the_last_one_is_being_decided(acme_api, monkeypatch):
    """The worker locks only the chunk it decides: the client's next chunk neither waits for
    that decision nor times out behind it."""
    from django.db import connection

    from registry.services import screenings

    created = acme_api.post(
        "/api/v1/screenings", {"purpose": "ai_training", "keep_open": True}, format="json"
    ).json()
    chunks = f"/api/v1/screenings/{created['id']}/chunks"
    monkeypatch.setattr(screenings, "enqueue_chunk", lambda chunk_id: None)
    acme_api.post(chunks, {"number": 0, "items": [item("a", 1)]}, format="json")
    deciding, release = threading.Event(), threading.Event()
    decide = screenings.decide_items

    def slow_decide(**kwargs):
        deciding.set()
        release.wait(30)
        return decide(**kwargs)

    def worker() -> None:
        try:
            screenings.chunk_decide(chunk_id=Screening.objects.get().chunks.get().pk)
        finally:
            connection.close()

    monkeypatch.setattr(screenings, "decide_items", slow_decide)
    thread = threading.Thread(target=worker)
    thread.start()
    try:
        assert deciding.wait(30)
        with connection.cursor() as cursor:  # a wait on the worker's locks fails, not hangs
            cursor.execute("SET lock_timeout = '2s'")
        response = acme_api.post(chunks, {"number": 1, "items": [item("b", 2)]}, format="json")
    finally:
        release.set()
        thread.join(60)

    assert response.status_code == 202, response.content
    assert response.json()["progress"] == {"done": 0, "total": 2}


def test_counters_hold_more_than_two_to_the_31_items(acme_api, works, run_pending):
    """A LAION-sized screening outgrows 32-bit counters; its progress and receipt still add up."""
    created = acme_api.post(
        "/api/v1/screenings", {"purpose": "ai_training", "keep_open": True}, format="json"
    ).json()
    url = f"/api/v1/screenings/{created['id']}"
    already = 2**31 + 7  # as if that many items had been received and decided before
    Screening.objects.filter(pk=created["id"]).update(
        total_items=already, done_items=already, counts={"unregistered": already}
    )
    acme_api.post(f"{url}/chunks", {"number": 0, "items": [item("a", 1)]}, format="json")
    run_pending()
    acme_api.post(f"{url}/close")

    detail = acme_api.get(url).json()
    assert detail["status"] == "finished"
    assert detail["progress"] == {"done": already + 1, "total": already + 1}
    assert detail["receipt"]["document"]["items"] == already + 1
    assert detail["counts"]["unregistered"] == already


def test_a_mixed_screening_keeps_rows_only_for_matched_items_and_its_counts_add_up(
    acme_api, works, run_pending
):
    created = acme_api.post(
        "/api/v1/screenings", {"purpose": "ai_training", "keep_open": True}, format="json"
    ).json()
    url = f"/api/v1/screenings/{created['id']}"
    chunks = [
        [item("mine", 1), item("stray-1", 41), item("theirs", 2), item("stray-2", 42)],
        [item("broken", 5, phash="zz"), item("stray-3", 43), item("licensed", 3)],
    ]
    for number, items in enumerate(chunks):
        acme_api.post(f"{url}/chunks", {"number": number, "items": items}, format="json")
    acme_api.post(f"{url}/close")
    run_pending()

    detail = acme_api.get(url).json()
    assert detail["counts"] == {"allowed": 1, "denied": 2, "unregistered": 3, "invalid": 1}
    rows = ScreeningItem.objects.filter(screening_id=created["id"])
    assert sorted(rows.values_list("item_id", flat=True)) == ["licensed", "mine", "theirs"]
    per_chunk = list(
        ScreeningChunk.objects.filter(screening_id=created["id"])
        .order_by("number")
        .values_list("allowed_items", "denied_items", "unregistered_items", "invalid_items")
    )
    assert per_chunk == [(1, 1, 2, 0), (0, 1, 1, 1)]
    assert sum(map(sum, per_chunk)) == detail["progress"]["done"] == 7
    listed = acme_api.get(f"{url}/items").json()
    assert listed["coverage"] == {
        "listed_items": 3,
        "counted_only": {"unregistered": 3, "invalid": 1},
    }
    # Every decision is under its chunk's root in the receipt, listed or not.
    receipt = detail["receipt"]["document"]
    decided = acme_api.get(f"{url}/decisions").json()["results"]
    assert [[c["number"], c["items"], c["merkle_root"]] for c in decided] == receipt["chunks"]
    assert decided[1]["unlisted"] == [
        [0, 1, "invalid", decided[1]["unlisted"][0][3]],
        [1, 1, "unregistered", "no registered work matches"],
    ]
    assert decided[1]["unlisted"][0][3].startswith("malformed fingerprint")
    assert receipt["unlisted"] == {"invalid": 1, "unregistered": 3}


def test_every_leaf_rebuilt_from_the_answers_gives_the_signed_roots(acme_api, works, run_pending):
    sent = [item("mine", 1), item("stranger", 40), item("broken", 5, phash="zz")]
    screening = _screen(acme_api, sent)
    run_pending()

    decided = all_decisions(acme_api, screening["id"], [[entry["id"] for entry in sent]])
    leaves = [
        decision_leaf(
            entry["id"],
            decided[entry["id"]]["decision"],
            decided[entry["id"]]["reason"],
            [match["work_id"] for match in decided[entry["id"]]["matches"]],
            entry["sha256"],
        )
        for entry in sent
    ]
    receipt = acme_api.get(f"/api/v1/screenings/{screening['id']}").json()["receipt"]
    assert receipt["document"]["chunks"] == [[0, 3, root_of_leaves(leaves)]]
