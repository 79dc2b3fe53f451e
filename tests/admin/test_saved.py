"""adopt_saved: the admin's unsaved object becomes the row a service created."""

import pytest

from registry.admin.saved import adopt_saved
from registry.models import Organization
from registry.services.organizations import organization_create


def test_the_admins_object_takes_the_rows_values_and_is_saved(db):
    created = organization_create(name="Acme AI")
    obj = Organization(name="typed in the form")

    adopt_saved(obj, created)

    assert (obj.pk, obj.name, obj.created_at) == (created.pk, "Acme AI", created.created_at)
    assert obj._state.adding is False and obj._state.db == "default"
    # Its own state: the service's object is not changed through it.
    assert obj._state is not created._state
    obj.name = "renamed"
    assert created.name == "Acme AI"


def test_an_object_of_another_model_is_refused(db, alice):
    with pytest.raises(TypeError):
        adopt_saved(Organization(name="x"), alice)
