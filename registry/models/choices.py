"""The fixed vocabularies of the registry (see docs/design.md, "Vocabulary").

Where a term belongs to the gatekeeper (purposes, decisions, modes), registry.gatekeeper owns
its values and the choices here only add labels; tests/test_vocabulary.py keeps the two equal.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from registry import gatekeeper

# Re-exported: these choices are defined outside the models for the API (registry.choice_labels).
from registry.choice_labels import Assurance as Assurance
from registry.choice_labels import MinimumAssurance as MinimumAssurance


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
