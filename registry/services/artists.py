from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from registry.models import Artist, ArtistLink


@transaction.atomic
def artist_create(
    *, username: str, password: str, display_name: str = "", credit_line: str = "", email: str = ""
) -> Artist:
    """Create an artist with a login to the admin, where they manage only their own works."""
    user_model = get_user_model()
    if user_model.objects.filter(username=username).exists():
        raise ValidationError(_("The username “%(username)s” is taken.") % {"username": username})
    user = user_model(username=username, email=email, is_staff=True)
    validate_password(password, user)
    user.set_password(password)
    user.save()
    return Artist.objects.create(
        user=user, display_name=display_name or username, credit_line=credit_line
    )


@transaction.atomic
def artist_verify(*, artist: Artist) -> Artist:
    if not artist.verified:
        artist.verified = True
        artist.verified_at = timezone.now()
        artist.save(update_fields=["verified", "verified_at"])
    return artist


@transaction.atomic
def artist_profile_update(*, artist: Artist, display_name: str, credit_line: str) -> Artist:
    display_name = display_name.strip()
    if not display_name:
        raise ValidationError(_("An artist needs a display name."))
    artist.display_name = display_name
    artist.credit_line = credit_line.strip()
    artist.save(update_fields=["display_name", "credit_line"])
    return artist


@transaction.atomic
def artist_link_save(
    *, artist: Artist, label: str, url: str, link: ArtistLink | None = None
) -> ArtistLink:
    """Add a link, or change one of the artist's own links."""
    if link is None:
        return ArtistLink.objects.create(artist=artist, label=label.strip(), url=url.strip())
    if link.artist_id != artist.pk:
        raise ValidationError(_("A link can only be changed by its artist."))
    link.label, link.url = label.strip(), url.strip()
    link.save(update_fields=["label", "url"])
    return link


@transaction.atomic
def artist_link_delete(*, artist: Artist, link: ArtistLink) -> None:
    ArtistLink.objects.filter(pk=link.pk, artist=artist).delete()
