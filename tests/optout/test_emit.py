"""What artists publish: tdmrep.json, ai.txt, header lines, and an image with XMP written in."""

from __future__ import annotations

import io
import itertools
import json

import jsonschema
import pytest
from PIL import Image, ImageChops

from registry.optout import (
    PURPOSES,
    XmpWriteError,
    ai_txt,
    data_mining_value,
    header_lines,
    image_with_data_mining,
    read_headers,
    read_image,
    reserved_purposes,
    tdmrep_files,
    tdmrep_json,
)
from registry.optout.iptc import data_mining_purposes
from tests.optout.support import VOCAB, exiftool_reads, gif_bytes, image_bytes, signed_image

ALLOW_ALL = dict.fromkeys(PURPOSES, "allowed")
NO_GENAI = ALLOW_ALL | {"ai_generative_training": "not_allowed"}

# Every combination of the three permissions over the four purposes.
ALL_TERMS = [
    dict(zip(PURPOSES, combo, strict=True))
    for combo in itertools.product(("allowed", "not_allowed", "licensed"), repeat=4)
]

# The structure of /.well-known/tdmrep.json in the W3C TDMRep final report (section
# "TDM File on the Origin Server"): a JSON array of rules; in each, "location" and
# "tdm-reservation" are mandatory, "tdm-policy" is optional; reservation is 0 or 1.
TDMREP_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "location": {"type": "string", "pattern": "^/"},
            "tdm-reservation": {"type": "integer", "enum": [0, 1]},
            "tdm-policy": {"type": "string", "format": "uri", "pattern": "^https?://"},
        },
        "required": ["location", "tdm-reservation"],
        "additionalProperties": False,
    },
}


def denied_by_lines(lines: list[str]) -> set[str]:
    headers: dict[str, list[str]] = {}
    for line in lines:
        name, value = line.split(": ", 1)
        headers.setdefault(name, []).append(value)
    return {purpose for item in read_headers(headers) for purpose in item.purposes}


# --- TDMRep --------------------------------------------------------------------------


@pytest.mark.parametrize("terms", [ALLOW_ALL, NO_GENAI, {}])
def test_tdmrep_json_has_the_structure_the_spec_defines(terms):
    text = tdmrep_json(
        terms, locations=["/", "/gallery/2024/", "/gallery/"], policy_url="https://r.example/a/1"
    )
    rules = json.loads(text)
    jsonschema.validate(rules, TDMREP_SCHEMA, format_checker=jsonschema.FormatChecker())
    # "The most specific match is the first in sequence."
    assert [rule["location"] for rule in rules] == ["/gallery/2024/", "/gallery/", "/"]
    reserved = 1 if reserved_purposes(terms) else 0
    assert {rule["tdm-reservation"] for rule in rules} == {reserved}
    assert all(("tdm-policy" in rule) is bool(reserved) for rule in rules)


def test_tdmrep_pattern_characters_in_a_path_are_encoded():
    (rule,) = json.loads(tdmrep_json(NO_GENAI, locations=["/art*/price$/"]))
    assert rule["location"] == "/art%2A/price%24/"


def test_tdmrep_files_are_made_per_origin():
    files = tdmrep_files(
        ["https://Alice.example/art/", "https://alice.example:443/sketches/", "http://b.example"],
        NO_GENAI,
    )
    assert sorted(files) == ["http://b.example", "https://alice.example"]
    locations = [rule["location"] for rule in json.loads(files["https://alice.example"])]
    assert locations == ["/sketches/", "/art/"]


def test_emitted_tdmrep_rules_read_back_as_reservations():
    for rule in json.loads(tdmrep_json(NO_GENAI, policy_url="https://r.example/p")):
        headers = {
            "tdm-reservation": str(rule["tdm-reservation"]),
            "tdm-policy": rule["tdm-policy"],
        }
        assert read_headers(headers)[0].note == "TDM policy: https://r.example/p"


# --- headers and ai.txt --------------------------------------------------------------


def test_header_lines_for_an_artist_who_reserves_generative_training():
    assert header_lines(NO_GENAI, policy_url="https://r.example/a/1") == [
        "X-Robots-Tag: noai, noimageai",
        "tdm-reservation: 1",
        "tdm-policy: https://r.example/a/1",
        "Content-Usage: train-ai=n, train-genai=n, ai-use=y",
    ]


@pytest.mark.parametrize("terms", ALL_TERMS, ids=lambda t: "-".join(v[0] for v in t.values()))
def test_emitted_signals_read_back_reserve_at_least_the_terms(terms):
    reserved = reserved_purposes(terms)
    from_headers = denied_by_lines(header_lines(terms))
    from_xmp = data_mining_purposes(data_mining_value(terms))
    assert from_xmp is not None
    assert reserved <= from_headers and reserved <= from_xmp
    if not reserved:
        assert from_headers == set() and from_xmp == set()


def test_the_xmp_value_is_exact_where_the_vocabulary_can_say_it():
    assert data_mining_value(NO_GENAI) == VOCAB + "DMI-PROHIBITED-GENAIMLTRAINING"
    no_training = ALLOW_ALL | {"ai_training": "licensed", "ai_generative_training": "not_allowed"}
    assert data_mining_value(no_training) == VOCAB + "DMI-PROHIBITED-AIMLTRAINING"
    assert data_mining_value(ALLOW_ALL | {"data_mining": "licensed"}) == VOCAB + "DMI-PROHIBITED"
    assert data_mining_value(ALLOW_ALL) == VOCAB + "DMI-ALLOWED"
    assert data_mining_value({}) == VOCAB + "DMI-PROHIBITED"  # consent first


def test_ai_txt():
    text = ai_txt(NO_GENAI, locations=["/gallery/", "/"], credit="Alice\nLiu")
    assert text.splitlines() == [
        "# ai.txt: AI use of this site's works, from the artist's terms in Consentry.",
        "# Works by Alice Liu.",
        "User-Agent: *",
        "Disallow: /",
        "Disallow: /gallery/",
    ]
    assert "Allow: /" in ai_txt(ALLOW_ALL)


# --- the image -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "fmt"),
    [
        (image_bytes("JPEG"), "JPEG"),
        (image_bytes("PNG"), "PNG"),
        (image_bytes("TIFF"), "TIFF"),
        (gif_bytes(), "GIF"),
        (image_bytes("WEBP", lossless=True), "PNG"),
        (image_bytes("BMP"), "PNG"),
    ],
    ids=["jpeg", "png", "tiff", "gif", "webp", "bmp"],
)
def test_image_copy_with_written_xmp_is_read_back(source, fmt):
    tagged = image_with_data_mining(source, NO_GENAI)
    assert tagged.format == fmt
    assert exiftool_reads(tagged.data) == VOCAB + "DMI-PROHIBITED-GENAIMLTRAINING"
    (item,) = read_image(tagged.data)
    assert (item.source, item.purposes) == ("iptc:plus:DataMining", {"ai_generative_training"})
    before, after = Image.open(io.BytesIO(source)), Image.open(io.BytesIO(tagged.data))
    assert ImageChops.difference(before.convert("RGB"), after.convert("RGB")).getbbox() is None


def test_jpeg_bytes_outside_the_metadata_are_unchanged():
    source = image_bytes("JPEG")
    tagged = image_with_data_mining(source, ALLOW_ALL).data
    scan = source.index(b"\xff\xda")  # start of scan: the compressed pixels from here on
    assert tagged.endswith(source[scan:])
    assert read_image(tagged) == []  # DMI-ALLOWED reserves nothing


def test_rewriting_replaces_an_earlier_value():
    once = image_with_data_mining(image_bytes(), {}).data
    twice = image_with_data_mining(once, ALLOW_ALL).data
    assert exiftool_reads(twice) == VOCAB + "DMI-ALLOWED"


def test_editing_a_c2pa_signed_original_makes_its_manifest_fail_closed():
    signed = signed_image([])
    tagged = image_with_data_mining(signed, ALLOW_ALL).data
    assert {item.source for item in read_image(tagged)} == {"c2pa:manifest"}


def test_without_exiftool_the_copy_is_refused_not_made_untagged(monkeypatch):
    monkeypatch.setattr("registry.optout.iptc.shutil.which", lambda name: None)
    with pytest.raises(XmpWriteError, match="libimage-exiftool-perl"):
        image_with_data_mining(image_bytes(), NO_GENAI)
