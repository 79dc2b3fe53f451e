"""Artists' personal API tokens: stored only as a digest, with an expiry,
revocable by the artist and by operators; plain tokens made before become digests."""

import hashlib
import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from registry.models import ArtistToken
from registry.services.tokens import artist_token_create
from tests.admin.conftest import client_for
from tests.admin.conftest import operator as operator  # the fixture

pytestmark = pytest.mark.django_db

WORKS = "/api/v1/artist/works"
TOKENS = "/admin/registry/artisttoken/"


def _api(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    return client


def test_only_a_digest_of_the_token_is_stored(alice):
    token, secret = artist_token_create(artist=alice)
    row = ArtistToken.objects.filter(pk=token.pk).values().get()
    assert secret not in str(row.values())
    assert row["digest"] == hashlib.sha256(secret.encode()).hexdigest()
    assert _api(secret).get(WORKS).status_code == 200


def test_a_token_expires_after_the_configured_days(alice, settings):
    settings.CONSENTRY_ARTIST_TOKEN_DAYS = 30
    token, secret = artist_token_create(artist=alice)
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    ArtistToken.objects.filter(pk=token.pk).update(expires_at=timezone.now())
    response = _api(secret).get(WORKS)
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_a_wrong_or_revoked_token_is_refused(alice):
    token, secret = artist_token_create(artist=alice)
    assert _api(secret + "0").get(WORKS).status_code == 401
    client_for(alice.user).post(
        TOKENS, {"action": "revoke_tokens", "index": 0, "_selected_action": [token.pk]}
    )
    assert ArtistToken.objects.get(pk=token.pk).revoked_at is not None
    assert _api(secret).get(WORKS).status_code == 401


def test_bob_cannot_revoke_or_see_alices_token(alice, bob):
    token, secret = artist_token_create(artist=alice, name="alice's uploader")
    bob_client = client_for(bob.user)
    page = bob_client.get(TOKENS)
    assert b"alice&#x27;s uploader" not in page.content and b"alice's uploader" not in page.content
    bob_client.post(TOKENS, {"action": "revoke_tokens", "index": 0, "_selected_action": [token.pk]})
    assert ArtistToken.objects.get(pk=token.pk).revoked_at is None
    assert _api(secret).get(WORKS).status_code == 200


def test_an_operator_revokes_an_artists_token(alice, operator):
    token, secret = artist_token_create(artist=alice)
    client_for(operator).post(
        TOKENS, {"action": "revoke_tokens", "index": 0, "_selected_action": [token.pk]}
    )
    assert _api(secret).get(WORKS).status_code == 401


def test_an_artist_makes_a_token_in_the_admin_and_sees_it_once_with_its_expiry(alice, bob):
    client = client_for(alice.user)
    form = client.get(reverse("admin:registry_artisttoken_add"))
    assert b"90 days" in form.content
    response = client.post(reverse("admin:registry_artisttoken_add"), {"name": "CLI", "days": 7})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    token = ArtistToken.objects.get(name="CLI")
    assert token.artist == alice  # never another artist's, whatever the form said
    secret = response.context["secret"]
    assert secret.encode() in response.content
    assert f"{token.expires_at:%Y-%m-%d}".encode() in response.content
    assert _api(secret).get(WORKS).status_code == 200
    listing = client.get(TOKENS)
    assert secret.encode() not in listing.content and b"CLI" in listing.content


def test_the_command_issues_a_token_and_refuses_an_unknown_artist(alice, capsys):
    call_command("create_artist_token", "alice", "--days", "5")
    secret = capsys.readouterr().out.split("token ")[1].split()[0]
    assert _api(secret).get(WORKS).status_code == 200
    with pytest.raises(CommandError, match="No artist"):
        call_command("create_artist_token", "nobody")


def test_the_migration_turns_plain_tokens_into_digests(alice, bob):
    migration = importlib.import_module("registry.migrations.0007_token_digest")
    key = "a" * 40
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS authtoken_token (key varchar(40) PRIMARY KEY, "
            "created timestamp with time zone NOT NULL, user_id integer NOT NULL)"
        )
        cursor.execute("DELETE FROM authtoken_token")
        cursor.execute("INSERT INTO authtoken_token VALUES (%s, now(), %s)", [key, alice.user_id])

    class Editor:
        pass

    editor = Editor()
    editor.connection = connection  # type: ignore[attr-defined]
    migration.tokens_to_digests(apps, editor)

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM authtoken_token")
        assert cursor.fetchone() == (0,)
    token = ArtistToken.objects.get(artist=alice)
    assert token.digest == hashlib.sha256(key.encode()).hexdigest()
    assert token.expires_at > timezone.now()
    # The artist's client keeps working with the token it has.
    assert _api(key).get(WORKS).status_code == 200
