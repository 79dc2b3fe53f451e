"""Withdrawal notices and the webhooks that carry them to the organizations concerned."""

import secrets
import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from registry.models.ledger import ConsentEvent
from registry.models.organizations import Organization


def new_webhook_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


class WebhookEndpoint(models.Model):
    """Where an organization wants withdrawals POSTed, and the secret that signs them."""

    organization = models.ForeignKey(
        Organization,
        verbose_name=_("organization"),
        on_delete=models.PROTECT,
        related_name="webhook_endpoints",
    )
    url = models.URLField(_("URL"), max_length=2048)
    # Kept in the clear: the registry needs it to compute each HMAC; it is shown once.
    secret = models.CharField(_("signing secret"), max_length=100, default=new_webhook_secret)
    description = models.CharField(_("description"), max_length=200, blank=True)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    disabled_at = models.DateTimeField(_("disabled at"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["organization", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "url"],
                condition=models.Q(active=True),
                name="webhook_endpoint_unique_active_url",
            )
        ]

    def __str__(self) -> str:
        return self.url


class WithdrawalNotice(models.Model):
    """One consent change as it concerns one organization: the works it had been told were
    `allowed` and that no longer are, and the ids of its screened items that matched them."""

    public_id = models.UUIDField(_("event id"), default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization,
        verbose_name=_("organization"),
        on_delete=models.PROTECT,
        related_name="withdrawal_notices",
    )
    event = models.ForeignKey(
        ConsentEvent,
        verbose_name=_("consent event"),
        on_delete=models.PROTECT,
        related_name="withdrawal_notices",
    )
    # The event's sequence, copied so the feed pages on one indexed column.
    sequence = models.PositiveBigIntegerField(_("ledger sequence"))
    works = models.ManyToManyField(
        "registry.Work", related_name="withdrawal_notices", verbose_name=_("works withdrawn")
    )
    # [{"screening_id", "purpose", "item_ids": [...]}], as told to the organization.
    affected = models.JSONField(_("affected items"), default=list)
    item_count = models.PositiveBigIntegerField(_("affected items"), default=0)
    created_at = models.DateTimeField(_("published at"), auto_now_add=True)

    class Meta:
        verbose_name = _("withdrawal notice")
        verbose_name_plural = _("withdrawal notices")
        ordering = ["sequence", "id"]
        constraints = [
            # The fan-out of one event may run twice (task redelivered); one notice wins.
            models.UniqueConstraint(
                fields=["event", "organization"], name="withdrawal_notice_unique_event_org"
            )
        ]
        indexes = [
            # Serves GET /consent-changes?after=SEQ for one organization.
            models.Index(fields=["organization", "sequence"], name="withdrawal_org_sequence"),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} → {self.organization_id}"


class WithdrawalFanOut(models.Model):
    """That the fan-out of one consent event ran to the end, whatever it found; events of a
    withdrawing kind without one are fanned out again by the sweep."""

    event = models.OneToOneField(
        ConsentEvent,
        verbose_name=_("consent event"),
        on_delete=models.PROTECT,
        related_name="withdrawal_fan_out",
    )
    organizations = models.PositiveIntegerField(_("organizations notified"), default=0)
    completed_at = models.DateTimeField(_("completed at"), auto_now_add=True)

    class Meta:
        verbose_name = _("withdrawal fan-out")
        verbose_name_plural = _("withdrawal fan-outs")

    def __str__(self) -> str:
        return f"fan-out of #{self.event_id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed (gave up)")


class WebhookDelivery(models.Model):
    """One notice to one endpoint; retried with back-off until the receiver answers 2xx."""

    notice = models.ForeignKey(
        WithdrawalNotice,
        verbose_name=_("withdrawal notice"),
        on_delete=models.PROTECT,
        related_name="deliveries",
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint,
        verbose_name=_("webhook endpoint"),
        on_delete=models.PROTECT,
        related_name="deliveries",
    )
    status = models.CharField(
        _("status"), max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    # A worker holds a delivery until then; a crashed worker's claim simply expires.
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("last HTTP status"), null=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["notice", "endpoint"], name="webhook_delivery_unique_notice_endpoint"
            )
        ]
        indexes = [
            # Serves the sweep that re-sends pending deliveries whose task was lost.
            models.Index(fields=["status", "next_attempt_at"], name="delivery_status_due"),
        ]

    def __str__(self) -> str:
        return f"{self.notice.public_id} → {self.endpoint_id}"


class WebhookAttempt(models.Model):
    """One POST of a delivery, kept for the admin and for the organization's support."""

    delivery = models.ForeignKey(
        WebhookDelivery, verbose_name=_("delivery"), on_delete=models.CASCADE, related_name="tries"
    )
    number = models.PositiveSmallIntegerField(_("attempt"))
    attempted_at = models.DateTimeField(_("attempted at"))
    status_code = models.PositiveSmallIntegerField(_("HTTP status"), null=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)

    class Meta:
        verbose_name = _("webhook attempt")
        verbose_name_plural = _("webhook attempts")
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"{self.delivery_id}#{self.number}"
