from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from registry.models.choices import Assurance
from registry.models.works import Work


class DisputeStatus(models.TextChoices):
    OPEN = "open", _("Open")
    RESOLVED = "resolved", _("Resolved")


class DisputeResolution(models.TextChoices):
    DISTINCT = "distinct", _("Distinct works: both stand")
    KEEP_EXISTING = "keep_existing", _("The earlier registration owns the work")
    KEEP_CLAIMED = "keep_claimed", _("The later registration owns the work")


class DisputeQuerySet(models.QuerySet["Dispute"]):
    def open(self) -> "DisputeQuerySet":
        return self.filter(status=DisputeStatus.OPEN)


class Dispute(models.Model):
    """Two artists claiming near-identical works.

    While it is open, both count as denied when the claims were equally sure (`freezes`). A later
    claim less sure than the earlier one freezes nothing: it cannot change the earlier work's
    decisions, and is itself not counted until an operator resolves the dispute.
    """

    existing_work = models.ForeignKey(
        Work,
        verbose_name=_("existing work"),
        on_delete=models.PROTECT,
        related_name="disputes_as_existing",
    )
    claimed_work = models.ForeignKey(
        Work,
        verbose_name=_("claimed work"),
        on_delete=models.PROTECT,
        related_name="disputes_as_claimed",
    )
    distances = models.JSONField(_("distances"), default=dict)
    existing_assurance = models.CharField(
        _("assurance of the earlier claim"),
        max_length=20,
        choices=Assurance.choices,
        default=Assurance.SELF_ASSERTED,
    )
    claimed_assurance = models.CharField(
        _("assurance of the later claim"),
        max_length=20,
        choices=Assurance.choices,
        default=Assurance.SELF_ASSERTED,
    )
    freezes = models.BooleanField(
        _("denies both works while open"),
        default=True,
        help_text=_(
            "False when the later claim was less sure than the earlier one: "
            "the earlier work's decisions stand until an operator resolves the dispute."
        ),
    )
    status = models.CharField(
        _("status"), max_length=16, choices=DisputeStatus.choices, default=DisputeStatus.OPEN
    )
    resolution = models.CharField(
        _("resolution"), max_length=16, choices=DisputeResolution.choices, blank=True
    )
    note = models.TextField(_("note"), blank=True)
    opened_at = models.DateTimeField(_("opened at"), auto_now_add=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("resolved by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    objects = DisputeQuerySet.as_manager()

    class Meta:
        verbose_name = _("dispute")
        verbose_name_plural = _("disputes")
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["existing_work", "claimed_work"], name="dispute_unique_pair"
            )
        ]

    def __str__(self) -> str:
        return f"{self.existing_work_id} / {self.claimed_work_id}"
