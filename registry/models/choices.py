"""The fixed vocabularies of the registry, as the models use them: defined in
registry.choice_labels (so the API offers them without importing models), re-exported here."""

from registry.choice_labels import Assurance as Assurance
from registry.choice_labels import MinimumAssurance as MinimumAssurance
from registry.choice_labels import Permission as Permission
from registry.choice_labels import Purpose as Purpose
