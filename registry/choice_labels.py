"""The fixed vocabularies of the registry, labelled (see docs/design.md, "Vocabulary"): what
the models store and the API's serializers offer.

Kept outside registry.models so that an entry point that only offers these choices imports no
models (the import-linter contract on the API and the admin); registry.models re-exports them.
Where a term belongs to the gatekeeper (purposes, decisions, modes), registry.gatekeeper owns
its values and the choices here only add labels; tests/test_vocabulary.py keeps the two equal.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from registry import gatekeeper


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


class PendingUploadStatus(models.TextChoices):
    PROCESSING = "processing", _("Processing")
    REGISTERED = "registered", _("Registered")
    REFUSED = "refused", _("Refused")


class WorkHold(models.TextChoices):
    """Why a registered work allows nothing until an operator reviews it (review_held_works);
    the sentence the artist reads is chosen when it is shown (selectors.works.hold_sentence)."""

    # Its registration's check against other artists' works ran out of its budget: one left
    # unchecked might be the work it copies.
    UNCHECKED = "unchecked", _("Not checked against every other artist's work")


class UploadProblem(models.TextChoices):
    """Why a file was refused; the sentence is chosen when it is shown, in the reader's language."""

    EMPTY = "empty", _("Empty file")
    TOO_LARGE = "too_large", _("File too large")
    NOT_AN_IMAGE = "not_an_image", _("Not an image in an accepted format")
    TOO_MANY_PIXELS = "too_many_pixels", _("Too many pixels")
    UNREADABLE = "unreadable", _("Unreadable image")
    NOT_REGISTERED = "not_registered", _("Not registered")
    ALREADY_REGISTERED = "already_registered", _("Registered already")
    TOO_SLOW = "too_slow", _("Took too long")
    INTERNAL = "internal", _("Error on our side")


class ScreeningMode(models.TextChoices):
    CONSENT_REQUIRED = (
        gatekeeper.Mode.CONSENT_REQUIRED.value,
        _("Consent required (only allowed items pass)"),
    )
    RESPECT_OPT_OUTS = (
        gatekeeper.Mode.RESPECT_OPT_OUTS.value,
        _("Respect opt-outs (unregistered items pass too)"),
    )


class ScreeningStatus(models.TextChoices):
    RECEIVING = "receiving", _("Receiving chunks")
    RUNNING = "running", _("Running")
    FINISHED = "finished", _("Finished")


class Decision(models.TextChoices):
    ALLOWED = gatekeeper.Decision.ALLOWED.value, _("Allowed")
    DENIED = gatekeeper.Decision.DENIED.value, _("Denied")
    UNREGISTERED = gatekeeper.Decision.UNREGISTERED.value, _("Unregistered")
    INVALID = gatekeeper.Decision.INVALID.value, _("Invalid")
