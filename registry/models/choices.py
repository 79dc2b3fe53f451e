"""The fixed vocabularies of the registry (see docs/design.md, "Vocabulary").

Where a term belongs to the gatekeeper (purposes, decisions, modes), registry.gatekeeper owns
its values and the choices here only add labels; tests/test_vocabulary.py keeps the two equal.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from registry import gatekeeper


class Purpose(models.TextChoices):
    """The four uses named by the C2PA 1.4 / CAWG training-and-data-mining assertion."""

    AI_TRAINING = gatekeeper.Purpose.AI_TRAINING.value, _("AI training")
    AI_GENERATIVE_TRAINING = (
        gatekeeper.Purpose.AI_GENERATIVE_TRAINING.value,
        _("Generative AI training"),
    )
    DATA_MINING = gatekeeper.Purpose.DATA_MINING.value, _("Data mining")
    AI_INFERENCE = gatekeeper.Purpose.AI_INFERENCE.value, _("AI inference")


class Permission(models.TextChoices):
    ALLOWED = "allowed", _("Allowed")
    NOT_ALLOWED = "not_allowed", _("Not allowed")
    LICENSED = "licensed", _("Licensed organizations only")


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
