"""Registering and removing works, and the disputes that near-identical registrations open."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePath

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from registry.assurance import rank
from registry.fingerprints import (
    FINGERPRINT_VERSION,
    ImageDecodeError,
    WorkFingerprints,
    fingerprint_work,
    to_signed64,
)
from registry.matching.rules import is_weak
from registry.models import (
    Artist,
    Assurance,
    ConsentEventKind,
    Dispute,
    Fingerprint,
    Permission,
    Work,
    WorkHold,
    WorkSourceUrl,
)
from registry.optout import PrefixError, url_digest
from registry.selectors.consent import CLOSE_CLAIM, claim_assurances
from registry.selectors.matching import WorkMatch, exact_copies, match_item_fully, match_items
from registry.selectors.uploads import exact_copies_only_sentence
from registry.selectors.works import hold_sentence
from registry.services.ledger import ledger_append
from registry.services.terms import terms_set, validate_terms
from registry.thumbnails import thumbnail_webp


@dataclass(frozen=True)
class Registration:
    work: Work
    disputes: list[Dispute] = field(default_factory=list)
    # Why the work is held (allows nothing until reviewed) or matched by exact copies only;
    # "" when neither.
    notice: str = ""

    @property
    def held(self) -> bool:
        return bool(self.work.hold)


@dataclass(frozen=True)
class _Check:
    """A new work's comparison with other artists' works: the claims it found, and whether
    it finished (every candidate compared, and every weak match's closer look made)."""

    claims: list[WorkMatch]
    finished: bool = True


def _fingerprint_rows(work: Work, fingerprints: WorkFingerprints) -> list[Fingerprint]:
    return [
        Fingerprint(
            work=work,
            variant=variant,
            phash=to_signed64(hashes.phash),
            dhash=to_signed64(hashes.dhash),
            pdq=hashes.pdq,
            pdq_quality=hashes.pdq_quality,
            descriptor=hashes.descriptor,
        )
        for variant, hashes in fingerprints.variants.items()
    ]


class AlreadyRegistered(ValidationError):
    """The artist registered this very image already: the upload's status names the work,
    in the reader's language, from the stored id (UploadProblem.ALREADY_REGISTERED)."""

    def __init__(self, work_id: int) -> None:
        message = _("This image is registered already as work %(work)s.")
        super().__init__(message % {"work": work_id})
        self.work_id = work_id


def _refuse_own_duplicate(artist: Artist, sha256: str) -> None:
    existing = Work.objects.active().filter(artist=artist, sha256=sha256).first()
    if existing is not None:
        raise AlreadyRegistered(existing.pk)


def _claims_on_other_artists(artist: Artist, fingerprints: WorkFingerprints) -> _Check:
    """The other artists' works the new one matches, and whether the comparison finished
    within its verification budget (MatchingConfig.registration_max_verifications, larger than
    an item's at screening). Unfinished: it ran over the budget, left dHash-only candidates
    unverified, or could not look further at a weak match for a strong or whole-picture one
    (a close claim, which freezes, not ruled out). A work left unchecked might be the one
    copied, so the work is registered held (WorkHold.UNCHECKED) until an operator's full check.
    The artist's own works are not compared, so a series of similar works costs nothing."""
    image = fingerprints.image
    if is_weak(image):
        # A plain work resembles every plain work: only an exact copy is a claim on
        # another's, found by SHA-256 whatever the budget, so no perceptual search is made.
        exact = exact_copies([image.sha256]).get(image.sha256, [])
        return _Check([match for match in exact if match.artist_id != artist.pk])
    # Read before the registering transaction: the shared index must never see uncommitted rows.
    (found,) = match_items([image], ignore_artist=artist.pk, registration=True)
    finished = not (found.over_budget or found.unverified or found.unsettled)
    claims = [match for match in found.matches if match.artist_id != artist.pk]
    return _Check(claims, finished)


@transaction.atomic
def _create_work(
    *,
    artist: Artist,
    data: bytes,
    fingerprints: WorkFingerprints,
    title: str,
    source_urls: Sequence[str],
    credit_line: str,
    hold: str = "",
) -> Work:
    image = fingerprints.image
    work = Work.objects.create(
        hold=hold,
        artist=artist,
        title=title,
        thumbnail=thumbnail_webp(data),
        source_urls=list(source_urls),
        credit_line=credit_line,
        sha256=image.sha256,
        width=image.width,
        height=image.height,
        information=image.information,
        fingerprint_version=image.version,
    )
    work.image.save(image.sha256, ContentFile(data), save=True)
    # The same gate as at screening: a work too plain to match reliably would match every
    # plain query, so it gets no perceptual fingerprints and is found by its sha256 only.
    if not is_weak(image):
        Fingerprint.objects.bulk_create(_fingerprint_rows(work, fingerprints))
    _index_source_urls(work)
    payload = {"title": title, "sha256": image.sha256, "fingerprint_version": image.version}
    if hold:
        payload["hold"] = hold  # allows nothing until an operator's check (ledger_replay)
    ledger_append(kind=ConsentEventKind.WORK_REGISTERED, work=work, payload=payload)
    return work


def _freezes(claim: WorkMatch, claimed_level: str, existing_level: str) -> bool:
    """Whether a claim denies both works while its dispute is open. A later claim less sure
    than the earlier one freezes nothing (else any new account could deny anyone's work);
    equally sure claims, or a surer later one, deny both until staff decide: fail closed. A
    loose match (an overlay inside, a region of a collage) may be another work of the same
    template: it is recorded for staff, but freezes nothing."""
    return claim.close and rank(claimed_level) >= rank(existing_level)


def _record_dispute(dispute: Dispute, *, work: Work, upgraded: bool = False) -> None:
    payload: dict[str, object] = {
        "dispute_id": dispute.pk,
        "existing_work_id": dispute.existing_work_id,
        "existing_assurance": dispute.existing_assurance,
        "claimed_assurance": dispute.claimed_assurance,
        "freezes": dispute.freezes,
    }
    if upgraded:
        # The same dispute, open before as a loose one: the replay reads this event as its
        # state from now on (ledger_replay), and it withdraws as any dispute opened does.
        payload["upgraded"] = True
    ledger_append(kind=ConsentEventKind.DISPUTE_OPENED, work=work, payload=payload)


def _open_disputes(work: Work, claims: Sequence[WorkMatch]) -> list[Dispute]:
    """One dispute per earlier work the new one matches, freezing both or not (`_freezes`)."""
    disputes = []
    claimed_level = work.claim_assurance
    existing_levels = claim_assurances([claim.work_id for claim in claims])
    for claim in claims:
        existing_level = existing_levels.get(claim.work_id, Assurance.SELF_ASSERTED)
        dispute = Dispute.objects.create(
            existing_work_id=claim.work_id,
            claimed_work=work,
            distances={**claim.distances, CLOSE_CLAIM: claim.close},
            existing_assurance=existing_level,
            claimed_assurance=claimed_level,
            freezes=_freezes(claim, claimed_level, existing_level),
        )
        _record_dispute(dispute, work=work)
        disputes.append(dispute)
    return disputes


def _freeze_loose_disputes(work: Work, claims: Sequence[WorkMatch]) -> list[Dispute]:
    """The open, non-freezing disputes of `work` (opened by its unfinished registration on a
    loose match) that the full check's `claims` make freezing, made so: the state a finished
    registration would have left. A dispute that freezes already, or one staff resolved,
    stays as it is."""
    loose = {
        dispute.existing_work_id: dispute
        for dispute in Dispute.objects.open().filter(claimed_work=work, freezes=False)
    }
    claimed_level = work.claim_assurance
    existing_levels = claim_assurances([c.work_id for c in claims if c.work_id in loose])
    upgraded = []
    for claim in claims:
        dispute = loose.get(claim.work_id)
        existing_level = existing_levels.get(claim.work_id, Assurance.SELF_ASSERTED)
        if dispute is None or not _freezes(claim, claimed_level, existing_level):
            continue
        dispute.freezes = True
        dispute.distances = {**claim.distances, CLOSE_CLAIM: claim.close}
        dispute.existing_assurance, dispute.claimed_assurance = existing_level, claimed_level
        dispute.save(
            update_fields=["freezes", "distances", "existing_assurance", "claimed_assurance"]
        )
        _record_dispute(dispute, work=work, upgraded=True)
        upgraded.append(dispute)
    return upgraded


def work_register(
    *,
    artist: Artist,
    data: bytes,
    title: str,
    source_urls: Sequence[str] = (),
    credit_line: str = "",
    allow: Sequence[str] = (),
    license: str = "",
) -> Registration:
    """Register one image as a work of the artist.

    Terms are set for the purposes in `allow`; every other purpose follows the artist's
    defaults, and is `not_allowed` where the artist has none (consent first).
    Raises ImageDecodeError for an unusable image and ValidationError for bad terms, both
    before anything is written.
    """
    for purpose in allow:
        validate_terms(purpose=purpose, permission=Permission.ALLOWED, license=license)
    fingerprints = fingerprint_work(data)
    _refuse_own_duplicate(artist, fingerprints.image.sha256)
    check = _claims_on_other_artists(artist, fingerprints)
    with transaction.atomic():
        work = _create_work(
            artist=artist,
            data=data,
            fingerprints=fingerprints,
            title=title.strip() or "Untitled",
            source_urls=source_urls,
            credit_line=credit_line,
            hold="" if check.finished else WorkHold.UNCHECKED,
        )
        for purpose in allow:
            terms_set(
                artist=artist,
                works=[work],
                purpose=purpose,
                permission=Permission.ALLOWED,
                license=license,
            )
        # What an unfinished check did find is claimed at once; the review adds the rest.
        disputes = _open_disputes(work, check.claims)
    notice = exact_copies_only_sentence() if is_weak(fingerprints.image) else ""
    return Registration(work=work, disputes=disputes, notice=hold_sentence(work) or notice)


# What `work_hold_review` raises for a work it could not check, which stays held: not held
# after all, an unreadable stored image, or a full check that ran out of its budget (which it
# cannot: selectors.matching.match_item_fully says so rather than release on a partial check).
HOLD_REVIEW_ERRORS = (ValidationError, ImageDecodeError, OSError, RuntimeError)


def work_hold_review(*, work: Work, reviewed_by: str) -> Registration:
    """An operator's check of a held work: compared with every other artist's work registered
    before it, with no verification budget (selectors.matching.match_item_fully), it leaves
    the disputes a finished registration would have left: it opens those not opened at
    registration, and makes freezing a loose one opened there on a pair the full check finds
    close (`_freeze_loose_disputes`). It is then released: its terms in force from then on,
    or frozen or superseded by its disputes as any registration. The release and each
    dispute are ledger events. Works registered after it were compared with it by their own
    registration.
    Raises ValidationError for a work not held (or removed), ImageDecodeError when its stored
    image is missing or unreadable, and RuntimeError when the full check could not finish,
    each changing nothing (HOLD_REVIEW_ERRORS)."""
    if not work.hold or work.removed_at is not None:
        raise ValidationError(_("Work %(work)s is not held.") % {"work": work.pk})
    if not work.image:
        raise ImageDecodeError("no image is stored for this work")
    with work.image.open("rb") as stored:
        fingerprints = fingerprint_work(stored.read())
    # Read before the transaction, as at registration: the index never sees uncommitted rows.
    matches = match_item_fully(
        fingerprints.image, ignore_artist=work.artist_id, before_work=work.pk
    )
    with transaction.atomic():
        locked = Work.objects.select_for_update().select_related("artist").get(pk=work.pk)
        if not locked.hold or locked.removed_at is not None:
            raise ValidationError(_("Work %(work)s is not held.") % {"work": work.pk})
        opened = set(
            Dispute.objects.filter(claimed_work=locked).values_list("existing_work_id", flat=True)
        )
        active = set(
            Work.objects.active()
            .filter(pk__in=[match.work_id for match in matches])
            .values_list("pk", flat=True)
        )
        claims = [m for m in matches if m.work_id in active and m.work_id not in opened]
        disputes = _open_disputes(locked, claims)
        # A pair the unfinished check found only loosely may be close after all: it freezes
        # now, as a finished check would have made it freeze from the start.
        loose_before = [m for m in matches if m.work_id in active and m.work_id in opened]
        disputes += _freeze_loose_disputes(locked, loose_before)
        hold, locked.hold = locked.hold, ""
        locked.save(update_fields=["hold"])
        # The disputes are events of their own, just before this one; an organization's
        # export withholds those, so this one does not name them (exports.ledger.concerns).
        ledger_append(
            kind=ConsentEventKind.WORK_HOLD_CLEARED,
            work=locked,
            payload={"hold": hold, "by": reviewed_by},
        )
    return Registration(work=locked, disputes=disputes)


@transaction.atomic
def work_refingerprint(*, work: Work) -> bool:
    """Fingerprint a registered work again with this version's algorithm, from its stored
    image: fingerprints of two versions are not comparable. True when its fingerprints were
    replaced; False when it was at this version already. A work the weak-image gate now
    refuses keeps no perceptual fingerprints (exact copies only), as at registration.
    Raises ImageDecodeError, and changes nothing, when no image is stored for the work or the
    stored one cannot be read."""
    work = Work.objects.select_for_update().get(pk=work.pk)
    if work.fingerprint_version == FINGERPRINT_VERSION:
        return False
    if not work.image:
        raise ImageDecodeError("no image is stored for this work")
    with work.image.open("rb") as stored:
        fingerprints = fingerprint_work(stored.read())
    work.fingerprints.all().delete()
    if not is_weak(fingerprints.image):
        Fingerprint.objects.bulk_create(_fingerprint_rows(work, fingerprints))
    work.information = fingerprints.image.information
    work.fingerprint_version = FINGERPRINT_VERSION
    work.save(update_fields=["information", "fingerprint_version"])
    # Running processes catch up with the new rows through the ledger, as with a registration.
    payload = {
        "fingerprint_version": FINGERPRINT_VERSION,
        "exact_copies_only": is_weak(fingerprints.image),
    }
    ledger_append(kind=ConsentEventKind.WORK_REFINGERPRINTED, work=work, payload=payload)
    return True


def title_from_filename(filename: str) -> str:
    return PurePath(filename).stem.replace("_", " ").replace("-", " ").strip() or "Untitled"


@transaction.atomic
def work_remove(*, work: Work, reason: str = "") -> bool:
    """Take a work out of matching; False when it was removed already."""
    now = timezone.now()
    removed = Work.objects.filter(pk=work.pk, removed_at__isnull=True).update(removed_at=now)
    if not removed:
        return False
    work.removed_at = now
    ledger_append(kind=ConsentEventKind.WORK_REMOVED, work=work, payload={"reason": reason})
    return True


@transaction.atomic
def work_update(*, work: Work, title: str, credit_line: str, source_urls: Sequence[str]) -> Work:
    """Change how a work is named and credited; its image and fingerprints never change."""
    if work.removed_at is not None:
        raise ValidationError(_("A removed work cannot be changed."))
    work.title = title.strip() or "Untitled"
    work.credit_line = credit_line.strip()
    work.source_urls = [url.strip() for url in source_urls if url.strip()]
    work.save(update_fields=["title", "credit_line", "source_urls"])
    _index_source_urls(work)
    return work


def _index_source_urls(work: Work) -> None:
    """Rewrite the work's URL-check rows from its `source_urls`; a URL that is not http(s)
    stays listed on the work but cannot be looked up."""
    digests = set()
    for url in work.source_urls:
        try:
            digests.add(url_digest(url))
        except PrefixError:
            continue
    WorkSourceUrl.objects.filter(work=work).delete()
    WorkSourceUrl.objects.bulk_create(WorkSourceUrl(work=work, digest=d) for d in digests)
