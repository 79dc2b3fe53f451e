"""A platform attests, signed, that one of its accounts uploaded a work: end to end through the
API, and every way a platform, an AI team or an artist could try to abuse it."""

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command
from django.core.management.base import CommandError

from registry.attestations import first_bad_attestation, sign_statement
from registry.exports.ledger import ledger_jsonl
from registry.exports.ledger_check import LedgerExportError, verify_ledger_export
from registry.ledger import LedgerEntry
from registry.models import Assurance, ConsentEvent, ConsentEventKind, OrganizationKind, Work
from registry.receipts import public_pem
from registry.services.artists import artist_link_save, work_assurance_set
from registry.services.organizations import organization_kind_set
from registry.signing import receipt_signing_key
from tests.api.conftest import api_client, artist_client, image_bytes, item
from tests.api.test_assurance import _decided, _upload
from tests.factories import OrganizationFactory

URL = "/api/v1/platform/attestations"
PROFILE = "https://www.pinboard.example/user/mallory"
POST = "https://www.pinboard.example/post/8812"


@pytest.fixture
def platform_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def pinboard(db, platform_key):
    """A platform where artists publish; staff registered its prefix and its public key."""
    organization = OrganizationFactory.create(name="Pinboard")
    return organization_kind_set(
        organization=organization,
        kind=OrganizationKind.PLATFORM,
        url_prefix="https://www.pinboard.example/",
        attestation_key=public_pem(platform_key.public_key()),
    )


@pytest.fixture
def pinboard_api(pinboard):
    return api_client(pinboard)


@pytest.fixture
def linked_mallory(mallory):
    """mallory names her Pinboard profile among her links in the registry."""
    artist_link_save(artist=mallory, label="Pinboard", url=PROFILE)
    return mallory


def _statement(artist, **fields):
    return {
        "artist": artist.pk,
        "profile_url": PROFILE,
        "post_url": POST,
        "issued_at": datetime.now(UTC).isoformat(),
        **fields,
    }


def _attest(client, statement, key):
    body = {"statement": statement, "signature": sign_statement(statement, key)}
    return client.post(URL, body, format="json")


def _assurance_events():
    return ConsentEvent.objects.filter(kind=ConsentEventKind.ASSURANCE_CHANGED)


def test_an_attested_upload_turns_a_denied_copy_allowed_with_its_evidence_in_the_ledger(
    linked_mallory, pinboard_api, platform_key, acme_api, run_pending
):
    work_id = _upload(linked_mallory, seed=41)
    items, _ = _decided(acme_api, run_pending, [item("copy", 41)])
    assert items["copy"]["decision"] == "denied"
    assert f"work {work_id}: consent_unverified" in items["copy"]["reason"]

    # The platform hashes the file its user uploaded: the same bytes the artist registered.
    sha256 = hashlib.sha256(image_bytes(41)).hexdigest()
    statement = _statement(linked_mallory, sha256=sha256)
    response = _attest(pinboard_api, statement, platform_key)

    assert response.status_code == 201, response.content
    assert response.json() == {
        "works": [{"work_id": work_id, "assurance": "platform_attested", "changed": True}]
    }
    items, screening = _decided(acme_api, run_pending, [item("copy", 41)])
    assert items["copy"]["decision"] == "allowed"
    (credit,) = items["copy"]["credit"]
    assert credit["work_id"] == work_id and credit["assurance"] == "platform_attested"
    assert screening["receipt"]["document"]["allowed_by_assurance"] == {"platform_attested": 1}
    event = _assurance_events().get(work_id=work_id)
    assert event.payload["method"] == "platform"
    assert POST in event.payload["evidence"] and PROFILE in event.payload["evidence"]
    attestation = event.payload["attestation"]
    assert attestation["statement"] == statement
    assert attestation["public_key"] == public_pem(platform_key.public_key()).strip()
    call_command("verify_ledger")  # the signature verifies from the ledger alone

    # The same statement again: nothing changes, nothing is appended.
    again = pinboard_api.post(
        URL,
        {"statement": statement, "signature": sign_statement(statement, platform_key)},
        format="json",
    )
    assert again.status_code == 200
    assert again.json()["works"][0]["changed"] is False
    assert _assurance_events().count() == 1


def test_a_platform_may_name_the_work_by_its_registry_id(
    linked_mallory, pinboard_api, platform_key
):
    work_id = _upload(linked_mallory, seed=42)

    response = _attest(pinboard_api, _statement(linked_mallory, work=work_id), platform_key)

    assert response.status_code == 201
    assert Work.objects.get(pk=work_id).assurance == Assurance.PLATFORM_ATTESTED


def test_only_a_platforms_key_attests(linked_mallory, acme_api, platform_key, client):
    work_id = _upload(linked_mallory, seed=43)
    statement = _statement(linked_mallory, work=work_id)
    mallory_api = artist_client(linked_mallory)

    assert _attest(acme_api, statement, platform_key).status_code == 403  # an AI team
    assert _attest(mallory_api, statement, platform_key).status_code == 403  # the artist herself
    assert _attest(client, statement, platform_key).status_code == 401  # nobody

    assert Work.objects.get(pk=work_id).assurance == Assurance.SELF_ASSERTED
    assert not _assurance_events().exists()


def test_a_signature_by_another_key_or_over_another_statement_is_refused(
    linked_mallory, pinboard_api, platform_key
):
    work_id = _upload(linked_mallory, seed=44)
    statement = _statement(linked_mallory, work=work_id)

    forged = _attest(pinboard_api, statement, Ed25519PrivateKey.generate())
    signature = sign_statement(statement, platform_key)
    altered = pinboard_api.post(
        URL,
        {"statement": {**statement, "post_url": POST + "9"}, "signature": signature},
        format="json",
    )
    garbled = pinboard_api.post(
        URL, {"statement": statement, "signature": "not base64!"}, format="json"
    )
    unsigned = pinboard_api.post(URL, {"statement": statement}, format="json")

    for response in (forged, altered, garbled, unsigned):
        assert response.status_code == 400
        assert "signature" in response.json()
    assert Work.objects.get(pk=work_id).assurance == Assurance.SELF_ASSERTED


def test_a_platform_cannot_speak_for_an_artist_who_did_not_name_its_profile(
    alice, mallory, pinboard_api, platform_key, register_work
):
    # A malicious platform tries to raise mallory's laundered copy, or alice's work for her.
    copy_id = _upload(mallory, seed=45)
    original = register_work(alice, seed=46)

    for artist, work_id in ((mallory, copy_id), (alice, original.pk)):
        response = _attest(pinboard_api, _statement(artist, work=work_id), platform_key)
        assert response.status_code == 403
        assert "links" in response.json()["detail"]
    assert not _assurance_events().filter(work__isnull=False).exists()


def test_profiles_and_posts_must_be_under_the_platforms_prefix(
    linked_mallory, pinboard_api, platform_key
):
    work_id = _upload(linked_mallory, seed=47)
    artist_link_save(artist=linked_mallory, label="Other", url="https://other.example/mallory")

    elsewhere = _statement(
        linked_mallory, work=work_id, profile_url="https://other.example/mallory"
    )
    foreign_post = _statement(linked_mallory, work=work_id, post_url="https://other.example/p/1")
    lookalike = _statement(
        linked_mallory, work=work_id, post_url="https://www.pinboard.example.evil.test/p/1"
    )

    for statement in (elsewhere, foreign_post, lookalike):
        response = _attest(pinboard_api, statement, platform_key)
        assert response.status_code == 403, statement
        assert "URL prefix" in response.json()["detail"]
    assert Work.objects.get(pk=work_id).assurance == Assurance.SELF_ASSERTED


def test_a_work_that_is_not_the_artists_is_not_found(
    alice, linked_mallory, pinboard_api, platform_key, register_work
):
    alices = register_work(alice, seed=48)
    _upload(linked_mallory, seed=49)

    cases = [
        _statement(linked_mallory, work=alices.pk),  # alice's work, said to be mallory's
        _statement(linked_mallory, sha256=alices.sha256),
        _statement(linked_mallory, work=10**9),
        _statement(linked_mallory, sha256="0" * 64),
        {**_statement(linked_mallory, work=alices.pk), "artist": 10**9},
    ]
    for statement in cases:
        response = _attest(pinboard_api, statement, platform_key)
        assert response.status_code == 404, statement
        assert "detail" in response.json()
    alices.refresh_from_db()
    assert alices.assurance == Assurance.SELF_ASSERTED


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"artist": "12"}, "artist"),
        ({"artist": True}, "artist"),
        ({"work": 1.0}, "work"),
        ({"sha256": "ABC"}, "sha256"),
        ({"profile_url": ""}, "profile_url"),
        ({"issued_at": "yesterday"}, "issued_at"),
        ({"issued_at": "2026-01-01T00:00:00"}, "issued_at"),  # no zone
        ({"issued_at": "2000-01-01T00:00:00Z"}, "issued_at"),  # stale
        ({"issued_at": "2999-01-01T00:00:00Z"}, "issued_at"),  # future
        ({"uploaded_by": "someone"}, "statement"),
    ],
)
def test_a_malformed_statement_is_refused_naming_the_field(
    linked_mallory, pinboard_api, platform_key, change, field
):
    statement = {**_statement(linked_mallory, work=1), **change}

    response = _attest(pinboard_api, statement, platform_key)

    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize("escape", ["\\u0000", "\\ud800", "\\u001b"])
def test_text_the_ledger_cannot_hold_is_refused_before_anything_is_stored(
    linked_mallory, pinboard_api, escape
):
    # Sent as the JSON escape itself: the signature is never reached, the field is named.
    statement = json.dumps(_statement(linked_mallory, work=1)).replace("/post/", f"/post/{escape}")
    body = f'{{"statement": {statement}, "signature": "AA=="}}'

    response = pinboard_api.post(URL, body, content_type="application/json")

    assert response.status_code == 400
    assert "post_url" in response.json()


def test_a_statement_without_a_work_or_a_body_that_is_no_object_is_refused(
    linked_mallory, pinboard_api, platform_key
):
    assert _attest(pinboard_api, _statement(linked_mallory), platform_key).status_code == 400
    assert pinboard_api.post(URL, [1, 2], format="json").status_code == 400
    response = pinboard_api.post(URL, {"statement": "x", "signature": "AA=="}, format="json")
    assert response.status_code == 400 and "statement" in response.json()


def test_an_old_statement_naming_its_time_is_refused_once_a_day_old(
    linked_mallory, pinboard_api, platform_key
):
    work_id = _upload(linked_mallory, seed=50)
    yesterday = (datetime.now(UTC) - timedelta(hours=25)).isoformat()

    response = _attest(
        pinboard_api, _statement(linked_mallory, work=work_id, issued_at=yesterday), platform_key
    )

    assert response.status_code == 400 and "issued_at" in response.json()


def test_a_platform_without_its_key_registered_is_refused(linked_mallory, platform_key):
    bare = OrganizationFactory.create(name="Bare", kind=OrganizationKind.PLATFORM)
    work_id = _upload(linked_mallory, seed=51)

    response = _attest(api_client(bare), _statement(linked_mallory, work=work_id), platform_key)

    assert response.status_code == 403


def test_verify_ledger_catches_an_attestation_altered_after_it_was_recorded(platform_key):
    statement = {"artist": 1, "work": 2, "profile_url": PROFILE, "post_url": POST, "issued_at": "t"}
    attestation = {
        "statement": statement,
        "signature": sign_statement(statement, platform_key),
        "public_key": public_pem(platform_key.public_key()),
    }

    def entry(sequence, recorded):
        payload = {"assurance": "platform_attested", "attestation": recorded}
        return LedgerEntry(
            sequence, "assurance_changed", None, 2, payload, datetime.now(UTC), "", ""
        )

    altered = {**attestation, "statement": {**statement, "artist": 3}}
    assert first_bad_attestation([entry(1, attestation)]) is None
    bad = first_bad_attestation([entry(1, attestation), entry(2, altered)])
    assert bad is not None and bad.sequence == 2


def test_the_schema_documents_the_attestation_endpoint(db, client):
    schema = client.get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    operation = schema["paths"]["/api/v1/platform/attestations"]["post"]
    assert {"200", "201", "400", "401", "403", "404"} <= set(operation["responses"])
    statement = schema["components"]["schemas"]["StatementDoc"]
    assert set(statement["required"]) == {"artist", "profile_url", "post_url", "issued_at"}


def test_an_attestation_recorded_without_a_valid_signature_fails_both_ledger_checks(
    linked_mallory, platform_key, tmp_path
):
    """A registry that wrote a forged attestation into its own ledger, chain and all: the
    platform's signature, which it cannot make, gives it away online and offline."""
    work_id = _upload(linked_mallory, seed=52)
    statement = _statement(linked_mallory, work=work_id)
    forged = {
        "statement": statement,
        "signature": sign_statement(statement, Ed25519PrivateKey.generate()),
        "public_key": public_pem(platform_key.public_key()),
    }
    work_assurance_set(
        work=Work.objects.get(pk=work_id), method="platform", evidence="x", attestation=forged
    )
    sequence = _assurance_events().get(work_id=work_id).sequence

    with pytest.raises(CommandError, match=f"attestation in event {sequence} does not verify"):
        call_command("verify_ledger")
    export = "".join(ledger_jsonl()).splitlines()
    with pytest.raises(LedgerExportError, match=f"attestation in event {sequence} does not verify"):
        verify_ledger_export(export, receipt_signing_key().public_key())
