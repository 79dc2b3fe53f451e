"""The terms in force for works and a purpose: the work's own, else the artist's default."""

from collections.abc import Collection
from dataclasses import dataclass

from django.db.models import OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from registry.models import Artist, DefaultTerms, Permission, Purpose, Terms, Work


@dataclass(frozen=True)
class EffectiveTerms:
    permission: str
    license: str
    attribution: str
    source: str  # "work", "default" or "consent_first"


CONSENT_FIRST = EffectiveTerms(Permission.NOT_ALLOWED, "", "", "consent_first")


def effective_terms(work_ids: Collection[int], purpose: str) -> dict[int, EffectiveTerms]:
    """Terms for each work id; works with neither terms nor defaults get consent-first."""
    own = {
        terms.work_id: EffectiveTerms(terms.permission, terms.license, terms.attribution, "work")
        for terms in Terms.objects.filter(work_id__in=work_ids, purpose=purpose)
    }
    artist_of = dict(
        Work.objects.filter(pk__in=set(work_ids) - own.keys()).values_list("pk", "artist_id")
    )
    defaults = {
        terms.artist_id: EffectiveTerms(
            terms.permission, terms.license, terms.attribution, "default"
        )
        for terms in DefaultTerms.objects.filter(
            artist_id__in=set(artist_of.values()), purpose=purpose
        )
    }
    result = dict(own)
    for work_id, artist_id in artist_of.items():
        result[work_id] = defaults.get(artist_id, CONSENT_FIRST)
    for work_id in work_ids:
        result.setdefault(work_id, CONSENT_FIRST)
    return result


def with_effective_permission(
    works: QuerySet[Work], *, purpose: str, permission: str
) -> QuerySet[Work]:
    """Works whose terms in force for `purpose` have `permission`.

    The same rule as registry.selectors.terms.effective_terms (the work's own terms, else the
    artist's default, else consent first), written as SQL so a list filter can page through
    the result; tests/admin check that both agree.
    """
    own = Terms.objects.filter(work=OuterRef("pk"), purpose=purpose).values("permission")[:1]
    default = DefaultTerms.objects.filter(artist=OuterRef("artist_id"), purpose=purpose).values(
        "permission"
    )[:1]
    alias = f"permission_for_{purpose}"
    return works.alias(
        **{alias: Coalesce(Subquery(own), Subquery(default), Value(Permission.NOT_ALLOWED))}
    ).filter(**{alias: permission})


def default_terms_of(artist: Artist) -> dict[str, EffectiveTerms]:
    """The artist's default for each purpose; consent first where none is set."""
    own = {terms.purpose: terms for terms in artist.default_terms.all()}
    return {
        purpose: EffectiveTerms(
            own[purpose].permission, own[purpose].license, own[purpose].attribution, "default"
        )
        if purpose in own
        else CONSENT_FIRST
        for purpose in Purpose.values
    }


def default_permissions(artist: Artist) -> dict[str, str]:
    """The artist's default per purpose; a purpose without one is consent-first (refused)."""
    return dict(artist.default_terms.values_list("purpose", "permission"))


def work_permissions(work: Work) -> dict[str, str]:
    """The permission in force for the work per purpose (its own terms, else the default)."""
    return {
        purpose: effective_terms([work.pk], purpose)[work.pk].permission
        for purpose in Purpose.values
    }


def work_terms(work: Work) -> dict[str, EffectiveTerms]:
    """The terms in force for the work per purpose (its own terms, else the default)."""
    return {purpose: effective_terms([work.pk], purpose)[work.pk] for purpose in Purpose.values}


def default_terms_rows(artist: Artist) -> QuerySet[DefaultTerms]:
    """The defaults the artist set, one per purpose set (none for a consent-first purpose)."""
    return artist.default_terms.all()
