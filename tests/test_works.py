"""Registering works: fingerprints, thumbnails, the ledger, and disputes between artists."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image

from registry.demo_art import artwork, artwork_bytes
from registry.fingerprints import (
    VARIANTS,
    ImageDecodeError,
    fingerprint_image,
    fingerprint_work,
    to_signed64,
    to_unsigned64,
)
from registry.matching.rules import MatchingConfig
from registry.models import (
    ConsentEvent,
    ConsentEventKind,
    Dispute,
    DisputeResolution,
    Purpose,
    Work,
)
from registry.selectors import matching
from registry.selectors.consent import permits_for
from registry.selectors.matching import RegistryIndex, match_fingerprints
from registry.services.disputes import dispute_resolve
from registry.services.terms import terms_set
from registry.services.works import work_register, work_remove
from tests.conftest import _SEED_BASE


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

    (matches,) = match_fingerprints([fingerprint_image(_repost(1))])

    assert [match.work_id for match in matches] == [work.pk]


def test_a_removed_work_is_no_longer_matched(alice, register_work):
    work = register_work(alice, seed=1)
    match_fingerprints([fingerprint_image(_repost(1))])  # the index has seen the work

    assert work_remove(work=work, reason="artist asked") is True

    assert match_fingerprints([fingerprint_image(_repost(1))]) == [[]]
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
    (matches,) = match_fingerprints([fingerprint_image(_repost(1))])
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
    (exact,) = match_fingerprints([fingerprint_image(data)])
    assert [(match.work_id, match.exact) for match in exact] == [(registration.work.pk, True)]
    buffer = io.BytesIO()
    Image.open(io.BytesIO(data)).save(buffer, format="JPEG", quality=80)
    assert match_fingerprints([fingerprint_image(buffer.getvalue())]) == [[]]


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
    # As the previous version left them: no upside-down variants, and the plain work
    # fingerprinted like any other.
    art.fingerprints.filter(variant__in=["rotate180", "flip_vertical"]).delete()
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
    assert match_fingerprints([fingerprint_image(buffer.getvalue())]) == [[]]
    before = registry_version().sequence

    call_command("refingerprint_works")

    assert "2 works fingerprinted at version" in capsys.readouterr().out
    # A new registry version: what was searched or decided at the old one is not reused.
    assert registry_version().sequence == before + 2
    expected = set(fingerprint_work(artwork_bytes(_SEED_BASE + 1)).variants)
    assert {row.variant for row in art.fingerprints.all()} == expected
    assert not plain.fingerprints.exists()
    versions = dict(Work.objects.values_list("pk", "fingerprint_version"))
    assert versions == {art.pk: FINGERPRINT_VERSION, plain.pk: FINGERPRINT_VERSION, removed.pk: 2}
    (matches,) = match_fingerprints([fingerprint_image(buffer.getvalue())])  # no restart
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


def test_bob_cannot_register_alices_work_by_padding_the_registry_past_the_budget(
    bob, acme, padded, monkeypatch
):
    """The comparison with other artists' works runs out of budget before it reaches alice's
    work: bob's copy is refused with why, not registered as his with no dispute."""
    original, _ = padded
    _budget(monkeypatch, 20)

    with pytest.raises(ValidationError, match="could not be checked against other artists"):
        work_register(artist=bob, data=_repost(1), title="Mine", allow=[Purpose.AI_TRAINING])

    assert not Work.objects.filter(artist=bob).exists() and not Dispute.objects.exists()
    permit = permits_for(
        [original.pk], organization=acme, purpose=Purpose.AI_TRAINING, at=timezone.now()
    )[original.pk]
    assert permit.allowed


def test_within_the_budget_the_same_claim_opens_its_dispute(bob, padded, monkeypatch):
    original, _ = padded
    _budget(monkeypatch, 64)

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
