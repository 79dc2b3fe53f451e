"""Every admin page of an object, for every registered model: another artist gets the answer a
missing object gets, never the object; an artist never opens an operators' page.

`OWNED` and `OPERATORS_ONLY` must cover every model registered with the admin, so a new
ModelAdmin fails `test_every_registered_model_is_in_a_table` until it is tested here.
"""

from collections.abc import Callable
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.contrib import admin
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from registry.models import OrganizationAPIKey
from registry.services.organizations import api_key_create
from registry.services.tokens import artist_token_create
from tests.access.conftest import World

pytestmark = pytest.mark.django_db

MISSING_ID = 10**9

# model label -> (the owner's object in the world, the artist who must not see it)
OWNED: dict[str, tuple[Callable[[World], Any], str]] = {
    "registry.Artist": (lambda world: world.alice, "bob"),
    "registry.Work": (lambda world: world.alice_work, "bob"),
    "registry.Grant": (lambda world: world.grant, "bob"),
    "registry.ConsentEvent": (lambda world: world.alice_event, "bob"),
    "registry.WorkScreening": (lambda world: world.work_screening, "bob"),
    "registry.ArtistToken": (
        lambda world: artist_token_create(artist=world.alice, name="alice's tool")[0],
        "bob",
    ),
    # A dispute belongs to both artists in it: the outsider is carol.
    "registry.Dispute": (lambda world: world.dispute, "carol"),
}


def _api_key(world: World) -> OrganizationAPIKey:
    key, _secret = api_key_create(organization=world.acme)
    return key


OPERATORS_ONLY: dict[str, Callable[[World], Any]] = {
    "registry.Organization": lambda world: world.acme,
    "registry.OrganizationAPIKey": _api_key,
    "registry.Screening": lambda world: world.acme_screening,
    "registry.WithdrawalNotice": lambda world: world.notice,
    "registry.WebhookEndpoint": lambda world: world.acme_webhook,
    "registry.WebhookDelivery": lambda world: world.delivery,
    "auth.User": lambda world: world.alice.user,
    "auth.Group": lambda world: Group.objects.create(name="reviewers"),
    "axes.AccessAttempt": lambda world: AccessAttempt.objects.create(
        username="alice", ip_address="203.0.113.7", failures_since_start=3
    ),
}


def _object_urls(model: type, object_id: Any) -> list[str]:
    """Every named admin URL of the model that takes an object id."""
    model_admin = admin.site._registry[model]
    return [
        reverse(f"admin:{pattern.name}", args=[object_id])
        for pattern in model_admin.get_urls()
        if pattern.name and "object_id" in str(pattern.pattern)
    ]


def _client(world: World, username: str) -> Client:
    client = Client()
    client.force_login(getattr(world, username).user)
    return client


def _change_url(obj: Any) -> str:
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])


def _answer(response) -> tuple[int, str]:
    return response.status_code, response.get("Location", "")


def test_every_registered_model_is_in_a_table():
    registered = {model._meta.label for model in admin.site._registry}
    assert registered == set(OWNED) | set(OPERATORS_ONLY)


@pytest.mark.parametrize("label", sorted(OWNED))
def test_another_artists_object_pages_answer_as_if_it_did_not_exist(world, label):
    get_object, intruder = OWNED[label]
    obj = get_object(world)
    model = type(obj)
    owner_name = "alice"
    intruder_client = _client(world, intruder)
    owner_client = _client(world, owner_name)
    for url, missing_url in zip(
        _object_urls(model, obj.pk), _object_urls(model, MISSING_ID), strict=True
    ):
        response = intruder_client.get(url)
        missing = intruder_client.get(missing_url)
        assert response.status_code in (302, 403, 404), (url, response.status_code)
        # The same answer as for an id that does not exist: nothing tells the object is there.
        expected = _answer(missing)
        if expected[0] == 302:
            expected = (302, expected[1].replace(str(MISSING_ID), str(obj.pk)))
        assert _answer(response) == expected, url
        assert str(obj).encode() not in response.content, url
    # The owner opens the object's change page: the refusals above were about who asked.
    change = _change_url(obj)
    assert owner_client.get(change).status_code == 200, change


@pytest.mark.parametrize("label", sorted(OPERATORS_ONLY))
def test_an_artist_opens_no_operators_page(world, label):
    obj = OPERATORS_ONLY[label](world)
    model = type(obj)
    client = _client(world, "alice")
    app, name = model._meta.app_label, model._meta.model_name
    pages = [
        reverse(f"admin:{app}_{name}_changelist"),
        *_object_urls(model, obj.pk),
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code in (302, 403, 404), (url, response.status_code)
        if response.status_code == 302:
            assert "/login/" in response["Location"] or response["Location"].endswith("/admin/"), (
                url
            )


@pytest.mark.parametrize("label", sorted(OWNED))
def test_a_post_to_another_artists_object_changes_nothing(world, label):
    get_object, intruder = OWNED[label]
    obj = get_object(world)
    model = type(obj)
    before = model.objects.filter(pk=obj.pk).values().get()
    client = _client(world, intruder)
    response = client.post(
        _change_url(obj), {"title": "taken", "display_name": "taken", "credit_line": "taken"}
    )
    assert response.status_code in (302, 403, 404)
    assert model.objects.filter(pk=obj.pk).values().get() == before


@pytest.mark.parametrize("label", sorted(OWNED))
def test_another_artists_change_page_answers_404(world, label):
    get_object, intruder = OWNED[label]
    obj = get_object(world)
    assert _client(world, intruder).get(_change_url(obj)).status_code == 404
