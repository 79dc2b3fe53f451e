"""A receipt binds what was screened: each decision to the SHA-256 of its image. The client's
`verify-receipt --results` checks a results file against it line by line, so a decision cannot
be carried over to another file (acme labelling alice's fingerprint `scraped/bob_secret.png`)."""

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from registry.client.cli import main as client_main
from registry.client.collect import leaf_of
from registry.client.inputs import InputItem
from registry.client.run import Outputs, RunState, write_outputs
from registry.fingerprints import fingerprint_image
from registry.merkle import decision_leaf, leaf_hash, root_of_leaves
from registry.models import Screening, ScreeningChunk, ScreeningItem
from registry.receipts import (
    decision_line,
    decisions_digest,
    public_pem,
    sign,
)
from registry.signing import receipt_signing_key
from tests.api.conftest import all_decisions, image_bytes

CHUNK_SIZE = 2
SEEDS = {"alice_copy.jpg": 1, "bob_secret.png": 2, "stranger.jpg": 40}


def _image(seed: int) -> bytes:
    return image_bytes(seed, scale=0.7, quality=75)


@pytest.fixture
def folder(tmp_path) -> Path:
    """The files acme scraped, as an auditor would find them on disk."""
    scraped = tmp_path / "scraped"
    scraped.mkdir()
    for name, seed in SEEDS.items():
        (scraped / name).write_bytes(_image(seed))
    return scraped


@pytest.fixture
def key_file(tmp_path) -> Path:
    path = tmp_path / "registry-key.pem"
    path.write_text(public_pem(receipt_signing_key().public_key()))
    return path


def _screen(acme_api, run_pending, folder: Path, *, fingerprint_of: dict[str, int]) -> Outputs:
    """Screen the folder's files in chunks of two, each sent with the fingerprint of the seed
    `fingerprint_of` names, and write the results as the client does."""
    names = list(SEEDS)
    inputs = [InputItem(path=str(folder / name), id=f"scraped/{name}") for name in names]
    wires = [
        {"id": item.id, **fingerprint_image(_image(fingerprint_of[name])).to_wire()}
        for name, item in zip(names, inputs, strict=True)
    ]
    created = acme_api.post(
        "/api/v1/screenings", {"purpose": "ai_training", "keep_open": True}, format="json"
    ).json()
    for number, start in enumerate(range(0, len(wires), CHUNK_SIZE)):
        body = {"number": number, "items": wires[start : start + CHUNK_SIZE]}
        sent = acme_api.post(f"/api/v1/screenings/{created['id']}/chunks", body, format="json")
        assert sent.status_code in (201, 202), sent.content
    acme_api.post(f"/api/v1/screenings/{created['id']}/close")
    run_pending()
    screening = acme_api.get(f"/api/v1/screenings/{created['id']}").json()
    assert screening["status"] == "finished"
    chunks = [
        [str(wire["id"]) for wire in wires[start : start + CHUNK_SIZE]]
        for start in range(0, len(wires), CHUNK_SIZE)
    ]
    decisions = iter(all_decisions(acme_api, created["id"], chunks).values())
    outputs = Outputs(folder.parent / "out" / "results.jsonl")
    outputs.results.parent.mkdir()
    state = RunState(api="", purpose="ai_training", mode="consent_required", chunk_size=CHUNK_SIZE)
    hashes = {str(wire["id"]): str(wire["sha256"]) for wire in wires}
    write_outputs(outputs, inputs, [], screening, decisions, state, hashes=hashes)
    return outputs


def _verify(outputs: Outputs, key_file: Path, *extra: str) -> int:
    return client_main(
        ["verify-receipt", str(outputs.receipt), "--key-file", str(key_file), *extra]
    )


def _lines(outputs: Outputs) -> list[dict[str, Any]]:
    return [json.loads(line) for line in outputs.results.read_text().splitlines()]


def _rewrite(outputs: Outputs, lines: list[dict[str, Any]]) -> None:
    outputs.results.write_text("".join(json.dumps(line) + "\n" for line in lines))


HONEST = SEEDS
# acme sends alice's (allowed) fingerprint under the name of bob's file.
RELABELLED = {**SEEDS, "bob_secret.png": 1}


def test_an_honest_results_file_verifies(acme_api, works, run_pending, folder, key_file, capsys):
    outputs = _screen(acme_api, run_pending, folder, fingerprint_of=HONEST)

    assert _verify(outputs, key_file, "--results", str(outputs.results)) == 0
    assert "holds exactly its 3 decisions" in capsys.readouterr().out


def test_a_decision_carried_over_to_another_file_is_named(
    acme_api, works, run_pending, folder, key_file, capsys
):
    outputs = _screen(acme_api, run_pending, folder, fingerprint_of=RELABELLED)
    assert _lines(outputs)[1]["decision"] == "allowed"  # what acme got for bob's file

    assert _verify(outputs, key_file, "--results", str(outputs.results)) == 1

    errors = capsys.readouterr().err.splitlines()
    bob_sha = hashlib.sha256(_image(2)).hexdigest()
    (named,) = [line for line in errors if "bob_secret.png" in line]
    assert named.startswith("Mismatch: line 2 (") and bob_sha in named


def test_a_hash_edited_to_match_the_file_breaks_the_signed_digest(
    acme_api, works, run_pending, folder, key_file, capsys
):
    outputs = _screen(acme_api, run_pending, folder, fingerprint_of=RELABELLED)
    lines = _lines(outputs)
    lines[1]["sha256"] = hashlib.sha256(_image(2)).hexdigest()
    _rewrite(outputs, lines)

    assert _verify(outputs, key_file, "--results", str(outputs.results)) == 1

    errors = capsys.readouterr().err
    assert "Mismatch: line 2 (item 'scraped/bob_secret.png')" in errors
    assert "line 1 " not in errors and "chunk 1" not in errors


def test_a_line_rewritten_with_its_leaf_still_breaks_its_chunk_root(
    acme_api, works, run_pending, folder, key_file, capsys
):
    """A forger who also recomputes the recorded leaf cannot match the signed root: the chunk
    is refused, though no single line can then be singled out."""
    outputs = _screen(acme_api, run_pending, folder, fingerprint_of=HONEST)
    lines = _lines(outputs)
    assert lines[1]["decision"] == "denied"
    lines[1]["decision"] = "allowed"
    lines[1]["leaf"] = leaf_hash(leaf_of(lines[1], lines[1]["sha256"])).hex()
    _rewrite(outputs, lines)

    assert _verify(outputs, key_file, "--results", str(outputs.results)) == 1
    assert "Mismatch: lines 1-2 (chunk 0)" in capsys.readouterr().err


def test_an_edited_decision_is_caught(acme_api, works, run_pending, folder, key_file, capsys):
    outputs = _screen(acme_api, run_pending, folder, fingerprint_of=HONEST)
    lines = _lines(outputs)
    assert lines[2]["decision"] == "unregistered"
    lines[2]["decision"] = "allowed"
    _rewrite(outputs, lines)

    assert _verify(outputs, key_file, "--results", str(outputs.results)) == 1
    assert "Mismatch: line 3 (item 'scraped/stranger.jpg')" in capsys.readouterr().err


def test_an_unregistered_items_decision_is_proved_by_its_path(
    acme_api, works, run_pending, folder, key_file, tmp_path, capsys
):
    """No row is kept for the unregistered item; the proof from the results file is enough."""
    outputs = _screen(acme_api, run_pending, folder, fingerprint_of=HONEST)
    assert not ScreeningItem.objects.filter(item_id="scraped/stranger.jpg").exists()
    item_args = ["--results", str(outputs.results), "--item", "scraped/stranger.jpg"]

    assert _verify(outputs, key_file, *item_args) == 0
    printed = capsys.readouterr()
    proof = json.loads(printed.out)
    assert proof["leaf"]["decision"] == "unregistered" and proof["chunk"] == 1
    assert "Valid: item 'scraped/stranger.jpg' was decided unregistered" in printed.err
    saved = tmp_path / "proof.json"
    saved.write_text(json.dumps(proof))
    assert _verify(outputs, key_file, "--proof", str(saved)) == 0
    assert "decided unregistered" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("field", "forged"), [("decision", "allowed"), ("reason", "work 1: allowed")]
)
def test_a_forged_proof_is_refused_naming_its_item(
    acme_api, works, run_pending, folder, key_file, tmp_path, capsys, field, forged
):
    outputs = _screen(acme_api, run_pending, folder, fingerprint_of=HONEST)
    assert (
        _verify(
            outputs, key_file, "--results", str(outputs.results), "--item", "scraped/bob_secret.png"
        )
        == 0
    )
    proof = json.loads(capsys.readouterr().out)
    assert proof["leaf"]["decision"] == "denied"
    proof["leaf"][field] = forged
    saved = tmp_path / "forged.json"
    saved.write_text(json.dumps(proof))

    assert _verify(outputs, key_file, "--proof", str(saved)) == 1
    error = capsys.readouterr().err
    assert "item 'scraped/bob_secret.png'" in error and "not the one the receipt signed" in error


def test_a_proof_asked_of_a_forged_results_line_is_refused_naming_it(
    acme_api, works, run_pending, folder, key_file, capsys
):
    outputs = _screen(acme_api, run_pending, folder, fingerprint_of=HONEST)
    lines = _lines(outputs)
    lines[1]["decision"] = "allowed"  # bob's refused work, passed off as allowed
    _rewrite(outputs, lines)

    args = ["--results", str(outputs.results), "--item", "scraped/bob_secret.png"]
    assert _verify(outputs, key_file, *args) == 1
    error = capsys.readouterr().err
    assert "item 'scraped/bob_secret.png' (allowed:" in error
    # The honest item beside it in the same chunk still proves.
    assert (
        _verify(
            outputs, key_file, "--results", str(outputs.results), "--item", "scraped/alice_copy.jpg"
        )
        == 0
    )


def test_a_dropped_line_is_caught(acme_api, works, run_pending, folder, key_file, capsys):
    outputs = _screen(acme_api, run_pending, folder, fingerprint_of=HONEST)
    _rewrite(outputs, _lines(outputs)[:2])

    assert _verify(outputs, key_file, "--results", str(outputs.results)) == 1
    assert "the results hold 2 lines; the receipt, 3 items" in capsys.readouterr().err


def test_uploaded_images_are_bound_by_the_hash_the_server_computed(acme_api, works, run_pending):
    data = image_bytes(1, scale=0.5)
    files = [SimpleUploadedFile("mine.jpg", data)]
    response = acme_api.post(
        "/api/v1/screenings", {"purpose": "ai_training", "images": files}, format="multipart"
    )
    run_pending()

    receipt: Any = Screening.objects.get(pk=response.json()["id"]).receipt
    (listed,) = acme_api.get(f"/api/v1/screenings/{response.json()['id']}/items").json()["results"]
    leaf = decision_leaf(
        "mine.jpg",
        "allowed",
        listed["reason"],
        [works["allowed"].pk],
        hashlib.sha256(data).hexdigest(),
    )
    assert receipt["version"] == 3
    assert receipt["chunks"] == [[0, 1, root_of_leaves([leaf])]]


def test_a_screening_straddling_the_upgrade_keeps_a_version_1_receipt(acme_api, works, run_pending):
    """A chunk decided before the upgrade was digested without hashes; the receipt says so."""
    created = acme_api.post(
        "/api/v1/screenings", {"purpose": "ai_training", "keep_open": True}, format="json"
    ).json()
    wire = {"id": "a", **fingerprint_image(_image(1)).to_wire()}
    acme_api.post(
        f"/api/v1/screenings/{created['id']}/chunks", {"number": 0, "items": [wire]}, format="json"
    )
    run_pending()
    old_digest = decisions_digest([decision_line("a", "allowed", [works["allowed"].pk])])
    ScreeningChunk.objects.update(digest_version=1, digest=old_digest)
    acme_api.post(f"/api/v1/screenings/{created['id']}/close")

    receipt: Any = Screening.objects.get(pk=created["id"]).receipt
    assert receipt["version"] == 1 and "chunks" not in receipt


def test_a_version_1_receipt_still_verifies_but_cannot_check_results(
    acme_api, works, run_pending, folder, key_file, capsys
):
    outputs = _screen(acme_api, run_pending, folder, fingerprint_of=HONEST)
    saved = json.loads(outputs.receipt.read_text())
    document = {key: value for key, value in saved["document"].items() if key != "chunks"}
    document["version"] = 1
    outputs.receipt.write_text(
        json.dumps({"document": document, "signature": sign(document, receipt_signing_key())})
    )

    assert _verify(outputs, key_file) == 0
    assert _verify(outputs, key_file, "--results", str(outputs.results)) == 1
    assert "version 1" in capsys.readouterr().err
