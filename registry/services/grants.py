"""Licences from an artist to one organization."""

from collections.abc import Sequence
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from registry.models import Artist, ConsentEventKind, Grant, Organization, Purpose, Work
from registry.services.ledger import ledger_append


def _validate_grant(
    *,
    artist: Artist,
    purposes: Sequence[str],
    works: Sequence[Work],
    covers_all_works: bool,
    valid_from: datetime,
    valid_until: datetime | None,
) -> None:
    unknown = sorted(set(purposes) - set(Purpose.values))
    if not purposes or unknown:
        raise ValidationError(
            _("A grant needs one or more purposes of %(purposes)s; unknown: %(unknown)s.")
            % {"purposes": ", ".join(Purpose.values), "unknown": ", ".join(unknown) or "-"}
        )
    if covers_all_works == bool(works):
        raise ValidationError(_("A grant covers either all works or the works chosen, not both."))
    if any(work.artist_id != artist.pk for work in works):
        raise ValidationError(_("A grant can only cover the artist's own works."))
    if valid_until is not None and valid_until <= valid_from:
        raise ValidationError(_("A grant must end after it starts."))


@transaction.atomic
def grant_create(
    *,
    artist: Artist,
    organization: Organization,
    purposes: Sequence[str],
    works: Sequence[Work] = (),
    covers_all_works: bool = False,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
) -> Grant:
    valid_from = valid_from or timezone.now()
    _validate_grant(
        artist=artist,
        purposes=purposes,
        works=works,
        covers_all_works=covers_all_works,
        valid_from=valid_from,
        valid_until=valid_until,
    )
    grant = Grant.objects.create(
        artist=artist,
        organization=organization,
        purposes=sorted(set(purposes)),
        covers_all_works=covers_all_works,
        valid_from=valid_from,
        valid_until=valid_until,
    )
    grant.works.set(works)
    ledger_append(
        kind=ConsentEventKind.GRANT_CREATED,
        artist=artist,
        payload={
            "grant": grant.reference,
            "organization_id": organization.pk,
            "purposes": grant.purposes,
            "work_ids": sorted(work.pk for work in works),
            "covers_all_works": covers_all_works,
            "valid_from": valid_from.isoformat(),
            "valid_until": valid_until.isoformat() if valid_until else None,
        },
    )
    return grant


@transaction.atomic
def grant_revoke(*, grant: Grant) -> bool:
    """Revoke a grant; False when it was revoked already (the first revocation wins)."""
    now = timezone.now()
    revoked = Grant.objects.filter(pk=grant.pk, revoked_at__isnull=True).update(revoked_at=now)
    if not revoked:
        return False
    grant.revoked_at = now
    ledger_append(
        kind=ConsentEventKind.GRANT_REVOKED,
        artist=grant.artist,
        payload={"grant": grant.reference, "organization_id": grant.organization_id},
    )
    return True
