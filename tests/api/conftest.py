"""Fixtures for the API: organizations with keys, clients, and items made from artworks."""

import io
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image, ImageDraw
from rest_framework.test import APIClient

from registry.demo_art import artwork
from registry.fingerprints import fingerprint_image
from registry.models import Artist, Organization, ScreeningChunk
from registry.services.organizations import api_key_create
from registry.services.tokens import artist_token_create
from tests.conftest import _SEED_BASE
from tests.factories import OrganizationFactory


def image_bytes(seed: int, *, scale: float = 1.0, quality: int = 85) -> bytes:
    image = artwork(_SEED_BASE + seed)
    if scale != 1.0:
        image = image.resize((round(image.width * scale), round(image.height * scale)))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def item(item_id: str, seed: int, **extra: Any) -> dict[str, Any]:
    """A screening item for a re-encoded, smaller copy of artwork `seed`."""
    wire = fingerprint_image(image_bytes(seed, scale=0.7, quality=75)).to_wire()
    return {"id": item_id, **wire, **extra}


def screenshot_bytes(seed: int) -> bytes:
    """Artwork `seed` as a screenshot of a post shows it: inside a dark app frame whose
    uniform bars above, below and beside it carry the poster's name and the counts."""
    art = artwork(_SEED_BASE + seed)
    width, height = art.size
    top, bottom, side = round(0.3 * height), round(0.35 * height), round(0.08 * width)
    frame = Image.new("RGB", (width + 2 * side, height + top + bottom), (24, 24, 28))
    frame.paste(art, (side, top))
    draw = ImageDraw.Draw(frame)
    draw.text((side, 0.3 * top), "@someone reposted", fill=(230, 230, 230))
    draw.text((side, top + height + 0.3 * bottom), "12 likes  3 replies", fill=(200, 200, 200))
    buffer = io.BytesIO()
    frame.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def post_with_thumbnail_bytes(seed: int, thumbnail_seed: int, scale: float = 0.12) -> bytes:
    """A screenshot of a post showing artwork `seed`, and under it a "more from this account"
    thumbnail of artwork `thumbnail_seed`, `scale` times the work's size. At 0.12 it covers
    under 1% of the frame: too small to be a region of its own (fingerprints.regions.MIN_AREA),
    so only the post's picture is found; at 0.3, about 4%, it is searched too."""
    art, other = artwork(_SEED_BASE + seed), artwork(_SEED_BASE + thumbnail_seed)
    width, height = art.size
    side, top = round(0.08 * width), round(0.3 * height)
    thumbnail = other.resize((round(scale * width), round(scale * height)))
    frame = Image.new(
        "RGB",
        (width + 2 * side, top + height + thumbnail.height + round(0.3 * height)),
        (24, 24, 28),
    )
    frame.paste(art, (side, top))
    frame.paste(thumbnail, (side, top + height + round(0.1 * height)))
    ImageDraw.Draw(frame).text((side, 10), "@someone reposted", fill=(230, 230, 230))
    buffer = io.BytesIO()
    frame.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def screenshot_item(item_id: str, seed: int) -> dict[str, Any]:
    """A screening item for a screenshot of artwork `seed` (`screenshot_bytes`)."""
    return {"id": item_id, **fingerprint_image(screenshot_bytes(seed)).to_wire()}


def api_client(organization: Organization) -> APIClient:
    _, key = api_key_create(organization=organization)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def artist_client(artist: Artist) -> APIClient:
    """An API client authenticated with the artist's personal token."""
    client = APIClient()
    _token, secret = artist_token_create(artist=artist)
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    return client


@pytest.fixture
def alice_api(alice) -> APIClient:
    return artist_client(alice)


@pytest.fixture
def bob_api(bob) -> APIClient:
    return artist_client(bob)


@pytest.fixture
def acme_api(acme) -> APIClient:
    return api_client(acme)


@pytest.fixture
def globex(db) -> Organization:
    return OrganizationFactory.create(name="Globex")


@pytest.fixture
def globex_api(globex) -> APIClient:
    return api_client(globex)


@pytest.fixture
def run_pending() -> Callable[[], int]:
    """Decide every waiting chunk here, as the worker would (tests without a worker process)."""
    from registry.services.screenings import chunk_decide

    def run() -> int:
        pending = ScreeningChunk.objects.filter(decided_at__isnull=True).order_by("pk")
        return sum(chunk_decide(chunk_id=chunk.pk) for chunk in pending)

    return run


def all_decisions(
    client: APIClient, screening_id: str, chunks: list[list[str]]
) -> dict[str, dict[str, Any]]:
    """Every item's decision as the client rebuilds it: listed items from /items, the counted
    rest from /decisions by chunk and position (`chunks[n]`: the ids chunk n held, in order)."""
    listed = client.get(f"/api/v1/screenings/{screening_id}/items", {"page_size": 5000})
    assert listed.status_code == 200, listed.content
    found = {chunks[entry["chunk"]][entry["position"]]: entry for entry in listed.json()["results"]}
    pages = client.get(f"/api/v1/screenings/{screening_id}/decisions", {"page_size": 1000})
    assert pages.status_code == 200, pages.content
    for chunk in pages.json()["results"]:
        for start, count, decision, reason in chunk["unlisted"]:
            for position in range(start, start + count):
                item_id = chunks[chunk["number"]][position]
                assert item_id not in found, f"{item_id} is both listed and counted"
                found[item_id] = {
                    "id": item_id,
                    "decision": decision,
                    "reason": reason,
                    "matches": [],
                    "credit": [],
                }
    return found
