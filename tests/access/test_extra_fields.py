"""Fields a caller may not set, sent anyway, change nothing: the owner, the organization, terms
outside the endpoint that sets them, verified flags, decisions, timestamps, ids.

Each request is one a real client could send: the legitimate fields plus the forged ones.
"""

import io
import uuid
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse

from registry.demo_art import artwork_bytes
from registry.models import (
    ArtistSite,
    DefaultTerms,
    Permission,
    Purpose,
    Screening,
    ScreeningChunk,
    ScreeningItem,
    ScreeningStatus,
    Terms,
    WebhookEndpoint,
    Work,
)
from tests.access.conftest import World
from tests.api.conftest import item
from tests.factories import unverified

pytestmark = pytest.mark.django_db

LONG_AGO = "2001-01-01T00:00:00Z"


def _forged(world: World) -> dict:
    """What an attacker would like to set on any object."""
    return {
        "owner": world.bob.pk,
        "artist": world.bob.pk,
        "artist_id": world.bob.pk,
        "user": world.bob.user.pk,
        "organization": world.globex.pk,
        "organization_id": world.globex.pk,
        "verified": True,
        "verified_at": LONG_AGO,
        "assurance": "operator_verified",
        "created_at": LONG_AGO,
        "updated_at": LONG_AGO,
        "removed_at": LONG_AGO,
        "id": 424242,
        "pk": 424242,
        "terms": {"ai_training": {"permission": "allowed"}},
        "status": "finished",
        "secret": "chosen-by-the-caller",
        "active": False,
    }


def test_a_site_keeps_its_owner_and_stays_unverified(world, clients):
    response = clients["alice"].post(
        "/api/v1/artist/sites",
        {"url_prefix": "https://alice.example/more/", **_forged(world)},
        format="json",
    )
    assert response.status_code == 201, response.content
    site = ArtistSite.objects.get(pk=response.json()["id"])
    assert site.artist == world.alice and not site.verified and site.verified_at is None
    assert site.pk != 424242 and site.created_at.year > 2001


def test_defaults_apply_to_the_caller_only_and_verify_nothing(world, clients):
    unverified(world.alice)
    response = clients["alice"].post(
        "/api/v1/artist/defaults",
        {"purpose": Purpose.DATA_MINING, "permission": Permission.ALLOWED, **_forged(world)},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert DefaultTerms.objects.filter(artist=world.alice, purpose=Purpose.DATA_MINING).exists()
    assert not DefaultTerms.objects.filter(artist=world.bob).exists()
    world.alice.refresh_from_db()
    assert not world.alice.verified and world.alice.verified_at is None
    assert world.alice.assurance == "self_asserted"


def test_terms_change_only_the_purpose_named(world, clients):
    before = set(Terms.objects.filter(work=world.bob_work).values_list("purpose", "permission"))
    forged = _forged(world) | {"terms": {"ai_training": "allowed", "data_mining": "allowed"}}
    response = clients["bob"].post(
        "/api/v1/artist/terms",
        {
            "work_ids": [world.bob_work.pk],
            "purpose": Purpose.AI_INFERENCE,
            "permission": Permission.ALLOWED,
            **forged,
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    after = set(Terms.objects.filter(work=world.bob_work).values_list("purpose", "permission"))
    assert after - before == {(Purpose.AI_INFERENCE, Permission.ALLOWED)}
    assert world.alice_work.terms.get(purpose=Purpose.AI_TRAINING).permission == "not_allowed"


def test_an_uploaded_work_belongs_to_the_uploader_with_consent_first(world, clients, run_uploads):
    forged = _forged(world)
    form = {key: str(value) for key, value in forged.items() if key != "terms"}
    form["terms"] = "allowed"
    upload = io.BytesIO(artwork_bytes(777))
    upload.name = "new.jpg"
    response = clients["bob"].post(
        "/api/v1/artist/works", {"images": [upload], **form}, format="multipart"
    )
    assert response.status_code == 202, response.content
    run_uploads()
    (accepted,) = response.json()
    result = clients["bob"].get(accepted["url"]).json()
    work = Work.objects.get(pk=result["work_id"])
    assert work.artist == world.bob and work.removed_at is None and work.created_at.year > 2001
    assert not Terms.objects.filter(work=work, permission="allowed").exists()


def test_a_screening_belongs_to_the_caller_and_starts_from_nothing(world, clients):
    forged = _forged(world) | {
        "counts": {"allowed": 5},
        "done_items": 5,
        "total_items": 0,
        "receipt": {"forged": True},
        "registry_sequence": 0,
        "accepting_chunks": True,
        "finished_at": LONG_AGO,
    }
    response = clients["acme"].post(
        "/api/v1/screenings",
        {"purpose": Purpose.AI_TRAINING, "items": [item("x-1", 1)], **forged},
        format="json",
    )
    assert response.status_code == 202, response.content
    screening = Screening.objects.get(pk=response.json()["id"])
    assert screening.organization == world.acme
    assert screening.status == ScreeningStatus.RUNNING and screening.receipt is None
    assert screening.total_items == 1 and screening.done_items == 0 and screening.counts == {}
    assert not screening.accepting_chunks and screening.finished_at is None
    assert screening.registry_sequence > 0


def test_a_chunk_lands_in_the_screening_of_the_url(world, clients):
    opened = clients["acme"].post(
        "/api/v1/screenings", {"purpose": Purpose.AI_TRAINING, "keep_open": True}, format="json"
    )
    url = opened.json()["links"]["chunks"]
    forged = _forged(world) | {"screening": str(world.globex_screening.pk)}
    body = {"number": 0, "items": [item("c-1", 2)], **forged}
    response = clients["acme"].post(url, body, format="json")
    assert response.status_code == 202, response.content
    assert Screening.objects.get(pk=opened.json()["id"]).total_items == 1
    assert Screening.objects.get(pk=world.globex_screening.pk).total_items == 1


@pytest.mark.parametrize(
    "forged_item",
    [
        {"decision": "allowed"},
        {"decision": "allowed", "passes": True, "reason": "forged"},
        {"matches": [{"work_id": 1, "distance": 0}], "credit": [{"artist": "x"}]},
    ],
)
def test_an_item_cannot_decide_itself(world, clients, forged_item, run_pending):
    """Fail closed: a decision sent with an item is ignored, whatever the item."""
    broken = item("broken", 1, phash="zz", **forged_item)  # every field, one malformed
    refused = item("refused", 2, **forged_item)  # bob's work: not allowed by anyone
    check = clients["acme"].post(
        "/api/v1/check",
        {"purpose": Purpose.AI_TRAINING, "items": [broken, refused]},
        format="json",
    )
    assert check.status_code == 200, check.content
    assert [row["decision"] for row in check.json()["items"]] == ["invalid", "denied"]
    assert not any(row["passes"] for row in check.json()["items"])
    started = clients["acme"].post(
        "/api/v1/screenings",
        {"purpose": Purpose.AI_TRAINING, "items": [broken, refused]},
        format="json",
    )
    run_pending()
    decided = ScreeningItem.objects.filter(screening_id=started.json()["id"]).order_by("position")
    assert [(row.position, row.decision) for row in decided] == [(1, "denied")]
    chunk = ScreeningChunk.objects.get(screening_id=started.json()["id"])
    assert (chunk.invalid_items, chunk.allowed_items) == (1, 0)


def test_the_check_decides_for_the_keys_organization_only(world, clients):
    """alice licensed data mining to acme alone: globex naming acme stays globex."""
    body = {"purpose": Purpose.DATA_MINING, "items": [item("licensed", 1)]}
    acme = clients["acme"].post("/api/v1/check", body, format="json").json()
    globex = (
        clients["globex"]
        .post(
            "/api/v1/check",
            {**body, "organization": world.acme.pk, "organization_id": world.acme.pk},
            format="json",
        )
        .json()
    )
    assert acme["items"][0]["decision"] == "allowed"
    assert globex["items"][0]["decision"] == "denied"


def test_a_webhook_belongs_to_the_caller_with_a_secret_of_ours(world, clients):
    response = clients["acme"].post(
        "/api/v1/webhooks", {"url": "http://127.0.0.1:9/new", **_forged(world)}, format="json"
    )
    assert response.status_code == 201, response.content
    endpoint = WebhookEndpoint.objects.get(pk=response.json()["id"])
    assert endpoint.organization == world.acme and endpoint.active
    assert endpoint.secret != "chosen-by-the-caller" and endpoint.created_at.year > 2001


# --- The admin: a browser's form submission with extra inputs added -------------------------


class _FormInputs(HTMLParser):
    """The values a browser would submit from the page's change form."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, list[str]] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: value or "" for key, value in attrs}
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button", "file"):
            checkable = a.get("type") in ("checkbox", "radio")
            if checkable and "checked" not in a:
                return
            self.data.setdefault(name, []).append(a.get("value", "on" if checkable else ""))
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in a:
            self.data.setdefault(self._select, []).append(a.get("value", ""))
        elif tag == "textarea" and name:
            self._textarea = name
            self.data.setdefault(name, []).append("")

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.data[self._textarea][-1] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def _submitted(client: Client, url: str, extra: dict[str, str]) -> int:
    page = client.get(url)
    assert page.status_code == 200, url
    inputs = _FormInputs()
    inputs.feed(page.content.decode())
    data = {**inputs.data, **{key: [value] for key, value in extra.items()}}
    response = client.post(url, data)
    if response.status_code == 200 and response.context:
        # The form came back: say why, or a forged field's rejection reads as a bare 200.
        errors = [*response.context["adminform"].form.errors.items()]
        for formset in response.context["inline_admin_formsets"]:
            errors += [formset.formset.non_form_errors(), *formset.formset.errors]
        raise AssertionError(f"the form was refused: {errors}")
    return response.status_code


ADMIN_FORGED = {
    "artist": "",
    "user": "",
    "verified": "on",
    "assurance": "operator_verified",
    "verified_at_0": "2001-01-01",
    "verified_at_1": "00:00:00",
    "verified_at": LONG_AGO,
    "sha256": "0" * 64,
    "created_at": LONG_AGO,
    "removed_at": LONG_AGO,
}


def test_an_artists_own_profile_form_sets_no_verified_flag_nor_owner(world):
    unverified(world.alice)
    client = Client()
    client.force_login(world.alice.user)
    url = reverse("admin:registry_artist_change", args=[world.alice.pk])
    forged = ADMIN_FORGED | {"user": str(world.bob.user.pk), "display_name": "Alice L."}
    assert _submitted(client, url, forged) == 302
    world.alice.refresh_from_db()
    assert world.alice.display_name == "Alice L."  # the form was accepted...
    assert not world.alice.verified and world.alice.verified_at is None  # ...not the rest
    assert world.alice.assurance == "self_asserted"
    assert world.alice.user.username == "alice"


def test_an_artists_own_work_form_keeps_its_owner_and_hash(world):
    client = Client()
    client.force_login(world.alice.user)
    work = world.alice_work
    url = reverse("admin:registry_work_change", args=[work.pk])
    forged = ADMIN_FORGED | {"artist": str(world.bob.pk), "title": "Spring, renamed"}
    assert _submitted(client, url, forged) == 302
    renamed = Work.objects.get(pk=work.pk)
    assert renamed.title == "Spring, renamed"
    assert renamed.artist == world.alice and renamed.sha256 == work.sha256
    assert renamed.removed_at is None and renamed.created_at == work.created_at


def test_unknown_ids_in_a_request_are_not_found_not_errors(world, clients):
    missing = uuid.uuid4()
    assert clients["acme"].get(f"/api/v1/screenings/{missing}").status_code == 404
    assert clients["acme"].post(f"/api/v1/screenings/{missing}/close").status_code == 404
