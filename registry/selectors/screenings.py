"""An organization's screenings and their chunks, as the API reads them."""

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from registry.models import Organization, Screening, ScreeningChunk, ScreeningItem

# What an export raises for a screening id the organization does not have.
ScreeningMissing = Screening.DoesNotExist


def screenings_of(organization: Organization) -> QuerySet[Screening]:
    return Screening.objects.filter(organization=organization)


def screening_of(*, organization: Organization, screening_id: Any) -> Screening:
    """The organization's screening; Http404 for one that does not exist or is another's,
    alike, so an id says nothing about other organizations."""
    return get_object_or_404(Screening, pk=screening_id, organization=organization)


def chunks_of(screening: Screening) -> QuerySet[ScreeningChunk]:
    """The screening's chunks without their payloads (the wire bytes, read only to decide)."""
    return ScreeningChunk.objects.filter(screening=screening).defer("payload", "verification")


def screening_by_id(screening_id: Any) -> Screening:
    """Any organization's screening: only for one the caller already holds a chunk of."""
    return Screening.objects.get(pk=screening_id)


def items_of(screening: Screening, *, decision: str | None = None) -> QuerySet[ScreeningItem]:
    """The screening's listed items with their chunks, or only those with one decision."""
    items = ScreeningItem.objects.filter(screening=screening).select_related("chunk")
    return items if decision is None else items.filter(decision=decision)
