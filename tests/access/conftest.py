"""Two of everything: alice and bob (artists), acme and globex (AI teams), each owning one of
each kind of object, so every endpoint can be asked for the other owner's object.

carol is a third artist, for the one object two artists share: the dispute between alice's
work and bob's near-copy of it.
"""

from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from registry.models import (
    Artist,
    ArtistSite,
    ConsentEvent,
    Dispute,
    Grant,
    Organization,
    Permission,
    Purpose,
    Screening,
    WebhookDelivery,
    WebhookEndpoint,
    WithdrawalNotice,
    Work,
    WorkScreening,
)
from registry.services.compliance import webhook_endpoint_register
from registry.services.grants import grant_create
from registry.services.screenings import chunk_decide, screening_create
from registry.services.sites import site_register
from registry.services.terms import terms_set
from registry.services.tokens import artist_token_create
from registry.services.withdrawals import withdrawal_fan_out
from tests.api.conftest import api_client, item
from tests.api.conftest import run_pending as run_pending
from tests.factories import ArtistFactory, OrganizationFactory


@dataclass
class World:
    alice: Artist
    bob: Artist
    carol: Artist
    acme: Organization
    globex: Organization
    alice_work: Work
    bob_work: Work
    alice_site: ArtistSite
    bob_site: ArtistSite
    grant: Grant
    dispute: Dispute
    alice_event: ConsentEvent
    work_screening: WorkScreening
    acme_screening: Screening
    globex_screening: Screening
    acme_webhook: WebhookEndpoint
    globex_webhook: WebhookEndpoint
    notice: WithdrawalNotice
    delivery: WebhookDelivery


@pytest.fixture(autouse=True)
def _fast_passwords(settings) -> None:
    # Each world makes five users; PBKDF2 would spend most of a test hashing their passwords.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def artist_client(artist: Artist) -> APIClient:
    _token, secret = artist_token_create(artist=artist)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    return client


def _screen(organization: Organization, items: list[dict]) -> Screening:
    screening = screening_create(
        organization=organization, purpose=Purpose.AI_TRAINING, items=items
    )
    for chunk in screening.chunks.all():
        chunk_decide(chunk_id=chunk.pk)
    screening.refresh_from_db()
    return screening


@pytest.fixture
def world(alice, bob, register_work) -> World:
    carol = ArtistFactory.create(user__username="carol", display_name="Carol Wu")
    acme = OrganizationFactory.create(name="Acme AI")
    globex = OrganizationFactory.create(name="Globex")
    alice_work = register_work(alice, seed=1, title="Alice Spring")
    bob_work = register_work(bob, seed=2, title="Bob Winter")
    # bob registers a near-copy of another of alice's works: a dispute between the two.
    disputed = register_work(alice, seed=3, title="Alice Autumn")
    register_work(bob, seed=3, title="Bob copy of Autumn")
    terms_set(
        artist=alice,
        works=[alice_work],
        purpose=Purpose.AI_TRAINING,
        permission=Permission.ALLOWED,
        license="CC-BY-4.0",
    )
    terms_set(artist=alice, works=[alice_work], purpose=Purpose.DATA_MINING, permission="licensed")
    grant = grant_create(
        artist=alice, organization=acme, purposes=[Purpose.DATA_MINING], works=[alice_work]
    )
    acme_webhook = webhook_endpoint_register(organization=acme, url="http://127.0.0.1:9/acme")
    globex_webhook = webhook_endpoint_register(organization=globex, url="http://127.0.0.1:9/gx")
    acme_screening = _screen(acme, [item("acme-1", 1), item("acme-2", 2)])
    globex_screening = _screen(globex, [item("globex-1", 2)])
    # alice withdraws what acme was told was allowed: acme gets a notice and a delivery.
    (withdrawal,) = terms_set(
        artist=alice,
        works=[alice_work],
        purpose=Purpose.AI_TRAINING,
        permission=Permission.NOT_ALLOWED,
    )
    withdrawal_fan_out(event_id=withdrawal.pk)
    notice = WithdrawalNotice.objects.get(organization=acme)
    return World(
        alice=alice,
        bob=bob,
        carol=carol,
        acme=acme,
        globex=globex,
        alice_work=alice_work,
        bob_work=bob_work,
        alice_site=site_register(artist=alice, url_prefix="https://alice.example/art/"),
        bob_site=site_register(artist=bob, url_prefix="https://bob.example/art/"),
        grant=grant,
        dispute=Dispute.objects.get(existing_work=disputed),
        alice_event=withdrawal,
        work_screening=WorkScreening.objects.get(work=alice_work, screening=acme_screening),
        acme_screening=acme_screening,
        globex_screening=globex_screening,
        acme_webhook=acme_webhook,
        globex_webhook=globex_webhook,
        notice=notice,
        delivery=WebhookDelivery.objects.get(notice=notice),
    )


@pytest.fixture
def clients(world: World) -> dict[str, APIClient]:
    return {
        "alice": artist_client(world.alice),
        "bob": artist_client(world.bob),
        "acme": api_client(world.acme),
        "globex": api_client(world.globex),
    }
