"""Demo data for `make run`: two artists with a handful of works and a demo AI team."""

import io
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

from registry.demo_art import artwork, artwork_bytes
from registry.fingerprints import fingerprint_image
from registry.models import Artist, Organization, Permission, Purpose
from registry.services.artists import artist_create, artist_verify
from registry.services.organizations import api_key_create, organization_create
from registry.services.screenings import chunk_decide, screening_create
from registry.services.terms import default_terms_set
from registry.services.works import work_register

DEMO_PASSWORD = "consentry-demo"  # noqa: S105 - published demo login, created only by load_demo
DEMO_ORGANIZATION = "Demo AI Lab"


@dataclass(frozen=True)
class DemoArtist:
    username: str
    display_name: str
    credit_line: str
    seeds: range
    allow_training: bool


DEMO_ARTISTS = (
    DemoArtist("alice", "Alice Liu", "Alice Liu (@aliceliu on Xiaohongshu)", range(1, 7), True),
    DemoArtist("bob", "Bob Chen 陈博", "", range(7, 12), False),
)


@dataclass(frozen=True)
class DemoResult:
    created: bool
    api_key: str | None


def _load_artist(spec: DemoArtist) -> Artist:
    artist = artist_create(
        username=spec.username,
        password=DEMO_PASSWORD,
        display_name=spec.display_name,
        credit_line=spec.credit_line,
    )
    if spec.allow_training:
        # A permission counts only from a verified artist: the demo's staff checked hers.
        artist_verify(artist=artist, evidence="demo data: staff saw her Xiaohongshu profile")
        default_terms_set(
            artist=artist,
            purpose=Purpose.AI_TRAINING,
            permission=Permission.ALLOWED,
            license="CC-BY-4.0",
            # Shown as is to AI teams in either language, so it is written in both.
            attribution=(
                f"Artwork by {spec.display_name}, used with consent via Consentry. "
                f"作品：{spec.display_name}，经 Consentry 授权使用。"  # noqa: RUF001
            ),
        )
    for number, seed in enumerate(spec.seeds, start=1):
        work_register(
            artist=artist, data=artwork_bytes(seed), title=f"{spec.display_name} study {number}"
        )
    return artist


def demo_load() -> DemoResult:
    """Create the demo data once; later calls change nothing."""
    if Artist.objects.filter(user__username=DEMO_ARTISTS[0].username).exists():
        return DemoResult(created=False, api_key=None)
    with transaction.atomic():
        user_model = get_user_model()
        if not user_model.objects.filter(username="operator").exists():
            user_model.objects.create_superuser("operator", "", DEMO_PASSWORD)
        for spec in DEMO_ARTISTS:
            _load_artist(spec)
        organization = organization_create(name=DEMO_ORGANIZATION)
        _, secret = api_key_create(organization=organization, name="demo")
    _demo_screening(organization)
    return DemoResult(created=True, api_key=secret)


def _repost(seed: int) -> bytes:
    """A demo artwork the way a scraper finds it: smaller, re-encoded."""
    image = artwork(seed)
    image = image.resize((image.width * 3 // 5, image.height * 3 // 5))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=70)
    return buffer.getvalue()


def _demo_screening(organization: Organization) -> None:
    """The demo AI team screens re-posts of both artists' works and one stranger, so the
    artists see who screened their work. Decided here, so it needs no running worker."""
    seeds = {"alice-repost-1": 1, "alice-repost-2": 2, "bob-repost-1": 7, "unknown-1": 99}
    items = [
        {"id": item_id, **fingerprint_image(_repost(seed)).to_wire()}
        for item_id, seed in seeds.items()
    ]
    screening = screening_create(
        organization=organization, purpose=Purpose.AI_TRAINING, items=items
    )
    for chunk in screening.chunks.all():
        chunk_decide(chunk_id=chunk.pk)


def demo_organization() -> Organization | None:
    return Organization.objects.filter(name=DEMO_ORGANIZATION).first()
