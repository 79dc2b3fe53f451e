"""Labelled choices that the API's serializers show as well as the models store.

Kept outside registry.models so that an entry point that only offers these choices imports no
models (the import-linter contract on the API and the admin); registry.models re-exports them.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Assurance(models.TextChoices):
    """How sure the registry is that a claim comes from the rights holder (registry.assurance)."""

    SELF_ASSERTED = "self_asserted", _("Self-asserted (not verified)")
    SITE_VERIFIED = "site_verified", _("Verified through the artist's site")
    PLATFORM_ATTESTED = "platform_attested", _("Attested by a platform")
    OPERATOR_VERIFIED = "operator_verified", _("Verified by the registry's staff")


class MinimumAssurance(models.TextChoices):
    """The least assurance a screening accepts for a permission to count."""

    VERIFIED = "verified", _("Any verified level")
    OPERATOR_VERIFIED = "operator_verified", _("Verified by the registry's staff")


class OrganizationKind(models.TextChoices):
    AI_TEAM = "ai_team", _("AI team")
    # A site where artists publish: its signed statements of who uploaded what raise a
    # work's claim to `platform_attested` (registry.services.attestations).
    PLATFORM = "platform", _("Platform")
