"""An attacker's view of the registry: each test is a way someone tried to make it say
something false, with alice (the rights holder) on one side and bob (the claimant) on the other."""

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.test import Client
from django.urls import reverse

from registry import site_fetch
from registry.client.cli import main as client_main
from registry.models import Artist, ArtistSite, Permission, Purpose
from registry.services.artists import artist_assurance_set, artist_profile_update
from registry.services.sites import site_register, site_verify
from registry.services.terms import default_terms_set, terms_set
from registry.site_fetch import VERIFICATION_FILE, SiteFetchError, fetch_token
from registry.url_receipts import run_document
from tests.access.test_extra_fields import _submitted
from tests.api.conftest import acme_api as acme_api
from tests.api.conftest import api_client, artist_client
from tests.api.test_receipt_binding import HONEST, _lines, _rewrite, _screen, _verify
from tests.api.test_receipt_binding import folder as folder
from tests.api.test_receipt_binding import key_file as key_file
from tests.factories import unverified

ALICE_URL = "https://alice.example/art/fox.png"
BOB_SITE = "https://bob.example/"
BOB_URL = "https://bob.example/gallery/owl.png"


def _site_verified(artist: Artist, prefix: str) -> None:
    """What the site-token check does once the token is served: anyone can do it for a site
    of their own, without staff."""
    site = site_register(artist=artist, url_prefix=prefix)
    site_verify(site=site)
    artist_assurance_set(artist=artist, method="site", evidence=f"token served at {prefix}")


def _url_check(organization, urls: list[str]) -> list[dict]:
    response = api_client(organization).post(
        "/api/v1/urls/check",
        {"purpose": Purpose.AI_TRAINING, "mode": "consent_required", "urls": urls},
        format="json",
    )
    assert response.status_code == 200, response.content
    return response.json()["results"]


@pytest.fixture
def bob_claims_alices_url(alice, bob, register_work, acme):
    """bob, a new account, proves control of his own site and lists alice's URL, which she
    has not registered, as the source of a work of his allowed for AI training."""
    bob = unverified(bob)
    _site_verified(bob, BOB_SITE)
    # His site's own reservation steps aside where his defaults allow the purpose.
    default_terms_set(artist=bob, purpose=Purpose.AI_TRAINING, permission=Permission.ALLOWED)
    owl = register_work(bob, seed=2, title="Owl", source_urls=[ALICE_URL, BOB_URL])
    terms_set(
        artist=bob,
        works=[owl],
        purpose=Purpose.AI_TRAINING,
        permission=Permission.ALLOWED,
        license="CC0-1.0",
    )
    return owl


def test_a_site_verified_on_one_host_does_not_allow_a_url_on_another(bob_claims_alices_url, acme):
    (result,) = _url_check(acme, [ALICE_URL])

    assert result["decision"] != "allowed", result
    assert result["passes"] is False
    assert result["credit"] == []
    assert "consent_unverified" in result["reason"]


def test_a_url_under_the_artists_own_verified_site_is_still_allowed(bob_claims_alices_url, acme):
    (result,) = _url_check(acme, [BOB_URL])

    assert result["decision"] == "allowed", result
    assert [credit["work_id"] for credit in result["credit"]] == [bob_claims_alices_url.pk]


def test_an_unproven_url_claim_still_denies(alice, bob, register_work, acme):
    """A restriction counts at any assurance: the fix must not turn a refusal into `unknown`."""
    bob = unverified(bob)
    register_work(bob, seed=2, title="Owl", source_urls=[ALICE_URL])

    (result,) = _url_check(acme, [ALICE_URL])

    assert result["decision"] == "denied"


def test_an_operator_verified_artist_keeps_her_listed_urls(alice, register_work, acme):
    """Staff checked alice's evidence: her listed sources count, as before."""
    fox = register_work(alice, seed=1, title="Fox", source_urls=[ALICE_URL])
    terms_set(artist=alice, works=[fox], purpose=Purpose.AI_TRAINING, permission=Permission.ALLOWED)

    (result,) = _url_check(acme, [ALICE_URL])

    assert result["decision"] == "allowed"


# --- One request, one bounded body --------------------------------------------------------------

PADDING = "x" * 5_000


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/check", {"purpose": "ai_training", "items": [], "padding": PADDING}),
        ("/api/v1/urls/check", {"purpose": "ai_training", "urls": [PADDING]}),
    ],
)
def test_an_organizations_oversized_json_body_is_refused_with_413(settings, acme, bob, path, body):
    """The published maximum request size (max_request_bytes at /api/v1/matching) held for a
    screening's chunks only: every other JSON endpoint read and parsed any body in full."""
    settings.CONSENTRY_MAX_REQUEST_BYTES = 2_000

    response = api_client(acme).post(path, body, format="json")

    assert response.status_code == 413, response.content
    assert "2000" in response.json()["detail"]


def test_an_artists_oversized_json_body_is_refused_with_413(settings, alice, bob):
    settings.CONSENTRY_MAX_REQUEST_BYTES = 2_000
    body = {"purpose": "ai_training", "permission": "allowed", "attribution": PADDING}

    response = artist_client(alice).post("/api/v1/artist/defaults", body, format="json")

    assert response.status_code == 413, response.content


def test_a_body_within_the_limit_is_read_as_before(settings, acme):
    settings.CONSENTRY_MAX_REQUEST_BYTES = 2_000

    response = api_client(acme).post(
        "/api/v1/check", {"purpose": "ai_training", "items": []}, format="json"
    )

    assert response.status_code == 200, response.content


# --- The registry's own requests: site verification ----------------------------------------------


INTERNAL_HITS: list[str] = []


class _TokenHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        INTERNAL_HITS.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"internal-secret-token")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def internal_service() -> Iterator[int]:
    """Something listening on this machine's loopback only, as an internal service does."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _TokenHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()


def test_a_name_that_rebinds_to_loopback_after_the_check_is_not_fetched(
    internal_service, monkeypatch
):
    """DNS rebinding: bob's name answers a public address to the registry's check, then the
    loopback address to the lookup the HTTP library makes for the connection. The fetch must go
    to the address that was checked."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    real_getaddrinfo = socket.getaddrinfo
    answers = iter(["93.184.216.34"])

    def rebinding(host, port, *args, **kwargs):
        if host != "rebind.bob.example":
            return real_getaddrinfo(host, port, *args, **kwargs)
        address = next(answers, "127.0.0.1")
        return real_getaddrinfo(address, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    # The checked public address need not answer: the test is that loopback is never reached.
    monkeypatch.setattr(site_fetch, "TIMEOUTS", (1, 1))
    url = f"http://rebind.bob.example:{internal_service}/{VERIFICATION_FILE}"

    INTERNAL_HITS.clear()

    with pytest.raises(SiteFetchError):
        fetch_token(url, allow_private=False)
    assert INTERNAL_HITS == []


# --- Site prefixes: registering one is not owning it ---------------------------------------------


def test_an_unverified_prefix_does_not_keep_the_sites_owner_out(alice, bob):
    """bob registers alice's site under both schemes and never verifies it (he cannot): alice
    must still be able to register it, verify it, and have it reserve her URLs."""
    bob_api = artist_client(bob)
    for prefix in ("https://alice.example/", "http://alice.example/"):
        assert (
            bob_api.post("/api/v1/artist/sites", {"url_prefix": prefix}, format="json").status_code
            == 201
        )

    response = artist_client(alice).post(
        "/api/v1/artist/sites", {"url_prefix": "https://alice.example/"}, format="json"
    )

    assert response.status_code == 201, response.content
    site = ArtistSite.objects.get(pk=response.json()["id"])
    assert site.artist == alice
    assert site_verify(site=site)


def test_a_verified_prefix_is_one_artists_only(alice, bob):
    alices = site_register(artist=alice, url_prefix="https://alice.example/")
    bobs = site_register(artist=bob, url_prefix="https://alice.example/")
    assert site_verify(site=alices)

    with pytest.raises(ValidationError):
        site_verify(site=bobs)
    with pytest.raises(ValidationError):
        site_register(artist=bob, url_prefix="https://alice.example/")
    bobs.refresh_from_db()
    assert not bobs.verified


def test_an_artist_registers_a_prefix_once(alice):
    site_register(artist=alice, url_prefix="https://alice.example/")

    with pytest.raises(ValidationError):
        site_register(artist=alice, url_prefix="https://alice.example")


# --- A verified name is the name that was verified -----------------------------------------------


def test_a_verified_artist_cannot_rename_himself_after_another(alice, bob):
    """Staff verified bob as "Bob Chen": renamed "Alice Liu", every credit of his would name
    her at operator_verified, and the ledger would not show the change."""
    client = Client()
    client.force_login(bob.user)
    url = reverse("admin:registry_artist_change", args=[bob.pk])

    assert _submitted(client, url, {"display_name": alice.display_name}) == 302

    bob.refresh_from_db()
    assert bob.display_name == "Bob Chen"
    with pytest.raises(ValidationError):
        artist_profile_update(artist=bob, display_name=alice.display_name, credit_line="")


def test_an_unverified_artist_still_renames_himself_and_operators_rename_anyone(alice, bob):
    bob = unverified(bob)
    assert artist_profile_update(artist=bob, display_name="Bob C.", credit_line="").pk
    assert (
        artist_profile_update(
            artist=alice, display_name="Alice L.", credit_line="", by_operator=True
        ).display_name
        == "Alice L."
    )


# --- verify-receipt: a results file says nothing the receipt did not sign ------------------------


def test_a_skipped_line_carrying_a_decision_is_not_verified(
    acme_api, works, run_pending, folder, key_file, capsys
):
    """acme passes bob's file off as allowed in its results: a line without an id (as the
    client writes for a file it never sent) is not checked against the receipt, so it must
    carry no decision either."""
    outputs = _screen(acme_api, run_pending, folder, fingerprint_of=HONEST)
    lines = _lines(outputs)
    allowed = next(line for line in lines if line["decision"] == "allowed")
    forged = {key: value for key, value in allowed.items() if key != "id"}
    forged |= {"path": str(folder / "bob_secret.png"), "skipped": "not an image"}

    _rewrite(outputs, [*lines, forged])

    assert _verify(outputs, key_file, "--results", str(outputs.results)) == 1
    assert "bob_secret.png" in capsys.readouterr().err


def _url_attestation(organization, purpose: str, mode: str = "consent_required") -> dict:
    response = api_client(organization).post(
        "/api/v1/urls/check",
        {"purpose": purpose, "mode": mode, "urls": [ALICE_URL]},
        format="json",
    )
    assert response.status_code == 200, response.content
    return response.json()["attestation"]


@pytest.mark.parametrize(
    ("purpose", "mode"),
    [(Purpose.AI_INFERENCE, "consent_required"), (Purpose.AI_TRAINING, "respect_opt_outs")],
)
def test_a_url_run_of_batches_answered_for_another_purpose_or_mode_is_refused(
    alice, register_work, acme, key_file, tmp_path, capsys, purpose, mode
):
    """acme's run receipt says ai_training, consent_required (its first batch), while a later
    batch was answered for another purpose or mode: each batch is signed, so the run verified."""
    fox = register_work(alice, seed=1, title="Fox", source_urls=[ALICE_URL])
    terms_set(artist=alice, works=[fox], purpose=Purpose.AI_INFERENCE, permission="allowed")
    attestations = [
        _url_attestation(acme, Purpose.AI_TRAINING),
        _url_attestation(acme, purpose, mode),
    ]
    receipt = tmp_path / "urls.receipt.json"
    document = run_document(attestations, source="scraped.parquet", url_column="url")
    receipt.write_text(json.dumps({"document": document, "attestations": attestations}))

    code = client_main(["verify-receipt", str(receipt), "--key-file", str(key_file)])

    assert code == 1
    assert "batch" in capsys.readouterr().err


# --- Uploads: refused before they are read ------------------------------------------------------


class _CountingHandler(FileUploadHandler):
    """Counts the file bytes Django's multipart parser takes in, and keeps none of them."""

    received: ClassVar[list[int]] = []

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        _CountingHandler.received.append(len(raw_data))

    def file_complete(self, file_size: int) -> None:
        return None


@pytest.fixture
def counted_uploads(settings) -> list[int]:
    settings.FILE_UPLOAD_HANDLERS = [f"{__name__}._CountingHandler"]
    settings.CONSENTRY_MAX_REQUEST_BYTES = 2_000
    settings.CONSENTRY_UPLOAD_MAX_BYTES = 2_000
    _CountingHandler.received.clear()
    return _CountingHandler.received


def _big_image() -> SimpleUploadedFile:
    return SimpleUploadedFile("big.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 300_000, "image/png")


def test_an_artists_oversized_upload_is_refused_before_it_is_read(alice, bob, counted_uploads):
    """The upload limits were applied after the whole body had been parsed to files."""
    response = artist_client(alice).post(
        "/api/v1/artist/works", {"images": [_big_image()]}, format="multipart"
    )

    assert sum(counted_uploads) == 0
    assert response.status_code == 413, response.content


def test_an_oversized_upload_to_the_admin_is_refused_before_it_is_read(alice, counted_uploads):
    client = Client()
    client.force_login(alice.user)

    response = client.post(reverse("admin:registry_work_upload"), {"images": [_big_image()]})

    assert sum(counted_uploads) == 0
    assert response.status_code == 413
