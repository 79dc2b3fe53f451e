"""`screen-urls` through the real client against a live server: a LAION-shaped parquet in,
the rows to keep and one answer per URL out."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from registry.client.api import Registry
from registry.client.cli import main as client_main
from registry.client.urls import UrlRun, screen_urls
from registry.models import Permission, Purpose
from registry.receipts import public_pem, sign
from registry.services.organizations import api_key_create, organization_create
from registry.services.terms import terms_set
from registry.signing import receipt_signing_key
from registry.url_receipts import run_document

ALLOWED_URL = "https://alice.example/art/fox.png"
REFUSED_URL = "https://bob.example/art/owl.png"
UNKNOWN_URL = "https://elsewhere.example/cat.png"
URLS = [ALLOWED_URL, REFUSED_URL, UNKNOWN_URL, None, "https://x.example/" + "a" * 5000]


@pytest.fixture
def laion_parquet(tmp_path, alice, bob, register_work):
    fox = register_work(alice, seed=1, title="Fox", source_urls=[ALLOWED_URL])
    register_work(bob, seed=2, title="Owl", source_urls=[REFUSED_URL])
    terms_set(
        artist=alice,
        works=[fox],
        purpose=Purpose.AI_TRAINING,
        permission=Permission.ALLOWED,
        license="CC-BY-4.0",
    )
    path = tmp_path / "part-00000.parquet"
    table = pa.table({"url": URLS, "caption": [f"caption {n}" for n in range(len(URLS))]})
    pq.write_table(table, path, row_group_size=2)
    return path


@pytest.fixture
def key(transactional_db):
    _, secret = api_key_create(organization=organization_create(name="Acme AI"))
    return secret


def _run(live_server, key, source, out, *extra):
    arguments = ["screen-urls", str(source), "--api", live_server.url, "--key", key]
    return client_main([*arguments, "--purpose", "ai_training", "--out", str(out), *extra])


def test_rows_not_denied_are_kept_with_the_registry_answer(
    laion_parquet, live_server, key, tmp_path, capsys
):
    out = tmp_path / "kept.parquet"

    assert _run(live_server, key, laion_parquet, out) == 0

    kept = pq.read_table(out).to_pylist()
    assert [row["url"] for row in kept] == [ALLOWED_URL, UNKNOWN_URL, None, URLS[4]]
    assert [row["caption"] for row in kept] == ["caption 0", "caption 2", "caption 3", "caption 4"]
    assert [row["consentry_url_decision"] for row in kept] == [
        "allowed",
        "unknown",
        "unknown",
        "unknown",
    ]
    assert json.loads(kept[0]["consentry_url_credit"])[0]["title"] == "Fox"
    # Not the columns a screening writes: a URL's "allowed" is no decision on the image.
    assert not {"consentry_decision", "consentry_credit"} & set(kept[0])
    answers = [json.loads(line) for line in (tmp_path / "kept.results.jsonl").open()]
    assert [(a["url"], a["decision"]) for a in answers] == [
        (ALLOWED_URL, "allowed"),
        (REFUSED_URL, "denied"),
        (UNKNOWN_URL, "unknown"),
        ("", "unknown"),
        (URLS[4], "unknown"),
    ]
    printed = capsys.readouterr().out
    assert "denied 1" in printed and "about the URLs only" in printed


def test_an_empty_list_still_writes_the_url_columns(live_server, key, tmp_path):
    source, out = tmp_path / "empty.parquet", tmp_path / "kept.parquet"
    pq.write_table(pa.table({"url": pa.array([], pa.string())}), source)

    assert _run(live_server, key, source, out) == 0

    assert pq.read_schema(out).names == ["url", "consentry_url_decision", "consentry_url_credit"]


def test_keep_passing_keeps_only_what_the_mode_lets_through(
    laion_parquet, live_server, key, tmp_path
):
    out = tmp_path / "kept.parquet"

    assert _run(live_server, key, laion_parquet, out, "--keep", "passing") == 0

    assert [row["url"] for row in pq.read_table(out).to_pylist()] == [ALLOWED_URL]


def test_batches_stream_in_order_across_row_groups(laion_parquet, live_server, key, tmp_path):
    run = UrlRun(laion_parquet, "url", "ai_training", "consent_required", batch_size=2)

    registry = Registry(live_server.url, key)
    screen_urls(registry, run, tmp_path / "k.parquet", tmp_path / "r.jsonl")

    assert (run.counts["allowed"], run.counts["denied"], run.counts["unknown"]) == (1, 1, 3)
    assert run.kept == 4


def test_a_missing_column_or_file_is_one_clear_error(
    laion_parquet, live_server, key, tmp_path, capsys
):
    out = tmp_path / "kept.parquet"
    assert _run(live_server, key, laion_parquet, out, "--url-column", "URL") == 1
    assert "no column 'URL'" in capsys.readouterr().err
    assert _run(live_server, key, tmp_path / "missing.parquet", out) == 2
    assert "no such file" in capsys.readouterr().err
    assert not out.exists()


@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "registry-key.pem"
    path.write_text(public_pem(receipt_signing_key().public_key()))
    return path


def _verify(receipt, key_file, *extra):
    return client_main(["verify-receipt", str(receipt), "--key-file", str(key_file), *extra])


def test_a_url_run_gets_a_receipt_of_signed_batches_that_checks_every_answer(
    laion_parquet, live_server, key, tmp_path, key_file, capsys
):
    out = tmp_path / "kept.parquet"
    assert _run(live_server, key, laion_parquet, out) == 0
    receipt, results = tmp_path / "kept.receipt.json", tmp_path / "kept.results.jsonl"
    assert "signed batches) in" in capsys.readouterr().out

    saved = json.loads(receipt.read_text())
    document = saved["document"]
    assert (document["urls"], document["purpose"]) == (5, "ai_training")
    assert document["counts"] == {"allowed": 1, "denied": 1, "unknown": 3}
    assert len(document["batches"]) == len(saved["attestations"]) >= 1
    assert document["scope"] == "url" and "no image was examined" in document["scope_note"]
    assert all(a["document"]["scope"] == "url" for a in saved["attestations"])
    assert _verify(receipt, key_file, "--results", str(results)) == 0
    printed = capsys.readouterr().out
    assert "holds exactly its answers" in printed
    assert "Scope: url only (signed)" in printed and "no image was examined" in printed

    # One unknown URL's answer, proved on its own by its Merkle path.
    assert _verify(receipt, key_file, "--results", str(results), "--item", UNKNOWN_URL) == 0
    proof = json.loads(capsys.readouterr().out)
    assert proof["scope"] == "url"
    assert proof["leaf"] == {
        "decision": "unknown",
        "reason": proof["leaf"]["reason"],
        "url": UNKNOWN_URL,
        "works": [],
    }
    saved_proof = tmp_path / "proof.json"
    saved_proof.write_text(json.dumps(proof))
    assert _verify(receipt, key_file, "--proof", str(saved_proof)) == 0
    assert f"{UNKNOWN_URL!r} was answered unknown" in capsys.readouterr().out

    # alice's allowed URL: its proof says what it is about.
    assert _verify(receipt, key_file, "--results", str(results), "--item", ALLOWED_URL) == 0
    said = capsys.readouterr().err
    assert f"{ALLOWED_URL!r} was answered allowed" in said
    assert "about the URL only, not the image found there" in said


def test_a_forged_url_answer_or_attestation_is_refused(
    laion_parquet, live_server, key, tmp_path, key_file, capsys
):
    out = tmp_path / "kept.parquet"
    assert _run(live_server, key, laion_parquet, out) == 0
    receipt, results = tmp_path / "kept.receipt.json", tmp_path / "kept.results.jsonl"
    capsys.readouterr()
    lines = [json.loads(line) for line in results.open()]
    assert lines[1]["url"] == REFUSED_URL and lines[1]["decision"] == "denied"
    lines[1]["decision"] = "allowed"  # bob's refusal passed off as a permission
    results.write_text("".join(json.dumps(line) + "\n" for line in lines))

    assert _verify(receipt, key_file, "--results", str(results)) == 1
    assert f"(item {REFUSED_URL!r})" in capsys.readouterr().err
    assert _verify(receipt, key_file, "--results", str(results), "--item", REFUSED_URL) == 1
    assert f"item {REFUSED_URL!r} (allowed:" in capsys.readouterr().err

    saved = json.loads(receipt.read_text())
    saved["attestations"][0]["document"]["counts"]["denied"] = 0
    receipt.write_text(json.dumps(saved))
    assert _verify(receipt, key_file) == 1
    assert "batch 0: the attestation's signature does not match" in capsys.readouterr().err


def test_a_url_check_attestation_that_drops_or_changes_its_scope_is_refused(
    laion_parquet, live_server, key, tmp_path, key_file, capsys
):
    out = tmp_path / "kept.parquet"
    assert _run(live_server, key, laion_parquet, out) == 0
    receipt = tmp_path / "kept.receipt.json"
    saved = json.loads(receipt.read_text())
    capsys.readouterr()

    for forge in (_drop_scope, _screening_scope):
        forged = json.loads(json.dumps(saved))
        forge(forged["attestations"][0]["document"])
        forge(forged["document"])  # the summary along, so only the signature can tell
        receipt.write_text(json.dumps(forged))
        assert _verify(receipt, key_file) == 1
        assert "batch 0: the attestation's signature does not match" in capsys.readouterr().err


def _drop_scope(document):
    del document["scope"], document["scope_note"]
    document["version"] = 1


def _screening_scope(document):
    document["scope"] = "image"


def test_one_url_check_attestation_verifies_on_its_own_and_says_url_only(
    laion_parquet, live_server, key, tmp_path, key_file, capsys
):
    answer = Registry(live_server.url, key).post(
        "urls/check", json={"purpose": "ai_training", "urls": [ALLOWED_URL]}
    )
    attestation = tmp_path / "attestation.json"
    attestation.write_text(json.dumps(answer["attestation"]))

    assert _verify(attestation, key_file) == 0
    printed = capsys.readouterr().out
    assert "Valid attestation of a URL check of 1 URLs (allowed 1" in printed
    assert "Scope: url only (signed)" in printed

    answer["attestation"]["document"]["scope"] = "image"
    attestation.write_text(json.dumps(answer["attestation"]))
    assert _verify(attestation, key_file) == 1
    assert "signature does not match" in capsys.readouterr().err


def test_a_receipt_from_before_the_signed_scope_still_verifies_and_says_url_only(
    laion_parquet, live_server, key, tmp_path, key_file, capsys
):
    """A version 1 attestation, signed by the registry before it stated the scope."""
    out = tmp_path / "kept.parquet"
    assert _run(live_server, key, laion_parquet, out) == 0
    receipt = tmp_path / "kept.receipt.json"
    saved = json.loads(receipt.read_text())
    for attestation in saved["attestations"]:
        _drop_scope(attestation["document"])
        attestation["signature"] = sign(attestation["document"], receipt_signing_key())
    saved["document"] = run_document(
        saved["attestations"], source=str(laion_parquet), url_column="url"
    )
    assert saved["document"]["version"] == 1 and "scope" not in saved["document"]
    receipt.write_text(json.dumps(saved))
    capsys.readouterr()

    assert _verify(receipt, key_file) == 0
    printed = capsys.readouterr().out
    assert "Scope: url only (version 1 predates the signed statement" in printed
    assert "no image was examined" in printed
