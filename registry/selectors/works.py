"""An artist's works, as the API reads them."""

from collections.abc import Collection

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from registry.models import Artist, Work, WorkScreening


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
