"""Withdrawal that propagates: when consent for a work is withdrawn, every organization that was
told `allowed` for it learns which of its item ids are affected (feed and signed webhook).

`ledger_append` calls `withdrawals_on_commit` for every event; events that can withdraw
consent are fanned out by a task after their transaction commits. The fan-out re-evaluates
each candidate work with the gatekeeper's own rule (`permits_for`), so a change that leaves an
organization's permission intact (e.g. defaults changed under works with terms of their own,
or a grant revoked for works that are allowed anyway) tells nobody anything.
"""

import logging
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from registry.models import (
    ConsentEvent,
    ConsentEventKind,
    Decision,
    Grant,
    Organization,
    Permission,
    Purpose,
    WebhookDelivery,
    WebhookEndpoint,
    WithdrawalFanOut,
    WithdrawalNotice,
    Work,
    WorkScreening,
)
from registry.selectors.consent import permits_for

logger = logging.getLogger(__name__)

_ALWAYS_WITHDRAWING = (
    ConsentEventKind.GRANT_REVOKED,
    ConsentEventKind.DISPUTE_OPENED,
    ConsentEventKind.WORK_REMOVED,
)
_TERMS_KINDS = (ConsentEventKind.TERMS_CHANGED, ConsentEventKind.DEFAULTS_CHANGED)


def can_withdraw(*, kind: str, payload: dict[str, object]) -> bool:
    """Whether an event may take away a permission some organization was told about."""
    if kind in _TERMS_KINDS:
        return payload.get("permission") != Permission.ALLOWED
    return kind in _ALWAYS_WITHDRAWING


def withdrawals_on_commit(event: ConsentEvent) -> None:
    """Schedule the fan-out of `event` once its transaction commits (called by ledger_append)."""
    if can_withdraw(kind=event.kind, payload=event.payload):
        event_id = event.pk
        transaction.on_commit(lambda: enqueue_fan_out(event_id))


def enqueue_fan_out(event_id: int) -> None:
    from registry.compliance_tasks import fan_out_withdrawal  # tasks import services

    try:
        fan_out_withdrawal.delay(event_id)
    except Exception:  # whatever the broker raised, the sweep fans out later
        logger.warning("Could not enqueue the fan-out of event %s; the sweep will.", event_id)


def enqueue_delivery(delivery_id: int) -> None:
    from registry.compliance_tasks import deliver_webhook

    try:
        deliver_webhook.delay(delivery_id)
    except Exception:  # the delivery stays pending; the sweep re-sends it
        logger.warning("Could not enqueue webhook delivery %s; the sweep will.", delivery_id)


@dataclass(frozen=True)
class _Scope:
    work_ids: list[int]
    purposes: list[str]
    organization_ids: list[int] | None = None


def _scope(event: ConsentEvent) -> _Scope:
    payload = event.payload
    if event.kind == ConsentEventKind.TERMS_CHANGED:
        return _Scope([event.work_id] if event.work_id else [], [str(payload["purpose"])])
    if event.kind == ConsentEventKind.DEFAULTS_CHANGED:
        works = Work.objects.filter(artist_id=event.artist_id or 0)
        return _Scope(list(works.values_list("pk", flat=True)), [str(payload["purpose"])])
    if event.kind == ConsentEventKind.GRANT_REVOKED:
        grant = Grant.objects.get(reference=payload["grant"])
        covered = (
            Work.objects.filter(artist_id=grant.artist_id)
            if grant.covers_all_works
            else grant.works.all()
        )
        return _Scope(
            list(covered.values_list("pk", flat=True)), grant.purposes, [grant.organization_id]
        )
    work_ids = [event.work_id] if event.work_id else []
    if event.kind == ConsentEventKind.DISPUTE_OPENED:
        work_ids.append(int(payload["existing_work_id"]))
    return _Scope(work_ids, list(Purpose.values))


@dataclass
class _Told:
    """What one organization was told `allowed` for, among the event's works."""

    # (screening id, purpose) -> item id -> the works it matched
    items: dict[tuple[str, str], dict[str, set[int]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(set))
    )
    works_by_purpose: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))


def _told_allowed(scope: _Scope) -> dict[int, _Told]:
    rows = WorkScreening.objects.filter(
        work_id__in=scope.work_ids,
        decision=Decision.ALLOWED,
        screening__purpose__in=scope.purposes,
    )
    if scope.organization_ids is not None:
        rows = rows.filter(organization_id__in=scope.organization_ids)
    told: dict[int, _Told] = defaultdict(_Told)
    columns = ("organization_id", "screening_id", "screening__purpose", "work_id", "item__item_id")
    for org_id, screening_id, purpose, work_id, item_id in rows.values_list(*columns).iterator(
        chunk_size=5000
    ):
        told[org_id].items[(str(screening_id), purpose)][item_id].add(work_id)
        told[org_id].works_by_purpose[purpose].add(work_id)
    return told


def _withdrawn(
    organization: Organization, works_by_purpose: dict[str, set[int]]
) -> set[tuple[str, int]]:
    """(purpose, work id) pairs no longer permitted to the organization, as of now."""
    all_ids = {work_id for ids in works_by_purpose.values() for work_id in ids}
    removed = set(
        Work.objects.filter(pk__in=all_ids, removed_at__isnull=False).values_list("pk", flat=True)
    )
    now = timezone.now()
    withdrawn: set[tuple[str, int]] = set()
    for purpose, work_ids in works_by_purpose.items():
        permits = permits_for(work_ids, organization=organization, purpose=purpose, at=now)
        for work_id in work_ids:
            if work_id in removed or not permits[work_id].allowed:
                withdrawn.add((purpose, work_id))
    return withdrawn


def _affected(told: _Told, withdrawn: Collection[tuple[str, int]]) -> list[dict[str, Any]]:
    affected = []
    for (screening_id, purpose), items in sorted(told.items.items()):
        item_ids = sorted(
            item_id
            for item_id, works in items.items()
            if any((purpose, work_id) in withdrawn for work_id in works)
        )
        if item_ids:
            affected.append(
                {"screening_id": screening_id, "purpose": purpose, "item_ids": item_ids}
            )
    return affected


def _enqueue_deliveries(delivery_ids: list[int]) -> None:
    for delivery_id in delivery_ids:
        enqueue_delivery(delivery_id)


@transaction.atomic
def _notify(
    event: ConsentEvent,
    organization: Organization,
    affected: list[dict[str, Any]],
    work_ids: Iterable[int],
) -> WithdrawalNotice | None:
    notice, created = WithdrawalNotice.objects.get_or_create(
        event=event,
        organization=organization,
        defaults={
            "sequence": event.sequence,
            "affected": affected,
            "item_count": sum(len(entry["item_ids"]) for entry in affected),
        },
    )
    if not created:  # a redelivered fan-out: the first run told the organization already
        return None
    notice.works.set(sorted(set(work_ids)))
    endpoints = WebhookEndpoint.objects.filter(organization=organization, active=True)
    deliveries = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(notice=notice, endpoint=endpoint, next_attempt_at=notice.created_at)
            for endpoint in endpoints
        ]
    )
    delivery_ids = [delivery.pk for delivery in deliveries]
    transaction.on_commit(lambda: _enqueue_deliveries(delivery_ids))
    return notice


def withdrawal_fan_out(*, event_id: int) -> int:
    """Tell every organization concerned by event `event_id`; returns how many were told.

    Idempotent: one notice per (event, organization) whatever the number of runs.
    """
    event = ConsentEvent.objects.get(pk=event_id)
    if WithdrawalFanOut.objects.filter(event=event).exists():
        return 0
    told_by_org = _told_allowed(_scope(event))
    organizations = Organization.objects.in_bulk(told_by_org.keys())
    notified = 0
    for org_id, told in sorted(told_by_org.items()):
        withdrawn = _withdrawn(organizations[org_id], told.works_by_purpose)
        affected = _affected(told, withdrawn)
        if affected:
            work_ids = {work_id for _purpose, work_id in withdrawn}
            notified += _notify(event, organizations[org_id], affected, work_ids) is not None
    WithdrawalFanOut.objects.get_or_create(event=event, defaults={"organizations": notified})
    return notified


def missed_fan_out_event_ids(*, older_than: timedelta, limit: int = 200) -> list[int]:
    """Withdrawing events whose fan-out never completed (its task was lost), oldest first."""
    cutoff = timezone.now() - older_than
    candidates = (
        ConsentEvent.objects.filter(created_at__lt=cutoff, withdrawal_fan_out__isnull=True)
        .filter(kind__in=[*_ALWAYS_WITHDRAWING, *_TERMS_KINDS])
        .exclude(kind__in=_TERMS_KINDS, payload__permission=Permission.ALLOWED)
        .order_by("sequence")
    )
    return list(candidates.values_list("pk", flat=True)[:limit])
