from django.db import models
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.models import AbstractAPIKey

from registry.choice_labels import OrganizationKind


class Organization(models.Model):
    """An AI team, which screens datasets with its API keys and sees only its own screenings;
    or a platform where artists publish, which attests who uploaded a work."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    # Only staff set the kind: a platform is trusted to say who uploaded what.
    kind = models.CharField(
        _("kind"), max_length=20, choices=OrganizationKind.choices, default=OrganizationKind.AI_TEAM
    )
    url_prefix = models.CharField(
        _("platform URL prefix"),
        max_length=500,
        blank=True,
        help_text=_(
            "Platforms only: where its profiles and posts live, e.g. https://www.example.com/. "
            "An attestation's profile and post must be under it."
        ),
    )
    attestation_key = models.TextField(
        _("attestation public key"),
        blank=True,
        help_text=_(
            "Platforms only: the Ed25519 public key (PEM) that signs its attestations. "
            "Replacing it leaves earlier attestations verifiable: each carries its key."
        ),
    )
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
