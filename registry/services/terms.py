"""Changing consent: per work and purpose, in bulk, or as the artist's defaults."""

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from registry.models import (
    Artist,
    ConsentEvent,
    ConsentEventKind,
    DefaultTerms,
    Permission,
    Purpose,
    Terms,
    Work,
)
from registry.selectors.terms import effective_terms
from registry.services.ledger import ledger_append

# SPDX ids (CC-BY-4.0, MIT), LicenseRef-/DocumentRef- ids and grant references share this shape.
LICENSE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+:\-]{0,99}$")


def validate_terms(*, purpose: str, permission: str, license: str) -> None:
    if purpose not in Purpose.values:
        raise ValidationError(
            _("Unknown purpose “%(purpose)s”; use one of %(choices)s.")
            % {"purpose": purpose, "choices": ", ".join(Purpose.values)}
        )
    if permission not in Permission.values:
        raise ValidationError(
            _("Unknown permission “%(permission)s”; use one of %(choices)s.")
            % {"permission": permission, "choices": ", ".join(Permission.values)}
        )
    validate_license(license)


def validate_license(license: str) -> None:
    """Empty (no licence), or the shape of an SPDX id or a grant reference."""
    if license and not LICENSE_PATTERN.match(license):
        raise ValidationError(
            _("“%(license)s” is neither an SPDX licence id nor a grant reference.")
            % {"license": license}
        )


def _terms_payload(terms: Terms | DefaultTerms) -> dict[str, Any]:
    return {
        "purpose": terms.purpose,
        "permission": terms.permission,
        "license": terms.license,
        "attribution": terms.attribution,
    }


@transaction.atomic
def terms_set(
    *,
    artist: Artist,
    works: Iterable[Work],
    purpose: str,
    permission: str,
    license: str = "",
    attribution: str = "",
) -> list[ConsentEvent]:
    """Set one purpose's terms on works of one artist; each real change is written to the ledger."""
    validate_terms(purpose=purpose, permission=permission, license=license)
    work_list = list(works)
    if any(work.artist_id != artist.pk for work in work_list):
        raise ValidationError(_("Terms can only be set on the artist's own works."))
    events = []
    for work in work_list:
        terms, created = Terms.objects.select_for_update().get_or_create(work=work, purpose=purpose)
        previous = None if created else _terms_payload(terms)
        terms.permission, terms.license, terms.attribution = permission, license, attribution
        if previous == _terms_payload(terms):
            continue
        terms.save()
        events.append(
            ledger_append(
                kind=ConsentEventKind.TERMS_CHANGED,
                work=work,
                payload={**_terms_payload(terms), "previous": previous},
            )
        )
    return events


@transaction.atomic
def terms_permission_set(
    *, works: Sequence[Work], purposes: Sequence[str], permission: str, license: str = ""
) -> list[ConsentEvent]:
    """Give works of any artists one permission for each purpose, all or nothing.

    Only the permission changes: each work keeps its licence and attribution in force, unless
    `license` is given, which replaces every work's. Works are grouped by artist and by what
    they keep, and each group is one `terms_set`.
    """
    events: list[ConsentEvent] = []
    for purpose in purposes:
        current = effective_terms([work.pk for work in works], purpose)
        groups: dict[tuple[Artist, str, str], list[Work]] = defaultdict(list)
        for work in works:
            terms = current[work.pk]
            groups[(work.artist, license or terms.license, terms.attribution)].append(work)
        for (artist, kept_license, attribution), group in groups.items():
            events += terms_set(
                artist=artist,
                works=group,
                purpose=purpose,
                permission=permission,
                license=kept_license,
                attribution=attribution,
            )
    return events


@transaction.atomic
def default_terms_set(
    *, artist: Artist, purpose: str, permission: str, license: str = "", attribution: str = ""
) -> ConsentEvent | None:
    """Set the artist's default for works without terms of their own for this purpose."""
    validate_terms(purpose=purpose, permission=permission, license=license)
    terms, created = DefaultTerms.objects.select_for_update().get_or_create(
        artist=artist, purpose=purpose
    )
    previous = None if created else _terms_payload(terms)
    terms.permission, terms.license, terms.attribution = permission, license, attribution
    if previous == _terms_payload(terms):
        return None
    terms.save()
    return ledger_append(
        kind=ConsentEventKind.DEFAULTS_CHANGED,
        artist=artist,
        payload={**_terms_payload(terms), "previous": previous},
    )
