import secrets
from datetime import datetime

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from registry.models.artists import Artist
from registry.models.choices import Permission, Purpose
from registry.models.organizations import Organization
from registry.models.works import Work


class TermsBase(models.Model):
    purpose = models.CharField(_("purpose"), max_length=32, choices=Purpose.choices)
    permission = models.CharField(
        _("permission"), max_length=16, choices=Permission.choices, default=Permission.NOT_ALLOWED
    )
    license = models.CharField(
        _("licence"),
        max_length=100,
        blank=True,
        help_text=_("An SPDX licence id (e.g. CC-BY-4.0) or a grant reference."),
    )
    attribution = models.TextField(
        _("attribution text"), blank=True, help_text=_("Text that must accompany the work.")
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        abstract = True


class Terms(TermsBase):
    """An artist's decision for one work and one purpose. Absent: the artist's defaults apply."""

    work = models.ForeignKey(
        Work, verbose_name=_("work"), on_delete=models.CASCADE, related_name="terms"
    )

    class Meta:
        verbose_name = _("terms")
        verbose_name_plural = _("terms")
        constraints = [
            models.UniqueConstraint(fields=["work", "purpose"], name="terms_unique_work_purpose")
        ]

    def __str__(self) -> str:
        return f"{self.work_id} {self.purpose}: {self.permission}"


class DefaultTerms(TermsBase):
    """An artist's default for works that have no terms of their own for the purpose."""

    artist = models.ForeignKey(
        Artist, verbose_name=_("artist"), on_delete=models.CASCADE, related_name="default_terms"
    )

    class Meta:
        verbose_name = _("default terms")
        verbose_name_plural = _("default terms")
        constraints = [
            models.UniqueConstraint(
                fields=["artist", "purpose"], name="default_terms_unique_artist_purpose"
            )
        ]

    def __str__(self) -> str:
        return f"{self.artist_id} {self.purpose}: {self.permission}"


def new_grant_reference() -> str:
    return f"grant-{secrets.token_hex(6)}"


class GrantQuerySet(models.QuerySet["Grant"]):
    def valid_at(self, when: datetime) -> "GrantQuerySet":
        return self.filter(revoked_at__isnull=True, valid_from__lte=when).filter(
            models.Q(valid_until__isnull=True) | models.Q(valid_until__gt=when)
        )


class Grant(models.Model):
    """An artist's licence to one organization, for some purposes and all or chosen works."""

    artist = models.ForeignKey(
        Artist, verbose_name=_("artist"), on_delete=models.PROTECT, related_name="grants"
    )
    organization = models.ForeignKey(
        Organization,
        verbose_name=_("organization"),
        on_delete=models.PROTECT,
        related_name="grants",
    )
    reference = models.CharField(
        _("reference"), max_length=100, unique=True, default=new_grant_reference
    )
    purposes = models.JSONField(_("purposes"), default=list)
    # Explicit rather than "no works chosen means all": an empty selection must never widen a grant.
    covers_all_works = models.BooleanField(_("covers all works"), default=False)
    works = models.ManyToManyField(Work, blank=True, related_name="grants", verbose_name=_("works"))
    valid_from = models.DateTimeField(_("valid from"), default=timezone.now)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = GrantQuerySet.as_manager()

    class Meta:
        verbose_name = _("grant")
        verbose_name_plural = _("grants")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.reference
