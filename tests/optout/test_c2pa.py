"""C2PA / CAWG training-mining, in images signed in the test with c2pa-python's Builder."""

from __future__ import annotations

import c2pa
import pytest

from registry.optout import ALL_PURPOSES, embedded_to_wire, read_image
from tests.optout.support import image_bytes, signed_image, training_mining

PURPOSES = ("ai_training", "ai_generative_training", "data_mining", "ai_inference")


def denied(data: bytes) -> set[str]:
    return {purpose for item in read_image(data) for purpose in item.purposes}


@pytest.mark.parametrize("label", ["c2pa.training-mining", "cawg.training-mining"])
@pytest.mark.parametrize("purpose", PURPOSES)
def test_not_allowed_denies_exactly_that_purpose(label, purpose):
    uses = dict.fromkeys(PURPOSES, "allowed") | {purpose: "notAllowed"}
    (item,) = read_image(signed_image([training_mining(label, **uses)]))
    prefix = label.split(".")[0]
    assert (item.source, item.value, item.purposes) == (
        f"c2pa:{label}",
        f"{prefix}.{purpose}: notAllowed",
        frozenset({purpose}),
    )


def test_constrained_counts_as_not_allowed_and_keeps_its_constraints():
    assertion = training_mining(ai_generative_training="constrained", ai_training="allowed")
    entries = assertion["data"]["entries"]  # type: ignore[index]
    entries["c2pa.ai_generative_training"]["constraint_info"] = "licence: https://a.example/l"
    (item,) = read_image(signed_image([assertion]))
    assert item.purposes == {"ai_generative_training"}
    assert item.note == "constraints: licence: https://a.example/l"


def test_all_allowed_reserves_nothing():
    uses = dict.fromkeys(PURPOSES, "allowed")
    data = signed_image([training_mining(**uses), training_mining("cawg.training-mining", **uses)])
    assert read_image(data) == []


def test_a_plain_signed_image_without_the_assertion_reserves_nothing():
    assert read_image(signed_image([])) == []


def test_both_assertions_together_add_up():
    data = signed_image(
        [
            training_mining(ai_training="notAllowed"),
            training_mining("cawg.training-mining", ai_inference="notAllowed"),
        ]
    )
    assert denied(data) == {"ai_training", "ai_inference"}


def test_an_unknown_use_value_denies_that_purpose():
    (item,) = read_image(signed_image([training_mining(data_mining="maybe")]))
    assert item.purposes == {"data_mining"}
    assert item.note == "unparseable: unknown use value"


def test_a_custom_entry_that_is_not_allowed_denies_everything():
    assertion = {
        "label": "cawg.training-mining",
        "data": {"entries": {"com.example.fine_tuning": {"use": "notAllowed"}}},
    }
    (item,) = read_image(signed_image([assertion]))
    assert item.purposes == ALL_PURPOSES
    assert item.note == "entry outside the four purposes"


def test_entries_without_the_entries_map_are_read_too():
    # CAWG notes that an early schema left out the "entries" map.
    assertion = {
        "label": "c2pa.training-mining",
        "data": {"c2pa.ai_training": {"use": "notAllowed"}},
    }
    assert denied(signed_image([assertion])) == {"ai_training"}


def test_an_assertion_without_entries_fails_closed():
    assertion = {"label": "c2pa.training-mining", "data": {"something": "else"}}
    (item,) = read_image(signed_image([assertion]))
    assert item.purposes == ALL_PURPOSES and item.note.startswith("unparseable")


@pytest.mark.parametrize("label", ["cawg.metadata", "c2pa.metadata"])
def test_iptc_data_mining_inside_a_c2pa_metadata_assertion(label):
    assertion = {
        "label": label,
        "kind": "Json",
        "data": {
            "@context": {"plus": "http://ns.useplus.org/ldf/xmp/1.0/"},
            "plus:DataMining": "http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-AIMLTRAINING",
        },
    }
    (item,) = read_image(signed_image([assertion]))
    assert item.source == f"c2pa:{label}:plus:DataMining"
    assert item.purposes == {"ai_training", "ai_generative_training"}


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_other_containers_carry_manifests(fmt):
    data = signed_image([training_mining(ai_generative_training="notAllowed")], fmt=fmt)
    assert denied(data) == {"ai_generative_training"}


def test_the_wire_form_keeps_the_raw_assertion():
    data = signed_image([training_mining(ai_training="notAllowed")])
    wire = embedded_to_wire(data)
    assert wire["c2pa_training_mining"] == [
        {
            "label": "c2pa.training-mining",
            "data": {"entries": {"c2pa.ai_training": {"use": "notAllowed"}}},
        }
    ]
    # The test certificate is not on a trust list; the manifest still validates.
    assert wire["c2pa_validation_state"] == "Valid"
    assert wire["c2pa_failures"] == ["signingCredential.untrusted"]


def test_pixels_edited_after_signing_fail_closed():
    data = bytearray(signed_image([training_mining(ai_training="allowed")]))
    data[-100] ^= 0xFF  # inside the entropy-coded image, which the manifest's hash covers
    (item,) = read_image(bytes(data))
    assert (item.source, item.value, item.purposes) == ("c2pa:manifest", "Invalid", ALL_PURPOSES)
    assert "assertion.dataHash.mismatch" in item.note


def test_a_tampered_assertion_fails_closed_whatever_it_now_says():
    data = signed_image([training_mining(ai_training="notAllowed")])
    tampered = data.replace(b"notAllowed", b"allowed\x00\x00\x00", 1)
    assert tampered != data
    assert denied(tampered) == set(ALL_PURPOSES)


def test_a_corrupt_manifest_store_fails_closed():
    data = bytearray(signed_image([training_mining(ai_training="allowed")]))
    start = data.index(b"jumb")
    data[start + 200 : start + 260] = bytes(60)
    found = read_image(bytes(data))
    assert [item.source for item in found] == ["c2pa:manifest"]
    assert found[0].purposes == ALL_PURPOSES
    assert found[0].note.startswith("unparseable: C2PA manifest store could not be read")


def test_a_remote_manifest_is_never_fetched_and_fails_closed():
    # Port 9 on loopback: were the reader to fetch, the test would see an error of another kind.
    data = signed_image([training_mining(ai_training="allowed")], remote_url="http://127.0.0.1:9/m")
    (item,) = read_image(data)
    assert item.purposes == ALL_PURPOSES
    assert "remote and was not fetched (http://127.0.0.1:9/m)" in item.note


def test_unsigned_images_carry_no_c2pa():
    assert embedded_to_wire(image_bytes()) == {}


def test_a_jpeg_without_manifest_markers_skips_the_reader_and_others_do_not(monkeypatch):
    opened: list[int] = []

    def reader(*args: object, **kwargs: object) -> None:
        opened.append(1)
        raise c2pa.C2paError.ManifestNotFound("none")

    monkeypatch.setattr(c2pa, "Reader", reader)
    assert embedded_to_wire(image_bytes("JPEG")) == {}
    assert opened == []
    # PNG may compress its metadata, so the reader always looks.
    assert embedded_to_wire(image_bytes("PNG")) == {}
    assert opened == [1]


def test_signed_jpegs_carry_the_bytes_that_send_them_to_the_reader():
    """The skip for marker-free JPEGs rests on this: what the signer writes, embedded or
    remote, holds the literal markers (c2pa_reader._MANIFEST_MARKERS)."""
    embedded = signed_image([training_mining(ai_training="notAllowed")])
    remote = signed_image([training_mining(ai_training="notAllowed")], remote_url="http://x.test/m")

    assert b"c2pa" in embedded
    assert b"provenance" in remote
