"""Every header form: X-Robots-Tag (scoped too), TDMRep, aipref Content-Usage, and sidecars."""

from __future__ import annotations

import pytest

from registry.optout import (
    ALL_PURPOSES,
    UNREADABLE_HEADERS,
    headers_from_img2dataset_sidecar,
    read_headers,
)

ALL = set(ALL_PURPOSES)
TRAINING = {"ai_training", "ai_generative_training"}


def denied(headers, **options) -> set[str]:
    return {purpose for item in read_headers(headers, **options) for purpose in item.purposes}


# --- X-Robots-Tag --------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "noai",
        "noimageai",
        "NoAI",
        "noindex, noai",
        "noimageai,nofollow",
        " noai ",
        "noai noimageai",
    ],
)
def test_ai_directives_deny_every_purpose(value):
    assert denied({"X-Robots-Tag": value}) == ALL


@pytest.mark.parametrize(
    "value",
    ["noindex", "noimageindex", "none", "nofollow, noarchive", "max-image-preview: large", ""],
)
def test_search_directives_are_not_ai_reservations(value):
    assert read_headers({"X-Robots-Tag": value}) == []


def test_header_names_are_case_insensitive():
    assert denied({"x-robots-tag": "noai"}) == ALL


@pytest.mark.parametrize(
    ("value", "applies"),
    [
        ("ConsentryBot: noai", True),
        ("consentrybot: noimageai", True),
        ("*: noai", True),
        ("otherbot: noai", False),
        ("otherbot: noindex, noai", False),  # Google: the scope covers the following directives
        ("otherbot: noindex, ConsentryBot: noai", True),
        ("ConsentryBot: noindex, otherbot: noai", False),
        ("unavailable_after: 25 Jun 2010 15:00:00 PST, noai", True),
    ],
)
def test_user_agent_scoped_forms(value, applies):
    assert (denied({"X-Robots-Tag": value}) == ALL) is applies


def test_repeated_headers_as_a_list_reset_the_scope():
    assert denied({"X-Robots-Tag": ["otherbot: noindex", "noai"]}) == ALL


def test_the_downloaders_own_user_agent_token_counts():
    headers = {"X-Robots-Tag": "img2dataset: noai"}
    assert read_headers(headers) == []
    assert denied(headers, user_agent=["ConsentryBot", "img2dataset"]) == ALL


def test_a_robots_value_that_is_not_text_fails_closed():
    (item,) = read_headers({"X-Robots-Tag": "no\x00ai"})
    assert item.purposes == ALL_PURPOSES and item.note.startswith("unparseable")


# --- TDMRep --------------------------------------------------------------------------


def test_tdm_reservation_1_denies_and_names_the_policy():
    (item,) = read_headers({"tdm-reservation": "1", "tdm-policy": "https://a.example/policy.json"})
    assert (item.source, item.value, item.purposes) == ("http:tdm-reservation", "1", ALL_PURPOSES)
    assert item.note == "TDM policy: https://a.example/policy.json"


def test_tdm_reservation_0_reserves_nothing_even_with_a_policy():
    assert read_headers({"tdm-reservation": "0"}) == []
    assert read_headers({"TDM-Reservation": "0", "tdm-policy": "https://a.example/p"}) == []


@pytest.mark.parametrize("value", ["yes", "2", "", "1.0", "true"])
def test_a_tdm_reservation_that_is_not_0_or_1_fails_closed(value):
    (item,) = read_headers({"tdm-reservation": value})
    assert item.purposes == ALL_PURPOSES and item.note == "unparseable: must be 0 or 1"


def test_joined_repeated_tdm_reservations_deny_if_any_reserves():
    assert denied({"tdm-reservation": "0, 1"}) == ALL


def test_a_policy_without_a_reservation_is_read_as_one():
    (item,) = read_headers({"tdm-policy": "https://a.example/policy.json"})
    assert (item.source, item.purposes) == ("http:tdm-policy", ALL_PURPOSES)


# --- aipref Content-Usage ------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "purposes"),
    [
        ("train-ai=n", TRAINING),
        ("train-genai=n", {"ai_generative_training"}),
        ("ai-use=n", {"ai_inference"}),
        ("all=n", ALL),
        ("train-ai=y, ai-use=y, search=n", set()),
        ("train-ai=y, train-genai=n", {"ai_generative_training"}),
        ("search=y, train-ai=n", TRAINING),  # search is none of our purposes
        ("train-ai=y, train-ai=n", TRAINING),  # RFC 9651: the last value of a key wins
        ('train-ai;reason="x"=n', None),  # malformed: parameters go after the value
        ("future-use=n, ai-use=y", set()),  # unknown labels are ignored, as the draft says
        ("", set()),
    ],
)
def test_content_usage_preferences(value, purposes):
    found = read_headers({"Content-Usage": value})
    if purposes is None:
        (item,) = found
        assert item.purposes == ALL_PURPOSES and item.note.startswith("unparseable")
    else:
        assert {p for item in found for p in item.purposes} == purposes


@pytest.mark.parametrize("value", ["Train-AI=n", "train-ai=n,", "train-ai = n", "trainé=n"])
def test_a_content_usage_header_that_cannot_be_parsed_denies_all(value):
    (item,) = read_headers({"Content-Usage": value})
    assert (item.source, item.purposes) == ("http:Content-Usage", ALL_PURPOSES)
    assert item.note.startswith("unparseable: not a structured-field dictionary")


@pytest.mark.parametrize("value", ["train-ai=no", 'train-ai="n"', "train-ai", "train-ai=?0"])
def test_a_known_label_with_a_value_other_than_y_denies_its_purposes(value):
    (item,) = read_headers({"Content-Usage": value})
    assert item.purposes == TRAINING
    assert item.note == "unparseable: value is not the token y or n"


def test_other_headers_are_ignored_and_signals_add_up():
    headers = {
        "Content-Type": "image/jpeg",
        "X-Robots-Tag": "noindex",
        "Content-Usage": "ai-use=n",
        "tdm-reservation": "0",
    }
    assert [item.source for item in read_headers(headers)] == ["http:Content-Usage"]


def test_a_signal_header_whose_value_is_not_text_fails_closed():
    (item,) = read_headers({"Content-Usage": 1})  # type: ignore[dict-item]
    assert item.purposes == ALL_PURPOSES
    assert read_headers({"Content-Length": 1}) == []  # type: ignore[dict-item]


# --- img2dataset sidecars ------------------------------------------------------------


def test_img2dataset_sidecar_without_headers_gives_none():
    # What img2dataset writes today: no response headers at all.
    sidecar = {
        "url": "https://a.example/1.jpg",
        "key": "000000001",
        "status": "success",
        "error_message": None,
        "width": 256,
        "height": 256,
        "original_width": 800,
        "original_height": 800,
        "exif": "{}",
        "sha256": "0" * 64,
    }
    assert headers_from_img2dataset_sidecar(sidecar) == {}


def test_sidecar_headers_object_and_columns_are_read():
    sidecar = {
        "url": "https://a.example/1.jpg",
        "headers": {"x-robots-tag": ["otherbot: noindex", "noai"], "Server": "nginx"},
        "tdm_reservation": 1,
        "content_usage": "train-ai=n",
    }
    headers = headers_from_img2dataset_sidecar(sidecar)
    assert headers == {
        "X-Robots-Tag": ["otherbot: noindex", "noai"],
        "tdm-reservation": "1",
        "Content-Usage": "train-ai=n",
    }
    assert denied(headers) == ALL


@pytest.mark.parametrize(
    "sidecar",
    [{"headers": "X-Robots-Tag: noai"}, {"headers": {"X-Robots-Tag": 3.5}}, {"x_robots_tag": {}}],
)
def test_a_malformed_sidecar_fails_closed_through_the_pseudo_header(sidecar):
    headers = headers_from_img2dataset_sidecar(sidecar)
    assert list(headers) == [UNREADABLE_HEADERS]
    (item,) = read_headers(headers)
    assert item.purposes == ALL_PURPOSES and item.note.startswith("unparseable: sidecar")
