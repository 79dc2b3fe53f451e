"""The matching rules: every re-post edit of bench/accuracy/edits.py is found, a distinct
work is not."""

from __future__ import annotations

import io
import json
from functools import cache

import pytest
from PIL import Image, ImageEnhance

from bench.accuracy.edits import EDITS, web_copy
from registry.fingerprints import (
    ImageFingerprint,
    WorkFingerprints,
    fingerprint_image,
    fingerprint_work,
)
from registry.matching.rules import (
    DEFAULT_MATCHING,
    MatchingConfig,
    Verdict,
    closest_work,
    is_candidate,
    is_weak,
    verify,
)
from tests.fingerprints.images import badge, drawing, encode, painting, with_mark

PICTURES = {
    "painting-a": painting(21),
    "painting-b": painting(22),
    "drawing": drawing(23),
    "badge": badge(),
    # Pale fills clip to the page's white when brightened: the "brightened" variant's case.
    "pale-drawing": drawing(24, fill=(228, 228, 228)),
}


@cache
def registered(name: str) -> WorkFingerprints:
    return fingerprint_work(encode(PICTURES[name], "PNG"))


def matched_works(query: ImageFingerprint, config: MatchingConfig = DEFAULT_MATCHING) -> set[str]:
    if is_weak(query, config):
        return set()
    return {
        name
        for name in PICTURES
        for hashes in registered(name).variants.values()
        if is_candidate(query.hashes, hashes, config)
        and verify(query.hashes, hashes, config).matched
    }


@pytest.mark.parametrize("edit", list(EDITS))
@pytest.mark.parametrize("name", list(PICTURES))
def test_edited_copy_matches_its_work_only(name: str, edit: str) -> None:
    data = EDITS[edit](web_copy(PICTURES[name]), 1)
    assert matched_works(fingerprint_image(data)) == {name}


PHOTOMETRIC = {
    "darkened": lambda image: ImageEnhance.Brightness(image).enhance(0.75),
    "brightened_15": lambda image: ImageEnhance.Brightness(image).enhance(1.15),
    "vivid": lambda image: ImageEnhance.Color(image).enhance(1.4),
    "contrast": lambda image: ImageEnhance.Contrast(image).enhance(1.3),
}


@pytest.mark.parametrize("edit", list(PHOTOMETRIC))
@pytest.mark.parametrize("name", ["painting-a", "badge", "pale-drawing"])
def test_brightness_contrast_and_saturation_are_fitted(name: str, edit: str) -> None:
    """Filters beyond the benchmark's: the comparison fits them instead of registering each."""
    data = encode(PHOTOMETRIC[edit](web_copy(PICTURES[name])), "JPEG", quality=90)
    assert name in matched_works(fingerprint_image(data))


@pytest.mark.parametrize("seed", [31, 32])
def test_distinct_works_are_not_matched(seed: int) -> None:
    assert matched_works(fingerprint_image(encode(painting(seed), "JPEG"))) == set()
    assert matched_works(fingerprint_image(encode(drawing(seed), "JPEG"))) == set()


def test_verdict_reports_every_distance() -> None:
    query = fingerprint_image(encode(PICTURES["painting-a"], "JPEG", quality=60))
    verdict = verify(query.hashes, registered("painting-a").variants["original"])
    assert verdict.matched
    assert set(verdict.distances) == {
        "phash",
        "dhash",
        "pdq",
        "luma",
        "colour",
        "changed",
        "changed_inside",
    }


def test_thresholds_decide() -> None:
    query = fingerprint_image(encode(PICTURES["painting-a"], "JPEG", quality=60))
    candidate = registered("painting-a").variants["original"]
    assert verify(query.hashes, candidate).matched
    strict = MatchingConfig(max_luma=1e-6, max_colour=1e-6)
    assert not verify(query.hashes, candidate, strict).matched
    with pytest.raises(ValueError, match="positive"):
        MatchingConfig(max_changed=0.0)


@pytest.mark.parametrize("place", [(0.35, 0.6), (0.5, 0.5), (0.65, 0.4)])
def test_a_mark_inside_the_picture_is_another_work(place: tuple[float, float]) -> None:
    """The same template with one more detail (a letter on a dreidel, a placket on a shirt)."""
    marked = fingerprint_image(encode(with_mark(PICTURES["badge"], *place, size=0.1), "JPEG"))
    work = registered("badge")
    assert not any(verify(marked.hashes, hashes).matched for hashes in work.variants.values())
    verdict = verify(marked.hashes, work.variants["original"])
    assert verdict.distances["changed_inside"] > DEFAULT_MATCHING.max_changed_inside
    assert verdict.distances["luma"] < DEFAULT_MATCHING.max_luma  # alike everywhere else


def test_an_overlay_at_the_edge_is_not_another_work() -> None:
    """The same mark at the frame's edge is what a watermark or a logo does."""
    marked = fingerprint_image(encode(with_mark(PICTURES["painting-b"], 0.0, 0.0), "JPEG"))
    verdict = verify(marked.hashes, registered("painting-b").variants["original"])
    assert verdict.matched
    assert verdict.distances["changed"] > verdict.distances["changed_inside"] == 0


def test_candidate_without_descriptor_fails_closed() -> None:
    query = fingerprint_image(encode(PICTURES["painting-a"], "JPEG"))
    bare = registered("painting-a").variants["original"]
    stripped = type(bare)(bare.phash, bare.dhash, bare.pdq, bare.pdq_quality, b"")
    assert not verify(query.hashes, stripped).matched


@pytest.mark.parametrize(
    "picture",
    [
        Image.new("RGB", (400, 300), "white"),
        Image.new("RGB", (400, 300), (30, 90, 160)),
        Image.linear_gradient("L").resize((400, 300)).point(lambda v: 100 + v // 40),
        Image.effect_noise((400, 300), 8),
    ],
    ids=["blank", "flat-colour", "faint-gradient", "paper-noise"],
)
def test_plain_images_are_weak(picture: Image.Image) -> None:
    fingerprint = fingerprint_image(encode(picture, "PNG"))
    assert is_weak(fingerprint)


@pytest.mark.parametrize("name", list(PICTURES))
def test_real_pictures_are_not_weak(name: str) -> None:
    assert not is_weak(registered(name).image)


def test_config_is_published_as_plain_data() -> None:
    published = DEFAULT_MATCHING.to_dict()
    assert published["phash_radius"] == DEFAULT_MATCHING.phash_radius
    assert published["max_changed_inside"] == DEFAULT_MATCHING.max_changed_inside
    assert published["dhash_variants"] == list(DEFAULT_MATCHING.dhash_variants)
    assert json.loads(json.dumps(published)) == published


def test_grayscale_query_is_compared_without_colour() -> None:
    grey = io.BytesIO()
    PICTURES["painting-b"].convert("L").save(grey, "JPEG")
    verdict = verify(
        fingerprint_image(grey.getvalue()).hashes, registered("painting-b").variants["original"]
    )
    assert verdict.matched
    assert verdict.distances["colour"] == 0


def test_colour_tells_recoloured_drawings_apart() -> None:
    """The same flag in red and in green of the same brightness: alike in grey only."""
    red, green = (badge(fill=colour) for colour in ((220, 40, 40), (20, 140, 40)))
    work = fingerprint_work(encode(red, "PNG")).variants["original"]
    recoloured = verify(fingerprint_image(encode(green, "JPEG")).hashes, work)
    assert not recoloured.matched
    assert recoloured.distances["colour"] > DEFAULT_MATCHING.max_colour
    in_grey = verify(fingerprint_image(encode(green.convert("L"), "JPEG")).hashes, work)
    assert in_grey.matched


def test_closest_work_is_the_lowest_score() -> None:
    near = Verdict(matched=True, distances={}, score=0.4)
    far = Verdict(matched=True, distances={}, score=0.9)
    missed = Verdict(matched=False, distances={}, score=0.1)
    assert closest_work({1: far, 2: near, 3: missed}) == 2
    assert closest_work({3: missed}) is None
