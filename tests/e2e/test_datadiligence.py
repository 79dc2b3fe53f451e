"""datadiligence, as img2dataset users call it, consulting Consentry after one register()."""

import datadiligence as dd
import pytest

from registry.client.diligence import register
from registry.models import Permission, Purpose
from registry.services.organizations import api_key_create, organization_create
from registry.services.terms import terms_set
from tests.api.conftest import image_bytes
from tests.optout.support import signed_image, training_mining

ALLOWED_URL = "https://alice.example/art/fox.png"
REFUSED_URL = "https://bob.example/art/owl.png"
UNKNOWN_URL = "https://elsewhere.example/cat.png"


@pytest.fixture
def consentry(transactional_db, live_server, alice, bob, register_work):
    fox = register_work(alice, seed=1, title="Fox", source_urls=[ALLOWED_URL])
    register_work(bob, seed=2, title="Owl", source_urls=[REFUSED_URL])
    terms_set(artist=alice, works=[fox], purpose=Purpose.AI_TRAINING, permission=Permission.ALLOWED)
    _, key = api_key_create(organization=organization_create(name="Acme AI"))
    evaluator = register(api=live_server.url, key=key, purpose="ai_training")
    yield evaluator
    dd.deregister_evaluator("consentry")
    preprocess = dd.get_evaluator("preprocess")
    preprocess.rules = [rule for rule in preprocess.rules if rule is not evaluator.url_rule]


def test_plain_url_calls_consult_the_registry(consentry):
    urls = [ALLOWED_URL, REFUSED_URL, UNKNOWN_URL]

    assert dd.is_allowed(urls=urls) == [True, False, True]
    assert dd.filter_allowed(urls=urls) == [ALLOWED_URL, UNKNOWN_URL]
    assert dd.is_allowed(name="consentry", urls=urls) == [True, False, True]


def test_image_bytes_are_fingerprinted_locally_and_decided(consentry, tmp_path):
    copy_of_allowed = image_bytes(1, scale=0.7)
    copy_of_refused = image_bytes(2, scale=0.7)
    stranger = image_bytes(40)

    assert dd.is_allowed(name="consentry", body=copy_of_allowed) is True
    assert dd.is_allowed(name="consentry", body=copy_of_refused) is False
    # consent_required: nobody registered the stranger, so nobody consented to its use.
    assert dd.is_allowed(name="consentry", body=stranger) is False
    path = tmp_path / "owl.jpg"
    path.write_bytes(copy_of_refused)
    assert dd.is_allowed(name="consentry", path=str(path)) is False


def test_an_opt_out_embedded_in_the_image_denies_a_copy_of_an_allowed_work(consentry):
    """The file's own C2PA reservation travels with its fingerprint: alice allowed the work in
    the registry, but this copy carries a notAllowed for AI training, which wins."""
    copy_of_allowed = image_bytes(1, scale=0.7)
    reserved = signed_image([training_mining(ai_training="notAllowed")], source=copy_of_allowed)

    assert dd.is_allowed(name="consentry", body=copy_of_allowed) is True
    assert dd.is_allowed(name="consentry", body=reserved) is False


def test_an_unreadable_image_is_not_allowed(consentry):
    assert dd.is_allowed(name="consentry", body=b"not an image at all") is False


def test_an_unreachable_registry_raises_rather_than_allows(transactional_db):
    evaluator = register(api="http://127.0.0.1:9", key="k", purpose="ai_training", retry_for=0)
    try:
        with pytest.raises(Exception, match=r"127\.0\.0\.1"):
            dd.is_allowed(name="consentry", urls=[ALLOWED_URL])
    finally:
        dd.deregister_evaluator("consentry")
        preprocess = dd.get_evaluator("preprocess")
        preprocess.rules = [rule for rule in preprocess.rules if rule is not evaluator.url_rule]
