"""Reservations of rights that deny an item without any fingerprint match (the gatekeeper's
rule *embedded reservations*): signals embedded in the image or sent in its download's
headers, and artists' verified sites."""

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from registry.models import ArtistSite, DefaultTerms, Grant, Organization, Permission
from registry.optout import (
    Reservation,
    denied_purposes,
    reservations_from_wire,
    url_matches_prefix,
)


@dataclass(frozen=True)
class Site:
    artist_id: int
    artist_name: str
    prefix: str


def _host(url: str) -> str:
    try:
        return (urlsplit(url.strip()).hostname or "").rstrip(".")
    except ValueError:
        return ""


def _sites_by_host() -> dict[str, list[Site]]:
    by_host: dict[str, list[Site]] = defaultdict(list)
    rows = ArtistSite.objects.filter(verified=True).values_list(
        "artist_id", "artist__display_name", "url_prefix"
    )
    for artist_id, name, prefix in rows:
        by_host[_host(prefix)].append(Site(artist_id, name, prefix))
    return by_host


def _artists_permitting(
    artist_ids: set[int], organization: Organization, purpose: str, at: datetime
) -> set[int]:
    """Artists whose defaults let this organization use their site's works for the purpose."""
    defaults = dict(
        DefaultTerms.objects.filter(artist_id__in=artist_ids, purpose=purpose).values_list(
            "artist_id", "permission"
        )
    )
    granted = {
        grant.artist_id
        for grant in Grant.objects.valid_at(at).filter(
            organization=organization, artist_id__in=artist_ids, covers_all_works=True
        )
        if purpose in grant.purposes
    }
    return {
        artist
        for artist in artist_ids
        if defaults.get(artist) == Permission.ALLOWED
        or (defaults.get(artist) == Permission.LICENSED and artist in granted)
    }


def _site_reservations(
    items: Sequence[Mapping[str, Any]], organization: Organization, purpose: str, at: datetime
) -> list[list[Reservation]]:
    urls = [url if isinstance(url := item.get("url"), str) else "" for item in items]
    sites = _sites_by_host() if any(urls) else {}
    if not sites:  # the common case: no verified site, so no URL needs parsing
        return [[] for _ in items]
    hits = [
        [site for site in sites.get(_host(url), []) if url_matches_prefix(url, site.prefix)]
        for url in urls
    ]
    artists = {site.artist_id for found in hits for site in found}
    permitting = _artists_permitting(artists, organization, purpose, at) if artists else set()
    return [
        [
            Reservation(
                source="site:registered-prefix",
                value=site.prefix,
                purposes=frozenset({purpose}),
                note=f"a verified site of {site.artist_name}",
            )
            for site in found
            if site.artist_id not in permitting
        ]
        for found in hits
    ]


def reservations_for(
    items: Sequence[Mapping[str, Any]], *, organization: Organization, purpose: str, at: datetime
) -> list[list[Reservation]]:
    """For each item, every reservation that denies it for this purpose."""
    signals = [denied_purposes(reservations_from_wire(item), purpose) for item in items]
    sites = _site_reservations(items, organization, purpose, at)
    return [mine + theirs for mine, theirs in zip(signals, sites, strict=True)]
