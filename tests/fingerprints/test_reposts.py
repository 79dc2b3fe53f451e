"""A drawing on white re-posted on a page of the same white (a screenshot of a post, a meme's
caption bars): no edge shows where the page ends and the picture begins, and a drawing in
parts falls apart along its own white gaps. The run of picture bands between the lines of text
frames it as its registered content box (regions._blocks)."""

from __future__ import annotations

from functools import cache

from PIL import Image, ImageDraw

from registry.fingerprints import (
    ImageFingerprint,
    WorkFingerprints,
    fingerprint_image,
    fingerprint_work,
)
from registry.fingerprints.regions import MAX_REGIONS
from registry.matching.rules import is_candidate, verify
from tests.fingerprints.images import drawing, encode, font, painting, post_screenshot


def drawing_in_parts(first: int, second: int) -> Image.Image:
    """Two drawings on one white sheet, white rows between them, uneven margins: clip art
    whose parts the cut takes for separate bands."""
    sheet = Image.new("RGB", (360, 400), "white")
    sheet.paste(drawing(first, (300, 150)).crop((20, 20, 280, 130)), (30, 40))
    sheet.paste(drawing(second, (300, 150)).crop((20, 20, 280, 130)), (60, 190))
    return sheet


WORK = drawing_in_parts(71, 72)
OTHER = drawing_in_parts(73, 74)


def screenshot(picture: Image.Image) -> Image.Image:
    """A white page: app bar, author row, caption, the picture, likes, other thumbnails."""
    return post_screenshot(picture, (45, 235, 495, 735), likes="1234 likes")


def meme(picture: Image.Image) -> Image.Image:
    """White caption bars above and below the picture, as wide as it."""
    width, height = picture.size
    framed = Image.new("RGB", (width, height + 150), "white")
    framed.paste(picture, (0, 80))
    draw = ImageDraw.Draw(framed)
    draw.text((40, 25), "WHEN THE BUILD PASSES", fill="black", font=font(26))
    draw.text((60, height + 95), "ON THE FIRST TRY", fill="black", font=font(26))
    return framed


@cache
def registered(which: str) -> WorkFingerprints:
    return fingerprint_work(encode(WORK if which == "work" else OTHER, "PNG"))


def _found(fingerprint: ImageFingerprint, which: str) -> set[str]:
    """The variants of a registered work the query or one of its regions verifies against."""
    return {
        variant
        for variant, hashes in registered(which).variants.items()
        for k, searched in enumerate(fingerprint.searched())
        if is_candidate(searched, hashes)
        and verify(searched, hashes, region=k > 0, variant=variant).matched
    }


def test_a_drawing_in_parts_reposted_in_a_screenshot_of_a_white_page_is_found() -> None:
    fingerprint = fingerprint_image(encode(screenshot(WORK), "JPEG", quality=90))
    assert len(fingerprint.regions) <= MAX_REGIONS
    assert _found(fingerprint, "work")
    assert not _found(fingerprint, "other")


def test_a_drawing_in_parts_between_white_meme_captions_is_found() -> None:
    # A guard: the cut's pieces found this before the run of bands; the run must keep it.
    fingerprint = fingerprint_image(encode(meme(WORK), "JPEG", quality=90))
    assert _found(fingerprint, "work")
    assert not _found(fingerprint, "other")


def test_a_screenshot_of_another_drawing_finds_nothing() -> None:
    fingerprint = fingerprint_image(encode(screenshot(OTHER), "JPEG", quality=90))
    assert not _found(fingerprint, "work")


def captioned_grid(rows: int, columns: int, tile: tuple[int, int] = (220, 180)) -> Image.Image:
    """Paintings in a grid with white gutters under a line of caption: a collage as posted."""
    width = 20 + columns * (tile[0] + 20)
    height = 90 + rows * (tile[1] + 20)
    page = Image.new("RGB", (width, height), "white")
    ImageDraw.Draw(page).text(
        (20, 20), "MY FAVOURITE ARTISTS THIS WEEK", fill="black", font=font(26)
    )
    for row in range(rows):
        for column in range(columns):
            seed = 100 + row * columns + column
            page.paste(
                painting(seed, tile), (20 + column * (tile[0] + 20), 70 + row * (tile[1] + 20))
            )
    return page


def _verifies(fingerprint: ImageFingerprint, work: WorkFingerprints) -> bool:
    return any(
        is_candidate(searched, hashes)
        and verify(searched, hashes, region=k > 0, variant=name).matched
        for name, hashes in work.variants.items()
        for k, searched in enumerate(fingerprint.searched())
    )


def test_a_caption_over_a_grid_does_not_cost_a_tile_its_region() -> None:
    """A line of text bounds the grid's rows, yet the grid is no one picture: its box would
    match none of the tiles and take the place of one (at most MAX_REGIONS are searched)."""
    fingerprint = fingerprint_image(encode(captioned_grid(2, 2), "PNG"))
    first_tile = fingerprint_work(encode(painting(100, (220, 180)), "PNG"))
    assert _verifies(fingerprint, first_tile)


def test_most_tiles_of_a_nine_picture_collage_are_searched() -> None:
    """Each tile of a 3x3 collage is a piece of the cut and needs a place of its own: with
    four places three tiles at most could be found (seven of the nine are, with eight)."""
    tile, gutter = (220, 180), 10
    page = Image.new("RGB", (gutter + 3 * (tile[0] + gutter), gutter + 3 * (tile[1] + gutter)))
    page.paste("white", (0, 0, *page.size))
    for k in range(9):
        row, column = divmod(k, 3)
        at = (gutter + column * (tile[0] + gutter), gutter + row * (tile[1] + gutter))
        page.paste(painting(100 + k, tile), at)
    fingerprint = fingerprint_image(encode(page, "JPEG", quality=90))
    tiles = [fingerprint_work(encode(painting(100 + k, tile), "PNG")) for k in range(9)]
    assert sum(_verifies(fingerprint, work) for work in tiles) >= 7
