"""An artist's works, as the API reads them."""

from collections.abc import Collection

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from registry.models import Artist, Work, WorkHold, WorkScreening


def work_of_artist(*, artist: Artist, work_id: int) -> Work:
    """The artist's work; Http404 for one that does not exist or is another artist's, alike."""
    return get_object_or_404(Work, pk=work_id, artist=artist)


def active_work(work_id: int) -> Work:
    """A work still registered, with its artist; Http404 for a removed or unknown one."""
    return get_object_or_404(Work.objects.active().select_related("artist"), pk=work_id)


def works_of(artist: Artist) -> QuerySet[Work]:
    """The artist's works, removed ones too."""
    return Work.objects.filter(artist=artist)


def works_of_artist(*, artist: Artist, work_ids: Collection[int]) -> list[Work]:
    """Those of the ids that are the artist's works (another's or an unknown id is left out)."""
    return list(Work.objects.filter(artist=artist, pk__in=work_ids))


def work_screenings(work: Work) -> QuerySet[WorkScreening]:
    """Every screening that decided the work, with its organization."""
    return WorkScreening.objects.filter(work=work).select_related("organization", "screening")


def works_fingerprinted_before(version: int) -> QuerySet[Work]:
    """Registered works whose fingerprints another version made, oldest first."""
    return Work.objects.active().exclude(fingerprint_version=version).order_by("pk")


def has_perceptual_fingerprints(work: Work) -> bool:
    """Whether re-posts of the work can match it (else its exact copies only)."""
    return work.fingerprints.exists()


def held_works() -> QuerySet[Work]:
    """Works registered held and still in the registry, oldest first: the operators' queue."""
    return Work.objects.active().held().select_related("artist").order_by("pk")


def hold_sentence(work: Work) -> str:
    """Why the work allows nothing for now, in the reader's language; "" when it is not held.
    The work stores the code (WorkHold); the sentence is made when it is read."""
    if not work.hold:
        return ""
    if work.hold == WorkHold.UNCHECKED:
        return _(
            "This work could not be checked against all other artists' works; an operator "
            "will review it. Until then it allows no use, whatever its terms."
        )
    # A code this version does not know: still held, still said.
    return _("This work is held until an operator reviews it; until then it allows no use.")
