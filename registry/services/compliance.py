"""Webhooks: organizations register endpoints; withdrawal notices are POSTed to them, signed
with HMAC-SHA256 over a timestamp and the body, and retried with back-off until answered 2xx.

Every delivery of one notice carries the same `Consentry-Event-Id`, on retries and on manual
redeliveries alike, so a receiver that records the ids it has processed acts on each once.
"""

import hashlib
import hmac
import ipaddress
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from registry.models import (
    DeliveryStatus,
    Organization,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WithdrawalNotice,
)
from registry.outbound import (
    Resolver,
    Unresolvable,
    UnsafeAddress,
    post_to_checked_address,
    resolve_target,
    system_resolver,
)
from registry.receipts import canonical_json
from registry.services.withdrawals import enqueue_delivery

SIGNATURE_HEADER = "Consentry-Signature"
EVENT_ID_HEADER = "Consentry-Event-Id"
EVENT_TYPE = "consent.withdrawn"
MAX_ATTEMPTS = 10
FIRST_BACKOFF_SECONDS = 30
MAX_BACKOFF_SECONDS = 6 * 3600
# How long one worker holds a delivery: longer than a POST can take (connect + read timeouts).
LEASE = timedelta(seconds=60)
TIMEOUTS = (5.0, 15.0)
SIGNATURE_TOLERANCE_SECONDS = 300


# --- Endpoints --------------------------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_webhook_url(url: str, *, resolver: Resolver | None = None) -> None:
    """HTTPS only; plain HTTP to loopback outside production (local development and tests).

    A host that is, or resolves to, a private, loopback (in production), link-local or
    reserved address is refused, so that a webhook cannot be aimed at the registry's own
    infrastructure. A name that does not resolve yet is accepted: every delivery checks again.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host or parts.scheme not in {"https", "http"}:
        raise ValidationError(_("A webhook URL must be an https:// URL."))
    if parts.username or parts.password:
        raise ValidationError(_("A webhook URL must not carry credentials."))
    try:
        parts.port  # noqa: B018 - urllib reads the port only when asked, and refuses it then
    except ValueError:
        raise ValidationError(_("A webhook URL's port must be a number up to 65535.")) from None
    if _is_loopback(host) and settings.PRODUCTION:
        raise ValidationError(_("A webhook URL must not point at this machine."))
    try:
        target = resolve_target(
            url, resolver=resolver or system_resolver, allow_loopback=not settings.PRODUCTION
        )
    except Unresolvable:
        target = None
    except UnsafeAddress as error:
        raise ValidationError(
            _("A webhook URL must not point into a private network: %(reason)s.")
            % {"reason": error}
        ) from None
    if parts.scheme == "http" and not (target and target.loopback):
        raise ValidationError(
            _("A webhook URL must use https (http is accepted for loopback only).")
        )


@transaction.atomic
def webhook_endpoint_register(
    *,
    organization: Organization,
    url: str,
    description: str = "",
    resolver: Resolver | None = None,
) -> WebhookEndpoint:
    """Register an endpoint; its secret is returned here and never shown again by the API."""
    validate_webhook_url(url, resolver=resolver)
    if WebhookEndpoint.objects.filter(organization=organization, url=url, active=True).exists():
        raise ValidationError(_("This URL is registered already."))
    return WebhookEndpoint.objects.create(
        organization=organization, url=url, description=description.strip()[:200]
    )


@transaction.atomic
def webhook_endpoint_disable(*, endpoint: WebhookEndpoint) -> bool:
    """Stop sending to an endpoint; False when it was disabled already."""
    disabled = WebhookEndpoint.objects.filter(pk=endpoint.pk, active=True).update(
        active=False, disabled_at=timezone.now()
    )
    return bool(disabled)


# --- Signing ----------------------------------------------------------------------------------


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={webhook_signature(secret, timestamp, body)}"


def verify_signature_header(
    header: str, body: bytes, secret: str, *, now: float | None = None
) -> bool:
    """What a receiver runs: the HMAC matches and the timestamp is recent (no replays)."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > SIGNATURE_TOLERANCE_SECONDS:
        return False
    expected = webhook_signature(secret, timestamp, body)
    return hmac.compare_digest(expected, fields.get("v1", ""))


def notice_document(notice: WithdrawalNotice) -> dict[str, Any]:
    """The notice as the feed and the webhook both show it."""
    event = notice.event
    return {
        "id": str(notice.public_id),
        "type": EVENT_TYPE,
        "organization": {"id": notice.organization_id, "name": notice.organization.name},
        "consent_event": {
            "sequence": event.sequence,
            "kind": event.kind,
            "hash": event.hash,
            "recorded_at": event.created_at.isoformat(),
        },
        "work_ids": sorted(work.pk for work in notice.works.all()),
        "affected": notice.affected,
        "item_count": notice.item_count,
        "published_at": notice.created_at.isoformat(),
    }


def notice_body(notice: WithdrawalNotice) -> bytes:
    # Canonical JSON: every attempt of a delivery sends the very same bytes.
    return canonical_json(notice_document(notice))


# --- Delivering -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryOutcome:
    delivered: bool
    retry_in: int | None = None


def backoff_seconds(attempts: int) -> int:
    return int(min(FIRST_BACKOFF_SECONDS * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS))


def _claim(delivery_id: int) -> bool:
    # A conditional UPDATE decides which worker sends: a duplicate task finds the row leased
    # (or delivered) and leaves it; a crashed worker's lease simply runs out.
    now = timezone.now()
    claimed = (
        WebhookDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .update(locked_until=now + LEASE)
    )
    return bool(claimed)


@dataclass(frozen=True)
class _Response:
    status_code: int | None
    error: str
    duration_ms: int


def _post(
    endpoint: WebhookEndpoint, notice: WithdrawalNotice, resolver: Resolver | None
) -> _Response:
    body = notice_body(notice)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Consentry-Webhooks/1",
        EVENT_ID_HEADER: str(notice.public_id),
        SIGNATURE_HEADER: signature_header(endpoint.secret, int(time.time()), body),
    }
    started = time.monotonic()
    try:
        # Resolved and checked at every attempt: the name may point elsewhere since the last.
        target = resolve_target(
            endpoint.url,
            resolver=resolver or system_resolver,
            allow_loopback=not settings.PRODUCTION,
        )
        status = post_to_checked_address(target, body, headers, timeouts=TIMEOUTS)
    except UnsafeAddress as error:
        return _Response(None, f"refused: {error}"[:500], 0)
    except urllib3.exceptions.HTTPError as error:
        elapsed = int((time.monotonic() - started) * 1000)
        return _Response(None, f"{type(error).__name__}: {error}"[:500], elapsed)
    elapsed = int((time.monotonic() - started) * 1000)
    if 300 <= status < 400:
        return _Response(status, f"HTTP {status}: redirects are not followed", elapsed)
    refused = "" if 200 <= status < 300 else f"HTTP {status}"
    return _Response(status, refused, elapsed)


def webhook_deliver(*, delivery_id: int, resolver: Resolver | None = None) -> DeliveryOutcome:
    """Make one attempt; the outcome says whether (and when) to try again."""
    if not _claim(delivery_id):
        return DeliveryOutcome(delivered=False)
    delivery = WebhookDelivery.objects.select_related(
        "endpoint", "notice__event", "notice__organization"
    ).get(pk=delivery_id)
    if not delivery.endpoint.active:
        response = _Response(None, "the endpoint was disabled", 0)
    else:
        response = _post(delivery.endpoint, delivery.notice, resolver)
    return _record(delivery, response)


@transaction.atomic
def _record(delivery: WebhookDelivery, response: _Response) -> DeliveryOutcome:
    now = timezone.now()
    delivered = not response.error
    attempts = delivery.attempts + 1
    WebhookAttempt.objects.create(
        delivery=delivery,
        number=delivery.tries.count() + 1,
        attempted_at=now,
        status_code=response.status_code,
        error=response.error,
        duration_ms=response.duration_ms,
    )
    gave_up = not delivered and (attempts >= MAX_ATTEMPTS or not delivery.endpoint.active)
    retry_in = None if delivered or gave_up else backoff_seconds(attempts)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        attempts=attempts,
        status=(
            DeliveryStatus.DELIVERED
            if delivered
            else DeliveryStatus.FAILED
            if gave_up
            else DeliveryStatus.PENDING
        ),
        delivered_at=now if delivered else None,
        next_attempt_at=now + timedelta(seconds=retry_in) if retry_in is not None else None,
        last_status_code=response.status_code,
        last_error=response.error,
        locked_until=None,
    )
    return DeliveryOutcome(delivered=delivered, retry_in=retry_in)


@transaction.atomic
def webhook_redeliver(*, delivery: WebhookDelivery) -> bool:
    """Send a notice again (after a failure, or when the receiver lost it), with the same
    event id; False while an attempt is under way."""
    now = timezone.now()
    reset = (
        WebhookDelivery.objects.filter(pk=delivery.pk, endpoint__active=True)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .update(status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=now)
    )
    if reset:
        delivery_id = delivery.pk
        transaction.on_commit(lambda: enqueue_delivery(delivery_id))
    return bool(reset)


def overdue_delivery_ids(*, grace: timedelta, limit: int = 500) -> list[int]:
    """Pending deliveries whose retry is overdue by `grace`: their task message was lost."""
    cutoff = timezone.now() - grace
    overdue = WebhookDelivery.objects.filter(
        status=DeliveryStatus.PENDING, next_attempt_at__lt=cutoff
    ).filter(Q(locked_until__isnull=True) | Q(locked_until__lt=timezone.now()))
    return list(overdue.order_by("next_attempt_at").values_list("pk", flat=True)[:limit])
