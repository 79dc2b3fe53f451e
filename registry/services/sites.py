"""Artists' site-level reservations: registered by the artist, counted once staff verify them."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
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
    # Only a verified registration owns a prefix: anyone may register any prefix, and one that
    # was never verified must not keep the site's owner from registering and verifying it.
    taken = ArtistSite.objects.filter(url_prefix=prefix)
    if taken.filter(verified=True).exists() or taken.filter(artist=artist).exists():
        raise ValidationError(_("%(prefix)s is registered already.") % {"prefix": prefix})
    return ArtistSite.objects.create(artist=artist, url_prefix=prefix)


@transaction.atomic
def site_verify(*, site: ArtistSite) -> bool:
    """Staff confirm the artist controls the site; False when it was verified already.
    ValidationError when another artist's registration of the prefix is verified already."""
    now = timezone.now()
    others = ArtistSite.objects.filter(url_prefix=site.url_prefix, verified=True).exclude(
        pk=site.pk
    )
    if others.exists():
        raise ValidationError(
            _("%(prefix)s is verified for another artist already.") % {"prefix": site.url_prefix}
        )
    try:
        # A savepoint: two verifications at once end in one success and one refusal.
        with transaction.atomic():
            verified = ArtistSite.objects.filter(pk=site.pk, verified=False).update(
                verified=True, verified_at=now
            )
    except IntegrityError:
        raise ValidationError(
            _("%(prefix)s is verified for another artist already.") % {"prefix": site.url_prefix}
        ) from None
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
