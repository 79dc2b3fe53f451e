"""Fixtures for the admin: logged-in clients for alice, bob and an operator, and screenings."""

import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from registry.demo_art import artwork
from registry.fingerprints import fingerprint_image
from registry.models import Artist, Organization, Purpose, Screening, Work
from registry.services.screenings import chunk_decide, screening_create
from tests.conftest import _SEED_BASE
from tests.factories import TEST_PASSWORD, UserFactory


@pytest.fixture
def operator(db):
    """olga runs the registry: the operator permission, but not a superuser."""
    user = UserFactory.create(username="olga")
    user.user_permissions.add(Permission.objects.get(codename="operate_registry"))
    return user


def client_for(user, **headers: Any) -> Client:
    client = Client(**headers)
    client.force_login(user)
    return client


@pytest.fixture
def alice_client(alice: Artist) -> Client:
    return client_for(alice.user)


@pytest.fixture
def bob_client(bob: Artist) -> Client:
    return client_for(bob.user)


@pytest.fixture
def operator_client(operator) -> Client:
    return client_for(operator)


def repost_bytes(seed: int) -> bytes:
    """Artwork `seed` as a scraper finds it: smaller and re-encoded."""
    image = artwork(_SEED_BASE + seed)
    image = image.resize((image.width * 7 // 10, image.height * 7 // 10))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=75)
    return buffer.getvalue()


@pytest.fixture
def screen() -> Callable[..., Screening]:
    """Screen reposts of the given artwork seeds for an organization, decided at once."""

    def run(organization: Organization, seeds: list[int], purpose: str = Purpose.AI_TRAINING):
        items = [
            {"id": f"scraped-{seed}.jpg", **fingerprint_image(repost_bytes(seed)).to_wire()}
            for seed in seeds
        ]
        screening = screening_create(organization=organization, purpose=purpose, items=items)
        for chunk in screening.chunks.all():
            chunk_decide(chunk_id=chunk.pk)
        screening.refresh_from_db()
        return screening

    return run


@pytest.fixture
def two_artists(alice, bob, register_work) -> dict[str, list[Work]]:
    """alice with two works, bob with one; titles say whose they are."""
    return {
        "alice": [
            register_work(alice, seed=1, title="Alice Spring"),
            register_work(alice, seed=2, title="Alice Summer"),
        ],
        "bob": [register_work(bob, seed=3, title="Bob Winter")],
    }


# The browser itself (Debian's chromium through Playwright) is tests/browser.py's `chromium`.


class AdminBrowser:
    """One person's browser on the live server: logs in through the admin's own login page."""

    def __init__(self, page: Any, base_url: str) -> None:
        self.page, self.base_url = page, base_url

    def go(self, path: str) -> Any:
        return self.page.goto(self.base_url + path)

    def log_in(self, username: str, password: str = TEST_PASSWORD) -> None:
        self.go("/admin/login/?next=/admin/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", password)
        self.page.click("input[type=submit]")
        self.page.wait_for_url(self.base_url + "/admin/")


@pytest.fixture
def open_browser(chromium, live_server) -> Iterator[Callable[..., AdminBrowser]]:
    """`open_browser(locale="zh-CN")`: a fresh browser context (cookies, language) per person."""
    contexts = []

    def open_one(locale: str = "en-US") -> AdminBrowser:
        context = chromium.new_context(
            locale=locale, viewport={"width": 1280, "height": 900}, device_scale_factor=1
        )
        context.set_default_timeout(20_000)
        contexts.append(context)
        return AdminBrowser(context.new_page(), live_server.url)

    yield open_one
    for context in contexts:
        context.close()
