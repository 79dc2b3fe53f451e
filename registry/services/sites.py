"""Artists' site-level reservations: registered by the artist, counted once staff verify them."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from registry.models import Artist, ArtistSite, ConsentEventKind
from registry.optout import PrefixError, normalize_prefix
from registry.services.ledger import ledger_append


@transaction.atomic
def site_register(*, artist: Artist, url_prefix: str) -> ArtistSite:
    try:
        prefix = normalize_prefix(url_prefix)
    except PrefixError as error:
        raise ValidationError(str(error)) from error
    if ArtistSite.objects.filter(url_prefix=prefix).exists():
        raise ValidationError(_("%(prefix)s is registered already.") % {"prefix": prefix})
    return ArtistSite.objects.create(artist=artist, url_prefix=prefix)


@transaction.atomic
def site_verify(*, site: ArtistSite) -> bool:
    """Staff confirm the artist controls the site; False when it was verified already."""
    now = timezone.now()
    verified = ArtistSite.objects.filter(pk=site.pk, verified=False).update(
        verified=True, verified_at=now
    )
    if verified:
        site.verified, site.verified_at = True, now
        ledger_append(
            kind=ConsentEventKind.SITE_VERIFIED,
            artist=site.artist,
            payload={"url_prefix": site.url_prefix},
        )
    return bool(verified)


@transaction.atomic
def site_remove(*, site: ArtistSite) -> None:
    if site.verified:
        ledger_append(
            kind=ConsentEventKind.SITE_REMOVED,
            artist=site.artist,
            payload={"url_prefix": site.url_prefix},
        )
    site.delete()
