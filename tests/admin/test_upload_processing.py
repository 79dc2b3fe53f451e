"""The upload page while the worker registers the files (a Celery task): each file shows
as processing, the page refreshes, then each file's result; a batch is its artist's only."""

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from registry.demo_art import artwork_bytes
from tests.admin.conftest import client_for
from tests.api.test_upload_tasks import forbid_decoding, plain_png

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_budgets():
    cache.clear()
    yield
    cache.clear()


def _art(name: str, seed: int) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, artwork_bytes(seed), "image/jpeg")


def test_the_admin_page_shows_each_file_processing_then_its_result(
    alice, alice_client, monkeypatch, run_uploads
):
    image = _art("tea.jpg", 512)
    forbid_decoding(monkeypatch)
    posted = alice_client.post(reverse("admin:registry_work_upload"), {"images": [image]})
    assert posted.status_code == 302
    page = alice_client.get(posted.url)
    html = page.content.decode()
    (result,) = page.context["results"]
    assert result.processing and not result.registered
    assert "Processing…" in html and 'http-equiv="refresh"' in html

    monkeypatch.undo()  # the worker decodes
    run_uploads()
    page = alice_client.get(posted.url)
    html = page.content.decode()
    (result,) = page.context["results"]
    assert result.registered and "Registered as “tea”" in html
    assert 'http-equiv="refresh"' not in html
    assert "1 of 1 file was registered as a work." in html


def test_the_admin_page_shows_processing_in_chinese(alice, alice_client):
    posted = alice_client.post(
        reverse("admin:registry_work_upload"), {"images": [_art("zh.jpg", 513)]}
    )
    page = client_for(alice.user, HTTP_ACCEPT_LANGUAGE="zh-CN").get(posted.url)
    assert "处理中" in page.content.decode()


def test_another_artists_batch_answers_404_and_an_operator_sees_it(
    alice, alice_client, bob_client, operator_client
):
    posted = alice_client.post(
        reverse("admin:registry_work_upload"), {"images": [_art("hers.jpg", 514)]}
    )
    assert bob_client.get(posted.url).status_code == 404
    assert operator_client.get(posted.url).status_code == 200
    upload = reverse("admin:registry_work_upload")
    assert alice_client.get(f"{upload}?batch=not-a-uuid").status_code == 404


def test_the_admin_page_tells_the_artist_a_plain_work_matches_exact_copies_only(
    alice, alice_client, run_uploads
):
    plain = SimpleUploadedFile("sky.png", plain_png(), "image/png")
    posted = alice_client.post(
        reverse("admin:registry_work_upload"), {"images": [plain, _art("tea.jpg", 515)]}
    )
    run_uploads()
    page = alice_client.get(posted.url)
    sky, tea = page.context["results"]
    assert sky.registered and "exact copies only" in sky.notice
    assert tea.registered and tea.notice == ""
    assert page.content.decode().count("consentry-exact-only") == 1
