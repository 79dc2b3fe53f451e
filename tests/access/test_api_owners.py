"""Every API endpoint that names an object answers 404 to the other owner, as if the object did
not exist, and changes nothing; lists and exports never show another owner's rows.

The tables below must name every route of registry/api/urls.py that takes an id, with every
method its view answers: a new endpoint fails `test_every_object_endpoint_is_in_a_table` until
it is added here, and so tested.
"""

from collections.abc import Callable
from typing import Any

import pytest
from django.urls import URLPattern, reverse

from registry.api.urls import urlpatterns
from registry.models import (
    ArtistSite,
    PendingUpload,
    Purpose,
    Screening,
    ScreeningChunk,
    Terms,
)
from tests.access.conftest import World

pytestmark = pytest.mark.django_db

# url name -> (owner, intruder, methods, the url's kwargs from the world)
Endpoint = tuple[str, str, tuple[str, ...], Callable[[World], dict[str, Any]]]


def _screening(world: World) -> dict[str, Any]:
    return {"screening_id": world.acme_screening.pk}


def _work(world: World) -> dict[str, Any]:
    return {"work_id": world.alice_work.pk}


def _upload(world: World) -> dict[str, Any]:
    upload = PendingUpload.objects.create(artist=world.alice, filename="spring.jpg", data=b"x")
    return {"upload_id": upload.pk}


OBJECT_ENDPOINTS: dict[str, Endpoint] = {
    "api-screening-detail": ("acme", "globex", ("get",), _screening),
    "api-screening-items": ("acme", "globex", ("get",), _screening),
    # Each chunk's Merkle root and unlisted decisions: what proves any one item.
    "api-screening-decisions": ("acme", "globex", ("get",), _screening),
    "api-screening-chunks": ("acme", "globex", ("post",), _screening),
    # The second phase of a binary chunk: the verification payloads of its candidates.
    "api-screening-chunk-verification": (
        "acme",
        "globex",
        ("post",),
        lambda world: {**_screening(world), "number": 0},
    ),
    "api-screening-close": ("acme", "globex", ("post",), _screening),
    "api-webhook": (
        "acme",
        "globex",
        ("get", "delete"),
        lambda world: {"webhook_id": world.acme_webhook.pk},
    ),
    "api-artist-work": ("alice", "bob", ("get",), _work),
    "api-artist-work-screenings": ("alice", "bob", ("get",), _work),
    "api-artist-work-tagged-image": ("alice", "bob", ("get",), _work),
    "api-artist-work-withdrawals": ("alice", "bob", ("get",), _work),
    "api-artist-upload": ("alice", "bob", ("get",), _upload),
    "api-artist-site": (
        "alice",
        "bob",
        ("delete",),
        lambda world: {"site_id": world.alice_site.pk},
    ),
    "api-artist-site-verification": (
        "alice",
        "bob",
        ("post",),
        lambda world: {"site_id": world.alice_site.pk},
    ),
}
# Public by design: a work's credit and an artist's default policy are what crawlers read.
PUBLIC_OBJECT_ENDPOINTS = {"api-credit", "api-artist-policy"}
HTTP_METHODS = ("get", "post", "put", "patch", "delete")


def _methods(pattern: URLPattern) -> set[str]:
    view_class = pattern.callback.view_class  # type: ignore[attr-defined]
    return {method for method in HTTP_METHODS if hasattr(view_class, method)}


def test_every_object_endpoint_is_in_a_table():
    with_ids = {
        pattern.name: pattern
        for pattern in urlpatterns
        if isinstance(pattern, URLPattern) and "<" in str(pattern.pattern)
    }
    assert set(with_ids) == set(OBJECT_ENDPOINTS) | PUBLIC_OBJECT_ENDPOINTS
    for name, (_owner, _intruder, methods, _kwargs) in OBJECT_ENDPOINTS.items():
        assert _methods(with_ids[name]) == set(methods), name


def _call(client, method: str, url: str, **headers: str):
    if method == "post":
        body = {"number": 7, "items": [{"id": "x", "decision": "allowed"}]}
        return client.post(url, body, format="json", **headers)
    return getattr(client, method)(url, **headers)


def _state(world: World) -> tuple:
    """What an intruder's request could have changed."""
    screening = Screening.objects.get(pk=world.acme_screening.pk)
    return (
        screening.status,
        screening.accepting_chunks,
        screening.total_items,
        ScreeningChunk.objects.filter(screening=screening).count(),
        type(world.acme_webhook).objects.get(pk=world.acme_webhook.pk).active,
        ArtistSite.objects.filter(pk=world.alice_site.pk).exists(),
        ArtistSite.objects.filter(pk=world.alice_site.pk).values_list("token", flat=True).first(),
    )


@pytest.mark.parametrize("name", sorted(OBJECT_ENDPOINTS))
def test_the_other_owner_gets_404_and_changes_nothing(world, clients, name):
    owner, intruder, methods, kwargs = OBJECT_ENDPOINTS[name]
    url = reverse(name, kwargs=kwargs(world))
    before = _state(world)
    for method in methods:
        response = _call(clients[intruder], method, url)
        assert response.status_code == 404, (name, method, response.status_code)
        assert response.json() == {"detail": "No such object."} or "detail" in response.json()
        if name == "api-screening-items":
            ndjson = _call(clients[intruder], method, url, HTTP_ACCEPT="application/x-ndjson")
            assert ndjson.status_code == 404
    assert _state(world) == before
    # The same request from the owner reaches the object: the 404 above was about who asked.
    for method in methods:
        assert _call(clients[owner], method, url).status_code != 404, (name, method)


@pytest.mark.parametrize("name", sorted(OBJECT_ENDPOINTS))
def test_the_other_kind_of_caller_is_refused(world, clients, name):
    owner, _intruder, methods, kwargs = OBJECT_ENDPOINTS[name]
    url = reverse(name, kwargs=kwargs(world))
    # An organization's key on an artist's endpoint, an artist's token on an organization's.
    stranger = "acme" if owner in ("alice", "bob") else "alice"
    for method in methods:
        assert _call(clients[stranger], method, url).status_code in (401, 403), (name, method)


def test_an_unknown_id_answers_like_the_other_owners(world, clients):
    missing = reverse("api-screening-detail", args=["00000000-0000-0000-0000-000000000000"])
    theirs = reverse("api-screening-detail", args=[world.acme_screening.pk])
    assert clients["globex"].get(missing).json() == clients["globex"].get(theirs).json()
    missing_work = reverse("api-artist-work", args=[10**9])
    their_work = reverse("api-artist-work", args=[world.alice_work.pk])
    assert clients["bob"].get(missing_work).json() == clients["bob"].get(their_work).json()


def test_terms_on_another_artists_work_answer_404_and_change_nothing(world, clients):
    before = list(Terms.objects.filter(work=world.alice_work).values())
    response = clients["bob"].post(
        "/api/v1/artist/terms",
        {
            "work_ids": [world.alice_work.pk, world.bob_work.pk],
            "purpose": Purpose.AI_TRAINING,
            "permission": "allowed",
        },
        format="json",
    )
    assert response.status_code == 404
    assert list(Terms.objects.filter(work=world.alice_work).values()) == before
    assert not Terms.objects.filter(work=world.bob_work, permission="allowed").exists()


SCREENING_EXPORTS = ["screening-report", "eu-ai-act", "china-art7", "croissant"]


@pytest.mark.parametrize("kind", SCREENING_EXPORTS)
def test_an_export_of_another_organizations_screening_answers_404(world, clients, kind):
    url = f"/api/v1/exports/{kind}"
    theirs = clients["globex"].get(url, {"screening": str(world.acme_screening.pk)})
    assert theirs.status_code == 404
    assert clients["acme"].get(url, {"screening": str(world.acme_screening.pk)}).status_code == 200


@pytest.mark.parametrize("kind", SCREENING_EXPORTS)
def test_an_export_holds_only_the_callers_screenings(world, clients, kind):
    body = b"".join(clients["globex"].get(f"/api/v1/exports/{kind}").streaming_content)
    assert str(world.acme_screening.pk).encode() not in body
    assert b"acme-1" not in body and b"Acme AI" not in body


def _ids(response, key: str = "id") -> set[str]:
    payload = response.json()
    rows = payload["results"] if isinstance(payload, dict) else payload
    return {str(row[key]) for row in rows}


def test_lists_hold_only_the_callers_own_rows(world, clients):
    assert _ids(clients["globex"].get("/api/v1/screenings")) == {str(world.globex_screening.pk)}
    assert _ids(clients["acme"].get("/api/v1/screenings")) == {str(world.acme_screening.pk)}
    assert _ids(clients["globex"].get("/api/v1/webhooks")) == {str(world.globex_webhook.pk)}
    bob_works = _ids(clients["bob"].get("/api/v1/artist/works"))
    assert str(world.alice_work.pk) not in bob_works and str(world.bob_work.pk) in bob_works
    assert _ids(clients["bob"].get("/api/v1/artist/sites")) == {str(world.bob_site.pk)}


def test_the_consent_changes_feed_holds_only_the_callers_notices(world, clients):
    acme_feed = clients["acme"].get("/api/v1/consent-changes").json()["results"]
    assert [change["id"] for change in acme_feed] == [str(world.notice.public_id)]
    assert clients["globex"].get("/api/v1/consent-changes").json()["results"] == []


def test_who_screened_a_work_is_told_only_to_its_artist(world, clients):
    url = reverse("api-artist-work-screenings", args=[world.alice_work.pk])
    rows = clients["alice"].get(url).json()["results"]
    assert {row["organization"] for row in rows} == {"Acme AI"}
    assert clients["bob"].get(url).status_code == 404
