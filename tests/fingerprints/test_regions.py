"""Query regions (registry/fingerprints/regions.py): a registered work inside a bigger picture
is proposed as a region of its own, and found through it."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import pytest
from PIL import Image, ImageDraw

from bench.accuracy.edits import web_copy
from registry.fingerprints import WorkFingerprints, fingerprint_image, fingerprint_work
from registry.fingerprints.decode import decode_image
from registry.fingerprints.regions import MAX_REGIONS, query_regions
from registry.matching.rules import is_candidate, verify
from tests.fingerprints.images import drawing, encode, painting, post_screenshot

WORK = painting(31)
OTHERS = {"other-painting": painting(32), "other-drawing": drawing(33)}

Box = tuple[int, int, int, int]


@cache
def registered(name: str) -> WorkFingerprints:
    image = WORK if name == "work" else OTHERS[name]
    return fingerprint_work(encode(image, "PNG"))


def screenshot(picture: Image.Image) -> tuple[Image.Image, Box]:
    """A phone screenshot of a post, and where the picture sits in it."""
    box = (20, 240, 520, 615)
    return post_screenshot(picture, box), box


def collage(picture: Image.Image) -> tuple[Image.Image, Box]:
    """The work as the bottom-right tile of a 2x2 collage with white gutters."""
    side, gap = 300, 8
    sheet = Image.new("RGB", (2 * side + 3 * gap, 2 * side + 3 * gap), "white")
    tiles = [painting(51), drawing(52), painting(53), picture]
    for position, tile in enumerate(tiles):
        x, y = gap + position % 2 * (side + gap), gap + position // 2 * (side + gap)
        sheet.paste(tile.resize((side, side)), (x, y))
    return sheet, (2 * gap + side, 2 * gap + side, 2 * gap + 2 * side, 2 * gap + 2 * side)


def composite(picture: Image.Image) -> tuple[Image.Image, Box]:
    """The work pasted at 55% onto a drawing, away from its edges. (Onto a painting of the
    same tones its edges are too broken to be found: docs/matching.md.)"""
    canvas = drawing(61).resize((800, 600))
    shown = picture.resize((440, 330))
    canvas.paste(shown, (200, 150))
    return canvas, (200, 150, 640, 480)


def uneven_border(picture: Image.Image) -> tuple[Image.Image, Box]:
    """A border of 14% on the left, 2% on the other sides: the symmetric trim keeps most of
    it, the content box does not."""
    width, height = picture.size
    left, other = round(0.14 * width), round(0.02 * width)
    framed = Image.new("RGB", (width + left + other, height + 2 * other), (235, 228, 215))
    framed.paste(picture, (left, other))
    return framed, (left, other, left + width, other + height)


EDITS: dict[str, Callable[[Image.Image], tuple[Image.Image, Box]]] = {
    "screenshot": screenshot,
    "collage": collage,
    "composite": composite,
    "uneven_border": uneven_border,
}


def _overlap(a: Box, b: Box) -> float:
    width = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


@pytest.mark.parametrize("edit", list(EDITS))
def test_a_region_is_proposed_around_the_work(edit: str) -> None:
    query, truth = EDITS[edit](web_copy(WORK))
    width, height = query.size
    expected = (
        1000 * truth[0] // width,
        1000 * truth[1] // height,
        1000 * truth[2] // width,
        1000 * truth[3] // height,
    )
    regions = query_regions(decode_image(encode(query, "JPEG", quality=90)))
    assert len(regions) <= MAX_REGIONS
    assert max(_overlap(region.box, expected) for region in regions) > 0.9


@pytest.mark.parametrize("edit", list(EDITS))
def test_the_work_is_found_through_its_region_and_no_other(edit: str) -> None:
    query, _ = EDITS[edit](web_copy(WORK))
    fingerprint = fingerprint_image(encode(query, "JPEG", quality=90))
    found = {
        name
        for name in ("work", *OTHERS)
        for variant, hashes in registered(name).variants.items()
        for k, searched in enumerate(fingerprint.searched())
        if is_candidate(searched, hashes)
        and verify(searched, hashes, region=k > 0, variant=variant).matched
    }
    assert found == {"work"}


def test_a_flat_bar_is_not_a_region() -> None:
    """Letterbox bars and blank caption bands match every plain picture: never a region."""
    framed = Image.new("RGB", (640, 480), "white")
    framed.paste(web_copy(WORK).resize((420, 480)), (110, 0))
    draw = ImageDraw.Draw(framed)
    draw.rectangle((0, 0, 109, 479), fill="black")
    draw.rectangle((531, 0, 639, 479), fill="black")
    regions = query_regions(decode_image(encode(framed, "JPEG", quality=90)))
    for region in regions:
        left, _, right, _ = region.box
        assert right - left > 300  # the picture (or the frame), never a bar of 170


def test_a_region_never_matches_a_registered_crop() -> None:
    """A part of the query against a part of a work: a detail of one flag or tile resembles
    a detail of another, so a region is held to the work's whole framings only."""
    work = registered("work").variants
    crop = fingerprint_image(encode(WORK.crop((0, 0, 384, 288)), "PNG")).hashes
    assert verify(crop, work["crop_top_left"], variant="crop_top_left").matched
    assert not verify(crop, work["crop_top_left"], region=True, variant="crop_top_left").matched
