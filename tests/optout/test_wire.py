"""The wire: a client's embedded signals count exactly as if the server had read the image."""

from __future__ import annotations

import json

import pytest

from registry.optout import (
    ALL_PURPOSES,
    Reservation,
    denied_purposes,
    embedded_to_wire,
    read_image,
    reservations_from_wire,
    summarize,
)
from registry.optout.wire import MAX_EMBEDDED_BYTES, MAX_LIST
from tests.optout.support import (
    VOCAB,
    image_bytes,
    signed_image,
    training_mining,
    with_data_mining,
    with_xmp_packet,
)


def sample_images() -> dict[str, bytes]:
    signed = signed_image([training_mining(ai_generative_training="notAllowed")])
    return {
        "plain": image_bytes(),
        "iptc": with_data_mining(image_bytes(), VOCAB + "DMI-PROHIBITED-AIMLTRAINING"),
        "c2pa": signed,
        "both": with_data_mining(image_bytes("PNG"), VOCAB + "DMI-PROHIBITED"),
        "broken-xmp": with_xmp_packet(image_bytes(), b"<x:xmpmeta><rdf:RDF"),
        "edited-after-signing": signed[:-100] + bytes([signed[-100] ^ 0xFF]) + signed[-99:],
        "not-an-image": b"GIF89a but not really",
    }


@pytest.mark.parametrize("name", list(sample_images()))
def test_the_server_reads_what_the_client_sent_as_it_reads_the_image(name):
    data = sample_images()[name]
    wire = json.loads(json.dumps(embedded_to_wire(data)))  # JSON-safe, through a real round trip
    assert reservations_from_wire({"id": "a", "embedded": wire}) == read_image(data)


def test_the_wire_form_is_small():
    data = signed_image([training_mining(ai_training="notAllowed", data_mining="allowed")])
    assert len(json.dumps(embedded_to_wire(data))) < 1024


def test_embedded_and_headers_add_up_with_the_downloaders_user_agent():
    item = {
        "id": "x1",
        "url": "https://a.example/1.jpg",
        "embedded": {"iptc_data_mining": [VOCAB + "DMI-PROHIBITED-GENAIMLTRAINING"]},
        "headers": {"X-Robots-Tag": "img2dataset: noai", "Content-Usage": "ai-use=n"},
        "user_agent": "img2dataset",
    }
    sources = [item.source for item in reservations_from_wire(item)]
    assert sources == ["iptc:plus:DataMining", "http:X-Robots-Tag", "http:Content-Usage"]


def test_an_item_without_signals_reserves_nothing():
    assert reservations_from_wire({"id": "x", "sha256": "0" * 64}) == []
    assert reservations_from_wire({"id": "x", "embedded": {}, "headers": {}}) == []


@pytest.mark.parametrize(
    ("item", "source"),
    [
        ({"embedded": "noai"}, "wire:embedded"),
        ({"embedded": {"iptc_data_mining": "DMI-PROHIBITED"}}, "wire:embedded"),
        ({"embedded": {"iptc_data_mining": [3]}}, "wire:embedded"),
        (
            {"embedded": {"c2pa_training_mining": [{"label": "c2pa.training-mining"}]}},
            "wire:embedded",
        ),
        ({"embedded": {"c2pa_validation_state": 1}}, "wire:embedded"),
        ({"embedded": {"unreadable": [{"source": "x"}]}}, "wire:embedded"),
        ({"embedded": {"a_new_signal": ["no"]}}, "wire:embedded"),
        ({"embedded": {"iptc_data_mining": ["x"] * (MAX_LIST + 1)}}, "wire:embedded"),
        ({"embedded": {"iptc_data_mining": ["x" * MAX_EMBEDDED_BYTES]}}, "wire:embedded"),
        ({"headers": ["X-Robots-Tag: noai"]}, "wire:headers"),
        ({"headers": {"X-Robots-Tag": "x" * 20_000}}, "wire:headers"),
        ({"headers": {"X-Robots-Tag": "noindex"}, "user_agent": 7}, "wire:user_agent"),
    ],
)
def test_malformed_wire_parts_deny_everything(item, source):
    (found,) = reservations_from_wire(item)
    assert (found.source, found.purposes) == (source, ALL_PURPOSES)
    assert found.note.startswith("unparseable")


def test_a_client_reported_unreadable_signal_denies_everything():
    item = {"embedded": {"unreadable": [{"source": "c2pa:manifest", "note": "bad JUMBF"}]}}
    (found,) = reservations_from_wire(item)
    assert (found.source, found.note) == ("c2pa:manifest", "unparseable: bad JUMBF")


def test_an_unknown_validation_state_fails_closed():
    (found,) = reservations_from_wire({"embedded": {"c2pa_validation_state": "Sketchy"}})
    assert found.purposes == ALL_PURPOSES


def test_a_bad_training_mining_label_fails_closed():
    item = {"embedded": {"c2pa_training_mining": [{"label": "c2pa.other", "data": {}}]}}
    (found,) = reservations_from_wire(item)
    assert found.purposes == ALL_PURPOSES


def test_a_non_object_item_fails_closed():
    (found,) = reservations_from_wire(["not", "an", "item"])  # type: ignore[arg-type]
    assert found.source == "wire:item"


def test_denied_purposes_filters_and_refuses_unknown_purposes():
    found = [
        Reservation("iptc:plus:DataMining", "v", frozenset({"ai_generative_training"})),
        Reservation("http:Content-Usage", "ai-use=n", frozenset({"ai_inference"})),
    ]
    assert denied_purposes(found, "ai_inference") == [found[1]]
    assert denied_purposes(found, "data_mining") == []
    with pytest.raises(ValueError, match="unknown purpose"):
        denied_purposes(found, "search")


def test_summarize_names_every_signal_for_the_items_reason():
    found = reservations_from_wire(
        {"headers": {"X-Robots-Tag": "noai", "tdm-reservation": "maybe"}}
    )
    assert summarize(found) == (
        'http:X-Robots-Tag "noai"; http:tdm-reservation "maybe" (unparseable: must be 0 or 1)'
    )
