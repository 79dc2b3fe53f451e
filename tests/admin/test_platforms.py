"""Operators make an organization a platform, with its URL prefix and attestation key; a
wrong key or prefix is refused with a message, and artists cannot reach the page."""

from importlib import import_module

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.urls import reverse

from registry.models import ConsentEvent, ConsentEventKind, Organization, OrganizationKind
from registry.receipts import key_id, load_public_key, public_pem
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db

KEY = public_pem(Ed25519PrivateKey.generate().public_key())


def test_an_operator_makes_a_new_organization_a_platform(operator_client):
    response = operator_client.post(
        reverse("admin:registry_organization_add"),
        {
            "name": "Pinboard",
            "kind": "platform",
            "url_prefix": "HTTPS://WWW.Pinboard.example",
            "attestation_key": KEY,
        },
    )

    assert response.status_code == 302, response.content
    pinboard = Organization.objects.get(name="Pinboard")
    assert pinboard.kind == OrganizationKind.PLATFORM
    assert pinboard.url_prefix == "https://www.pinboard.example/"
    assert pinboard.attestation_key == KEY.strip()


def test_an_operator_turns_an_ai_team_into_a_platform_and_back(operator_client):
    globex = OrganizationFactory.create(name="Globex")
    change = reverse("admin:registry_organization_change", args=[globex.pk])
    # The page's API keys are listed read-only: their formset sends only its counts.
    keys = {"api_keys-TOTAL_FORMS": 0, "api_keys-INITIAL_FORMS": 0}
    platform = {
        **keys,
        "kind": "platform",
        "url_prefix": "https://globex.example/",
        "attestation_key": KEY,
    }

    assert operator_client.post(change, platform).status_code == 302
    globex.refresh_from_db()
    assert globex.kind == OrganizationKind.PLATFORM and globex.name == "Globex"

    cleared = {**keys, "kind": "ai_team", "url_prefix": "", "attestation_key": ""}
    assert operator_client.post(change, cleared).status_code == 302
    globex.refresh_from_db()
    assert (globex.kind, globex.url_prefix, globex.attestation_key) == ("ai_team", "", "")

    # Each change is in the ledger, the key by its id, so no key is set without a trace.
    events = ConsentEvent.objects.filter(kind=ConsentEventKind.PLATFORM_SETTINGS_CHANGED)
    recorded = [
        (e.payload["organization_id"], e.payload["kind"], e.payload["key_id"])
        for e in events.order_by("sequence")
    ]
    assert recorded == [
        (globex.pk, "platform", key_id(load_public_key(KEY.encode()))),
        (globex.pk, "ai_team", ""),
    ]


def test_saving_a_platform_unchanged_records_nothing(operator_client):
    globex = OrganizationFactory.create(name="Globex")
    change = reverse("admin:registry_organization_change", args=[globex.pk])
    keys = {"api_keys-TOTAL_FORMS": 0, "api_keys-INITIAL_FORMS": 0}
    platform = {
        **keys,
        "kind": "platform",
        "url_prefix": "https://g.example/",
        "attestation_key": KEY,
    }

    for _ in range(2):
        assert operator_client.post(change, platform).status_code == 302

    events = ConsentEvent.objects.filter(kind=ConsentEventKind.PLATFORM_SETTINGS_CHANGED)
    assert events.count() == 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"kind": "platform", "url_prefix": "https://p.example/", "attestation_key": "junk"},
            "Ed25519",
        ),
        ({"kind": "platform", "url_prefix": "ftp://p.example/", "attestation_key": KEY}, "http(s)"),
        ({"kind": "platform", "url_prefix": "", "attestation_key": KEY}, "URL prefix"),
        (
            {"kind": "ai_team", "url_prefix": "https://p.example/", "attestation_key": ""},
            "Only a platform",
        ),
    ],
)
def test_a_wrong_key_or_prefix_is_refused_with_a_message(operator_client, fields, message):
    response = operator_client.post(
        reverse("admin:registry_organization_add"), {"name": "Pinboard", **fields}
    )

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Organization.objects.filter(name="Pinboard").exists()


def test_an_artist_cannot_make_an_organization_a_platform(alice_client):
    globex = OrganizationFactory.create(name="Globex")
    change = reverse("admin:registry_organization_change", args=[globex.pk])

    response = alice_client.post(
        change, {"kind": "platform", "url_prefix": "https://a.example/", "attestation_key": KEY}
    )

    assert response.status_code in {302, 403}
    globex.refresh_from_db()
    assert globex.kind == OrganizationKind.AI_TEAM
    assert not ConsentEvent.objects.filter(kind=ConsentEventKind.PLATFORM_SETTINGS_CHANGED).exists()


def test_the_upgrade_registers_platforms_set_up_before_their_settings_were_recorded():
    """A platform whose key predates the ledger event gets one at upgrade, so verify_ledger's
    comparison of the organizations table holds afterwards."""
    upgrade = import_module("registry.migrations.0014_rightsfix").register_existing_platforms
    OrganizationFactory.create(name="Acme")  # an AI team: nothing to record
    older = OrganizationFactory.create(
        name="Older",
        kind=OrganizationKind.PLATFORM,
        url_prefix="https://older.example/",
        attestation_key=KEY.strip(),
    )
    with pytest.raises(CommandError, match=f"organization {older.pk}"):
        call_command("verify_ledger")

    with connection.schema_editor() as editor:
        upgrade(apps, editor)

    (event,) = ConsentEvent.objects.filter(kind=ConsentEventKind.PLATFORM_SETTINGS_CHANGED)
    assert event.payload["organization_id"] == older.pk
    assert event.payload["key_id"] == key_id(load_public_key(KEY.encode()))
    call_command("verify_ledger")
