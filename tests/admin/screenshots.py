"""Screenshots of the admin's main pages for docs/screenshots/ (referenced by docs/admin.md and
docs/compliance.md), taken on the data `make run` loads (`manage.py load_demo`).

Not part of the test suite (its name does not start with test_); run it on purpose:

    CONSENTRY_ENV=test DATABASE_URL=... .venv/bin/pytest tests/admin/screenshots.py

It drives the same browser as the browser tests and fails if a page does not render or, for the
pages a newcomer sees first, if a box runs past the viewport or its container.
"""

import io
import os
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import translation

from registry.demo_art import artwork, artwork_bytes
from registry.exports.kinds import prepare_export
from registry.fingerprints import fingerprint_image
from registry.models import Artist, Dispute, Purpose, Work
from registry.selectors.compliance import ExportScope
from registry.services.demo import DEMO_PASSWORD, demo_load, demo_organization
from registry.services.grants import grant_create
from registry.services.screenings import chunk_decide, screening_create
from registry.services.works import work_register
from tests.admin.test_layout import AUDIT
from tests.e2e.conftest import worker  # noqa: F401 - a real worker registers the uploads

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OUTPUT = Path(
    os.environ.get("CONSENTRY_SCREENSHOTS", Path(__file__).parents[2] / "docs/screenshots")
)
FIRST_VIEW = {"width": 1280, "height": 800}
A4_AT_96_DPI = {"width": 794, "height": 1123}


def _repost(seed: int, scale: float = 0.6) -> bytes:
    image = artwork(seed)
    image = image.resize((int(image.width * scale), int(image.height * scale)))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=70)
    return buffer.getvalue()


def _screen(purpose: str, seeds: dict[str, int]) -> None:
    items = [
        {"id": item, **fingerprint_image(_repost(seed)).to_wire()} for item, seed in seeds.items()
    ]
    organization = demo_organization()
    assert organization is not None
    screening = screening_create(organization=organization, purpose=purpose, items=items)
    for chunk in screening.chunks.all():
        chunk_decide(chunk_id=chunk.pk)


def _shot(browser, name: str, *, first_view: bool = False) -> None:
    page = browser.page
    if first_view:
        page.set_viewport_size(FIRST_VIEW)
    # Thumbnails load lazily; a screenshot must not catch them half-way.
    page.evaluate(
        "document.querySelectorAll('img[loading=lazy]').forEach(i => i.loading = 'eager')"
    )
    page.wait_for_load_state("networkidle")
    page.wait_for_function("[...document.images].every(image => image.complete)")
    if first_view:
        problems = page.evaluate(AUDIT)
        assert problems == [], "\n".join(problems)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=not first_view)


def test_screenshots(open_browser, tmp_path, worker):  # noqa: F811
    demo_load()
    alice = Artist.objects.get(user__username="alice")
    first = Work.objects.filter(artist=alice).order_by("pk")[0]

    # What `make run` shows, as it is.
    for locale, suffix in (("en-US", ""), ("zh-CN", "-zh")):
        guest = open_browser(locale=locale)
        guest.go("/admin/login/")
        _shot(guest, f"login{suffix}", first_view=True)
        artist = open_browser(locale=locale)
        artist.log_in("alice", DEMO_PASSWORD)
        artist.go(reverse("admin:registry_work_changelist"))
        _shot(artist, f"works-list{suffix}", first_view=True)
        artist.go(reverse("admin:registry_work_upload"))
        _shot(artist, f"upload-form{suffix}", first_view=True)

    artist_zh = open_browser(locale="zh-CN")
    artist_zh.log_in("alice", DEMO_PASSWORD)
    artist_zh.go(reverse("admin:registry_work_screenings", args=[first.pk]))
    _shot(artist_zh, "who-screened-zh")

    artist = open_browser()
    artist.log_in("alice", DEMO_PASSWORD)
    artist.go(reverse("admin:registry_work_change", args=[first.pk]))
    _shot(artist, "work-terms")
    artist.go(reverse("admin:registry_work_history", args=[first.pk]))
    _shot(artist, "work-history")
    artist.go(reverse("admin:registry_artist_change", args=[alice.pk]))
    _shot(artist, "artist-profile-defaults")
    artist.go(reverse("admin:registry_grant_add"))
    _shot(artist, "grant-add")

    # Then what a newcomer does next: an upload with bad files, a grant, a re-post by bob that
    # opens a dispute, and two more screenings by the demo AI team for the printable report.
    artist.go(reverse("admin:registry_work_upload"))
    artist.page.set_input_files(
        "#id_images",
        [
            {"name": "plum-blossom.jpg", "mimeType": "image/jpeg", "buffer": artwork_bytes(70)},
            {
                "name": "scan-cut-off.jpg",
                "mimeType": "image/jpeg",
                "buffer": artwork_bytes(71)[:2500],
            },
            {"name": "sketch.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.7\n"},
        ],
    )
    artist.page.click("#upload-submit")
    # The worker registers the files; the page refreshes until each has its result.
    artist.page.locator("#upload-results tbody tr").first.wait_for()
    artist.page.locator("#upload-results tr.consentry-processing").first.wait_for(
        state="detached", timeout=60_000
    )
    _shot(artist, "upload-results")

    organization = demo_organization()
    assert organization is not None
    grant_create(
        artist=alice,
        organization=organization,
        purposes=[Purpose.AI_GENERATIVE_TRAINING],
        works=list(Work.objects.filter(artist=alice).order_by("pk")[:2]),
    )
    bob = Artist.objects.get(user__username="bob")
    work_register(artist=bob, data=_repost(3, scale=0.9), title="Alice's study 3, re-posted")
    operator = open_browser()
    operator.log_in("operator", DEMO_PASSWORD)
    operator.go(reverse("admin:registry_dispute_change", args=[Dispute.objects.get().pk]))
    _shot(operator, "dispute-side-by-side")
    operator.go(reverse("admin:registry_organization_change", args=[organization.pk]))
    _shot(operator, "organization-keys")

    _screen(Purpose.AI_GENERATIVE_TRAINING, {"alice-repost-1": 1, "alice-repost-3": 3})
    _screen(Purpose.DATA_MINING, {"bob-repost-2": 8, "unknown-2": 98})
    for language, suffix in (("en", ""), ("zh-hans", "-zh")):
        with translation.override(language):
            prepared = prepare_export(
                "screening-report", "html", ExportScope(organization=organization)
            )
            report = tmp_path / f"report{suffix}.html"
            report.write_text("".join(prepared.chunks()), encoding="utf-8")
        page = operator.page
        page.set_viewport_size(A4_AT_96_DPI)
        page.emulate_media(media="print")
        page.goto(report.as_uri())
        page.screenshot(path=str(OUTPUT / f"screening-report{suffix}.png"))
