"""IPTC plus:DataMining in XMP, written by the real ExifTool and read back by our reader."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from registry.optout import ALL_PURPOSES, read_image
from registry.optout.iptc import MAX_PACKETS
from tests.optout.support import (
    PLUS,
    VOCAB,
    exiftool,
    exiftool_reads,
    gif_bytes,
    image_bytes,
    with_data_mining,
    with_xmp_packet,
    xmp_packet,
)

TRAINING = {"ai_training", "ai_generative_training"}

# Every value of the PLUS Data Mining vocabulary, and what it reserves.
EXPECTED = [
    ("DMI-UNSPECIFIED", set()),
    ("DMI-ALLOWED", set()),
    ("DMI-PROHIBITED-AIMLTRAINING", TRAINING),
    ("DMI-PROHIBITED-GENAIMLTRAINING", {"ai_generative_training"}),
    ("DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING", set(ALL_PURPOSES)),
    ("DMI-PROHIBITED", set(ALL_PURPOSES)),
    ("DMI-PROHIBITED-SEECONSTRAINT", set(ALL_PURPOSES)),
    ("DMI-PROHIBITED-SEEEMBEDDEDRIGHTSEXPR", set(ALL_PURPOSES)),
    ("DMI-PROHIBITED-SEELINKEDRIGHTSEXPR", set(ALL_PURPOSES)),
]


def denied(data: bytes) -> set[str]:
    return {purpose for item in read_image(data) for purpose in item.purposes}


@pytest.mark.parametrize(("code", "purposes"), EXPECTED)
def test_each_vocabulary_value_written_by_exiftool_maps_to_its_purposes(code, purposes):
    data = with_data_mining(image_bytes("JPEG"), VOCAB + code)
    assert exiftool_reads(data) == VOCAB + code  # the writer really wrote it
    found = read_image(data)
    assert {p for item in found for p in item.purposes} == purposes
    if purposes:
        assert [(item.source, item.value, item.note) for item in found] == [
            ("iptc:plus:DataMining", VOCAB + code, "")
        ]


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_other_containers_are_read(fmt):
    data = with_data_mining(image_bytes(fmt), VOCAB + "DMI-PROHIBITED-GENAIMLTRAINING")
    assert denied(data) == {"ai_generative_training"}


def test_gif_xmp_is_found_by_packet_scanning():
    # Pillow shows no XMP for GIF; the packet is found by scanning the file.
    data = with_data_mining(gif_bytes(), VOCAB + "DMI-PROHIBITED")
    assert denied(data) == set(ALL_PURPOSES)


def test_webp_xmp_chunk_is_read():
    packet = xmp_packet(f"<plus:DataMining>{VOCAB}DMI-PROHIBITED-AIMLTRAINING</plus:DataMining>")
    assert denied(image_bytes("WEBP", xmp=packet)) == TRAINING


def test_an_image_without_xmp_reserves_nothing():
    for fmt in ("JPEG", "PNG", "WEBP", "TIFF", "BMP"):
        assert read_image(image_bytes(fmt)) == [], fmt


@pytest.mark.parametrize(
    "description",
    [
        f'<plus:DataMining rdf:resource="{VOCAB}DMI-PROHIBITED"/>',
        f"<plus:DataMining><rdf:Bag><rdf:li>{VOCAB}DMI-PROHIBITED</rdf:li></rdf:Bag></plus:DataMining>",
        f"<plus:DataMining rdf:parseType='Resource'><rdf:value>{VOCAB}DMI-PROHIBITED</rdf:value>"
        "</plus:DataMining>",
        "<plus:DataMining>DMI-PROHIBITED</plus:DataMining>",
    ],
    ids=["rdf-resource", "array", "qualified-value", "bare-code"],
)
def test_every_rdf_form_of_the_property_is_read(description):
    data = with_xmp_packet(image_bytes(), xmp_packet(description))
    assert denied(data) == set(ALL_PURPOSES)


def test_attribute_form_with_any_prefix_is_read():
    namespaces = f'xmlns:rights="{PLUS}" rights:DataMining="{VOCAB}DMI-PROHIBITED-AIMLTRAINING"'
    data = with_xmp_packet(image_bytes(), xmp_packet("", namespaces=namespaces))
    assert denied(data) == TRAINING


def test_same_name_in_another_namespace_is_not_the_property():
    namespaces = 'xmlns:other="http://example.com/ns/" other:DataMining="DMI-PROHIBITED"'
    data = with_xmp_packet(image_bytes(), xmp_packet("", namespaces=namespaces))
    assert read_image(data) == []


def test_a_value_outside_the_vocabulary_denies_everything():
    data = with_data_mining(image_bytes(), VOCAB + "DMI-PROHIBITED-EVERYTHING-ELSE")
    (item,) = read_image(data)
    assert item.purposes == ALL_PURPOSES
    assert item.note.startswith("unparseable: not a PLUS Data Mining vocabulary value")


def test_lowercase_allowed_is_not_read_as_allowed():
    data = with_xmp_packet(
        image_bytes(), xmp_packet(f"<plus:DataMining>{VOCAB}dmi-allowed</plus:DataMining>")
    )
    assert denied(data) == set(ALL_PURPOSES)


def test_unparseable_xmp_fails_closed():
    # ExifTool's XMP block writer stores the packet verbatim, broken as it is.
    broken = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF broken'
    (item,) = read_image(with_xmp_packet(image_bytes(), broken))
    assert item.purposes == ALL_PURPOSES
    assert item.source == "iptc:plus:DataMining"
    assert "unparseable: XMP packet is not well-formed XML" in item.note


def test_xmp_with_an_entity_bomb_is_refused_not_expanded():
    packet = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/">&b;</x:xmpmeta>'
    )
    data = image_bytes("WEBP", xmp=packet)
    (item,) = read_image(data)
    assert item.purposes == ALL_PURPOSES and "unparseable" in item.note


def test_a_structure_in_place_of_the_value_fails_closed():
    description = (
        "<plus:DataMining rdf:parseType='Resource'><plus:Foo>x</plus:Foo></plus:DataMining>"
    )
    data = with_xmp_packet(image_bytes(), xmp_packet(description))
    (item,) = read_image(data)
    assert item.purposes == ALL_PURPOSES and "structure" in item.note


def test_an_empty_value_says_nothing():
    data = with_xmp_packet(image_bytes(), xmp_packet("<plus:DataMining></plus:DataMining>"))
    assert read_image(data) == []


def test_a_packet_without_an_end_in_an_unknown_place_fails_closed():
    # A GIF comment is not XMP to Pillow; the scan finds a packet that never ends.
    out = io.BytesIO()
    Image.new("P", (8, 8)).save(out, "GIF", comment=b"<x:xmpmeta xmlns:x='adobe:ns:meta/'>")
    (item,) = read_image(out.getvalue())
    assert item.purposes == ALL_PURPOSES and "no end" in item.note


def test_too_many_scanned_packets_fail_closed():
    # PNG text chunks are not XMP to Pillow, so the file is scanned, and the scan is bounded.
    text = PngInfo()
    text.add_text("Comment", "<x:xmpmeta xmlns:x='adobe:ns:meta/'></x:xmpmeta>" * (MAX_PACKETS + 1))
    (item,) = read_image(image_bytes("PNG", pnginfo=text))
    assert item.purposes == ALL_PURPOSES and "too many" in item.note


def test_a_file_that_is_not_an_image_fails_closed():
    for data in (b"", b"not an image at all", b"%PDF-1.7 ...", b"\xff\xd8\xff\xe0 truncated"):
        found = read_image(data)
        assert found and all(item.purposes == ALL_PURPOSES for item in found), data
        assert found[0].source == "image"


def large_xmp_jpeg() -> bytes:
    """ExifTool splits XMP over 64 kB into a main packet and extended XMP segments."""
    return exiftool(
        image_bytes(),
        "-XMP-dc:Description=" + "x" * 70_000,
        f"-XMP-plus:DataMining#={VOCAB}DMI-PROHIBITED-GENAIMLTRAINING",
    )


def test_jpeg_extended_xmp_is_reassembled_and_read():
    data = large_xmp_jpeg()
    assert data.count(b"http://ns.adobe.com/xmp/extension/\x00") == 2
    found = read_image(data)
    assert [(item.value, item.purposes) for item in found] == [
        (VOCAB + "DMI-PROHIBITED-GENAIMLTRAINING", frozenset({"ai_generative_training"}))
    ]


def test_extended_xmp_with_a_missing_piece_fails_closed():
    data = large_xmp_jpeg()
    # The last extended segment: marker FF E1, a 2-byte length, then the namespace.
    last = data.rindex(b"http://ns.adobe.com/xmp/extension/") - 4
    assert data[last : last + 2] == b"\xff\xe1"
    length = int.from_bytes(data[last + 2 : last + 4])
    damaged = data[:last] + data[last + 2 + length :]
    assert denied(damaged) == set(ALL_PURPOSES)


def test_compressed_png_xmp_is_read():
    text = PngInfo()
    packet = xmp_packet(f"<plus:DataMining>{VOCAB}DMI-PROHIBITED</plus:DataMining>").decode()
    text.add_itxt("XML:com.adobe.xmp", packet, zip=True)
    data = image_bytes("PNG", pnginfo=text)
    assert packet.encode() not in data  # only a reader that inflates the chunk can see it
    assert denied(data) == set(ALL_PURPOSES)
