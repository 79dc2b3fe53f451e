"""Which open disputes set a later work aside: only a close, less sure later claim is
superseded by the earlier work; a loose one keeps its refusal (fail closed)."""

import pytest

from registry.models import Dispute
from registry.selectors.consent import disputed_works
from registry.services.works import work_register
from tests.test_works import _repost


@pytest.fixture
def pair(alice, bob, register_work):
    return register_work(alice, seed=1), register_work(bob, seed=2)


@pytest.mark.parametrize(
    ("distances", "superseded"),
    [
        ({"phash": 0, "close": True}, True),
        ({"phash": 9, "close": False}, False),  # a region of a collage, an overlay inside
        ({"phash": 0}, True),  # recorded before the flag: as it was read then
    ],
    ids=["close", "loose", "unflagged"],
)
def test_only_a_close_less_sure_later_claim_is_superseded(pair, distances, superseded):
    earlier, later = pair
    Dispute.objects.create(
        existing_work=earlier,
        claimed_work=later,
        distances=distances,
        existing_assurance="site_verified",
        claimed_assurance="self_asserted",
        freezes=False,
    )

    found = disputed_works([later.pk])

    assert found.superseded == ({later.pk: earlier.pk} if superseded else {})
    assert found.frozen == {}


def test_a_registration_records_whether_its_claim_was_close(alice, bob, register_work):
    register_work(alice, seed=1)

    (dispute,) = work_register(artist=bob, data=_repost(1), title="Mine").disputes

    assert dispute.distances["close"] is True
