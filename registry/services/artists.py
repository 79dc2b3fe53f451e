from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from registry.assurance import claim_level, is_verified, strongest
from registry.models import Artist, ArtistLink, Assurance, ConsentEventKind, Work
from registry.services.ledger import ledger_append

# How each level is reached; the method and its evidence go into the ledger with the level.
ASSURANCE_METHODS = {
    "operator": Assurance.OPERATOR_VERIFIED,
    "site": Assurance.SITE_VERIFIED,
    "platform": Assurance.PLATFORM_ATTESTED,
}


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


def _assurance_payload(
    *, assurance: str, previous: str, method: str, evidence: str, by: Any
) -> dict[str, Any]:
    if method not in ASSURANCE_METHODS:
        raise ValidationError(
            _("Unknown verification method “%(method)s”; use one of %(choices)s.")
            % {"method": method, "choices": ", ".join(ASSURANCE_METHODS)}
        )
    if not evidence.strip():
        raise ValidationError(_("Say what evidence was checked."))
    return {
        "assurance": assurance,
        "previous": previous,
        "method": method,
        "evidence": evidence.strip(),
        "by": by.get_username() if by is not None else None,
    }


@transaction.atomic
def artist_assurance_set(*, artist: Artist, method: str, evidence: str, by: Any = None) -> bool:
    """Raise the artist's assurance to the level `method` reaches, with its evidence in the
    ledger. False when the artist is at that level or a higher one already."""
    locked = Artist.objects.select_for_update().get(pk=artist.pk)
    assurance = ASSURANCE_METHODS.get(method, "")
    payload = _assurance_payload(
        assurance=assurance, previous=locked.assurance, method=method, evidence=evidence, by=by
    )
    if strongest(locked.assurance, assurance) == locked.assurance:
        return False
    locked.assurance = assurance
    if is_verified(assurance) and not locked.verified:
        locked.verified, locked.verified_at = True, timezone.now()
    locked.save(update_fields=["assurance", "verified", "verified_at"])
    artist.assurance, artist.verified, artist.verified_at = (
        locked.assurance,
        locked.verified,
        locked.verified_at,
    )
    ledger_append(kind=ConsentEventKind.ASSURANCE_CHANGED, artist=artist, payload=payload)
    return True


@transaction.atomic
def work_assurance_set(
    *,
    work: Work,
    method: str,
    evidence: str,
    by: Any = None,
    attestation: dict[str, Any] | None = None,
) -> bool:
    """Raise one work's claim (e.g. a platform attests the upload); False when the claim is at
    that level or higher already, through the work or its artist (a verified site's level aside).

    `attestation`, a platform's signed statement with its signature and key, goes into the
    ledger event as it was received, so it can be verified later without trusting the registry.
    """
    locked = Work.objects.select_for_update().select_related("artist").get(pk=work.pk)
    assurance = ASSURANCE_METHODS.get(method, "")
    payload = _assurance_payload(
        assurance=assurance, previous=locked.assurance, method=method, evidence=evidence, by=by
    )
    if attestation is not None:
        payload["attestation"] = attestation
    # The claim's level (the work's or its artist's, the higher) is what screening reads: a
    # work of an operator-verified artist gains nothing from a platform's attestation. A level
    # from a verified site is left out: it lasts only while the site does (site_remove).
    lasting = claim_level(locked.assurance, locked.artist.assurance, (), ())
    if strongest(lasting, assurance) == lasting:
        return False
    Work.objects.filter(pk=work.pk).update(assurance=assurance)
    work.assurance = assurance
    ledger_append(kind=ConsentEventKind.ASSURANCE_CHANGED, work=work, payload=payload)
    return True


def artist_verify(*, artist: Artist, evidence: str, by: Any = None) -> bool:
    """Staff checked the evidence: the artist's claims become `operator_verified`."""
    return artist_assurance_set(artist=artist, method="operator", evidence=evidence, by=by)


@transaction.atomic
def artist_profile_update(
    *, artist: Artist, display_name: str, credit_line: str, by_operator: bool = False
) -> Artist:
    """Change the artist's name and credit line. A verified artist's name is the one that was
    verified: every credit names it at that assurance, so only operators change it."""
    display_name = display_name.strip()
    if not display_name:
        raise ValidationError(_("An artist needs a display name."))
    if display_name != artist.display_name and is_verified(artist.assurance) and not by_operator:
        raise ValidationError(
            _("Your name was verified as “%(name)s”; ask the registry's operators to change it.")
            % {"name": artist.display_name}
        )
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
