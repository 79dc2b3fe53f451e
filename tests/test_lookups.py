"""`field__any`: the many-values filter the screening reads use, on columns and foreign keys."""

import pytest
from django.db.models import Q

from registry.models import Fingerprint, Work


@pytest.mark.django_db
def test_any_selects_the_same_rows_as_in(alice, bob, register_work):
    first, second, third = (
        register_work(owner, seed=n) for n, owner in enumerate([alice, bob, alice])
    )
    wanted = [first.pk, third.pk, 10**12]  # an id that does not exist matches nothing

    assert set(Work.objects.filter(pk__any=wanted)) == {first, third}
    assert set(Work.objects.filter(sha256__any=[second.sha256])) == {second}
    by_key = Fingerprint.objects.filter(work_id__any=wanted, variant="original")
    assert {fingerprint.work_id for fingerprint in by_key} == {first.pk, third.pk}


@pytest.mark.django_db
def test_any_of_nothing_matches_nothing(alice, register_work):
    register_work(alice, seed=1)
    assert list(Work.objects.filter(pk__any=[])) == []
    # Inside an OR, an empty list drops only its own branch.
    assert Work.objects.filter(Q(pk__any=[]) | Q(artist=alice)).count() == 1
