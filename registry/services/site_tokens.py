"""Site verification by token: the artist serves a token under the URL prefix they claim; a
Celery task fetches it and, when it matches, the site and the artist become `site_verified`.
That proves control of the site only: the artist's works published under it reach
`site_verified` (assurance.claim_level), their other works stay as sure as they were."""

import logging
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from registry.models import ArtistSite
from registry.services.artists import artist_assurance_set
from registry.services.sites import site_verify
from registry.site_fetch import Resolver, SiteFetchError, fetch_token, resolve, token_url

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SiteCheck:
    verified: bool
    reason: str


@transaction.atomic
def site_token_issue(*, site: ArtistSite) -> str:
    """The token the artist must serve at `token_url(site.url_prefix)`; issued once."""
    locked = ArtistSite.objects.select_for_update().get(pk=site.pk)
    if not locked.token:
        locked.token = secrets.token_urlsafe(24)
        locked.save(update_fields=["token"])
    site.token = locked.token
    return locked.token


def site_token_check_request(*, site: ArtistSite) -> None:
    """Ask a worker to fetch the token, after the caller's transaction commits."""
    from registry.tasks import check_site_token  # tasks import services; the import goes one way

    site_token_issue(site=site)
    transaction.on_commit(lambda: check_site_token.delay(site.pk))


def site_token_check(*, site_id: int, resolver: Resolver = resolve) -> SiteCheck:
    """Fetch and compare the token; on a match the site is verified and the artist reaches
    `site_verified` (never lowered), both with the URL as evidence in the ledger."""
    site = ArtistSite.objects.select_related("artist").get(pk=site_id)
    if site.verified:
        return SiteCheck(True, "verified already")
    if not site.token:
        return SiteCheck(False, "no token was issued for this site")
    url = token_url(site.url_prefix)
    # Outside production the registry may fetch from this machine (tests, local development).
    allow_private = not settings.PRODUCTION
    try:
        served = fetch_token(url, allow_private=allow_private, resolver=resolver)
    except SiteFetchError as error:
        logger.info("Site %s not verified: %s", site_id, error)
        return SiteCheck(False, str(error))
    if not secrets.compare_digest(served.encode(), site.token.encode()):
        return SiteCheck(False, f"{url} does not serve this site's token")
    try:
        with transaction.atomic():
            site_verify(site=site)
            artist_assurance_set(
                artist=site.artist, method="site", evidence=f"token served at {url}", by=None
            )
    except ValidationError as refused:  # another artist's registration was verified first
        return SiteCheck(False, " ".join(refused.messages))
    return SiteCheck(True, f"token served at {url}")
