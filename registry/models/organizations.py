from django.db import models
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.models import AbstractAPIKey


class Organization(models.Model):
    """An AI team. It screens datasets with its API keys and sees only its own screenings."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class OrganizationAPIKey(AbstractAPIKey):
    """An API key of one organization; only its hash is stored."""

    organization = models.ForeignKey(
        Organization,
        verbose_name=_("organization"),
        on_delete=models.CASCADE,
        related_name="api_keys",
    )

    class Meta:
        ordering = ["-created"]
        verbose_name = _("organization API key")
        verbose_name_plural = _("organization API keys")
