"""Version 5's 16:9 windows, as a screening finds them: a picture that fills its frame,
re-posted cut to 16:9 anywhere along its height, is found (weakly); a drawing on white gets no
windows; an unrelated 16:9 picture is not found."""

import pytest
from PIL import Image

from registry.demo_art import artwork
from registry.fingerprints import fingerprint_image, fingerprint_work
from registry.fingerprints.variants import WINDOW_VARIANTS
from registry.matching.rules import DEFAULT_MATCHING, is_candidate, verify_item
from registry.selectors.matching import match_items
from registry.services.works import work_register
from tests.conftest import _SEED_BASE
from tests.fingerprints.images import encode


def _cut_16x9(image: Image.Image, position: float) -> Image.Image:
    """The widest 16:9 window of a picture wider than tall but under 16:9, `position` of the
    way down (as a social network's crop, or bench.accuracy's crop_16x9)."""
    width, height = image.size
    kept = round(width * 9 / 16)
    top = round((height - kept) * position)
    return image.crop((0, top, width, top + kept))


def _drawing_on_white(seed: int) -> Image.Image:
    sheet = Image.new("RGB", (640, 480), "white")
    sheet.paste(artwork(_SEED_BASE + seed, (360, 300)), (140, 90))
    return sheet


# Between registered windows (every 3% of the height, 10 of them for a 4:3 picture) and at
# both ends.
@pytest.mark.parametrize("position", [0.0, 0.37, 0.62, 1.0])
def test_a_picture_cut_to_16x9_anywhere_is_found_through_a_window(alice, register_work, position):
    work = register_work(alice, seed=12)
    register_work(alice, seed=13)
    cut = fingerprint_image(
        encode(_cut_16x9(artwork(_SEED_BASE + 12), position), "JPEG", quality=85)
    )

    (item,) = match_items([cut])

    assert [match.work_id for match in item.matches] == [work.pk]
    assert item.matches[0].variant in WINDOW_VARIANTS
    # A part of the work may deny a picture but never allow one.
    assert item.matches[0].strong is False


@pytest.mark.parametrize("position", [0.0, 0.37, 0.62, 1.0])
def test_without_its_windows_the_cut_picture_is_not_found(position):
    """What the windows add: the re-post, searched whole and by its regions, matches none of
    the work's other variants (version 4 before the windows)."""
    registered = fingerprint_work(encode(artwork(_SEED_BASE + 12), "PNG")).variants
    cut = fingerprint_image(
        encode(_cut_16x9(artwork(_SEED_BASE + 12), position), "JPEG", quality=85)
    )
    searched = cut.searched()
    whole = [True] + [False] * (len(searched) - 1)

    def found(names: set[str]) -> dict[int, str]:
        pairs = [
            (name, k, hashes)
            for name, hashes in registered.items()
            if name in names
            for k, query in enumerate(searched)
            if is_candidate(query, hashes, DEFAULT_MATCHING)
        ]
        matched = verify_item(searched, {9: pairs}, DEFAULT_MATCHING, whole=whole).matched
        return {work: variant for work, (variant, _) in matched.items()}

    assert found(set(registered) - set(WINDOW_VARIANTS)) == {}
    assert found(set(registered))[9] in WINDOW_VARIANTS


def test_a_drawing_on_white_gets_no_windows_and_a_full_bleed_picture_does():
    on_white = fingerprint_work(encode(_drawing_on_white(13), "PNG")).variants
    full_bleed = fingerprint_work(encode(artwork(_SEED_BASE + 13), "PNG")).variants

    assert not set(on_white) & set(WINDOW_VARIANTS)
    # A 4:3 picture's 16:9 window slides over a quarter of its height: 10 places, 3% apart.
    assert len(set(full_bleed) & set(WINDOW_VARIANTS)) == 10
    assert set(WINDOW_VARIANTS) <= set(DEFAULT_MATCHING.weak_variants)


def test_a_picture_already_16x9_gets_no_windows():
    wide = fingerprint_work(encode(artwork(_SEED_BASE + 14, (640, 360)), "PNG")).variants

    assert not set(wide) & set(WINDOW_VARIANTS)


def test_an_unrelated_16x9_picture_is_not_found(alice, register_work):
    register_work(alice, seed=12)
    work_register(artist=alice, data=encode(_drawing_on_white(13), "PNG"), title="On white")

    found = match_items(
        [
            fingerprint_image(encode(_cut_16x9(artwork(_SEED_BASE + 40), 0.5), "JPEG", quality=85)),
            fingerprint_image(encode(artwork(_SEED_BASE + 41, (640, 360)), "JPEG", quality=85)),
        ]
    )

    assert [(item.matches, item.unverified) for item in found] == [([], frozenset())] * 2
