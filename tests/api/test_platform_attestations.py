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
from registry.receipts import key_id, public_pem
from registry.services.artists import artist_link_save, artist_verify, work_assurance_set
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


def _sha(seed):
    """What the platform computes over the file its account uploaded."""
    return hashlib.sha256(image_bytes(seed)).hexdigest()


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


def test_a_registry_id_alone_is_refused_for_it_says_nothing_about_the_image(
    linked_mallory, pinboard_api, platform_key
):
    # mallory registered a picture that is not hers and links her own Pinboard profile; she
    # posts anything there and has Pinboard attest "work <id>", which Pinboard cannot check.
    work_id = _upload(linked_mallory, seed=42)

    response = _attest(pinboard_api, _statement(linked_mallory, work=work_id), platform_key)

    assert response.status_code == 400
    assert "sha256" in response.json()
    assert Work.objects.get(pk=work_id).assurance == Assurance.SELF_ASSERTED
    assert not _assurance_events().exists()


def test_a_registry_id_narrows_a_statement_to_one_work_with_those_bytes(
    linked_mallory, pinboard_api, platform_key
):
    work_id = _upload(linked_mallory, seed=42)
    other_id = _upload(linked_mallory, seed=53)

    narrowed = _statement(linked_mallory, work=work_id, sha256=_sha(42))
    mismatched = _statement(linked_mallory, work=other_id, sha256=_sha(42))

    assert _attest(pinboard_api, mismatched, platform_key).status_code == 404
    assert _attest(pinboard_api, narrowed, platform_key).status_code == 201
    assert Work.objects.get(pk=work_id).assurance == Assurance.PLATFORM_ATTESTED
    assert Work.objects.get(pk=other_id).assurance == Assurance.SELF_ASSERTED


def test_only_a_platforms_key_attests(linked_mallory, acme_api, platform_key, client):
    work_id = _upload(linked_mallory, seed=43)
    statement = _statement(linked_mallory, work=work_id, sha256=_sha(43))
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
    statement = _statement(linked_mallory, work=work_id, sha256=_sha(44))

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

    for artist, work_id, sha256 in ((mallory, copy_id, _sha(45)), (alice, original.pk, _sha(46))):
        statement = _statement(artist, work=work_id, sha256=sha256)
        response = _attest(pinboard_api, statement, platform_key)
        assert response.status_code == 403
        assert "links" in response.json()["detail"]
    assert not _assurance_events().filter(work__isnull=False).exists()


def test_profiles_and_posts_must_be_under_the_platforms_prefix(
    linked_mallory, pinboard_api, platform_key
):
    work_id = _upload(linked_mallory, seed=47)
    artist_link_save(artist=linked_mallory, label="Other", url="https://other.example/mallory")

    named = {"work": work_id, "sha256": _sha(47)}
    elsewhere = _statement(linked_mallory, **named, profile_url="https://other.example/mallory")
    foreign_post = _statement(linked_mallory, **named, post_url="https://other.example/p/1")
    lookalike = _statement(
        linked_mallory, **named, post_url="https://www.pinboard.example.evil.test/p/1"
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
        # alice's work, said to be mallory's
        _statement(linked_mallory, work=alices.pk, sha256=alices.sha256),
        _statement(linked_mallory, sha256=alices.sha256),
        _statement(linked_mallory, work=10**9, sha256=_sha(49)),
        _statement(linked_mallory, sha256="0" * 64),
        {**_statement(linked_mallory, sha256=alices.sha256), "artist": 10**9},
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
    statement = {**_statement(linked_mallory, work=1, sha256="0" * 64), **change}

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
    unnamed = _attest(pinboard_api, _statement(linked_mallory), platform_key)
    assert unnamed.status_code == 400 and "sha256" in unnamed.json()
    assert pinboard_api.post(URL, [1, 2], format="json").status_code == 400
    response = pinboard_api.post(URL, {"statement": "x", "signature": "AA=="}, format="json")
    assert response.status_code == 400 and "statement" in response.json()


def test_an_old_statement_naming_its_time_is_refused_once_a_day_old(
    linked_mallory, pinboard_api, platform_key
):
    work_id = _upload(linked_mallory, seed=50)
    yesterday = (datetime.now(UTC) - timedelta(hours=25)).isoformat()

    statement = _statement(linked_mallory, work=work_id, sha256=_sha(50), issued_at=yesterday)
    response = _attest(pinboard_api, statement, platform_key)

    assert response.status_code == 400 and "issued_at" in response.json()


def test_a_platform_without_its_key_registered_is_refused(linked_mallory, platform_key):
    bare = OrganizationFactory.create(name="Bare", kind=OrganizationKind.PLATFORM)
    work_id = _upload(linked_mallory, seed=51)

    statement = _statement(linked_mallory, work=work_id, sha256=_sha(51))
    response = _attest(api_client(bare), statement, platform_key)

    assert response.status_code == 403


def _key_registered(sequence, key, platform_id=7):
    pem = "" if key is None else public_pem(key.public_key())
    payload = {
        "organization_id": platform_id,
        "kind": "platform",
        "url_prefix": "https://www.pinboard.example/",
        "public_key": pem,
        "key_id": "" if key is None else key_id(key.public_key()),
    }
    return LedgerEntry(
        sequence, "platform_settings_changed", None, None, payload, datetime.now(UTC), "", ""
    )


def _attested(sequence, key, platform_id=7, **changes):
    statement = {"artist": 1, "sha256": "0" * 64, "profile_url": PROFILE, "post_url": POST}
    attestation = {
        "platform_id": platform_id,
        "statement": statement,
        "signature": sign_statement(statement, key),
        "public_key": public_pem(key.public_key()),
        **changes,
    }
    payload = {"assurance": "platform_attested", "attestation": attestation}
    return LedgerEntry(sequence, "assurance_changed", None, 2, payload, datetime.now(UTC), "", "")


def test_verify_ledger_catches_an_attestation_altered_after_it_was_recorded(platform_key):
    statement = {"artist": 3, "sha256": "0" * 64, "profile_url": PROFILE, "post_url": POST}
    altered = _attested(3, platform_key, statement=statement)

    assert (
        first_bad_attestation([_key_registered(1, platform_key), _attested(2, platform_key)])
        is None
    )
    bad = first_bad_attestation(
        [_key_registered(1, platform_key), _attested(2, platform_key), altered]
    )
    assert bad is not None and bad.sequence == 3


def test_an_attestation_counts_only_under_the_key_the_ledger_registered_at_that_point(
    platform_key,
):
    rotated = Ed25519PrivateKey.generate()
    history = [
        _key_registered(1, platform_key),
        _attested(2, platform_key),  # signed while this key was registered: holds for good
        _key_registered(3, rotated),
        _attested(4, rotated),
    ]
    assert first_bad_attestation(history) is None

    stale = first_bad_attestation([*history, _attested(5, platform_key)])
    assert stale is not None and stale.sequence == 5
    assert key_id(rotated.public_key()) in stale.reason
    unregistered = first_bad_attestation([_attested(1, platform_key)])
    assert unregistered is not None and "no attestation key registered" in unregistered.reason
    other_platform = first_bad_attestation([history[0], _attested(2, platform_key, 8)])
    assert other_platform is not None and other_platform.sequence == 2
    withdrawn = first_bad_attestation(
        [history[0], _key_registered(2, None), _attested(3, platform_key)]
    )
    assert withdrawn is not None and withdrawn.sequence == 3


@pytest.mark.parametrize("public_key", [5, None, ["pem"], {"pem": 1}, "not a key"])
def test_a_malformed_key_in_the_ledger_is_named_not_a_traceback(platform_key, public_key):
    in_attestation = first_bad_attestation(
        [_key_registered(1, platform_key), _attested(2, platform_key, public_key=public_key)]
    )
    assert in_attestation is not None and in_attestation.sequence == 2
    registration = _key_registered(1, platform_key)
    broken = LedgerEntry(
        1,
        registration.kind,
        None,
        None,
        {**registration.payload, "public_key": public_key},
        registration.created_at,
        "",
        "",
    )
    in_registration = first_bad_attestation([broken])
    assert in_registration is not None and in_registration.sequence == 1
    assert in_registration.subject == "platform key"


@pytest.mark.parametrize(
    "changes", [{"signature": 12}, {"statement": "x"}, {"statement": None}, {"signature": None}]
)
def test_a_malformed_signature_or_statement_in_the_ledger_is_named(platform_key, changes):
    bad = first_bad_attestation(
        [_key_registered(1, platform_key), _attested(2, platform_key, **changes)]
    )
    assert bad is not None and bad.sequence == 2


def test_the_schema_documents_the_attestation_endpoint(db, client):
    schema = client.get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    operation = schema["paths"]["/api/v1/platform/attestations"]["post"]
    assert {"200", "201", "400", "401", "403", "404"} <= set(operation["responses"])
    statement = schema["components"]["schemas"]["StatementDoc"]
    assert set(statement["required"]) == {
        "artist",
        "sha256",
        "profile_url",
        "post_url",
        "issued_at",
    }


def test_an_attestation_recorded_without_a_valid_signature_fails_both_ledger_checks(
    linked_mallory, platform_key, tmp_path
):
    """A registry that wrote a forged attestation into its own ledger, chain and all: the
    platform's signature, which it cannot make, gives it away online and offline."""
    work_id = _upload(linked_mallory, seed=52)
    statement = _statement(linked_mallory, work=work_id, sha256=_sha(52))
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


def _platform_events(organization):
    return ConsentEvent.objects.filter(
        kind=ConsentEventKind.PLATFORM_SETTINGS_CHANGED, payload__organization_id=organization.pk
    ).order_by("sequence")


def test_a_platforms_settings_and_key_are_registered_in_the_ledger(pinboard, platform_key):
    (registered,) = _platform_events(pinboard)
    assert registered.payload["kind"] == "platform"
    assert registered.payload["url_prefix"] == "https://www.pinboard.example/"
    assert registered.payload["key_id"] == key_id(platform_key.public_key())

    # Saved again unchanged: nothing to record. Rotated, then dropped: one event each.
    same = {"url_prefix": pinboard.url_prefix, "attestation_key": pinboard.attestation_key}
    organization_kind_set(organization=pinboard, kind=OrganizationKind.PLATFORM, **same)
    rotated = Ed25519PrivateKey.generate()
    organization_kind_set(
        organization=pinboard,
        kind=OrganizationKind.PLATFORM,
        url_prefix=pinboard.url_prefix,
        attestation_key=public_pem(rotated.public_key()),
    )
    organization_kind_set(organization=pinboard, kind=OrganizationKind.AI_TEAM)

    keys = [event.payload["key_id"] for event in _platform_events(pinboard)]
    assert keys == [key_id(platform_key.public_key()), key_id(rotated.public_key()), ""]
    call_command("verify_ledger")  # the replayed settings are the table's


def test_a_key_pasted_in_behind_the_ledgers_back_is_refused_and_fails_both_ledger_checks(
    linked_mallory, pinboard, pinboard_api
):
    """An operator with database access swaps in their own key and forges an attestation: the
    API refuses it, and one written into the ledger anyway names a key never registered."""
    work_id = _upload(linked_mallory, seed=54)
    rogue = Ed25519PrivateKey.generate()
    type(pinboard).objects.filter(pk=pinboard.pk).update(
        attestation_key=public_pem(rogue.public_key()).strip()
    )

    with pytest.raises(CommandError, match=f"organization {pinboard.pk}: .*attestation key"):
        call_command("verify_ledger")
    statement = _statement(linked_mallory, sha256=_sha(54))
    refused = _attest(pinboard_api, statement, rogue)
    assert refused.status_code == 403 and "consent ledger" in refused.json()["detail"]
    assert Work.objects.get(pk=work_id).assurance == Assurance.SELF_ASSERTED

    forged = {
        "platform_id": pinboard.pk,
        "statement": statement,
        "signature": sign_statement(statement, rogue),
        "public_key": public_pem(rogue.public_key()),
    }
    work_assurance_set(
        work=Work.objects.get(pk=work_id), method="platform", evidence="x", attestation=forged
    )
    sequence = _assurance_events().get(work_id=work_id).sequence
    expected = f"attestation in event {sequence} does not verify: it is signed by key"
    with pytest.raises(CommandError, match=expected):
        call_command("verify_ledger")
    export = "".join(ledger_jsonl()).splitlines()
    with pytest.raises(LedgerExportError, match=expected):
        verify_ledger_export(export, receipt_signing_key().public_key())


def test_a_malformed_key_in_a_recorded_attestation_fails_verify_ledger_with_its_event(
    linked_mallory, pinboard, platform_key
):
    work_id = _upload(linked_mallory, seed=55)
    statement = _statement(linked_mallory, sha256=_sha(55))
    recorded = {
        "platform_id": pinboard.pk,
        "statement": statement,
        "signature": sign_statement(statement, platform_key),
        "public_key": 5,
    }
    work_assurance_set(
        work=Work.objects.get(pk=work_id), method="platform", evidence="x", attestation=recorded
    )
    sequence = _assurance_events().get(work_id=work_id).sequence

    with pytest.raises(CommandError, match=f"attestation in event {sequence} does not verify"):
        call_command("verify_ledger")
    export = "".join(ledger_jsonl()).splitlines()
    with pytest.raises(LedgerExportError, match=f"event {sequence} does not verify"):
        verify_ledger_export(export, receipt_signing_key().public_key())


def test_an_attestation_that_raises_no_claim_answers_200_and_appends_nothing(
    linked_mallory, pinboard_api, platform_key
):
    work_id = _upload(linked_mallory, seed=56)
    artist_verify(artist=linked_mallory, evidence="passport seen")
    before = _assurance_events().count()

    response = _attest(pinboard_api, _statement(linked_mallory, sha256=_sha(56)), platform_key)

    assert response.status_code == 200, response.content
    assert response.json()["works"] == [
        {"work_id": work_id, "assurance": "operator_verified", "changed": False}
    ]
    assert _assurance_events().count() == before


def test_anyone_reads_the_platforms_and_their_registered_keys(client, pinboard, platform_key, acme):
    response = client.get("/api/v1/platforms")

    assert response.status_code == 200
    (listed,) = response.json()  # acme, an AI team, is not a platform
    assert listed == {
        "name": "Pinboard",
        "url_prefix": "https://www.pinboard.example/",
        "key_id": key_id(platform_key.public_key()),
        "public_key_pem": pinboard.attestation_key,
        "ledger_sequence": _platform_events(pinboard).get().sequence,
    }
    schema = client.get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operation = schema["paths"]["/api/v1/platforms"]["get"]
    assert "200" in operation["responses"]
