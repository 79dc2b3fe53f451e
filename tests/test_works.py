"""Registering works: fingerprints, thumbnails, the ledger, and disputes between artists."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.utils import timezone, translation
from PIL import Image

from registry.admin.history import event_summary
from registry.demo_art import artwork, artwork_bytes
from registry.fingerprints import (
    VARIANTS,
    ImageDecodeError,
    fingerprint_image,
    fingerprint_work,
    to_signed64,
    to_unsigned64,
)
from registry.matching.rules import DEFAULT_MATCHING, MatchingConfig
from registry.models import (
    ConsentEvent,
    ConsentEventKind,
    Dispute,
    DisputeResolution,
    Purpose,
    Work,
    WorkHold,
)
from registry.selectors import matching
from registry.selectors.consent import permits_for
from registry.selectors.decisions import decide_items
from registry.selectors.matching import ItemMatches, RegistryIndex, WorkMatch, match_items
from registry.services.disputes import dispute_resolve
from registry.services.terms import terms_set
from registry.services.works import work_register, work_remove
from tests.conftest import _SEED_BASE
from tests.factories import ArtistFactory


def _repost(seed: int) -> bytes:
    """The artwork as a re-poster shares it: smaller and re-encoded."""
    image = artwork(_SEED_BASE + seed)
    image = image.resize((image.width * 3 // 5, image.height * 3 // 5))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=70)
    return buffer.getvalue()


def test_registering_stores_every_variant_a_thumbnail_and_a_ledger_event(alice, register_work):
    work = register_work(alice, seed=1, title="Spring")

    expected = fingerprint_work(artwork_bytes(_SEED_BASE + 1)).variants
    stored = {row.variant: row for row in work.fingerprints.all()}
    assert set(stored) == set(expected) and set(stored) <= set(VARIANTS) and "original" in stored
    assert to_unsigned64(stored["mirror"].phash) == expected["mirror"].phash
    assert Image.open(io.BytesIO(bytes(work.thumbnail))).size[0] <= 320
    assert work.image.read()[:2] == b"\xff\xd8"
    event = ConsentEvent.objects.get(kind=ConsentEventKind.WORK_REGISTERED)
    assert (event.work_id, event.payload["title"]) == (work.pk, "Spring")


def test_a_registered_work_is_found_from_a_repost(alice, register_work):
    work = register_work(alice, seed=1)
    register_work(alice, seed=2)

    (item,) = match_items([fingerprint_image(_repost(1))])
    matches = item.matches

    assert [match.work_id for match in matches] == [work.pk]


def test_a_removed_work_is_no_longer_matched(alice, register_work):
    work = register_work(alice, seed=1)
    match_items([fingerprint_image(_repost(1))])  # the index has seen the work

    assert work_remove(work=work, reason="artist asked") is True

    assert match_items([fingerprint_image(_repost(1))])[0].matches == []
    assert ConsentEvent.objects.filter(kind=ConsentEventKind.WORK_REMOVED, work=work).exists()


def test_an_artist_cannot_register_the_same_image_twice(alice, register_work):
    work = register_work(alice, seed=1)

    with pytest.raises(ValidationError, match=f"registered already as work {work.pk}"):
        register_work(alice, seed=1)


def test_an_undecodable_upload_writes_nothing(mallory):
    with pytest.raises(ImageDecodeError):
        work_register(artist=mallory, data=b"GIF89a broken", title="Broken")

    assert not Work.objects.exists() and not ConsentEvent.objects.exists()


def test_a_near_identical_work_of_another_artist_opens_a_dispute(alice, bob, acme, register_work):
    original = register_work(alice, seed=1)
    terms_set(artist=alice, works=[original], purpose=Purpose.AI_TRAINING, permission="allowed")

    claim = work_register(artist=bob, data=_repost(1), title="Mine", allow=[Purpose.AI_TRAINING])

    (dispute,) = claim.disputes
    assert (dispute.existing_work_id, dispute.claimed_work_id) == (original.pk, claim.work.pk)
    permits = permits_for(
        [original.pk, claim.work.pk],
        organization=acme,
        purpose=Purpose.AI_TRAINING,
        at=timezone.now(),
    )
    assert {permit.reason for permit in permits.values()} == {"under_dispute"}


def test_a_different_work_of_another_artist_opens_no_dispute(alice, bob, register_work):
    register_work(alice, seed=1)

    register_work(bob, seed=2)

    assert not Dispute.objects.exists()


def _dispute(existing: Work, claimed: Work) -> Dispute:
    return Dispute.objects.get(existing_work=existing, claimed_work=claimed, status="open")


def test_two_unverified_copies_frozen_by_each_other_do_not_deny_the_verified_original(
    alice, mallory, acme, register_work
):
    """mallory registers a copy of alice's verified work, and a second throwaway account
    another: each claim is the later, less sure one on alice's work, and the second copy's
    dispute with the first freezes both copies. A screening of alice's picture is allowed on
    her terms, credited to her alone (the copies are listed, left out); where her terms
    refuse, it is denied by her work, not by the copies' freeze."""
    original = register_work(alice, seed=1)
    terms_set(artist=alice, works=[original], purpose=Purpose.AI_TRAINING, permission="allowed")
    first = work_register(artist=mallory, data=_repost(1), title="Mine").work
    second = register_work(ArtistFactory.create(), seed=1, title="Mine too")
    assert not _dispute(original, first).freezes and not _dispute(original, second).freezes
    assert _dispute(first, second).freezes

    screened = _screen(acme, _repost(1))
    assert screened.decision == "allowed", screened.reason
    assert [credit["work_id"] for credit in screened.credit] == [original.pk]
    assert {first.pk, second.pk} <= set(screened.work_ids)
    refused = _screen(acme, _repost(1), Purpose.DATA_MINING)
    assert (refused.decision, refused.reason) == ("denied", f"work {original.pk}: not_allowed")
    # The copies themselves stay frozen: alone they deny.
    permits = permits_for(
        [first.pk, second.pk], organization=acme, purpose=Purpose.AI_TRAINING, at=timezone.now()
    )
    assert {permit.reason for permit in permits.values()} == {"under_dispute"}


def test_a_copy_registered_before_the_verified_work_keeps_it_frozen(
    alice, mallory, acme, register_work
):
    """Turned around: mallory's copy comes first, alice registers hers later (her surer
    claim freezes both), and a second throwaway account adds a copy (the later, less sure
    claim on alice's work, frozen with mallory's). alice's own work is frozen by an earlier
    claim: her picture stays denied, under dispute, until staff decide; nothing of
    mallory's is allowed through it."""
    first = work_register(
        artist=mallory, data=_repost(1), title="Mine", allow=[Purpose.AI_TRAINING]
    ).work
    original = register_work(alice, seed=1)
    terms_set(artist=alice, works=[original], purpose=Purpose.AI_TRAINING, permission="allowed")
    second = register_work(ArtistFactory.create(), seed=1, title="Mine too")
    assert _dispute(first, original).freezes and _dispute(first, second).freezes
    assert not _dispute(original, second).freezes

    screened = _screen(acme, _repost(1))

    assert screened.decision == "denied"
    assert f"work {original.pk}: under_dispute" in screened.reason
    assert screened.credit == []


def test_resolving_a_dispute_removes_the_losing_registration(alice, bob, acme, register_work):
    original = register_work(alice, seed=1)
    terms_set(artist=alice, works=[original], purpose=Purpose.AI_TRAINING, permission="allowed")
    (dispute,) = work_register(artist=bob, data=_repost(1), title="Mine").disputes
    operator = alice.user  # any user: the admin decides who may resolve

    dispute_resolve(
        dispute=dispute, resolution=DisputeResolution.KEEP_EXISTING, resolved_by=operator
    )

    dispute.refresh_from_db()
    assert dispute.status == "resolved" and dispute.claimed_work.removed_at is not None
    (item,) = match_items([fingerprint_image(_repost(1))])
    matches = item.matches
    assert [match.work_id for match in matches] == [original.pk]
    permit = permits_for(
        [original.pk], organization=acme, purpose=Purpose.AI_TRAINING, at=timezone.now()
    )[original.pk]
    assert permit.allowed
    with pytest.raises(ValidationError, match="resolved already"):
        dispute_resolve(
            dispute=dispute, resolution=DisputeResolution.DISTINCT, resolved_by=operator
        )


def test_a_plain_work_is_matched_by_its_exact_copy_only(alice):
    from tests.api.test_upload_tasks import plain_png

    data = plain_png()
    registration = work_register(artist=alice, data=data, title="Sky")

    assert "exact copies only" in registration.notice
    assert not registration.work.fingerprints.exists()
    (item,) = match_items([fingerprint_image(data)])
    exact = item.matches
    assert [(match.work_id, match.exact) for match in exact] == [(registration.work.pk, True)]
    buffer = io.BytesIO()
    Image.open(io.BytesIO(data)).save(buffer, format="JPEG", quality=80)
    assert match_items([fingerprint_image(buffer.getvalue())])[0].matches == []


def test_works_of_an_earlier_fingerprint_version_are_fingerprinted_again(alice, capsys):
    from django.core.management import call_command

    from registry.fingerprints import FINGERPRINT_VERSION
    from registry.models import Fingerprint
    from registry.selectors.ledger import registry_version
    from tests.api.test_upload_tasks import plain_png

    art = work_register(artist=alice, data=artwork_bytes(_SEED_BASE + 1), title="Art").work
    plain = work_register(artist=alice, data=plain_png(), title="Sky").work
    removed = work_register(artist=alice, data=artwork_bytes(_SEED_BASE + 2), title="Gone").work
    work_remove(work=removed, reason="artist asked")
    # As earlier versions left them: no upside-down variants (version 3), no deep crops or
    # content box (version 4), and the plain work fingerprinted like any other.
    added = ["rotate180", "flip_vertical", *DEFAULT_MATCHING.weak_variants]
    art.fingerprints.filter(variant__in=added).delete()
    original = fingerprint_work(plain_png()).variants["original"]
    Fingerprint.objects.create(
        work=plain,
        variant="original",
        phash=to_signed64(original.phash),
        dhash=to_signed64(original.dhash),
        pdq=original.pdq,
        pdq_quality=original.pdq_quality,
        descriptor=original.descriptor,
    )
    Work.objects.filter(pk__in=[art.pk, plain.pk, removed.pk]).update(fingerprint_version=2)
    upside_down = Image.open(io.BytesIO(_repost(1))).transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    buffer = io.BytesIO()
    upside_down.save(buffer, format="JPEG", quality=85)
    # This process's index is built before the command runs, as a running worker's is.
    assert match_items([fingerprint_image(buffer.getvalue())])[0].matches == []
    before = registry_version().sequence

    call_command("refingerprint_works")

    assert "2 works fingerprinted at version" in capsys.readouterr().out
    # A new registry version: what was searched or decided at the old one is not reused.
    assert registry_version().sequence == before + 2
    expected = set(fingerprint_work(artwork_bytes(_SEED_BASE + 1)).variants)
    assert {row.variant for row in art.fingerprints.all()} == expected
    assert {"crop_centre_50_nw", "crop_centre_70_se"} <= expected
    assert not plain.fingerprints.exists()
    versions = dict(Work.objects.values_list("pk", "fingerprint_version"))
    assert versions == {art.pk: FINGERPRINT_VERSION, plain.pk: FINGERPRINT_VERSION, removed.pk: 2}
    (item,) = match_items([fingerprint_image(buffer.getvalue())])
    matches = item.matches  # no restart
    assert [match.work_id for match in matches] == [art.pk]
    call_command("refingerprint_works")
    assert "0 works fingerprinted" in capsys.readouterr().out


def test_refingerprinting_reports_works_it_cannot_read_and_goes_on_with_the_others(alice, capsys):
    from django.core.management import CommandError, call_command

    from registry.fingerprints import FINGERPRINT_VERSION
    from tests.api.test_upload_tasks import plain_png

    missing = work_register(artist=alice, data=artwork_bytes(_SEED_BASE + 1), title="A").work
    broken = work_register(artist=alice, data=artwork_bytes(_SEED_BASE + 2), title="B").work
    art = work_register(artist=alice, data=artwork_bytes(_SEED_BASE + 3), title="C").work
    plain = work_register(artist=alice, data=plain_png(), title="Sky").work
    broken.image.save("broken.png", ContentFile(b"not an image"), save=True)
    stale = [missing.pk, broken.pk, art.pk, plain.pk]
    Work.objects.filter(pk__in=stale).update(fingerprint_version=2)
    Work.objects.filter(pk=missing.pk).update(image="")

    with pytest.raises(CommandError, match="2 works could not be fingerprinted"):
        call_command("refingerprint_works")

    output = capsys.readouterr()
    assert f"work {missing.pk}:" in output.err and f"work {broken.pk}:" in output.err
    assert f"exact copies only: {plain.pk}" in output.out
    versions = dict(Work.objects.filter(pk__in=stale).values_list("pk", "fingerprint_version"))
    assert versions == {
        missing.pk: 2,
        broken.pk: 2,
        art.pk: FINGERPRINT_VERSION,
        plain.pk: FINGERPRINT_VERSION,
    }


# A budget that reaches every variant of every work in these tests, from the whole picture and
# from each of its query regions (everything is a candidate at pHash radius 64).
ROOMY = 1024


def _budget(monkeypatch, budget: int, registration: int | None = None) -> None:
    """Every registered variant a candidate for every image (pHash radius 64), and `budget`
    comparisons an image, at registration too unless `registration` says otherwise: two works
    of 15 variants that do not match exhaust 20."""
    config = MatchingConfig(
        phash_radius=64,
        dhash_radius=-1,
        max_verifications=budget,
        registration_max_verifications=registration or budget,
    )
    monkeypatch.setattr(matching, "_shared_index", RegistryIndex(config))


@pytest.fixture
def padded(alice, mallory, register_work):
    """Two works of mallory's registered before alice's: candidates compared before hers."""
    pads = [register_work(mallory, seed=seed) for seed in (20, 21)]
    original = register_work(alice, seed=1)
    terms_set(artist=alice, works=[original], purpose=Purpose.AI_TRAINING, permission="allowed")
    return original, pads


def _screen(acme, data: bytes, purpose: str = Purpose.AI_TRAINING):
    """The decision for an image as a screening makes it (consent_required, verified)."""
    (decision,) = decide_items(
        organization=acme, purpose=purpose, items=[fingerprint_image(data).to_wire()]
    )
    return decision


def _permits(acme, work, purposes=tuple(Purpose.values)):
    return {
        purpose: permits_for([work.pk], organization=acme, purpose=purpose, at=timezone.now())[
            work.pk
        ]
        for purpose in purposes
    }


def test_bobs_copy_behind_a_padded_registry_is_held_and_allows_nothing(
    bob, acme, padded, monkeypatch
):
    """The comparison with other artists' works runs out of budget before it reaches alice's
    work: bob's copy is registered held, not as his with no dispute. Its copies are found, and
    denied; bob's terms count for nothing; alice's work is not frozen by it."""
    original, _ = padded
    _budget(monkeypatch, 20)

    registration = work_register(
        artist=bob, data=_repost(1), title="Mine", allow=list(Purpose.values)
    )

    copy = registration.work
    assert registration.held and copy.hold == WorkHold.UNCHECKED and registration.disputes == []
    assert "could not be checked against all other artists' works" in registration.notice
    assert copy.fingerprints.exists()  # matched like any work: its copies are found
    permits = _permits(acme, copy)
    assert not any(permit.allowed for permit in permits.values())
    assert {permit.reason for permit in permits.values()} == {"held_for_review"}
    assert _permits(acme, original, [Purpose.AI_TRAINING])[Purpose.AI_TRAINING].allowed
    event = ConsentEvent.objects.get(kind=ConsentEventKind.WORK_REGISTERED, work=copy)
    assert event.payload["hold"] == "unchecked"

    _budget(monkeypatch, ROOMY)  # a screening's budget that reaches every work here
    # alice and bob are both verified: had the check finished, the claim would freeze both.
    screened = _screen(acme, _repost(1))
    assert screened.decision == "denied"
    assert f"work {copy.pk}: held_for_review" in screened.reason
    # A purpose only bob's terms allow: denied, never allowed through bob's work.
    only_bob = _screen(acme, _repost(1), Purpose.DATA_MINING)
    assert only_bob.decision == "denied" and f"work {copy.pk}: held_for_review" in only_bob.reason


def test_an_unverified_copy_held_does_not_deny_the_surer_originals_screenings(
    mallory, acme, alice, register_work, monkeypatch
):
    """mallory (unverified) pads the registry through a second account and registers her
    copy of alice's (verified) work: the copy is held. A screening of the copy is allowed on
    alice's terms, credited to alice alone: had the check finished, mallory's claim would
    have been the later, less sure one, which freezes nothing. mallory's terms never allow."""
    sock_puppet = ArtistFactory.create()
    for seed in (20, 21):
        register_work(sock_puppet, seed=seed)
    original = register_work(alice, seed=1)
    terms_set(artist=alice, works=[original], purpose=Purpose.AI_TRAINING, permission="allowed")
    _budget(monkeypatch, 20)
    copy = work_register(
        artist=mallory, data=_repost(1), title="Mine", allow=list(Purpose.values)
    ).work
    assert copy.hold == WorkHold.UNCHECKED

    _budget(monkeypatch, ROOMY)
    allowed = _screen(acme, _repost(1))
    assert allowed.decision == "allowed"
    assert [credit["work_id"] for credit in allowed.credit] == [original.pk]
    assert copy.pk in allowed.work_ids  # the copy was found, and left out
    # Where alice's terms refuse, nothing of mallory's lets the copy through.
    refused = _screen(acme, _repost(1), Purpose.DATA_MINING)
    assert refused.decision == "denied" and f"work {original.pk}: not_allowed" in refused.reason


def test_an_unverified_held_copy_at_refusing_terms_does_not_deny_the_originals_screenings(
    mallory, acme, alice, register_work, monkeypatch
):
    """As above, but mallory ticks no purpose: her copy's terms refuse (consent first), as an
    attacker's would. Had the check finished, her claim would have been the later, less sure
    one, left out whatever its terms: so the hold is not a lever to deny alice's screenings."""
    sock_puppet = ArtistFactory.create()
    for seed in (20, 21):
        register_work(sock_puppet, seed=seed)
    original = register_work(alice, seed=1)
    terms_set(artist=alice, works=[original], purpose=Purpose.AI_TRAINING, permission="allowed")
    _budget(monkeypatch, 20)
    copy = work_register(artist=mallory, data=_repost(1), title="Mine").work
    assert copy.hold == WorkHold.UNCHECKED
    assert _permits(acme, copy, [Purpose.AI_TRAINING])[Purpose.AI_TRAINING].reason == (
        "not_allowed"
    )

    _budget(monkeypatch, ROOMY)
    screened = _screen(acme, _repost(1))
    assert screened.decision == "allowed", screened.reason
    assert [credit["work_id"] for credit in screened.credit] == [original.pk]
    assert copy.pk in screened.work_ids


def test_the_operators_full_check_of_a_held_copy_opens_its_dispute(
    bob, acme, padded, monkeypatch, capsys
):
    original, _ = padded
    _budget(monkeypatch, 20)  # the review has no budget: this one does not stop it
    copy = work_register(artist=bob, data=_repost(1), title="Mine", allow=[Purpose.AI_TRAINING])

    call_command("review_held_works", "--by", "olga")

    copy.work.refresh_from_db()
    assert copy.work.hold == ""
    (dispute,) = Dispute.objects.filter(claimed_work=copy.work)
    assert dispute.existing_work_id == original.pk and dispute.freezes
    cleared = ConsentEvent.objects.get(kind=ConsentEventKind.WORK_HOLD_CLEARED)
    assert (cleared.work_id, cleared.payload) == (copy.work.pk, {"hold": "unchecked", "by": "olga"})
    opened = ConsentEvent.objects.get(kind=ConsentEventKind.DISPUTE_OPENED)
    assert opened.payload["dispute_id"] == dispute.pk and opened.sequence < cleared.sequence
    assert f"work {copy.work.pk}: released with disputes {dispute.pk} opened" in (
        capsys.readouterr().out
    )
    # As a registration whose check had finished: both frozen until staff decide.
    for work in (original, copy.work):
        (permit,) = _permits(acme, work, [Purpose.AI_TRAINING]).values()
        assert permit.reason == "under_dispute"
    call_command("verify_ledger")  # the tables still say what the ledger says
    with pytest.raises(CommandError, match="not held"):
        call_command("review_held_works", "--work", str(copy.work.pk))


def test_an_honest_held_work_is_released_by_the_check_and_then_allows_per_its_terms(
    bob, acme, padded, monkeypatch
):
    _budget(monkeypatch, 20)
    honest = work_register(
        artist=bob, data=artwork_bytes(_SEED_BASE + 2), title="Mine", allow=[Purpose.AI_TRAINING]
    ).work
    assert honest.hold == WorkHold.UNCHECKED
    assert not any(permit.allowed for permit in _permits(acme, honest).values())

    call_command("review_held_works", "--work", str(honest.pk))

    honest.refresh_from_db()
    assert honest.hold == "" and not Dispute.objects.exists()
    permits = _permits(acme, honest)
    assert permits[Purpose.AI_TRAINING].allowed
    assert permits[Purpose.DATA_MINING].reason == "not_allowed"  # consent first, as ever
    _budget(monkeypatch, ROOMY)
    assert _screen(acme, artwork_bytes(_SEED_BASE + 2)).decision == "allowed"
    call_command("verify_ledger")


def test_a_hold_cleared_behind_the_ledgers_back_is_caught(bob, padded, monkeypatch):
    _budget(monkeypatch, 20)
    held = work_register(artist=bob, data=_repost(1), title="Mine").work
    Work.objects.filter(pk=held.pk).update(hold="")

    with pytest.raises(CommandError, match=f"work {held.pk}: the table says hold=''"):
        call_command("verify_ledger")


def test_a_plain_work_is_never_held_its_only_claims_are_exact_copies(
    alice, mallory, register_work, monkeypatch
):
    """A work too plain to match resembles every plain work: it is not searched perceptually
    at all, so no budget can run out; its exact copies are claims whatever the budget."""
    from tests.api.test_upload_tasks import plain_png

    for seed in (20, 21):
        register_work(mallory, seed=seed)
    _budget(monkeypatch, 1)

    sky = work_register(artist=alice, data=plain_png(), title="Sky")
    assert sky.work.hold == "" and sky.disputes == [] and "exact copies only" in sky.notice
    copied = work_register(artist=mallory, data=plain_png(), title="Mine")
    assert copied.work.hold == ""
    assert [dispute.existing_work_id for dispute in copied.disputes] == [sky.work.pk]


def test_a_weak_claim_whose_closer_look_ran_out_of_budget_leaves_the_work_held(
    alice, bob, register_work, monkeypatch
):
    """The check matched alice's work weakly and had no budget left to look for a strong
    match among her other variants (a claim that would freeze): unfinished, so held, with the
    weak claim's dispute opened at once."""
    original = register_work(alice, seed=1)
    weak = WorkMatch(original.pk, alice.pk, "crop_centre", {"phash": 8}, strong=False)

    def cut_short(fingerprints, **options):
        return [ItemMatches([weak], unsettled=frozenset({original.pk}))]

    monkeypatch.setattr("registry.services.works.match_items", cut_short)
    registration = work_register(artist=bob, data=_repost(1), title="Mine")

    assert registration.work.hold == WorkHold.UNCHECKED
    (dispute,) = registration.disputes
    assert dispute.existing_work_id == original.pk and not dispute.freezes


def test_the_operators_check_makes_a_loose_dispute_it_finds_close_freeze_both_works(
    alice, bob, acme, register_work, monkeypatch, capsys
):
    """bob's registration matched alice's work only weakly before its budget ran out, so it
    opened a dispute that freezes nothing, and alice's work kept allowing. The full check
    finds bob's work a close copy of hers, equally sure: it leaves what a finished check
    would have, both works frozen until staff decide, ledgered so verify_ledger agrees."""
    original = register_work(alice, seed=1)
    terms_set(artist=alice, works=[original], purpose=Purpose.AI_TRAINING, permission="allowed")
    weak = WorkMatch(original.pk, alice.pk, "crop_centre", {"phash": 8}, strong=False)
    with monkeypatch.context() as cut:
        cut.setattr(
            "registry.services.works.match_items",
            lambda fingerprints, **options: [
                ItemMatches([weak], unsettled=frozenset({original.pk}))
            ],
        )
        registration = work_register(artist=bob, data=_repost(1), title="Mine")
    (loose,) = registration.disputes
    assert registration.held and not loose.freezes
    assert _permits(acme, original, [Purpose.AI_TRAINING])[Purpose.AI_TRAINING].allowed

    call_command("review_held_works", "--by", "olga")

    (dispute,) = Dispute.objects.filter(claimed_work=registration.work)
    assert dispute.pk == loose.pk and dispute.freezes and dispute.status == "open"
    for work in (original, registration.work):
        (permit,) = _permits(acme, work, [Purpose.AI_TRAINING]).values()
        assert (permit.allowed, permit.reason) == (False, "under_dispute")
    first, last = ConsentEvent.objects.filter(kind=ConsentEventKind.DISPUTE_OPENED).order_by(
        "sequence"
    )
    assert first.payload["dispute_id"] == dispute.pk and first.payload["freezes"] is False
    assert last.payload["dispute_id"] == dispute.pk and last.payload["freezes"] is True
    # bob's history says what changed, in his language, without naming alice's work.
    assert event_summary(last).startswith(f"Dispute {dispute.pk} now denies both works")
    with translation.override("zh-hans"):
        assert "两件作品均不得使用" in event_summary(last)
    assert f"work {registration.work.pk}: released with disputes {dispute.pk}" in (
        capsys.readouterr().out
    )
    call_command("verify_ledger")


def test_the_operators_check_leaves_a_loose_dispute_loose_when_the_claim_is_less_sure(
    alice, mallory, acme, register_work, monkeypatch
):
    """The same, but the held claim is mallory's, less sure than alice's: a finished check
    would have opened a dispute that freezes nothing, so the review leaves it so."""
    original = register_work(alice, seed=1)
    terms_set(artist=alice, works=[original], purpose=Purpose.AI_TRAINING, permission="allowed")
    weak = WorkMatch(original.pk, alice.pk, "crop_centre", {"phash": 8}, strong=False)
    with monkeypatch.context() as cut:
        cut.setattr(
            "registry.services.works.match_items",
            lambda fingerprints, **options: [
                ItemMatches([weak], unsettled=frozenset({original.pk}))
            ],
        )
        registration = work_register(artist=mallory, data=_repost(1), title="Mine")

    call_command("review_held_works")

    (dispute,) = Dispute.objects.filter(claimed_work=registration.work)
    assert not dispute.freezes
    assert _permits(acme, original, [Purpose.AI_TRAINING])[Purpose.AI_TRAINING].allowed
    call_command("verify_ledger")


def test_a_held_work_whose_check_fails_stays_held_and_the_others_are_still_reviewed(
    alice, bob, padded, monkeypatch, capsys
):
    """A full check that cannot finish (it raises) leaves its work held; the command reports
    it, reviews the other held works, and exits non-zero at the end."""
    _budget(monkeypatch, 20)
    failing = work_register(artist=bob, data=_repost(1), title="Mine").work
    honest = work_register(artist=bob, data=artwork_bytes(_SEED_BASE + 2), title="Other").work
    assert failing.hold == honest.hold == WorkHold.UNCHECKED
    real = matching.match_item_fully

    def fails_for_one(fingerprint, **options):
        if options["before_work"] == failing.pk:
            raise RuntimeError("an unlimited check ran out of its budget")
        return real(fingerprint, **options)

    monkeypatch.setattr("registry.services.works.match_item_fully", fails_for_one)

    with pytest.raises(CommandError, match=f"1 works could not be checked: {failing.pk}"):
        call_command("review_held_works")

    failing.refresh_from_db()
    honest.refresh_from_db()
    assert failing.hold == WorkHold.UNCHECKED and honest.hold == ""
    out, err = capsys.readouterr()
    assert f"work {failing.pk}: still held: an unlimited check ran out" in err
    assert f"work {honest.pk}: released" in out


def test_within_the_budget_the_same_claim_opens_its_dispute(bob, padded, monkeypatch):
    original, _ = padded
    _budget(monkeypatch, ROOMY)

    (dispute,) = work_register(artist=bob, data=_repost(1), title="Mine").disputes

    assert dispute.existing_work_id == original.pk and dispute.freezes


def test_a_registration_checks_further_than_a_screened_item(bob, padded, monkeypatch):
    """A screened item's budget would not reach alice's work; a registration's larger one does,
    so bob's copy opens its dispute instead of being refused."""
    original, _ = padded
    _budget(monkeypatch, 20, registration=MatchingConfig().registration_max_verifications)

    (dispute,) = work_register(artist=bob, data=_repost(1), title="Mine").disputes

    assert dispute.existing_work_id == original.pk and dispute.freezes


def test_an_artists_own_works_take_no_budget_from_the_check_of_a_new_one(
    mallory, padded, monkeypatch
):
    """mallory's own series is not compared with her new work: her registration is checked
    against alice's work alone, and goes through."""
    _budget(monkeypatch, 20)

    registration = work_register(artist=mallory, data=artwork_bytes(_SEED_BASE + 22), title="Third")

    assert registration.work.pk and registration.disputes == []


def test_the_full_check_decides_the_same_in_batches_of_any_size(bob, padded, monkeypatch):
    """Work by work, batches of one find what one batch of every candidate finds, and only
    other artists' works registered before the held one count."""
    original, _ = padded
    _budget(monkeypatch, 1)  # the screening budget plays no part
    copy = fingerprint_image(_repost(1))
    after_all = original.pk + 1

    whole = matching.match_item_fully(copy, ignore_artist=bob.pk, before_work=after_all)
    one_by_one = matching.match_item_fully(
        copy, ignore_artist=bob.pk, before_work=after_all, batch=1
    )

    assert whole == one_by_one and [match.work_id for match in whole] == [original.pk]
    assert matching.match_item_fully(copy, ignore_artist=bob.pk, before_work=original.pk) == []
    assert (
        matching.match_item_fully(copy, ignore_artist=original.artist_id, before_work=after_all)
        == []
    )
