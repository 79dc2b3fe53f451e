"""An organization's screenings and their chunks, as the API reads them."""

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from registry.models import Organization, Screening, ScreeningChunk

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
    return ScreeningChunk.objects.filter(screening=screening).defer("payload")
