"""Screenshots of the admin's main pages for docs/screenshots/ (referenced by docs/admin.md).

Not part of the test suite (its name does not start with test_); run it on purpose:

    CONSENTRY_ENV=test DATABASE_URL=... .venv/bin/pytest tests/admin/screenshots.py

It drives the same browser as the browser tests and fails if a page does not render.
"""

import os
from pathlib import Path

import pytest
from django.urls import reverse

from registry.demo_art import artwork_bytes
from registry.models import Dispute, Permission, Purpose
from registry.services.grants import grant_create
from registry.services.organizations import api_key_create
from registry.services.terms import default_terms_set, terms_set
from tests.conftest import _SEED_BASE
from tests.factories import OrganizationFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OUTPUT = Path(
    os.environ.get("CONSENTRY_SCREENSHOTS", Path(__file__).parents[2] / "docs/screenshots")
)


@pytest.fixture
def gallery(alice, bob, operator, register_work, screen):
    """alice's works with mixed terms, a grant, a screening that matched, and a dispute."""
    lab = OrganizationFactory.create(name="Demo AI Lab")
    api_key_create(organization=lab, name="training cluster")
    titles = ["春日山水", "Night market", "Tea house", "Lotus pond", "Harbour at dusk"]
    works = [register_work(alice, seed=60 + n, title=title) for n, title in enumerate(titles)]
    default_terms_set(
        artist=alice,
        purpose=Purpose.AI_TRAINING,
        permission=Permission.ALLOWED,
        license="CC-BY-4.0",
        attribution="Artwork by Alice Liu, used with consent via Consentry.",
    )
    terms_set(
        artist=alice,
        works=works[:2],
        purpose=Purpose.AI_GENERATIVE_TRAINING,
        permission=Permission.LICENSED,
    )
    terms_set(
        artist=alice,
        works=works[3:],
        purpose=Purpose.AI_TRAINING,
        permission=Permission.NOT_ALLOWED,
    )
    grant_create(
        artist=alice,
        organization=lab,
        purposes=[Purpose.AI_GENERATIVE_TRAINING],
        works=works[:2],
    )
    screen(lab, [60, 61, 63])
    screen(lab, [60], purpose=Purpose.AI_GENERATIVE_TRAINING)
    register_work(bob, seed=62, title="Tea house (repost)")
    return {"works": works, "dispute": Dispute.objects.get()}


def _shot(browser, name: str) -> None:
    page = browser.page
    # Thumbnails load lazily; a full-page screenshot must not catch them half-way.
    page.evaluate(
        "document.querySelectorAll('img[loading=lazy]').forEach(i => i.loading = 'eager')"
    )
    page.wait_for_load_state("networkidle")
    page.wait_for_function("[...document.images].every(image => image.complete)")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=True)


def test_screenshots(gallery, open_browser):
    first = gallery["works"][0]
    artist_zh = open_browser(locale="zh-CN")
    artist_zh.log_in("alice")
    artist_zh.go(reverse("admin:registry_work_changelist"))
    _shot(artist_zh, "works-list-zh")
    artist_zh.go(reverse("admin:registry_work_screenings", args=[first.pk]))
    _shot(artist_zh, "who-screened-zh")

    artist = open_browser()
    artist.log_in("alice")
    artist.go(reverse("admin:registry_work_changelist"))
    _shot(artist, "works-list")
    artist.go(reverse("admin:registry_work_change", args=[first.pk]))
    _shot(artist, "work-terms")
    artist.go(reverse("admin:registry_work_history", args=[first.pk]))
    _shot(artist, "work-history")
    artist.go(reverse("admin:registry_artist_changelist"))
    _shot(artist, "artist-profile-defaults")
    artist.go(reverse("admin:registry_grant_add"))
    _shot(artist, "grant-add")
    artist.go(reverse("admin:registry_work_upload"))
    artist.page.set_input_files(
        "#id_images",
        [
            {
                "name": "plum-blossom.jpg",
                "mimeType": "image/jpeg",
                "buffer": artwork_bytes(_SEED_BASE + 70),
            },
            {
                "name": "scan-cut-off.jpg",
                "mimeType": "image/jpeg",
                "buffer": artwork_bytes(_SEED_BASE + 71)[:2500],
            },
            {"name": "sketch.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.7\n"},
        ],
    )
    artist.page.click("#upload-submit")
    _shot(artist, "upload-results")

    operator = open_browser()
    operator.log_in("olga")
    operator.go(reverse("admin:registry_dispute_change", args=[gallery["dispute"].pk]))
    _shot(operator, "dispute-side-by-side")
    operator.go(reverse("admin:registry_organization_changelist"))
    operator.page.click("text=Demo AI Lab")
    _shot(operator, "organization-keys")
