"""A re-post turned, sheared or keystoned on a uniform fill (registry/fingerprints/rectify.py) is
put upright as a query region of its own, and the work is found through it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import cache
from typing import cast

import pytest
from PIL import Image, ImageOps

from bench.accuracy.__main__ import candidate_index, decide
from bench.accuracy.generator import perspective_coefficients
from registry.demo_art import artwork
from registry.fingerprints import (
    Hashes,
    ImageFingerprint,
    fingerprint_image,
    fingerprint_work,
)
from registry.fingerprints import regions as regions_module
from registry.fingerprints.decode import decode_image
from registry.fingerprints.rectify import rectified
from registry.fingerprints.regions import WHOLE_FRAME, query_regions
from registry.matching.matcher import VARIANT_NUMBER, CandidateIndex
from registry.matching.rules import DEFAULT_MATCHING, ItemVerdicts
from tests.fingerprints.images import drawing, encode, painting

WHITE, BLACK = (255, 255, 255), (0, 0, 0)


def framed_art(seed: int) -> Image.Image:
    """A generated picture with a dark blue border of its own: its edge shows on white and
    on black fill alike."""
    return ImageOps.expand(artwork(seed, (600, 450)), border=10, fill=(40, 60, 160))


WORK, OTHER = framed_art(3), framed_art(4)


def turned(
    degrees: float, expand: bool, fill: tuple[int, int, int]
) -> Callable[[Image.Image], Image.Image]:
    def edit(image: Image.Image) -> Image.Image:
        return image.rotate(degrees, Image.Resampling.BICUBIC, expand=expand, fillcolor=fill)

    return edit


def sheared(shear: float, horizontal: bool) -> Callable[[Image.Image], Image.Image]:
    """The picture sheared on a canvas grown to hold it, the new corners white."""

    def edit(image: Image.Image) -> Image.Image:
        width, height = image.size
        if horizontal:
            size = (width + round(shear * height), height)
            matrix: tuple[float, ...] = (1, shear, -round(shear * height), 0, 1, 0)
        else:
            size = (width, height + round(shear * width))
            matrix = (1, 0, 0, shear, 1, -round(shear * width))
        return image.transform(
            size, Image.Transform.AFFINE, matrix, Image.Resampling.BICUBIC, fillcolor=WHITE
        )

    return edit


def keystoned(share: float) -> Callable[[Image.Image], Image.Image]:
    """A photo of a screen from below: the top edge shrunk by `share` toward its middle."""

    def edit(image: Image.Image) -> Image.Image:
        width, height = image.size
        inset = share * width / 2
        corners = [(0.0, 0.0), (width, 0.0), (width, height), (0.0, height)]
        shrunk = [(inset, 0.0), (width - inset, 0.0), (width, height), (0.0, height)]
        return image.transform(
            image.size,
            Image.Transform.PERSPECTIVE,
            perspective_coefficients(corners, shrunk),
            Image.Resampling.BICUBIC,
            fillcolor=WHITE,
        )

    return edit


EDITS = {
    "turned 12, canvas grown, white": turned(12, True, WHITE),
    "turned 12, canvas grown, black": turned(12, True, BLACK),
    "turned -12, frame kept, white": turned(-12, False, WHITE),
    "turned 12, frame kept, black": turned(12, False, BLACK),
    "sheared across": sheared(0.25, True),
    "sheared down": sheared(0.2, False),
    "keystoned": keystoned(0.14),
}


@cache
def index() -> tuple[CandidateIndex, dict[tuple[int, int], Hashes]]:
    """The server's candidate index over both works' registered variants (work 1 is WORK)."""
    hashes: dict[tuple[int, int], Hashes] = {}
    for work_id, image in ((1, WORK), (2, OTHER)):
        for name, variant in fingerprint_work(encode(image, "PNG")).variants.items():
            hashes[work_id, VARIANT_NUMBER[name]] = variant
    return candidate_index(hashes, DEFAULT_MATCHING), hashes


def screened(fingerprint: ImageFingerprint) -> ItemVerdicts:
    """What the registry decides for one item: candidates from the index, verified by the rule."""
    return decide(fingerprint, *index())


def repost(edit: str, image: Image.Image = WORK) -> bytes:
    return encode(EDITS[edit](image), "JPEG", quality=85)


@pytest.mark.parametrize("edit", list(EDITS))
def test_a_turned_sheared_or_keystoned_repost_is_found_upright(edit: str) -> None:
    item = screened(fingerprint_image(repost(edit)))
    assert set(item.matched) == {1}
    _, verdict = item.matched[1]
    # Through a region, so weakly: it may deny, never allow.
    assert item.found_by[1] > 0 and not verdict.strong


@pytest.mark.parametrize("edit", list(EDITS))
def test_without_the_upright_region_the_repost_is_missed(
    edit: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(regions_module, "rectified", lambda frame: None)
    assert screened(fingerprint_image(repost(edit))).matched == {}


@pytest.mark.parametrize("edit", list(EDITS))
def test_an_unrelated_turned_picture_is_not_found(edit: str) -> None:
    item = screened(fingerprint_image(repost(edit, framed_art(5))))
    assert item.matched == {}


@pytest.mark.parametrize(
    "picture",
    [
        pytest.param(lambda: ImageOps.expand(WORK, border=60, fill=WHITE), id="upright on white"),
        pytest.param(lambda: ImageOps.expand(WORK, border=40, fill=BLACK), id="upright on black"),
        pytest.param(lambda: drawing(33, (500, 400)), id="drawing on white"),
        pytest.param(lambda: painting(31, (640, 480)), id="painting to its edges"),
    ],
)
def test_an_upright_picture_or_a_drawing_gets_no_upright_region(
    picture: Callable[[], Image.Image],
) -> None:
    decoded = decode_image(encode(picture(), "JPEG", quality=90))
    assert rectified(decoded.untrimmed) is None


def test_the_upright_region_is_framed_like_the_work_and_never_the_untrimmed_frame() -> None:
    """Its box is the quadrilateral's, clipped to the frame: a turned picture that kept its
    frame fills it, yet the box stays off WHOLE_FRAME, the one box that carries a PDQ."""
    decoded = decode_image(repost("turned -12, frame kept, white"))
    found = rectified(decoded.untrimmed)
    assert found is not None and 11.5 < found.turn < 12.5
    assert found.box != WHOLE_FRAME and found.box == (1, 1, 999, 999)
    # Framed as the work is registered: its own blue border trimmed off, within 3%.
    registered = decode_image(encode(WORK, "PNG")).trimmed
    aspect = (found.image.width / found.image.height) / (registered.width / registered.height)
    assert abs(aspect - 1) < 0.03
    boxes = [region.box for region in query_regions(decoded)]
    # Searched right after the untrimmed frame, before the cut's pieces.
    assert boxes.index(found.box) == (1 if WHOLE_FRAME in boxes else 0)


def test_a_plain_card_turned_on_white_gets_no_upright_region() -> None:
    """A flat card turned on white is a clean quadrilateral, but put upright it is a blank
    region: its hashes would be decided by noise and match every plain picture."""
    card = Image.new("RGB", (400, 300), (40, 90, 200))
    turned = card.rotate(12, Image.Resampling.BICUBIC, expand=True, fillcolor=(255, 255, 255))
    decoded = decode_image(encode(turned, "JPEG", quality=90))
    upright = rectified(decoded.untrimmed)
    assert upright is not None  # the geometry is found...
    assert upright.box not in [region.box for region in query_regions(decoded)]  # ...not searched


# -- the upright region's dHash ---------------------------------------------------------------

TURNED_10 = {
    "turned 10 on white": turned(10, True, WHITE),
    "turned -10 on a coloured page": turned(-10, True, (235, 205, 120)),
}


def far(code: int) -> int:
    """The code with 32 of its 64 bits flipped: no registered variant within any radius."""
    return code ^ 0xFFFFFFFF00000000


def only_upright_dhash(fingerprint: ImageFingerprint) -> ImageFingerprint:
    """The fingerprint with every searched hash moved far away but its upright region's dHash
    (its descriptors kept): what a warped flat sprite whose pHash bits flipped looks like to
    the index, reduced to the one path that can still find it."""
    assert fingerprint.upright is not None

    def moved(hashes: Hashes, keep_dhash: bool) -> Hashes:
        dhash = hashes.dhash if keep_dhash else far(hashes.dhash)
        return replace(hashes, phash=far(hashes.phash), dhash=dhash)

    regions = tuple(
        (box, moved(hashes, number == fingerprint.upright))
        for number, (box, hashes) in enumerate(fingerprint.regions)
    )
    return replace(fingerprint, hashes=moved(fingerprint.hashes, False), regions=regions)


def turned_10(edit: str, image: Image.Image = WORK) -> ImageFingerprint:
    return fingerprint_image(encode(TURNED_10[edit](image), "JPEG", quality=85))


@pytest.mark.parametrize("edit", list(EDITS))
def test_the_fingerprint_marks_its_upright_region_on_the_wire(edit: str) -> None:
    fingerprint = fingerprint_image(repost(edit))
    decoded = decode_image(repost(edit))
    upright = rectified(decoded.untrimmed)

    assert fingerprint.upright is not None and upright is not None
    assert fingerprint.regions[fingerprint.upright][0] == upright.box
    wire = fingerprint.to_wire()
    regions = cast(list[dict[str, object]], wire["regions"])
    assert [region for region in regions if region.get("upright")] == [regions[fingerprint.upright]]
    assert ImageFingerprint.from_wire(wire) == fingerprint


def test_a_query_without_an_upright_region_marks_none() -> None:
    fingerprint = fingerprint_image(encode(ImageOps.expand(WORK, border=60, fill=WHITE), "PNG"))
    assert fingerprint.upright is None
    regions = cast(list[dict[str, object]], fingerprint.to_wire().get("regions", []))
    assert not any("upright" in region for region in regions)


@pytest.mark.parametrize("edit", list(TURNED_10))
def test_a_turned_picture_found_only_by_its_upright_dhash_is_matched(edit: str) -> None:
    """Turned 10 degrees on a page, its every hash but the upright region's dHash too far from
    the work's: matched through that dHash and the registered original (or untrimmed), weakly,
    held to the near-copy limits of both paths. With the rule off, nothing finds it."""
    fingerprint = turned_10(edit)
    reduced = only_upright_dhash(fingerprint)

    item = screened(reduced)

    assert set(item.matched) == {1}
    variant, verdict = item.matched[1]
    assert item.found_by[1] == reduced.upright_searched()
    assert variant in DEFAULT_MATCHING.upright_dhash_variants and not verdict.strong
    assert verdict.distances["phash"] > DEFAULT_MATCHING.phash_radius
    assert verdict.distances["dhash"] <= DEFAULT_MATCHING.dhash_radius
    off = replace(DEFAULT_MATCHING, upright_dhash_variants=())
    _, hashes = index()
    assert decide(reduced, candidate_index(hashes, off), hashes, off).matched == {}


@pytest.mark.parametrize("edit", list(TURNED_10))
def test_another_turned_picture_is_not_matched_through_its_upright_dhash(edit: str) -> None:
    item = screened(only_upright_dhash(turned_10(edit, framed_art(5))))
    assert item.matched == {}
