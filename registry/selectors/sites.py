"""An artist's sites (URL prefixes they reserve), as the API reads them."""

from collections import defaultdict
from collections.abc import Collection

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from registry.models import Artist, ArtistSite


def sites_of(artist: Artist) -> QuerySet[ArtistSite]:
    return ArtistSite.objects.filter(artist=artist)


def site_of(*, artist: Artist, site_id: int) -> ArtistSite:
    """The artist's site; Http404 for one that does not exist or is another artist's, alike."""
    return get_object_or_404(ArtistSite, pk=site_id, artist=artist)


def site_prefixes(artist: Artist) -> list[str]:
    return list(artist.sites.values_list("url_prefix", flat=True))


def verified_prefixes_of(artist_ids: Collection[int]) -> dict[int, list[str]]:
    """Each artist's verified site prefixes (an artist without one is left out)."""
    found: dict[int, list[str]] = defaultdict(list)
    rows = ArtistSite.objects.filter(artist_id__in=list(artist_ids), verified=True)
    for artist_id, prefix in rows.values_list("artist_id", "url_prefix"):
        found[artist_id].append(prefix)
    return found
