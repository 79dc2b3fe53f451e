"""Read-only querysets the admin pages need beyond registry/selectors."""

from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import TypeVar

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from registry.models import (
    ConsentEventKind,
    Grant,
    Purpose,
    Work,
    WorkScreening,
)
from registry.selectors.terms import EffectiveTerms, effective_terms

T = TypeVar("T")


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def terms_by_work(work_ids: Sequence[int]) -> dict[int, dict[str, EffectiveTerms]]:
    """The terms in force for every purpose: a constant number of queries for a whole page."""
    per_purpose = {purpose: effective_terms(work_ids, purpose) for purpose in Purpose.values}
    return {
        work_id: {purpose: per_purpose[purpose][work_id] for purpose in Purpose.values}
        for work_id in work_ids
    }


def with_screening_count(works: QuerySet[Work]) -> QuerySet[Work]:
    """Annotate `screening_count`: how many screenings matched each work."""
    screenings = (
        WorkScreening.objects.filter(work=OuterRef("pk"))
        .order_by()
        .values("work")
        .annotate(count=Count("screening", distinct=True))
        .values("count")
    )
    return works.annotate(
        screening_count=Coalesce(Subquery(screenings, output_field=IntegerField()), 0)
    )


def work_history(work: Work) -> Q:
    """The ledger events that make up one work's consent history.

    The work's own events; the artist's default changes since it was registered (they apply
    where it has no terms of its own); and the grants that cover it, all works or this one.
    """
    artist_level = Q(work__isnull=True, artist_id=work.artist_id)
    registered = (
        work.consent_events.filter(kind=ConsentEventKind.WORK_REGISTERED)
        .values_list("sequence", flat=True)
        .first()
    )
    grants = Grant.objects.filter(artist_id=work.artist_id).filter(
        Q(covers_all_works=True) | Q(works=work)
    )
    return (
        Q(work=work)
        | (artist_level & Q(kind=ConsentEventKind.DEFAULTS_CHANGED, sequence__gt=registered or 0))
        | (
            artist_level
            & Q(
                kind__in=[ConsentEventKind.GRANT_CREATED, ConsentEventKind.GRANT_REVOKED],
                payload__grant__in=list(grants.values_list("reference", flat=True)),
            )
        )
    )
