"""URLs checked before download: known source URLs, verified site prefixes, and the rest."""

import pytest
from django.core.management import CommandError, call_command

from registry.assurance import OPERATOR_VERIFIED
from registry.gatekeeper import (
    SOURCE_URL,
    Credit,
    MatchedWork,
    Reason,
    ReasonCode,
    WorkPermit,
    decide,
)
from registry.models import ArtistSite, Permission, Purpose
from registry.receipts import ReceiptError, verify
from registry.services.grants import grant_create
from registry.services.sites import site_register, site_verify
from registry.services.terms import terms_set
from registry.services.works import work_remove, work_update
from registry.signing import receipt_signing_key
from registry.url_receipts import answers_root
from tests.api.conftest import item
from tests.api.test_regions_wire import _decided, _hashes, _screening, _verify

ALICE_URL = "https://alice.example/art/fox.png"
BOB_URL = "https://bob.example/gallery/owl.jpg?size=large"


@pytest.fixture
def published(alice, bob, register_work):
    """alice's fox allowed for AI training under CC-BY-4.0; bob's owl left refused."""
    fox = register_work(alice, seed=1, title="Fox", source_urls=[ALICE_URL])
    owl = register_work(bob, seed=2, title="Owl", source_urls=[BOB_URL])
    terms_set(
        artist=alice,
        works=[fox],
        purpose=Purpose.AI_TRAINING,
        permission=Permission.ALLOWED,
        license="CC-BY-4.0",
        attribution="By Alice",
    )
    return {"fox": fox, "owl": owl}


def _check(client, urls, purpose="ai_training", mode="consent_required"):
    response = client.post(
        "/api/v1/urls/check", {"purpose": purpose, "mode": mode, "urls": urls}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_known_source_urls_are_decided_in_order_with_credit(acme_api, published):
    results = _check(acme_api, [BOB_URL, "https://elsewhere.example/cat.png", ALICE_URL])

    assert [(r["url"], r["decision"]) for r in results] == [
        (BOB_URL, "denied"),
        ("https://elsewhere.example/cat.png", "unknown"),
        (ALICE_URL, "allowed"),
    ]
    (credit,) = results[2]["credit"]
    assert (credit["artist"], credit["title"], credit["license"]) == (
        "Alice Liu",
        "Fox",
        "CC-BY-4.0",
    )
    assert credit["work_id"] == published["fox"].pk
    assert results[0]["credit"] == [] and "not_allowed" in results[0]["reason"]


def test_one_source_is_recognised_however_its_url_is_spelled(acme_api, published):
    spellings = [
        "http://ALICE.example:443/art/./fox.png".replace(":443", ""),
        "https://alice.example:443/art/fox.png#top",
        "https://alice.example/art/%66ox.png",
    ]
    assert {r["decision"] for r in _check(acme_api, spellings)} == {"allowed"}
    # Another query string is another resource: nothing is known of it.
    assert _check(acme_api, ["https://bob.example/gallery/owl.jpg?size=small"])[0]["decision"] == (
        "unknown"
    )


def test_each_purpose_and_mode_gets_its_own_answer(acme_api, published):
    mining = _check(acme_api, [ALICE_URL], purpose="data_mining")
    assert mining[0]["decision"] == "denied"

    unknown = "https://elsewhere.example/cat.png"
    strict = _check(acme_api, [ALICE_URL, unknown])
    lenient = _check(acme_api, [ALICE_URL, unknown], mode="respect_opt_outs")
    assert [r["passes"] for r in strict] == [True, False]
    assert [r["passes"] for r in lenient] == [True, True]


def test_a_licensed_source_is_allowed_only_to_the_organization_holding_the_grant(
    alice, acme, acme_api, globex_api, published
):
    terms_set(
        artist=alice,
        works=[published["fox"]],
        purpose=Purpose.AI_TRAINING,
        permission=Permission.LICENSED,
    )
    grant_create(
        artist=alice, organization=acme, purposes=[Purpose.AI_TRAINING], works=[published["fox"]]
    )

    assert _check(acme_api, [ALICE_URL])[0]["decision"] == "allowed"
    assert _check(globex_api, [ALICE_URL])[0]["decision"] == "denied"


def test_a_verified_site_prefix_reserves_every_url_under_it(bob, acme_api):
    site = site_register(artist=bob, url_prefix="https://bob.example/gallery/")
    under = "https://bob.example/gallery/2024/heron.png"

    assert _check(acme_api, [under])[0]["decision"] == "unknown"  # not verified: not counted
    site_verify(site=site)
    results = _check(acme_api, [under, "https://bob.example/gallerys/x.png"])
    assert [r["decision"] for r in results] == ["denied", "unknown"]


def test_changed_and_removed_works_are_looked_up_as_they_are_now(acme_api, published):
    fox = published["fox"]
    work_update(
        work=fox, title="Fox", credit_line="", source_urls=["https://alice.example/new.png"]
    )
    assert _check(acme_api, [ALICE_URL])[0]["decision"] == "unknown"
    assert _check(acme_api, ["https://alice.example/new.png"])[0]["decision"] == "allowed"

    work_remove(work=fox)
    assert _check(acme_api, ["https://alice.example/new.png"])[0]["decision"] == "unknown"


def test_urls_that_are_not_web_addresses_are_unknown_not_errors(acme_api, published):
    results = _check(acme_api, ["ftp://alice.example/art/fox.png", "not a url", ""])
    assert [r["decision"] for r in results] == ["unknown"] * 3


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"purpose": "ai_training"}, "urls"),
        ({"purpose": "ai_training", "urls": []}, "urls"),
        ({"purpose": "sightseeing", "urls": [ALICE_URL]}, "purpose"),
        ({"purpose": "ai_training", "urls": [ALICE_URL], "mode": "anything"}, "mode"),
        ({"purpose": "ai_training", "urls": [7]}, "urls"),
    ],
)
def test_a_malformed_request_names_the_field(acme_api, body, field):
    response = acme_api.post("/api/v1/urls/check", body, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_more_urls_than_the_published_maximum_answer_413(acme_api, settings):
    settings.CONSENTRY_MAX_URLS_PER_CHECK = 3
    urls = [f"https://x.example/{n}.png" for n in range(4)]
    response = acme_api.post(
        "/api/v1/urls/check", {"purpose": "ai_training", "urls": urls}, format="json"
    )
    assert response.status_code == 413 and "3" in response.json()["detail"]


def test_only_organizations_may_check_urls(client, alice_api, published):
    body = {"purpose": "ai_training", "urls": [ALICE_URL]}
    assert client.post("/api/v1/urls/check", body, content_type="application/json").status_code in (
        401,
        403,
    )
    assert alice_api.post("/api/v1/urls/check", body, format="json").status_code in (401, 403)


def test_operators_register_and_verify_a_prefix_from_the_command_line(bob, capsys):
    call_command("add_site_prefix", "bob", "HTTPS://Bob.example/portfolio", "--verified")

    site = ArtistSite.objects.get(artist=bob)
    assert (site.url_prefix, site.verified) == ("https://bob.example/portfolio", True)
    assert "verified" in capsys.readouterr().out
    with pytest.raises(CommandError, match="nobody"):
        call_command("add_site_prefix", "nobody", "https://x.example/")
    with pytest.raises(CommandError, match="registered already"):
        call_command("add_site_prefix", "bob", "https://bob.example/portfolio")


def test_a_permission_counts_only_from_a_verified_claim(mallory, register_work, acme_api):
    """Anybody can list somebody else's URL as the source of a work and allow it: until staff
    verify them, the URL is denied, not allowed on their word."""
    stolen = "https://alice.example/art/heron.png"
    work = register_work(mallory, seed=5, title="Heron", source_urls=[stolen])
    terms_set(
        artist=mallory, works=[work], purpose=Purpose.AI_TRAINING, permission=Permission.ALLOWED
    )

    (result,) = _check(acme_api, [stolen])
    assert (result["decision"], result["credit"]) == ("denied", [])
    assert "consent_unverified" in result["reason"]


def test_each_answer_carries_a_signed_merkle_root_of_its_decisions(acme, acme_api, published):
    """Nothing of a URL check is stored: the answer's attestation is its record."""
    urls = [ALICE_URL, BOB_URL, "https://elsewhere.example/cat.png"]
    response = acme_api.post(
        "/api/v1/urls/check", {"purpose": "ai_training", "urls": urls}, format="json"
    ).json()

    attestation = response["attestation"]
    document = attestation["document"]
    verify(document, attestation["signature"], receipt_signing_key().public_key())
    assert document["organization"] == {"id": acme.pk, "name": "Acme AI"}
    assert (document["purpose"], document["mode"], document["urls"]) == (
        "ai_training",
        "consent_required",
        3,
    )
    assert document["counts"] == {"allowed": 1, "denied": 1, "unknown": 1}
    assert (document["version"], document["scope"]) == (2, "url")
    assert "no image was examined" in document["scope_note"]
    assert document["decisions_root"] == answers_root(response["results"])
    assert [result["works"] for result in response["results"]] == [
        [published["fox"].pk],
        [published["owl"].pk],
        [],
    ]
    # An answer changed after signing no longer adds up to the signed root.
    forged = [dict(result) for result in response["results"]]
    forged[1]["decision"] = "allowed"
    assert answers_root(forged) != document["decisions_root"]


def test_a_source_url_match_alone_never_allows_an_item():
    """The gatekeeper's rule: a work listing the item's URL as its source is no match of the
    image there. It may deny; only the URL check itself, which answers for a URL before
    anything is downloaded, lets it allow."""
    by_url = [MatchedWork(1, SOURCE_URL, {}, exact=True)]
    allowing = {1: WorkPermit(True, "allowed", "CC-BY-4.0", OPERATOR_VERIFIED)}
    refusing = {1: WorkPermit(False, "not_allowed", "", OPERATOR_VERIFIED)}
    credits = {1: Credit("Alice", "Alice", "Fox", 1, "", "CC-BY-4.0", "", OPERATOR_VERIFIED)}

    for mode in ("consent_required", "respect_opt_outs"):
        screened = decide(by_url, allowing, credits, mode=mode)
        assert screened.decision == "unregistered"
        assert screened.reasons == (Reason(ReasonCode.LOOSE_MATCH, 1),)
        assert decide(by_url, refusing, credits, mode=mode).decision == "denied"
    assert decide(by_url, allowing, credits, url_check=True).decision == "allowed"
    assert decide(by_url, refusing, credits, url_check=True).decision == "denied"


@pytest.mark.parametrize("path", ["json", "two_phase", "check"])
def test_an_image_at_an_allowed_works_source_url_is_allowed_only_if_it_is_that_work(
    acme_api, published, run_pending, path
):
    """alice's page may serve another picture now, or anyone may host any picture at that
    address: screened, the item is decided on its image. Her fox itself, at its URL, passes."""
    items = [item("swapped", 40, url=ALICE_URL), item("fox", 1, url=ALICE_URL)]
    if path == "check":
        body = {"purpose": "ai_training", "items": items}
        answer = acme_api.post("/api/v1/check", body, format="json")
        assert answer.status_code == 200, answer.content
        decided = {entry["id"]: entry for entry in answer.json()["items"]}
        assert decided["swapped"]["passes"] is False
    else:
        screening_id = _screening(acme_api, items if path == "json" else None)
        if path == "two_phase":
            needed = _hashes(acme_api, screening_id, items).json()["verification"]["needed"]
            assert needed == [1]  # the URL makes nothing a candidate
            assert _verify(acme_api, screening_id, items, needed).status_code == 202
        decided = _decided(acme_api, screening_id, items, run_pending)

    assert decided["swapped"]["decision"] == "unregistered"
    assert decided["swapped"]["matches"] == [] and decided["swapped"]["credit"] == []
    assert decided["fox"]["decision"] == "allowed"
    assert [credit["work_id"] for credit in decided["fox"]["credit"]] == [published["fox"].pk]
    # The URL check still answers for the URL: alice's fox is allowed at that address.
    (answered,) = _check(acme_api, [ALICE_URL])
    assert answered["decision"] == "allowed"


def test_an_attestation_s_scope_is_under_its_signature(acme_api, published):
    """An "allowed" about a URL cannot be passed off as a screening's: dropping or changing
    the signed scope breaks the signature."""
    attestation = acme_api.post(
        "/api/v1/urls/check", {"purpose": "ai_training", "urls": [ALICE_URL]}, format="json"
    ).json()["attestation"]
    key = receipt_signing_key().public_key()
    verify(attestation["document"], attestation["signature"], key)

    changed = {**attestation["document"], "scope": "image"}
    dropped = {k: v for k, v in attestation["document"].items() if k != "scope"}
    reworded = {**attestation["document"], "scope_note": "The images were screened."}
    for forged in (changed, dropped, reworded):
        with pytest.raises(ReceiptError):
            verify(forged, attestation["signature"], key)
