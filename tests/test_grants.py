"""Licensed works pass only for organizations holding a valid grant."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from registry.models import ConsentEvent, ConsentEventKind, Permission, Purpose
from registry.selectors.consent import permits_for
from registry.services.grants import grant_create, grant_revoke
from registry.services.terms import terms_set
from tests.factories import OrganizationFactory


@pytest.fixture
def licensed_work(alice, register_work):
    work = register_work(alice, seed=1)
    terms_set(
        artist=alice, works=[work], purpose=Purpose.AI_TRAINING, permission=Permission.LICENSED
    )
    return work


def _permit(work, organization, when=None):
    return permits_for(
        [work.pk], organization=organization, purpose=Purpose.AI_TRAINING, at=when or timezone.now()
    )[work.pk]


def test_a_licensed_work_is_denied_without_a_grant(licensed_work, acme):
    assert _permit(licensed_work, acme).reason == "licensed_without_grant"


def test_a_grant_licenses_the_work_to_that_organization_only(alice, licensed_work, acme):
    grant = grant_create(
        artist=alice, organization=acme, purposes=[Purpose.AI_TRAINING], works=[licensed_work]
    )
    other = OrganizationFactory.create()

    permit = _permit(licensed_work, acme)
    assert (permit.allowed, permit.license) == (True, grant.reference)
    assert not _permit(licensed_work, other).allowed


def test_a_grant_counts_only_for_its_purposes_and_window(alice, licensed_work, acme):
    now = timezone.now()
    grant_create(
        artist=alice,
        organization=acme,
        purposes=[Purpose.DATA_MINING],
        covers_all_works=True,
    )
    grant_create(
        artist=alice,
        organization=acme,
        purposes=[Purpose.AI_TRAINING],
        covers_all_works=True,
        valid_from=now + timedelta(days=1),
        valid_until=now + timedelta(days=2),
    )

    assert not _permit(licensed_work, acme, now).allowed
    assert _permit(licensed_work, acme, now + timedelta(days=1, hours=1)).allowed
    assert not _permit(licensed_work, acme, now + timedelta(days=3)).allowed


def test_revoking_a_grant_denies_again_and_is_recorded_once(alice, licensed_work, acme):
    grant = grant_create(
        artist=alice, organization=acme, purposes=[Purpose.AI_TRAINING], covers_all_works=True
    )

    assert grant_revoke(grant=grant) is True
    assert grant_revoke(grant=grant) is False

    assert not _permit(licensed_work, acme).allowed
    assert ConsentEvent.objects.filter(kind=ConsentEventKind.GRANT_REVOKED).count() == 1


def test_a_grant_cannot_cover_another_artists_work(alice, bob, acme, register_work):
    bobs_work = register_work(bob, seed=2)

    with pytest.raises(ValidationError, match="own works"):
        grant_create(artist=alice, organization=acme, purposes=["ai_training"], works=[bobs_work])


def test_an_empty_work_selection_never_means_all_works(alice, acme):
    with pytest.raises(ValidationError, match="either all works or the works chosen"):
        grant_create(artist=alice, organization=acme, purposes=["ai_training"])
