"""Version 4's wide tilts, as a screening finds them: a drawing on white re-posted turned by 10
degrees, its corners filled with white."""

import io

from PIL import Image

from registry.demo_art import artwork
from registry.fingerprints import fingerprint_image
from registry.selectors.matching import match_items
from registry.services.works import work_register
from tests.conftest import _SEED_BASE

WIDE = {"tilt_left_7", "tilt_right_7"}


def _drawing_on_white(seed: int) -> Image.Image:
    sheet = Image.new("RGB", (600, 500), "white")
    sheet.paste(artwork(_SEED_BASE + seed, (380, 430)), (110, 35))
    return sheet


def _register(artist, seed: int):
    buffer = io.BytesIO()
    _drawing_on_white(seed).save(buffer, format="PNG")
    return work_register(artist=artist, data=buffer.getvalue(), title=f"Sheet {seed}").work


def _turned(seed: int, degrees: float) -> bytes:
    """The drawing re-posted turned by `degrees`, its frame kept, the corners filled white."""
    image = _drawing_on_white(seed).rotate(
        degrees, resample=Image.Resampling.BICUBIC, fillcolor=(255, 255, 255)
    )
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def test_a_work_turned_by_10_degrees_is_found_weakly(alice):
    work = _register(alice, 5)
    _register(alice, 6)

    for degrees in (10.0, -10.0):
        (item,) = match_items([fingerprint_image(_turned(5, degrees))])
        matches = item.matches

        assert [match.work_id for match in matches] == [work.pk]
        # Found through a registered wide tilt: the 3-degree tilts are 14-24 pHash bits away.
        assert matches[0].variant in WIDE
        # Fill has replaced the corners: a turned work may deny a picture, never allow one.
        assert matches[0].strong is False


def test_an_unrelated_drawing_turned_by_10_degrees_is_not_found(alice):
    _register(alice, 5)
    _register(alice, 6)

    (item,) = match_items([fingerprint_image(_turned(7, 10.0))])

    assert item.matches == []
