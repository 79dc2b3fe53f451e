"""Reads behind the compliance exports, the consent-changes feed and the artist's view of
withdrawals. Every read is scoped to one organization or one artist's work."""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.shortcuts import get_object_or_404

from registry.gatekeeper import passing_decisions
from registry.models import (
    Organization,
    Screening,
    ScreeningItem,
    ScreeningStatus,
    WebhookEndpoint,
    WithdrawalNotice,
    Work,
)

FEED_PAGE_SIZE = 100
FEED_MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class ExportScope:
    """Which of an organization's screenings an export covers."""

    organization: Organization
    since: datetime | None = None
    until: datetime | None = None
    screening_ids: tuple[str, ...] = ()
    finished_only: bool = False


def _screening_uuids(ids: Iterable[str]) -> list[UUID]:
    try:
        return [UUID(str(value)) for value in ids]
    except ValueError:
        raise Screening.DoesNotExist("No such screening.") from None


def export_screenings(scope: ExportScope) -> QuerySet[Screening]:
    """The scope's screenings, oldest first.

    Named screenings must all be the organization's: one that is not answers DoesNotExist,
    exactly like one that does not exist.
    """
    screenings = Screening.objects.filter(organization=scope.organization).select_related(
        "organization"
    )
    if scope.screening_ids:
        wanted = set(_screening_uuids(scope.screening_ids))
        screenings = screenings.filter(pk__in=wanted)
        if screenings.count() != len(wanted):
            raise Screening.DoesNotExist("No such screening.")
    if scope.since is not None:
        screenings = screenings.filter(created_at__gte=scope.since)
    if scope.until is not None:
        screenings = screenings.filter(created_at__lt=scope.until)
    if scope.finished_only:
        unfinished = screenings.exclude(status=ScreeningStatus.FINISHED)
        if scope.screening_ids and unfinished.exists():
            raise ValidationError(
                f"Screening {unfinished.first()} is not finished: it has no receipt yet."
            )
        screenings = screenings.filter(status=ScreeningStatus.FINISHED)
    return screenings.order_by("created_at", "id")


def reason_rows(screening: Screening) -> Iterator[tuple[str, str, list[dict[str, Any]], int]]:
    """(decision, reason text, reasons as data, items) of a screening's items, grouped in the
    database; the exports reduce each item's reasons to their kinds (registry.exports.reasons)."""
    rows = (
        ScreeningItem.objects.filter(screening=screening)
        .values_list("decision", "reason", "reasons")
        .annotate(items=Count("id"))
        .order_by()
    )
    return rows.iterator(chunk_size=5000)


def passed_count(screening: Screening) -> int:
    return sum(int(screening.counts.get(d, 0)) for d in passing_decisions(screening.mode))


def passing_items(screening: Screening) -> QuerySet[ScreeningItem]:
    """The items that passed, by the screening's own mode, in the order they were decided."""
    return ScreeningItem.objects.filter(
        screening=screening, decision__in=passing_decisions(screening.mode)
    ).order_by("id")


def excluded_items(screening: Screening) -> QuerySet[ScreeningItem]:
    return (
        ScreeningItem.objects.filter(screening=screening)
        .exclude(decision__in=passing_decisions(screening.mode))
        .order_by("id")
    )


def withdrawn_items(*, organization: Organization, screening_id: str) -> dict[str, int]:
    """Item ids of a screening that a withdrawal notice named, each with the ledger sequence
    of the first consent change that withdrew it."""
    withdrawn: dict[str, int] = {}
    notices = WithdrawalNotice.objects.filter(organization=organization).order_by("sequence")
    for sequence, affected in notices.values_list("sequence", "affected").iterator(chunk_size=500):
        for entry in affected:
            if entry.get("screening_id") == screening_id:
                for item_id in entry.get("item_ids", []):
                    withdrawn.setdefault(item_id, sequence)
    return withdrawn


def receipt_url(screening_id: Any) -> str:
    return f"{settings.CONSENTRY_PUBLIC_URL}/api/v1/screenings/{screening_id}"


def receipt_key_url() -> str:
    return f"{settings.CONSENTRY_PUBLIC_URL}/api/v1/receipts/key"


# --- Withdrawals ------------------------------------------------------------------------------


def consent_changes(
    *, organization: Organization, after: int, limit: int = FEED_PAGE_SIZE
) -> list[WithdrawalNotice]:
    """The organization's notices after ledger sequence `after`, oldest first."""
    limit = max(1, min(limit, FEED_MAX_PAGE_SIZE))
    notices = (
        WithdrawalNotice.objects.filter(organization=organization, sequence__gt=after)
        .select_related("event")
        .prefetch_related("works")
        .order_by("sequence", "id")
    )
    return list(notices[:limit])


@dataclass(frozen=True)
class WorkWithdrawal:
    """One organization told that consent for a work was withdrawn, and when."""

    organization: str
    sequence: int
    kind: str
    recorded_at: datetime
    published_at: datetime
    item_count: int
    webhook_delivered_at: datetime | None


def withdrawals_for_work(work: Work) -> QuerySet[WithdrawalNotice]:
    """Notices naming this work, newest first; `work_withdrawal` reads each for display."""
    return (
        WithdrawalNotice.objects.filter(works=work)
        .select_related("organization", "event")
        .prefetch_related("deliveries")
        .order_by("-sequence", "organization__name")
    )


def work_withdrawals(work: Work) -> list[WorkWithdrawal]:
    return [work_withdrawal(notice) for notice in withdrawals_for_work(work)]


def work_withdrawal(notice: WithdrawalNotice) -> WorkWithdrawal:
    delivered: Sequence[datetime] = sorted(
        d.delivered_at for d in notice.deliveries.all() if d.delivered_at is not None
    )
    return WorkWithdrawal(
        organization=notice.organization.name,
        sequence=notice.sequence,
        kind=notice.event.kind,
        recorded_at=notice.event.created_at,
        published_at=notice.created_at,
        item_count=notice.item_count,
        webhook_delivered_at=delivered[0] if delivered else None,
    )


def webhook_endpoints_of(organization: Organization) -> QuerySet[WebhookEndpoint]:
    """The organization's webhook endpoints, newest first (disabled ones too)."""
    return WebhookEndpoint.objects.filter(organization=organization).order_by("-created_at")


def webhook_endpoint_of(*, organization: Organization, webhook_id: int) -> WebhookEndpoint:
    """The organization's endpoint; Http404 for one that does not exist or is another's, alike."""
    return get_object_or_404(WebhookEndpoint, pk=webhook_id, organization=organization)
