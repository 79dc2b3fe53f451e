"""A verified site proves control of that site, not of every picture its owner registers: any
new account can serve a token on a site of its own (a free subdomain will do), without staff.
alice publishes on her verified site; bob, on the other side, verifies a site of his own and
registers a picture published elsewhere."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from registry.models import Artist, ArtistSite, Assurance, Dispute, Permission, Purpose, Work
from registry.selectors.consent import claim_assurances
from registry.selectors.decisions import decide_items
from registry.services.artists import artist_assurance_set, artist_verify, work_assurance_set
from registry.services.sites import site_register, site_remove, site_verify
from registry.services.terms import terms_set
from registry.services.works import work_update
from tests.api.conftest import item
from tests.factories import ArtistFactory

ALICE_SITE = "https://alice.example/art/"
ALICE_URL = "https://alice.example/art/fox.png"
BOB_SITE = "https://bob-own.example/"
ELSEWHERE_URL = "https://elsewhere.example/fox.png"


@pytest.fixture
def alice(db: None) -> Artist:
    """A new account, as anybody's is (conftest's alice is verified by staff): only services
    change it, so every test here can run verify_ledger."""
    return ArtistFactory.create(user__username="alice", display_name="Alice Liu")


@pytest.fixture
def bob(db: None) -> Artist:
    return ArtistFactory.create(user__username="bob", display_name="Bob Chen")


def _site_verified(artist: Artist, prefix: str) -> ArtistSite:
    """What the site-token check does once the token is served (site_tokens.site_token_check)."""
    site = site_register(artist=artist, url_prefix=prefix)
    site_verify(site=site)
    artist_assurance_set(artist=artist, method="site", evidence=f"token served at {prefix}")
    return site


def _allow(artist: Artist, work: Work) -> None:
    terms_set(
        artist=artist,
        works=[work],
        purpose=Purpose.AI_TRAINING,
        permission=Permission.ALLOWED,
        license="CC-BY-4.0",
    )


def _decide(acme, seed: int, **options: str):
    (decision,) = decide_items(
        organization=acme, purpose=Purpose.AI_TRAINING, items=[item("x", seed)], **options
    )
    return decision


def _level(work: Work) -> str:
    """The claim's level, as the gatekeeper's selector and the model both say it."""
    work = Work.objects.select_related("artist").get(pk=work.pk)
    assert work.claim_assurance == claim_assurances([work.pk])[work.pk]
    return work.claim_assurance


def _ledger_is_clean() -> None:
    call_command("verify_ledger")


def test_a_self_verified_site_does_not_verify_a_picture_published_elsewhere(
    bob, register_work, acme
):
    _site_verified(bob, BOB_SITE)
    copy = register_work(bob, seed=7, title="Not mine", source_urls=[ELSEWHERE_URL])
    _allow(bob, copy)

    decision = _decide(acme, 7)

    assert decision.decision == "denied", decision
    assert f"work {copy.pk}: consent_unverified" in decision.reason
    assert decision.credit == []
    assert _level(copy) == Assurance.SELF_ASSERTED
    _ledger_is_clean()


def test_a_work_published_on_the_artists_verified_site_is_allowed_at_site_verified(
    alice, register_work, acme
):
    _site_verified(alice, ALICE_SITE)
    fox = register_work(alice, seed=7, title="Fox", source_urls=[ALICE_URL])
    _allow(alice, fox)

    decision = _decide(acme, 7)

    assert decision.decision == "allowed", decision
    (credit,) = decision.credit
    assert credit["work_id"] == fox.pk and credit["assurance"] == Assurance.SITE_VERIFIED
    assert _decide(acme, 7, min_assurance="operator_verified").decision == "denied"
    _ledger_is_clean()


def test_removing_the_site_drops_the_claim_back(alice, register_work, acme):
    site = _site_verified(alice, ALICE_SITE)
    fox = register_work(alice, seed=7, title="Fox", source_urls=[ALICE_URL])
    _allow(alice, fox)

    site_remove(site=site)

    decision = _decide(acme, 7)
    assert decision.decision == "denied"
    assert f"work {fox.pk}: consent_unverified" in decision.reason
    assert _level(fox) == Assurance.SELF_ASSERTED
    _ledger_is_clean()


def test_the_claim_follows_the_sites_and_source_urls_of_now(alice, register_work):
    """Read when asked, never stored: a site verified after the work was registered raises
    it, a source URL moved off the site drops it."""
    fox = register_work(alice, seed=7, title="Fox", source_urls=[ALICE_URL])
    assert _level(fox) == Assurance.SELF_ASSERTED

    _site_verified(alice, ALICE_SITE)
    assert _level(fox) == Assurance.SITE_VERIFIED

    work_update(work=fox, title="Fox", credit_line="", source_urls=[ELSEWHERE_URL])
    assert _level(fox) == Assurance.SELF_ASSERTED

    work_update(work=fox, title="Fox", credit_line="", source_urls=[ELSEWHERE_URL, ALICE_URL])
    assert _level(fox) == Assurance.SITE_VERIFIED
    _ledger_is_clean()


def test_a_refusal_counts_at_any_level(bob, register_work, acme):
    _site_verified(bob, BOB_SITE)
    refused = register_work(bob, seed=7, title="Refused", source_urls=[ELSEWHERE_URL])
    terms_set(
        artist=bob, works=[refused], purpose=Purpose.AI_TRAINING, permission=Permission.NOT_ALLOWED
    )

    for minimum in ("verified", "operator_verified"):
        decision = _decide(acme, 7, min_assurance=minimum)
        assert decision.decision == "denied"
        assert f"work {refused.pk}: not_allowed" in decision.reason


def test_operator_verification_still_covers_every_work(bob, register_work, acme):
    _site_verified(bob, BOB_SITE)
    work = register_work(bob, seed=7, title="Checked", source_urls=[ELSEWHERE_URL])
    _allow(bob, work)

    artist_verify(artist=bob, evidence="saw his sketches")

    assert _level(work) == Assurance.OPERATOR_VERIFIED
    assert _decide(acme, 7, min_assurance="operator_verified").decision == "allowed"
    _ledger_is_clean()


def test_a_platforms_attestation_outlasts_the_site(alice, register_work):
    """A level from a site lasts only while the site does, so it does not make a platform's
    attestation of the work redundant."""
    site = _site_verified(alice, ALICE_SITE)
    fox = register_work(alice, seed=7, title="Fox", source_urls=[ALICE_URL])

    assert work_assurance_set(work=fox, method="platform", evidence="upload 8812 on Example")
    site_remove(site=site)

    assert _level(fox) == Assurance.PLATFORM_ATTESTED
    _ledger_is_clean()


def test_a_dispute_records_the_claims_at_the_same_levels(alice, bob, register_work):
    """bob's copy of alice's site-published picture is less sure than hers: it freezes
    nothing, and the dispute says so with the levels screenings use."""
    _site_verified(alice, ALICE_SITE)
    _site_verified(bob, BOB_SITE)
    fox = register_work(alice, seed=7, title="Fox", source_urls=[ALICE_URL])
    copy = register_work(bob, seed=7, title="Not mine", source_urls=[ELSEWHERE_URL])

    dispute = Dispute.objects.get(existing_work=fox, claimed_work=copy)

    assert dispute.existing_assurance == Assurance.SITE_VERIFIED
    assert dispute.claimed_assurance == Assurance.SELF_ASSERTED
    assert dispute.freezes is False
    _ledger_is_clean()


def test_verify_ledger_names_a_site_verified_behind_its_back(alice, register_work):
    register_work(alice, seed=7, title="Fox", source_urls=[ALICE_URL])
    site = site_register(artist=alice, url_prefix=ALICE_SITE)
    _ledger_is_clean()

    ArtistSite.objects.filter(pk=site.pk).update(verified=True)

    with pytest.raises(CommandError, match="verified sites"):
        call_command("verify_ledger")
