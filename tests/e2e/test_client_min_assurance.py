"""The client's --min-assurance, through the real client against a live server and a worker:
sent to the registry, recorded in the receipt and the answers as the registry returns it; and
a platform's attestation turning an unverified artist's denied work allowed."""

import hashlib
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.attestations import sign_statement
from registry.client.api import ApiError, applied_minimum
from registry.client.cli import main as client_main
from registry.demo_art import artwork, artwork_bytes
from registry.models import OrganizationKind, Permission, Purpose
from registry.receipts import public_pem
from registry.services.artists import artist_assurance_set, artist_link_save
from registry.services.organizations import (
    api_key_create,
    organization_create,
    organization_kind_set,
)
from registry.services.sites import site_register, site_verify
from registry.services.terms import default_terms_set, terms_set
from tests.conftest import _SEED_BASE
from tests.factories import ArtistFactory

PROFILE = "https://www.pinboard.example/user/sita"
SOURCE = "https://sita.example/art/heron.png"


def _repost(seed: int) -> bytes:
    image = artwork(_SEED_BASE + seed)
    image = image.resize((image.width * 6 // 10, image.height * 6 // 10))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def acme_key(transactional_db) -> str:
    _, key = api_key_create(organization=organization_create(name="Acme AI"))
    return key


@pytest.fixture
def sita_work(transactional_db, register_work):
    """sita, a new account, allows training on her heron; she names her Pinboard profile."""
    sita = ArtistFactory.create(user__username="sita", display_name="Sita")
    artist_link_save(artist=sita, label="Pinboard", url=PROFILE)
    heron = register_work(sita, seed=61, title="Heron", source_urls=[SOURCE])
    terms_set(
        artist=sita,
        works=[heron],
        purpose=Purpose.AI_TRAINING,
        permission=Permission.ALLOWED,
        license="CC-BY-4.0",
    )
    return heron


def _screen(live_server, key, folder, out, *extra):
    return client_main(
        ["screen", str(folder), "--api", live_server.url, "--key", key,
         "--purpose", "ai_training", "--out", str(out), "--quiet", "--wait", "120", *extra]
    )  # fmt: skip


def test_a_platform_attestation_and_the_minimum_assurance_through_the_client(
    sita_work, worker, live_server, acme_key, tmp_path, capsys
):
    folder = tmp_path / "scraped"
    folder.mkdir()
    (folder / "heron.jpg").write_bytes(_repost(61))
    out = tmp_path / "results.jsonl"

    assert _screen(live_server, acme_key, folder, out) == 0
    (line,) = _lines(out)
    assert line["decision"] == "denied"
    assert f"work {sita_work.pk}: consent_unverified" in line["reason"]

    # Pinboard, a platform, attests that sita's profile posted the heron.
    platform_key = Ed25519PrivateKey.generate()
    pinboard = organization_kind_set(
        organization=organization_create(name="Pinboard"),
        kind=OrganizationKind.PLATFORM,
        url_prefix="https://www.pinboard.example/",
        attestation_key=public_pem(platform_key.public_key()),
    )
    _, pinboard_key = api_key_create(organization=pinboard)
    statement = {
        "artist": sita_work.artist_id,
        "sha256": hashlib.sha256(artwork_bytes(_SEED_BASE + 61)).hexdigest(),
        "profile_url": PROFILE,
        "post_url": "https://www.pinboard.example/post/61",
        "issued_at": datetime.now(UTC).isoformat(),
    }
    attested = requests.post(
        f"{live_server.url}/api/v1/platform/attestations",
        json={"statement": statement, "signature": sign_statement(statement, platform_key)},
        headers={"Authorization": f"Api-Key {pinboard_key}"},
        timeout=30,
    )
    assert attested.status_code == 201, attested.text

    assert _screen(live_server, acme_key, folder, out, "--restart") == 0
    (line,) = _lines(out)
    assert line["decision"] == "allowed"
    (entry,) = _lines(out.with_name("results.manifest.jsonl"))
    assert entry["credit"][0]["assurance"] == "platform_attested"
    receipt = json.loads(out.with_name("results.receipt.json").read_text())
    assert receipt["document"]["min_assurance"] == "verified"
    assert receipt["document"]["allowed_by_assurance"] == {"platform_attested": 1}
    capsys.readouterr()

    # The team asks for staff-verified claims only: the same image is denied, and said why.
    strict = tmp_path / "strict.jsonl"
    assert (
        _screen(live_server, acme_key, folder, strict, "--min-assurance", "operator_verified") == 0
    )
    assert "minimum assurance operator_verified" in capsys.readouterr().out
    (line,) = _lines(strict)
    assert line["decision"] == "denied" and "consent_unverified" in line["reason"]
    assert strict.with_name("strict.manifest.jsonl").read_text() == ""
    receipt = json.loads(strict.with_name("strict.receipt.json").read_text())
    assert receipt["document"]["min_assurance"] == "operator_verified"
    state = json.loads(strict.with_name("strict.state.json").read_text())
    assert state["min_assurance"] == "operator_verified"


def test_a_run_resumed_with_another_minimum_is_refused(
    sita_work, worker, live_server, acme_key, tmp_path, capsys
):
    folder = tmp_path / "scraped"
    folder.mkdir()
    (folder / "heron.jpg").write_bytes(_repost(61))
    out = tmp_path / "results.jsonl"
    assert _screen(live_server, acme_key, folder, out) == 0

    code = _screen(
        live_server, acme_key, folder, out, "--reuse", "--min-assurance", "operator_verified"
    )

    # A finished run at another minimum is never handed back as if it were this one.
    assert code == 0
    assert "screening again" in capsys.readouterr().err
    receipt = json.loads(out.with_name("results.receipt.json").read_text())
    assert receipt["document"]["min_assurance"] == "operator_verified"


def test_screen_urls_sends_the_minimum_and_records_it_in_every_answer(
    sita_work, live_server, acme_key, tmp_path, capsys
):
    # A URL's permission counts as site_verified only under a verified site of the artist's
    # own (what the site-token check does), and her defaults let her site's URLs through.
    sita = sita_work.artist
    site_verify(site=site_register(artist=sita, url_prefix="https://sita.example/"))
    artist_assurance_set(artist=sita, method="site", evidence="token at sita.example")
    default_terms_set(artist=sita, purpose=Purpose.AI_TRAINING, permission=Permission.ALLOWED)
    source = tmp_path / "urls.parquet"
    pq.write_table(pa.table({"url": [SOURCE, "https://elsewhere.example/x.png"]}), source)

    def run(out, *extra):
        return client_main(
            ["screen-urls", str(source), "--api", live_server.url, "--key", acme_key,
             "--purpose", "ai_training", "--out", str(out), *extra]
        )  # fmt: skip

    assert run(tmp_path / "default.parquet") == 0
    assert run(tmp_path / "strict.parquet", "--min-assurance", "operator_verified") == 0

    default = _lines(tmp_path / "default.results.jsonl")
    strict = _lines(tmp_path / "strict.results.jsonl")
    assert [(a["decision"], a["min_assurance"]) for a in default] == [
        ("allowed", "verified"),
        ("unknown", "verified"),
    ]
    assert default[0]["credit"][0]["assurance"] == "site_verified"
    assert [(a["decision"], a["min_assurance"]) for a in strict] == [
        ("denied", "operator_verified"),
        ("unknown", "operator_verified"),
    ]
    assert "consent_unverified" in strict[0]["reason"]
    assert "minimum assurance operator_verified" in capsys.readouterr().out


def test_the_client_refuses_an_answer_at_another_minimum_than_asked():
    with pytest.raises(ApiError, match="applied minimum assurance 'verified'"):
        applied_minimum({"min_assurance": "verified"}, "operator_verified")
    with pytest.raises(ApiError, match="None"):
        applied_minimum({}, "verified")
    assert applied_minimum({"min_assurance": "verified"}, "verified") == "verified"
