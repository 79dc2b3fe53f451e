"""Artists' personal API tokens: made with a secret shown once, stored as a digest, revoked."""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from registry.models import Artist, ArtistToken


def token_digest(secret: str) -> str:
    """SHA-256 suffices: a secret of 192 random bits cannot be guessed from its digest."""
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def artist_token_create(
    *, artist: Artist, name: str = "", days: int | None = None
) -> tuple[ArtistToken, str]:
    """Return the token and its secret; only the digest is stored, so show the secret once."""
    days = settings.CONSENTRY_ARTIST_TOKEN_DAYS if days is None else days
    if days < 1:
        raise ValidationError(_("A token must be valid for at least one day."))
    secret = secrets.token_hex(24)
    token = ArtistToken.objects.create(
        artist=artist,
        name=name.strip(),
        prefix=secret[:8],
        digest=token_digest(secret),
        expires_at=timezone.now() + timedelta(days=days),
    )
    return token, secret


@transaction.atomic
def artist_token_revoke(*, token: ArtistToken) -> bool:
    """Revoke for good; False when it was revoked already (the first revocation wins)."""
    return bool(
        ArtistToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
    )
