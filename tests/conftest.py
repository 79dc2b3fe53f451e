"""Shared fixtures: named users for access control (alice, bob) and an AI team."""

from collections.abc import Callable
from typing import Any

import pytest

from registry.demo_art import artwork_bytes
from registry.models import Artist, Organization, Permission, Purpose, Work
from registry.services.terms import terms_set
from registry.services.works import work_register
from tests.factories import ArtistFactory, OrganizationFactory

# Shared by every folder: one chromium for the whole run (tests/browser.py).
pytest_plugins = ["tests.browser"]

# Seeds far from the demo's, so tests never collide with demo works by accident.
_SEED_BASE = 10_000


@pytest.fixture(autouse=True)
def _media_in_a_temporary_folder(settings: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Works' images go to a folder of the test run's, not to the developer's var/media."""
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")


# alice and bob are verified by staff: most tests are about something else than assurance, and
# an unverified artist's permission counts for nothing (docs/gatekeeper.md). Assurance tests make
# unverified artists with `ArtistFactory` or the `mallory` fixture.
@pytest.fixture
def alice(db: None) -> Artist:
    return ArtistFactory.create(
        user__username="alice", display_name="Alice Liu", verified_with="test: alice's ID seen"
    )


@pytest.fixture
def bob(db: None) -> Artist:
    return ArtistFactory.create(
        user__username="bob", display_name="Bob Chen", verified_with="test: bob's ID seen"
    )


@pytest.fixture
def mallory(db: None) -> Artist:
    """A new, unverified account: what anybody can create."""
    return ArtistFactory.create(user__username="mallory", display_name="Mallory")


@pytest.fixture
def acme(db: None) -> Organization:
    return OrganizationFactory.create(name="Acme AI")


@pytest.fixture
def register_work() -> Callable[..., Work]:
    """Register a generated artwork: `register_work(alice, seed=3, title="...")`."""

    def register(artist: Artist, seed: int, **options: object) -> Work:
        data = artwork_bytes(_SEED_BASE + seed)
        options.setdefault("title", f"Work {seed}")
        return work_register(artist=artist, data=data, **options).work  # type: ignore[arg-type]

    return register


@pytest.fixture
def works(alice, bob, register_work):
    """alice's work 1 allowed for AI training (CC-BY-4.0), bob's work 2 refused, and
    alice's work 3 licensed only."""
    allowed = register_work(alice, seed=1, title="Allowed")
    refused = register_work(bob, seed=2, title="Refused")
    licensed = register_work(alice, seed=3, title="Licensed")
    terms_set(
        artist=alice,
        works=[allowed],
        purpose=Purpose.AI_TRAINING,
        permission=Permission.ALLOWED,
        license="CC-BY-4.0",
        attribution="By Alice",
    )
    terms_set(
        artist=alice, works=[licensed], purpose=Purpose.AI_TRAINING, permission=Permission.LICENSED
    )
    return {"allowed": allowed, "refused": refused, "licensed": licensed}


@pytest.fixture
def run_uploads() -> Callable[[], int]:
    """Run the registering task of every uploaded file still processing, here and eagerly, as
    the worker would (tests without a worker process: their commits never happen)."""
    from registry.models import PendingUpload, PendingUploadStatus
    from registry.tasks import register_pending_upload

    def run() -> int:
        waiting = PendingUpload.objects.filter(status=PendingUploadStatus.PROCESSING)
        ids = list(waiting.order_by("pk").values_list("pk", flat=True))
        return sum(bool(register_pending_upload.apply(args=[pk]).get()) for pk in ids)

    return run
