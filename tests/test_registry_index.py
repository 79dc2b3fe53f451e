"""The in-memory index follows PostgreSQL: new works count from the next match, removed ones
stop counting, and an index that saw a rolled-back change is rebuilt rather than trusted."""

import io

import numpy as np
import pytest
from django.db import transaction
from PIL import Image

from registry.demo_art import artwork, artwork_bytes
from registry.fingerprints import fingerprint_image
from registry.matching.rules import MatchingConfig
from registry.models import Fingerprint
from registry.selectors.ledger import registry_version
from registry.selectors.matching import RegistryIndex, match_items
from registry.services.works import work_register
from tests.conftest import _SEED_BASE


def _query(seed):
    """The registered artwork as a smaller re-encoded copy."""
    buffer = io.BytesIO()
    artwork(_SEED_BASE + seed).resize((400, 300)).save(buffer, format="JPEG", quality=75)
    return fingerprint_image(buffer.getvalue())


def test_a_work_registered_after_the_index_was_built_counts_at_once(alice, register_work):
    index = RegistryIndex()
    register_work(alice, seed=1)
    assert index.sync() == registry_version()

    later = register_work(alice, seed=2)

    (item,) = match_items([_query(2)], index=index)
    matches = item.matches
    assert [match.work_id for match in matches] == [later.pk]
    assert index.sync() == registry_version()


def test_an_index_in_step_with_the_ledger_syncs_with_one_query(
    alice, register_work, django_assert_num_queries
):
    """Every check and every chunk syncs first: when nothing changed, that is one read of the
    ledger's head, not a check of the chain as well."""
    index = RegistryIndex()
    register_work(alice, seed=6)
    version = index.sync()

    with django_assert_num_queries(1):
        assert index.sync() == version


def test_an_index_that_saw_a_rolled_back_registration_is_rebuilt(alice):
    index = RegistryIndex()

    with pytest.raises(RuntimeError), transaction.atomic():
        work_register(artist=alice, data=artwork_bytes(_SEED_BASE + 3), title="Gone")
        index.sync()  # sees the uncommitted work
        raise RuntimeError("the registration fails after the index saw it")

    assert match_items([_query(3)], index=index)[0].matches == []
    replacement = work_register(artist=alice, data=artwork_bytes(_SEED_BASE + 4), title="New")
    (item,) = match_items([_query(4)], index=index)
    matches = item.matches
    assert [match.work_id for match in matches] == [replacement.work.pk]


@pytest.fixture
def shared():
    from registry.selectors.matching import shared_index

    yield shared_index()
    shared_index().reset()  # the next test's first match loads it afresh


@pytest.mark.parametrize("switch", ["1", "0"])
def test_a_worker_loads_the_index_before_its_pool_forks_unless_told_not_to(
    alice, register_work, monkeypatch, shared, switch
):
    """Loaded in the worker's main process, the index is shared by the pool processes it
    forks: none of them starts its first chunk with a minute-long load."""
    from registry import tasks

    work = register_work(alice, seed=5)
    shared.reset()  # as in a worker that has just started
    monkeypatch.setenv("CONSENTRY_PRELOAD_INDEX", switch)

    tasks._load_matching_index()

    hashes = _query(5).hashes
    probe = (np.array([hashes.phash], np.uint64), np.array([hashes.dhash], np.uint64))
    if switch == "1":
        assert work.pk in shared.search(*probe).work_id.tolist()
    else:
        with pytest.raises(RuntimeError, match="sync"):
            shared.search(*probe)


def test_an_item_over_its_verification_budget_is_reported_not_decided(alice, bob):
    """Two artists registered the same picture: with a budget of one verification, the second
    candidate work is left unverified, and the item says so instead of answering with one."""
    data = artwork_bytes(_SEED_BASE + 5)
    first = work_register(artist=alice, data=data, title="Alice's").work
    second = work_register(artist=bob, data=data, title="Bob's").work
    tight = RegistryIndex(MatchingConfig(max_verifications=1))
    roomy = RegistryIndex(MatchingConfig(max_verifications=8))

    (over,) = match_items([_query(5)], index=tight)
    (within,) = match_items([_query(5)], index=roomy)

    assert over.over_budget
    assert not within.over_budget
    assert {match.work_id for match in within.matches} == {first.pk, second.pk}


def test_a_plain_work_is_kept_for_exact_copies_only_and_the_artist_is_told(alice):
    """The weak-image gate at registration: a gradient would match every plain query."""
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize((400, 300)).save(buffer, format="PNG")
    registration = work_register(artist=alice, data=buffer.getvalue(), title="Dawn")

    assert registration.notice
    assert not Fingerprint.objects.filter(work=registration.work).exists()
    (item,) = match_items([fingerprint_image(buffer.getvalue())])
    exact = item.matches
    assert [(match.work_id, match.exact) for match in exact] == [(registration.work.pk, True)]
    assert not work_register(artist=alice, data=artwork_bytes(_SEED_BASE + 6), title="Art").notice


def test_an_item_over_its_verification_budget_is_decided_invalid_never_allowed(
    alice, bob, acme, monkeypatch
):
    from registry.gatekeeper import INVALID
    from registry.models import Purpose
    from registry.selectors import matching
    from registry.selectors.decisions import OVER_BUDGET, decide_items

    data = artwork_bytes(_SEED_BASE + 7)
    work_register(artist=alice, data=data, title="Alice's", allow=[Purpose.AI_TRAINING])
    work_register(artist=bob, data=data, title="Bob's", allow=[Purpose.AI_TRAINING])
    item = _query(7).to_wire()

    monkeypatch.setattr(
        matching, "_shared_index", RegistryIndex(MatchingConfig(max_verifications=1))
    )
    (tight,) = decide_items(organization=acme, purpose=Purpose.AI_TRAINING, items=[item])
    monkeypatch.setattr(
        matching, "_shared_index", RegistryIndex(MatchingConfig(max_verifications=8))
    )
    (roomy,) = decide_items(organization=acme, purpose=Purpose.AI_TRAINING, items=[item])

    assert (tight.decision, tight.reason) == (INVALID, OVER_BUDGET)
    assert roomy.decision != INVALID
