"""Consent first, terms per work and purpose, artist defaults, and the events they write."""

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from registry.models import ConsentEvent, ConsentEventKind, Permission, Purpose, Terms
from registry.selectors.consent import permits_for
from registry.selectors.terms import effective_terms
from registry.services.terms import default_terms_set, terms_permission_set, terms_set


def test_a_new_work_is_not_allowed_for_any_purpose(alice, acme, register_work):
    work = register_work(alice, seed=1)

    for purpose in Purpose.values:
        (permit,) = permits_for(
            [work.pk], organization=acme, purpose=purpose, at=timezone.now()
        ).values()
        assert (permit.allowed, permit.reason) == (False, "not_allowed")
        assert permit.terms.source == "consent_first"


def test_allowing_one_purpose_leaves_the_others_refused(alice, acme, register_work):
    work = register_work(alice, seed=1)

    terms_set(
        artist=alice,
        works=[work],
        purpose=Purpose.AI_TRAINING,
        permission=Permission.ALLOWED,
        license="CC-BY-4.0",
        attribution="By Alice",
    )

    now = timezone.now()
    training = permits_for([work.pk], organization=acme, purpose=Purpose.AI_TRAINING, at=now)
    mining = permits_for([work.pk], organization=acme, purpose=Purpose.DATA_MINING, at=now)
    assert training[work.pk].allowed and training[work.pk].license == "CC-BY-4.0"
    assert training[work.pk].terms.attribution == "By Alice"
    assert not mining[work.pk].allowed


def test_defaults_apply_only_where_a_work_has_no_terms_of_its_own(alice, register_work):
    plain, refused = register_work(alice, seed=1), register_work(alice, seed=2)
    terms_set(
        artist=alice,
        works=[refused],
        purpose=Purpose.AI_TRAINING,
        permission=Permission.NOT_ALLOWED,
    )

    default_terms_set(artist=alice, purpose=Purpose.AI_TRAINING, permission=Permission.ALLOWED)

    terms = effective_terms([plain.pk, refused.pk], Purpose.AI_TRAINING)
    assert (terms[plain.pk].permission, terms[plain.pk].source) == ("allowed", "default")
    assert (terms[refused.pk].permission, terms[refused.pk].source) == ("not_allowed", "work")


def test_a_terms_change_is_written_to_the_ledger_with_what_it_replaced(alice, register_work):
    work = register_work(alice, seed=1)
    terms_set(
        artist=alice, works=[work], purpose=Purpose.AI_TRAINING, permission=Permission.ALLOWED
    )

    terms_set(
        artist=alice, works=[work], purpose=Purpose.AI_TRAINING, permission=Permission.NOT_ALLOWED
    )

    changes = ConsentEvent.objects.filter(kind=ConsentEventKind.TERMS_CHANGED, work=work)
    assert [event.payload["permission"] for event in changes] == ["allowed", "not_allowed"]
    latest = changes.latest("sequence")
    assert latest.payload["previous"]["permission"] == "allowed"
    assert latest.artist_id == alice.pk


def test_setting_the_same_terms_again_writes_nothing(alice, register_work):
    work = register_work(alice, seed=1)
    terms_set(
        artist=alice, works=[work], purpose=Purpose.AI_TRAINING, permission=Permission.ALLOWED
    )
    count = ConsentEvent.objects.count()

    events = terms_set(
        artist=alice, works=[work], purpose=Purpose.AI_TRAINING, permission=Permission.ALLOWED
    )

    assert events == [] and ConsentEvent.objects.count() == count


def test_bulk_terms_change_writes_one_event_per_work(alice, register_work):
    works = [register_work(alice, seed=seed) for seed in (1, 2, 3)]

    events = terms_set(
        artist=alice, works=works, purpose=Purpose.DATA_MINING, permission=Permission.LICENSED
    )

    assert {event.work_id for event in events} == {work.pk for work in works}


def test_an_artist_cannot_set_terms_on_another_artists_work(alice, bob, register_work):
    bobs_work = register_work(bob, seed=1)

    with pytest.raises(ValidationError, match="own works"):
        terms_set(
            artist=alice,
            works=[bobs_work],
            purpose=Purpose.AI_TRAINING,
            permission=Permission.ALLOWED,
        )

    assert not Terms.objects.filter(work=bobs_work).exists()


@pytest.mark.parametrize(
    ("purpose", "permission", "license", "message"),
    [
        ("ai_everything", "allowed", "", "Unknown purpose"),
        ("ai_training", "maybe", "", "Unknown permission"),
        ("ai_training", "allowed", "not a licence!", "neither an SPDX licence id"),
    ],
)
def test_bad_terms_are_refused_with_a_clear_message_and_write_nothing(
    alice, register_work, purpose, permission, license, message
):
    work = register_work(alice, seed=1)
    count = ConsentEvent.objects.count()

    with pytest.raises(ValidationError, match=message):
        terms_set(
            artist=alice, works=[work], purpose=purpose, permission=permission, license=license
        )

    assert ConsentEvent.objects.count() == count


def test_changing_the_permission_keeps_each_works_licence_and_attribution(
    alice, bob, register_work
):
    mine, theirs = register_work(alice, seed=1), register_work(bob, seed=2)
    terms_set(
        artist=alice,
        works=[mine],
        purpose=Purpose.AI_TRAINING,
        permission=Permission.NOT_ALLOWED,
        license="CC-BY-4.0",
        attribution="By Alice",
    )

    events = terms_permission_set(
        works=[mine, theirs], purposes=[Purpose.AI_TRAINING], permission=Permission.ALLOWED
    )

    assert len(events) == 2
    current = effective_terms([mine.pk, theirs.pk], Purpose.AI_TRAINING)
    assert (current[mine.pk].permission, current[mine.pk].license) == ("allowed", "CC-BY-4.0")
    assert current[mine.pk].attribution == "By Alice"
    assert (current[theirs.pk].permission, current[theirs.pk].license) == ("allowed", "")


def test_a_typed_licence_replaces_every_works_licence(alice, register_work):
    work = register_work(alice, seed=1)

    terms_permission_set(
        works=[work],
        purposes=[Purpose.AI_TRAINING, Purpose.DATA_MINING],
        permission=Permission.LICENSED,
        license="LicenseRef-acme",
    )

    for purpose in (Purpose.AI_TRAINING, Purpose.DATA_MINING):
        terms = effective_terms([work.pk], purpose)[work.pk]
        assert (terms.permission, terms.license) == ("licensed", "LicenseRef-acme")


def test_a_permission_change_that_fails_part_way_changes_nothing(alice, register_work):
    work = register_work(alice, seed=1)
    before = ConsentEvent.objects.count()

    with pytest.raises(ValidationError):
        terms_permission_set(
            works=[work], purposes=[Purpose.AI_TRAINING, "faces"], permission=Permission.ALLOWED
        )

    assert effective_terms([work.pk], Purpose.AI_TRAINING)[work.pk].permission == "not_allowed"
    assert ConsentEvent.objects.count() == before
