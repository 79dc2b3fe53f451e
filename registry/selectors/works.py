"""An artist's works, as the API reads them."""

from django.shortcuts import get_object_or_404

from registry.models import Artist, Work


def work_of_artist(*, artist: Artist, work_id: int) -> Work:
    """The artist's work; Http404 for one that does not exist or is another artist's, alike."""
    return get_object_or_404(Work, pk=work_id, artist=artist)


def active_work(work_id: int) -> Work:
    """A work still registered, with its artist; Http404 for a removed or unknown one."""
    return get_object_or_404(Work.objects.active().select_related("artist"), pk=work_id)
