"""What uploads may cost (in Celery tasks): bytes and pixels per request, and per artist or
organization per hour, counted from the images' headers before anything is decoded."""

import io

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from registry.demo_art import artwork_bytes
from registry.models import Screening, Work
from tests.admin.conftest import client_for
from tests.api.conftest import api_client, artist_client

pytestmark = pytest.mark.django_db

WORKS = "/api/v1/artist/works"
ART_PIXELS = 640 * 480  # what artwork_bytes makes


@pytest.fixture(autouse=True)
def _fresh_budgets():
    cache.clear()
    yield
    cache.clear()


def _blank_png(side: int) -> bytes:
    """A few KB on the wire that declare side² pixels: what a decompression-cost attack sends."""
    buffer = io.BytesIO()
    Image.new("L", (side, side)).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def _art(name: str, seed: int) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, artwork_bytes(seed), "image/jpeg")


def test_too_many_pixels_in_one_request_answer_400_naming_the_limit(alice, settings):
    settings.CONSENTRY_UPLOAD_MAX_PIXELS = 10_000_000
    data = _blank_png(2000)  # 4 MP each, a few KB
    assert len(data) < 20_000
    files = [SimpleUploadedFile(f"blank{n}.png", data, "image/png") for n in range(3)]
    response = artist_client(alice).post(WORKS, {"images": files}, format="multipart")
    assert response.status_code == 400
    message = response.json()["images"][0]
    assert "CONSENTRY_UPLOAD_MAX_PIXELS" in message and "10,000,000" in message
    assert "12,000,000" in message
    assert not Work.objects.exists()


def test_too_many_bytes_in_one_request_answer_400_naming_the_limit(alice, settings):
    settings.CONSENTRY_UPLOAD_MAX_BYTES = 100_000
    files = [_art("one.jpg", 901), _art("two.jpg", 902)]
    response = artist_client(alice).post(WORKS, {"images": files}, format="multipart")
    assert response.status_code == 400
    assert "CONSENTRY_UPLOAD_MAX_BYTES" in response.json()["images"][0]
    assert not Work.objects.exists()


def test_an_artists_hourly_pixels_run_out_with_429_and_retry_after(
    alice, bob, settings, run_uploads
):
    settings.CONSENTRY_UPLOAD_PIXELS_PER_HOUR = 2 * ART_PIXELS
    alice_api = artist_client(alice)
    first = alice_api.post(WORKS, {"images": [_art("a.jpg", 911)]}, format="multipart")
    second = alice_api.post(WORKS, {"images": [_art("b.jpg", 912)]}, format="multipart")
    third = alice_api.post(WORKS, {"images": [_art("c.jpg", 913)]}, format="multipart")
    assert (first.status_code, second.status_code, third.status_code) == (202, 202, 429)
    assert "CONSENTRY_UPLOAD_PIXELS_PER_HOUR" in third.json()["detail"]
    assert 0 < int(third["Retry-After"]) <= 3600
    run_uploads()
    assert Work.objects.filter(artist=alice).count() == 2
    # The budget is alice's: bob's upload in the same hour is admitted.
    bob_upload = artist_client(bob).post(
        WORKS, {"images": [_art("d.jpg", 914)]}, format="multipart"
    )
    assert bob_upload.status_code == 202


def test_a_refused_request_does_not_spend_the_hours_budget(alice, settings):
    settings.CONSENTRY_UPLOAD_PIXELS_PER_HOUR = 2 * ART_PIXELS
    settings.CONSENTRY_UPLOAD_BYTES_PER_HOUR = 60_000  # under two images' bytes
    alice_api = artist_client(alice)
    assert (
        alice_api.post(WORKS, {"images": [_art("a.jpg", 921)]}, format="multipart").status_code
        == 202
    )
    refused = alice_api.post(WORKS, {"images": [_art("b.jpg", 922)]}, format="multipart")
    assert refused.status_code == 429
    assert "CONSENTRY_UPLOAD_BYTES_PER_HOUR" in refused.json()["detail"]
    settings.CONSENTRY_UPLOAD_BYTES_PER_HOUR = 10**9
    # The refused request's pixels were given back: one more image still fits.
    assert (
        alice_api.post(WORKS, {"images": [_art("c.jpg", 923)]}, format="multipart").status_code
        == 202
    )


def test_an_organizations_image_screening_is_bounded_too(acme, settings):
    settings.CONSENTRY_UPLOAD_MAX_PIXELS = 10_000_000
    data = _blank_png(2000)
    files = [SimpleUploadedFile(f"scraped{n}.png", data, "image/png") for n in range(3)]
    response = api_client(acme).post(
        "/api/v1/screenings", {"purpose": "ai_training", "images": files}, format="multipart"
    )
    assert response.status_code == 400
    assert "CONSENTRY_UPLOAD_MAX_PIXELS" in response.json()["images"][0]
    assert not Screening.objects.exists()


def test_the_admin_upload_refuses_a_costly_batch_with_the_limit_in_the_form(alice, settings):
    settings.CONSENTRY_UPLOAD_MAX_PIXELS = 10_000_000
    data = _blank_png(2000)
    files = [SimpleUploadedFile(f"blank{n}.png", data, "image/png") for n in range(3)]
    response = client_for(alice.user).post(reverse("admin:registry_work_upload"), {"images": files})
    assert response.status_code == 400
    (message,) = response.context["form"].errors["images"]
    assert "CONSENTRY_UPLOAD_MAX_PIXELS" in message
    assert message in response.content.decode().replace("&#x27;", "'")
    assert not Work.objects.exists()


def test_the_admin_upload_answers_429_when_the_hour_is_spent(alice, settings, run_uploads):
    settings.CONSENTRY_UPLOAD_PIXELS_PER_HOUR = ART_PIXELS
    client = client_for(alice.user)
    upload = reverse("admin:registry_work_upload")
    assert client.post(upload, {"images": [_art("a.jpg", 931)]}).status_code == 302
    refused = client.post(upload, {"images": [_art("b.jpg", 932)]})
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert "CONSENTRY_UPLOAD_PIXELS_PER_HOUR" in refused.context["form"].errors["images"][0]
    run_uploads()
    assert Work.objects.filter(artist=alice).count() == 1
