"""The matching rules: every re-post edit of bench/accuracy/edits.py is found, a distinct
work is not."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import replace
from functools import cache

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageEnhance, ImageFont

from bench.accuracy.edits import EDITS, web_copy
from registry.fingerprints import (
    Hashes,
    ImageFingerprint,
    WorkFingerprints,
    fingerprint_image,
    fingerprint_work,
)
from registry.fingerprints.decode import decode_image
from registry.fingerprints.fingerprint import NO_PDQ
from registry.fingerprints.hashing import hash_image
from registry.fingerprints.regions import WHOLE_FRAME
from registry.fingerprints.variants import VARIANTS
from registry.matching.matcher import VARIANT_NUMBER, CandidateIndex
from registry.matching.rules import (
    DEFAULT_MATCHING,
    MatchingConfig,
    Verdict,
    closest_work,
    is_candidate,
    is_weak,
    verify,
    verify_item,
)
from tests.fingerprints.images import (
    badge,
    drawing,
    encode,
    in_the_corner,
    painting,
    with_mark,
)

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


def hue_turned(image: Image.Image, degrees: float) -> Image.Image:
    hsv = np.asarray(image.convert("HSV")).copy()
    hsv[..., 0] = (hsv[..., 0].astype(int) + round(degrees * 256 / 360)) % 256
    return Image.fromarray(hsv, "HSV").convert("RGB")


PHOTOMETRIC = {
    "gamma": lambda image: image.point(lambda v: round(255 * (v / 255) ** 1.6)),
    "faded": lambda image: Image.blend(image, Image.new("RGB", image.size, "white"), 0.45),
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


@pytest.mark.parametrize("degrees", [30, -30])
@pytest.mark.parametrize("name", ["painting-a", "painting-b", "badge", "drawing"])
def test_hue_rotation_is_a_filter_not_another_work(name: str, degrees: int) -> None:
    """Colour is weak evidence: a hue turned by 30 degrees (which also moves each hue's grey
    by its own amount) verifies against the original when the structure agrees."""
    turned = fingerprint_image(encode(hue_turned(web_copy(PICTURES[name]), degrees), "JPEG"))
    assert verify(turned.hashes, registered(name).variants["original"]).matched


def caption_band(image: Image.Image, opacity: int = 140) -> Image.Image:
    """A semi-transparent dark band across the middle (`opacity` of 255), with white text."""
    width, height = image.size
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    draw.rectangle((0, 0.45 * height, width, 0.58 * height), fill=(0, 0, 0, opacity))
    font = ImageFont.load_default(size=round(0.07 * height))
    draw.text((0.05 * width, 0.47 * height), "when the art hits", fill="white", font=font)
    return Image.alpha_composite(image.convert("RGBA"), layer).convert("RGB")


def text_line(image: Image.Image) -> Image.Image:
    """A line of outlined text written across the picture."""
    written = image.copy()
    font = ImageFont.load_default(size=round(0.07 * image.height))
    ImageDraw.Draw(written).text(
        (0.05 * image.width, 0.35 * image.height),
        "mine now #repost",
        fill="white",
        font=font,
        stroke_width=2,
        stroke_fill="black",
    )
    return written


def sticker(image: Image.Image) -> Image.Image:
    """A yellow emoji disc covering about 6% of the picture."""
    stuck = image.copy()
    width, height = image.size
    radius = 0.14 * min(width, height)
    cx, cy = 0.62 * width, 0.4 * height
    draw = ImageDraw.Draw(stuck)
    draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=(255, 205, 40))
    for dx in (-0.35, 0.35):
        eye = (cx + dx * radius, cy - 0.3 * radius)
        draw.ellipse((eye[0] - 5, eye[1] - 5, eye[0] + 5, eye[1] + 5), fill=(60, 30, 0))
    return stuck


OVERLAYS = {
    "caption_band": caption_band,
    "text_line": text_line,
    "sticker": sticker,
    "rotated_180": lambda image: image.transpose(Image.Transpose.ROTATE_180),
    "flipped_vertically": lambda image: image.transpose(Image.Transpose.FLIP_TOP_BOTTOM),
}


@pytest.mark.parametrize("edit", list(OVERLAYS))
@pytest.mark.parametrize("name", ["painting-a", "painting-b"])
def test_overlays_inside_the_picture_and_turned_copies_match(name: str, edit: str) -> None:
    """Social-network re-posts that plain pHash accepts: the verification must accept them too."""
    data = encode(OVERLAYS[edit](web_copy(PICTURES[name])), "JPEG", quality=90)
    assert matched_works(fingerprint_image(data)) == {name}


def test_a_query_region_matches_only_as_a_near_copy() -> None:
    """A region of a query (its untrimmed frame, an XY-cut rectangle) may carry no overlay of
    its own: on mateval's DEV set a sprite in its untrimmed frame matched another sprite
    that differs from it in one blob. The whole query keeps its overlay allowance, and so
    does a frame whose pHash, dHash and PDQ all agree with the work's (weakly)."""
    work = registered("painting-a").variants["original"]
    stuck = fingerprint_image(encode(sticker(web_copy(PICTURES["painting-a"])), "JPEG"))
    assert verify(stuck.hashes, work).matched
    # An XY-cut rectangle goes on the wire without a PDQ.
    no_pdq = replace(stuck.hashes, pdq=NO_PDQ, pdq_quality=0)
    as_region = verify(no_pdq, work, region=True)
    assert not as_region.matched
    assert as_region.distances["overlay"] > DEFAULT_MATCHING.region_max_overlay
    as_frame = verify(stuck.hashes, work, region=True)
    assert as_frame.distances["pdq"] <= DEFAULT_MATCHING.pdq_path_radius
    assert as_frame.matched and not as_frame.strong
    no_path_rule = replace(DEFAULT_MATCHING, pdq_path_radius=-1)
    assert not verify(stuck.hashes, work, no_path_rule, region=True).matched
    plain = fingerprint_image(encode(web_copy(PICTURES["painting-a"]), "JPEG"))
    assert verify(plain.hashes, work, region=True).matched


def test_a_candidate_found_by_its_dhash_only_must_agree_closely() -> None:
    """A candidate whose pHash is farther than the radius (found by dHash) is held to a
    stricter share of changed cells: another tile or sprite also moves pHash."""
    work = registered("painting-a").variants["original"]
    captioned = fingerprint_image(
        encode(caption_band(web_copy(PICTURES["painting-a"])), "JPEG", quality=90)
    )
    near = verify(captioned.hashes, work)
    assert near.matched
    assert near.distances["phash"] > 0
    assert near.distances["changed"] > DEFAULT_MATCHING.dhash_max_changed
    found_by_dhash = MatchingConfig(phash_radius=0, pdq_radius=-1, pdq_path_radius=-1)
    assert not verify(captioned.hashes, work, found_by_dhash).matched
    # PDQ agreeing too, the band is an overlay, not another work: matched, but weakly, by
    # either PDQ rule.
    with_pdq = verify(captioned.hashes, work, replace(found_by_dhash, pdq_radius=31))
    assert with_pdq.distances["pdq"] <= 31
    assert with_pdq.matched and not with_pdq.strong
    with_path_rule = verify(captioned.hashes, work, replace(found_by_dhash, pdq_path_radius=44))
    assert with_path_rule.matched and not with_path_rule.strong


def test_a_regions_candidate_found_by_dhash_only_is_not_verified() -> None:
    """Regions are searched by pHash: the same registered variant, found by a region's dHash
    only, costs no comparison and matches nothing; found by the whole query it matches."""
    work = registered("painting-a").variants["original"]
    query = fingerprint_image(encode(web_copy(PICTURES["painting-a"]), "JPEG")).hashes
    far = query.phash ^ ((1 << (DEFAULT_MATCHING.phash_radius + 1)) - 1)  # pHash too far
    region = type(query)(far, query.dhash, query.pdq, query.pdq_quality, query.descriptor)
    by_region = verify_item([query, region], {7: [("original", 1, work)]})
    assert by_region.matched == {} and by_region.spent == 0
    by_whole = verify_item([region, query], {7: [("original", 1, work)]})
    assert set(by_whole.matched) == {7} and by_whole.spent == 1


def test_only_the_upright_regions_dhash_only_candidates_framed_as_it_are_verified() -> None:
    """The upright region (found by four fitted sides and put upright) is searched by dHash
    too: its dHash-only candidate through the registered original or untrimmed frame is
    verified, weakly, held to the near-copy limits of both paths. A cut piece's is not, nor
    the upright region's through a tilt, a centre crop or any variant framed otherwise."""
    work = registered("painting-a").variants["original"]
    query = fingerprint_image(encode(web_copy(PICTURES["painting-a"]), "JPEG")).hashes
    far = query.phash ^ ((1 << (DEFAULT_MATCHING.phash_radius + 1)) - 1)  # pHash too far
    region = replace(query, phash=far, pdq=NO_PDQ, pdq_quality=0)
    whole = replace(query, phash=~query.phash & (2**64 - 1), dhash=~query.dhash & (2**64 - 1))
    searched = [whole, region, region]  # a cut piece, then the upright region

    for variant in ("original", "untrimmed"):
        upright = verify_item(searched, {7: [(variant, 2, work)]}, upright=2)
        assert set(upright.matched) == {7} and upright.found_by[7] == 2
        assert upright.spent == 1 and not upright.matched[7][1].strong
    piece = verify_item(searched, {7: [("original", 1, work)]}, upright=2)
    assert piece.matched == {} and piece.spent == 0
    for variant in ("tilt_left", "tilt_right", "crop_centre", "mirror"):
        tilted = verify_item(searched, {7: [(variant, 2, work)]}, upright=2)
        assert tilted.matched == {} and tilted.spent == 0
    off = replace(DEFAULT_MATCHING, upright_dhash_variants=())
    assert verify_item(searched, {7: [("original", 2, work)]}, off, upright=2).matched == {}
    # Held to the near-copy limits of a region and of a dHash-only pair, which a stickered
    # copy passes as a whole query found by pHash but not here.
    stuck = fingerprint_image(encode(sticker(web_copy(PICTURES["painting-a"])), "JPEG")).hashes
    assert verify(stuck, work).matched
    stuck_region = replace(stuck, phash=far, pdq=NO_PDQ, pdq_quality=0)
    assert verify_item([whole, stuck_region], {7: [("original", 1, work)]}, upright=1).matched == {}


def test_the_index_finds_the_upright_regions_dhash_candidates_framed_as_it_only() -> None:
    """CandidateIndex.search: the upright region's dHash reaches the registered original and
    untrimmed frame, never a tilt; a cut piece's dHash is not searched."""
    work = registered("painting-a")
    variants = list(work.variants)
    hashes = [work.variants[name] for name in variants]
    index = CandidateIndex.from_arrays(
        np.full(len(variants), 7, dtype=np.int64),
        np.array([VARIANT_NUMBER[name] for name in variants], dtype=np.uint8),
        np.array([h.phash for h in hashes], dtype=np.uint64),
        np.array([h.dhash for h in hashes], dtype=np.uint64),
    )
    framed = {"original", "untrimmed", "tilt_left", "tilt_right"}
    dhash = work.variants["tilt_left"].dhash
    # The pHash far from every variant (its complement), the dHash exactly the tilt's.
    phash = ~work.variants["original"].phash & (2**64 - 1)
    found = index.search(
        np.full(3, phash, dtype=np.uint64),
        np.array([dhash, dhash, dhash], dtype=np.uint64),
        by_dhash=np.array([True, False, False]),
        upright=np.array([False, False, True]),
    )
    by_query: dict[int, set[str]] = {0: set(), 1: set(), 2: set()}
    for k, number in zip(found.query_index.tolist(), found.variant.tolist(), strict=True):
        by_query[k].add(VARIANTS[number])
    assert "tilt_left" in by_query[0] and by_query[0] <= framed | {"crop_centre"}
    assert by_query[1] == set()
    assert by_query[2] <= {"original", "untrimmed"}


def test_an_item_over_its_verification_budget_says_so() -> None:
    """Candidates pHash found must all be verified within the budget, each work's variants
    nearest first, the first match settling the work; an item needing more comparisons is
    over budget (decided invalid). Candidates found by dHash only take what budget is left
    and never put an item over it."""
    query = fingerprint_image(encode(web_copy(PICTURES["painting-a"]), "JPEG")).hashes
    other = registered("painting-b").variants["original"]
    # Hash-near, picture-far: found by pHash, refused by the comparison.
    lookalike = replace(other, phash=query.phash, dhash=query.dhash)
    work = registered("painting-a").variants["original"]
    candidates = {n: [(name, 0, lookalike) for name in ("original", "mirror")] for n in (1, 2, 3)}
    candidates[9] = [("original", 0, work)]
    roomy = verify_item([query], candidates, MatchingConfig(max_verifications=7))
    assert set(roomy.matched) == {9} and not roomy.over_budget and roomy.spent == 7
    tight = verify_item([query], candidates, MatchingConfig(max_verifications=6))
    assert tight.over_budget and tight.matched == {}
    by_dhash_only = {
        n: [("original", 0, replace(lookalike, phash=~query.phash & (2**64 - 1)))]
        for n in range(1, 20)
    }
    by_dhash_only[30] = [("original", 0, work)]
    spent = verify_item([query], by_dhash_only, MatchingConfig(max_verifications=5))
    assert not spent.over_budget and spent.spent == 5 and set(spent.matched) == {30}


def test_a_crop_variant_matches_only_as_a_near_copy() -> None:
    """A registered crop is a detail of the work (a texture, a pattern): many pictures
    resemble it, so a query differing from it in more cells than crop_max_changed is not
    the work, while the same query still matches the whole picture."""
    work = registered("painting-a").variants["original"]
    banded = web_copy(PICTURES["painting-a"])
    width, height = banded.size
    ImageDraw.Draw(banded).rectangle((0, 0.45 * height, width, 0.6 * height), fill="black")
    captioned = fingerprint_image(encode(banded, "JPEG", quality=90))
    whole = verify(captioned.hashes, work)
    assert whole.matched
    assert whole.distances["changed"] > DEFAULT_MATCHING.crop_max_changed
    assert not verify(captioned.hashes, work, variant="crop_centre").matched


def reposted(name: str, edit: Callable[[Image.Image], Image.Image] | None = None) -> Hashes:
    """A JPEG re-post of a test picture, after an optional edit."""
    image = web_copy(PICTURES[name])
    edited = image if edit is None else edit(image)
    return fingerprint_image(encode(edited, "JPEG", quality=90)).hashes


def test_a_clean_copy_or_one_watermarked_at_the_edge_is_a_strong_match() -> None:
    """A near copy of the whole picture may allow an item: a re-encode, or a mark at the
    frame's edge (a watermark, a logo in a corner)."""
    work = registered("painting-a").variants["original"]
    assert verify(reposted("painting-a"), work).strong
    marked = verify(reposted("painting-a", lambda image: with_mark(image, 0.0, 0.0)), work)
    assert marked.strong and marked.distances["changed"] > 0


def test_a_stickered_copy_matches_but_only_weakly() -> None:
    """An overlay inside the picture is what a sticker does, and also what another tile of
    the same template does: such a match may deny the item, never allow it."""
    work = registered("painting-a").variants["original"]
    verdict = verify(reposted("painting-a", sticker), work)
    assert verdict.matched and not verdict.strong
    assert verdict.distances["changed_inside"] > DEFAULT_MATCHING.strong_max_changed_inside


def test_a_template_sibling_with_another_corner_emblem_is_not_strong() -> None:
    """Two works cut from one template, another emblem over a quarter of the side in one
    corner: the difference touches the frame's edge as a watermark does, but reaches far
    into the picture. It may deny an item, never allow it; a re-encoded copy still may."""
    template = painting(21)
    work = fingerprint_work(encode(in_the_corner(template, "disc", 0.25), "PNG"))
    registered_hashes = work.variants["original"]
    sibling = fingerprint_image(encode(in_the_corner(template, "square", 0.25), "JPEG", quality=90))
    verdict = verify(sibling.hashes, registered_hashes)
    assert verdict.matched and not verdict.strong
    assert verdict.distances["edge_depth"] > DEFAULT_MATCHING.strong_max_edge_depth
    # Version 3 as first published called it strong: the edge overlay was not limited.
    unlimited = replace(DEFAULT_MATCHING, strong_max_edge_depth=1.0)
    assert verify(sibling.hashes, registered_hashes, unlimited).strong
    copy = fingerprint_image(encode(in_the_corner(template, "disc", 0.25), "JPEG", quality=90))
    assert verify(copy.hashes, registered_hashes).strong


def test_a_picture_inset_in_a_corner_is_not_strong() -> None:
    """Another picture over 30% of the side in a corner covers the work, it is no watermark
    at the edge: the re-post matches (it may deny), but not strongly."""
    work = fingerprint_work(encode(painting(22), "PNG")).variants["original"]
    inset = in_the_corner(painting(22), "picture", 0.30)
    verdict = verify(fingerprint_image(encode(inset, "JPEG", quality=90)).hashes, work)
    assert verdict.matched and not verdict.strong
    assert verdict.distances["edge_depth"] > DEFAULT_MATCHING.strong_max_edge_depth


def test_a_match_by_a_region_or_by_dhash_only_is_weak() -> None:
    """The same clean copy, found through a relaxed path, matches without being strong."""
    work = registered("painting-a").variants["original"]
    query = reposted("painting-a")
    far = replace(query, phash=query.phash ^ ((1 << (DEFAULT_MATCHING.phash_radius + 1)) - 1))
    by_region = verify_item([far, query], {7: [("original", 1, work)]})
    by_dhash = verify_item([far], {7: [("original", 0, work)]})
    for item in (by_region, by_dhash):
        assert set(item.matched) == {7} and item.strong == frozenset()
    assert verify_item([query], {7: [("original", 0, work)]}).strong == {7}


def test_a_weakly_matched_work_is_strong_when_another_variant_is_a_near_copy() -> None:
    """The variant nearest by pHash settles the match, weakly; the work's other variants are
    then verified for a near copy, within the item's budget (never over it)."""
    query = reposted("painting-a")
    stuck = replace(reposted("painting-a", sticker), phash=query.phash)  # nearest, weak
    copy = replace(registered("painting-a").variants["original"], phash=query.phash ^ 0b11)
    candidates = {7: [("original", 0, stuck), ("untrimmed", 0, copy)]}
    item = verify_item([query], candidates)
    assert item.strong == {7} and item.matched[7][0] == "untrimmed" and item.spent == 2
    tight = verify_item([query], candidates, MatchingConfig(max_verifications=1))
    assert set(tight.matched) == {7} and tight.strong == frozenset()
    assert not tight.over_budget


def test_thin_drawings_differ_by_their_content_not_by_the_frame() -> None:
    """Two line drawings on white: most cells are page in both, so changes are counted
    against the ink (what either picture shows), where they disagree almost everywhere."""
    work = registered("drawing").variants["original"]
    for seed in range(40, 46):
        other = fingerprint_image(encode(drawing(seed), "JPEG"))
        verdict = verify(other.hashes, work)
        assert not verdict.matched
        assert verdict.distances["changed_ink"] > verdict.distances["changed"]


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
        "overlay",
        "scattered",
        "ink",
        "removed",
        "changed_ink",
        "changed_inside",
        "edge_depth",
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
def test_one_compact_mark_inside_the_picture_is_an_overlay(place: tuple[float, float]) -> None:
    """A sticker or a logo inside the picture: one blob of disagreement, agreement elsewhere.

    (Until version 3 any 8 changed cells inside the picture refused the match, and with it
    every sticker, caption band and line of text that plain pHash accepts.)
    """
    marked = fingerprint_image(encode(with_mark(PICTURES["badge"], *place, size=0.1), "JPEG"))
    verdict = verify(marked.hashes, registered("badge").variants["original"])
    assert verdict.matched
    assert verdict.distances["overlay"] > 0
    assert verdict.distances["scattered"] == 0


def test_changes_scattered_over_the_picture_are_another_work() -> None:
    """The same template with details added in several places (another drawing on it)."""
    marked = PICTURES["badge"]
    for place in [(0.25, 0.3), (0.7, 0.25), (0.3, 0.75), (0.75, 0.7)]:
        marked = with_mark(marked, *place, size=0.07)
    verdict = verify(
        fingerprint_image(encode(marked, "JPEG")).hashes, registered("badge").variants["original"]
    )
    assert not verdict.matched
    assert verdict.distances["scattered"] > DEFAULT_MATCHING.max_scattered
    assert verdict.distances["luma"] < DEFAULT_MATCHING.max_luma  # alike everywhere else


def test_an_overlay_at_the_edge_is_not_another_work() -> None:
    """The same mark at the frame's edge is what a watermark or a logo does."""
    marked = fingerprint_image(encode(with_mark(PICTURES["painting-b"], 0.0, 0.0), "JPEG"))
    verdict = verify(marked.hashes, registered("painting-b").variants["original"])
    assert verdict.matched
    assert verdict.distances["changed"] > 0
    assert verdict.distances["overlay"] == verdict.distances["scattered"] == 0


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
        Image.linear_gradient("L").resize((400, 300)),
        Image.radial_gradient("L").resize((400, 300)).convert("RGB"),
    ],
    ids=["blank", "flat-colour", "faint-gradient", "paper-noise", "gradient", "radial"],
)
def test_plain_images_are_weak(picture: Image.Image) -> None:
    """A strong gradient too: it has no lines, and was accepted by version 2's measure of
    low frequencies, then matched unrelated drawings on white."""
    fingerprint = fingerprint_image(encode(picture, "PNG"))
    assert is_weak(fingerprint)


def test_line_art_is_not_weak() -> None:
    """A country's outline, two pixels wide on white: faint in low frequencies, clear in lines."""
    outline = Image.new("RGB", (600, 400), "white")
    ImageDraw.Draw(outline).line(
        [(50, 300), (200, 80), (400, 120), (550, 350), (300, 380), (50, 300)], fill="black", width=2
    )
    assert not is_weak(fingerprint_image(encode(outline, "PNG")))


@pytest.mark.parametrize("name", list(PICTURES))
def test_real_pictures_are_not_weak(name: str) -> None:
    assert not is_weak(registered(name).image)


def test_config_is_published_as_plain_data() -> None:
    published = DEFAULT_MATCHING.to_dict()
    assert published["phash_radius"] == DEFAULT_MATCHING.phash_radius
    assert published["max_scattered"] == DEFAULT_MATCHING.max_scattered
    assert published["max_verifications"] == DEFAULT_MATCHING.max_verifications
    assert published["dhash_variants"] == list(DEFAULT_MATCHING.dhash_variants)
    # Receipts record these settings: they must say what may allow an item.
    assert published["strong_max_changed_inside"] == DEFAULT_MATCHING.strong_max_changed_inside
    assert published["strong_max_edge_depth"] == DEFAULT_MATCHING.strong_max_edge_depth
    assert "a weak match can deny, only a strong match can allow" in str(published["strength"])
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


def stripes(colour: tuple[int, int, int]) -> Callable[[Image.Image], Image.Image]:
    """Six translucent horizontal stripes across the whole picture."""

    def edit(image: Image.Image) -> Image.Image:
        width, height = image.size
        layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        for k in range(6):
            y = (k + 0.5) * height / 6
            draw.line((0, y, width, y), fill=(*colour, 90), width=round(0.04 * height))
        return Image.alpha_composite(image.convert("RGBA"), layer).convert("RGB")

    return edit


@pytest.mark.parametrize("colour", [(255, 255, 255), (0, 0, 0)])
def test_a_striped_copy_that_phash_and_pdq_accept_matches_weakly(
    colour: tuple[int, int, int],
) -> None:
    """Translucent stripes change a third of the cells and the light everywhere, past the
    descriptor's limits, while pHash and PDQ still agree: an overlay, not evidence of another
    work. Such a match may deny the item, never allow it."""
    work = registered("painting-a").variants["original"]
    query = reposted("painting-a", stripes(colour))
    assert verify(query, work).matched
    without = verify(query, work, MatchingConfig(pdq_radius=-1))
    assert not without.matched  # the descriptor's limits alone refuse it
    assert without.distances["phash"] <= DEFAULT_MATCHING.phash_radius
    assert without.distances["pdq"] <= DEFAULT_MATCHING.pdq_radius
    assert not verify(query, work).strong
    # A region sent without a PDQ (all zeros, as regions go on the wire) is held to a near
    # copy; one carrying its own PDQ is judged as the whole query is.
    no_pdq = replace(query, pdq=bytes(len(query.pdq)), pdq_quality=0)
    assert not verify(no_pdq, work, region=True).matched
    assert verify(query, work, region=True).matched


def test_close_hashes_do_not_excuse_erased_detail_or_other_colours() -> None:
    """pHash and PDQ agreeing (forced here) is not enough when the descriptor sees evidence
    of another work: the registered template's details missing in several places (another
    muffin without the chips), or the same flag in another colour."""
    detailed = PICTURES["badge"]
    for place in [(0.25, 0.3), (0.7, 0.25), (0.3, 0.75), (0.75, 0.7)]:
        detailed = with_mark(detailed, *place, size=0.07)
    work = fingerprint_work(encode(detailed, "PNG")).variants["original"]
    plain = replace(reposted("badge"), phash=work.phash, pdq=work.pdq, pdq_quality=100)
    erased = verify(plain, work)
    assert not erased.matched
    assert erased.distances["removed"] > DEFAULT_MATCHING.max_scattered
    red, green = (badge(fill=colour) for colour in ((220, 40, 40), (20, 140, 40)))
    flag = fingerprint_work(encode(red, "PNG")).variants["original"]
    other = fingerprint_image(encode(green, "JPEG")).hashes
    recoloured = verify(replace(other, phash=flag.phash, pdq=flag.pdq, pdq_quality=100), flag)
    assert not recoloured.matched
    # A PDQ of too little gradient (PDQ's quality under 50) is no evidence of the same work.
    low = replace(reposted("painting-a", stripes((0, 0, 0))), pdq_quality=10)
    assert not verify(low, registered("painting-a").variants["original"]).matched


def far_phash(hashes: Hashes, bits: int) -> Hashes:
    """The same hashes with `bits` of the pHash flipped: a pair the query's pHash misses."""
    return replace(hashes, phash=hashes.phash ^ ((1 << bits) - 1))


@pytest.mark.parametrize("colour", [(255, 255, 255), (0, 0, 0)])
def test_a_striped_copy_that_dhash_and_pdq_accept_matches_weakly(
    colour: tuple[int, int, int],
) -> None:
    """A sticker or a band can move the whole query's pHash past its radius while its dHash
    and PDQ still agree (forced here on a striped copy): the pair is an overlay all the same,
    matched weakly, never strongly, and never through a region."""
    work = registered("painting-a").variants["original"]
    query = far_phash(reposted("painting-a", stripes(colour)), DEFAULT_MATCHING.phash_radius + 2)
    verdict = verify(query, work)
    assert verdict.distances["phash"] > DEFAULT_MATCHING.phash_radius
    assert verdict.distances["dhash"] <= DEFAULT_MATCHING.dhash_radius
    assert verdict.distances["pdq"] <= DEFAULT_MATCHING.pdq_radius
    assert verdict.matched
    assert not verdict.strong
    assert not verify(query, work, MatchingConfig(pdq_radius=-1)).matched
    assert not verify(query, work, region=True).matched
    # Found by neither plain hash of the whole query: PDQ alone is no reason to look past
    # the limits.
    neither = replace(query, dhash=query.dhash ^ ((1 << (DEFAULT_MATCHING.dhash_radius + 2)) - 1))
    assert not verify(neither, work).matched


def test_close_dhash_and_pdq_do_not_excuse_erased_detail_or_other_colours() -> None:
    """The dHash-only pair is refused, like the pHash pair, on the evidence of another work:
    the template's details missing (held to the dHash pair's own stricter limit), the same
    flag in another colour, or a PDQ of too little gradient."""
    detailed = PICTURES["badge"]
    for place in [(0.25, 0.3), (0.7, 0.25), (0.3, 0.75), (0.75, 0.7)]:
        detailed = with_mark(detailed, *place, size=0.07)
    work = fingerprint_work(encode(detailed, "PNG")).variants["original"]
    plain = replace(reposted("badge"), dhash=work.dhash, pdq=work.pdq, pdq_quality=100)
    erased = verify(far_phash(replace(plain, phash=work.phash), 12), work)
    assert erased.distances["phash"] > DEFAULT_MATCHING.phash_radius
    assert not erased.matched
    assert erased.distances["removed"] > DEFAULT_MATCHING.dhash_max_scattered
    red, green = (badge(fill=colour) for colour in ((220, 40, 40), (20, 140, 40)))
    flag = fingerprint_work(encode(red, "PNG")).variants["original"]
    other = fingerprint_image(encode(green, "JPEG")).hashes
    forced = replace(other, phash=flag.phash, dhash=flag.dhash, pdq=flag.pdq, pdq_quality=100)
    assert not verify(far_phash(forced, 12), flag).matched
    low = replace(reposted("painting-a", stripes((0, 0, 0))), pdq_quality=10)
    assert not verify(far_phash(low, 12), registered("painting-a").variants["original"]).matched


def test_the_pdq_rescue_holds_a_dhash_pair_to_the_dhash_limit_on_erased_detail() -> None:
    """A dHash-only pair every hash vouches for is judged by the whole query's limits; when it
    fails them anyway and only the rescue for pairs both plain hashes accept is left, the
    detail it erased is still held to the dHash pair's own stricter limit. Limits are set
    around the pair's measured share of erased detail, so the rule, not the picture, decides."""
    detailed = PICTURES["badge"]
    for place in [(0.25, 0.3), (0.7, 0.25), (0.3, 0.75), (0.75, 0.7)]:
        detailed = with_mark(detailed, *place, size=0.07)
    work = fingerprint_work(encode(detailed, "PNG")).variants["original"]
    plain = replace(reposted("badge"), dhash=work.dhash, pdq=work.pdq, pdq_quality=100)
    query = far_phash(replace(plain, phash=work.phash), 12)
    removed = verify(query, work).distances["removed"]
    # The whole query's limits on erased detail would let it through; changes over the whole
    # query's limit send it to the rescue.
    loose = MatchingConfig(max_scattered=0.2, max_changed=0.01)
    under = verify(query, work, replace(loose, dhash_max_scattered=removed * 1.1))
    over = verify(query, work, replace(loose, dhash_max_scattered=removed * 0.9))
    assert under.distances["dhash"] <= DEFAULT_MATCHING.dhash_radius < under.distances["phash"]
    assert under.matched and not under.strong
    assert not over.matched


def on_a_margin(picture: Image.Image) -> Image.Image:
    """A sprite or a clip-art drawing in the middle of a wide white page."""
    page = Image.new("RGB", (640, 480), "white")
    page.paste(picture, ((640 - picture.width) // 2, (480 - picture.height) // 2))
    return page


def light_caption_band(image: Image.Image) -> Image.Image:
    """A caption band of about a third opacity across the whole width, with white text."""
    return caption_band(image, opacity=90)


def frame_with_pdq(data: bytes) -> tuple[ImageFingerprint, Hashes]:
    """A query's fingerprint, and its untrimmed frame (the region whose box is the whole
    frame), which carries the frame's own PDQ."""
    query = fingerprint_image(data)
    frame = dict(query.regions)[WHOLE_FRAME]
    own = hash_image(decode_image(data).untrimmed)
    assert (frame.pdq, frame.pdq_quality) == (own.pdq, own.pdq_quality)
    return query, frame


MARGINED = {"drawing": drawing(23), "badge": badge()}


@pytest.mark.parametrize(
    ("name", "edit"),
    [
        pytest.param("drawing", light_caption_band, id="drawing-caption_band"),
        pytest.param("drawing", stripes((0, 0, 0)), id="drawing-stripes"),
        pytest.param("badge", stripes((0, 0, 0)), id="badge-stripes"),
    ],
)
def test_a_captioned_or_striped_repost_is_found_by_its_untrimmed_frame_and_its_pdq(
    name: str, edit: Callable[[Image.Image], Image.Image]
) -> None:
    """A band or stripes across a picture on a wide margin keep the re-post from being
    trimmed as its work was: the whole query misses the work, and its untrimmed frame, the
    file as plain pHash and PDQ read it, is a region held to a near copy. When the frame
    carries its PDQ and both plain hashes accept the pair, the overlay is no evidence of
    another work: matched weakly (it may deny the item, never allow it)."""
    source = on_a_margin(MARGINED[name])
    work = fingerprint_work(encode(source, "PNG")).variants
    query, frame = frame_with_pdq(encode(edit(web_copy(source)), "JPEG", quality=90))
    assert not verify(query.hashes, work["original"]).matched
    # A frame sent without its PDQ is held to a near copy, as every region was before.
    without_pdq = replace(frame, pdq=NO_PDQ, pdq_quality=0)
    assert not verify(without_pdq, work["untrimmed"], region=True, variant="untrimmed").matched
    found = verify(frame, work["untrimmed"], region=True, variant="untrimmed")
    assert found.distances["phash"] <= DEFAULT_MATCHING.phash_radius
    assert found.distances["pdq"] <= DEFAULT_MATCHING.pdq_radius
    assert found.matched and not found.strong
    item = verify_item([query.hashes, frame], {7: [("untrimmed", 1, work["untrimmed"])]})
    assert set(item.matched) == {7} and item.strong == frozenset()


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(light_caption_band, id="caption_band"),
        pytest.param(stripes((0, 0, 0)), id="stripes"),
    ],
)
@pytest.mark.parametrize("seed", [25, 26, 27])
def test_an_unrelated_drawing_with_the_same_overlay_is_not_found_by_its_frame(
    seed: int, edit: Callable[[Image.Image], Image.Image]
) -> None:
    """Another drawing on the same margin under the same band or stripes: its frame's pHash
    may come close to the work's, its PDQ does not, and the descriptor refuses it."""
    work = fingerprint_work(encode(on_a_margin(drawing(23)), "PNG")).variants["untrimmed"]
    other = on_a_margin(drawing(seed))
    _, frame = frame_with_pdq(encode(edit(web_copy(other)), "JPEG", quality=90))
    assert not verify(frame, work, region=True, variant="untrimmed").matched


def test_a_frame_whose_three_hashes_agree_is_judged_as_a_whole_query() -> None:
    """A dark caption band across a drawing on a wide margin keeps the re-post from being
    trimmed as its work was, and moves its untrimmed frame's PDQ just past 31 bits while the
    frame's pHash and dHash stay close to the registered `untrimmed` variant. With every hash
    agreeing, the frame is held to the whole query's limits, not a region's near copy: the
    band is an overlay. Matched weakly (it may deny the item, never allow it)."""
    source = on_a_margin(drawing(23))
    work = fingerprint_work(encode(source, "PNG")).variants
    query, frame = frame_with_pdq(encode(caption_band(web_copy(source)), "JPEG", quality=90))
    assert not verify(query.hashes, work["original"]).matched
    found = verify(frame, work["untrimmed"], region=True, variant="untrimmed")
    assert found.distances["phash"] <= DEFAULT_MATCHING.phash_radius
    assert found.distances["dhash"] <= DEFAULT_MATCHING.dhash_radius
    assert DEFAULT_MATCHING.pdq_radius < found.distances["pdq"] <= DEFAULT_MATCHING.pdq_path_radius
    assert found.matched and not found.strong
    no_path_rule = replace(DEFAULT_MATCHING, pdq_path_radius=-1)
    assert not verify(frame, work["untrimmed"], no_path_rule, region=True).matched
    # The frame's dHash must agree too: with it far, the frame is a region held to a near copy.
    far_dhash = replace(frame, dhash=frame.dhash ^ ((1 << (DEFAULT_MATCHING.dhash_radius + 2)) - 1))
    assert not verify(far_dhash, work["untrimmed"], region=True, variant="untrimmed").matched
    item = verify_item([query.hashes, frame], {7: [("untrimmed", 1, work["untrimmed"])]})
    assert set(item.matched) == {7} and item.strong == frozenset()


@pytest.mark.parametrize("seed", [25, 26, 27])
def test_an_unrelated_drawing_under_the_same_band_is_not_found_by_its_frame(seed: int) -> None:
    """Another drawing on the same margin under the same dark band is not found by its frame
    (its PDQ is far; for these drawings the frame's dHash or pHash is past its radius too: the
    next test isolates PDQ)."""
    work = fingerprint_work(encode(on_a_margin(drawing(23)), "PNG")).variants["untrimmed"]
    other = on_a_margin(drawing(seed))
    _, frame = frame_with_pdq(encode(caption_band(web_copy(other)), "JPEG", quality=90))
    refused = verify(frame, work, region=True, variant="untrimmed")
    assert refused.distances["pdq"] > DEFAULT_MATCHING.pdq_path_radius
    assert not refused.matched


def test_pdq_is_what_keeps_a_drawing_under_the_same_band_from_being_vouched_for() -> None:
    """Drawing 27 under the band: its frame is a pHash candidate of the work; with its dHash
    forced to the work's, only PDQ is left to tell them apart, and it does (at any radius
    that admits it, the frame would pass as every hash agreeing)."""
    work = fingerprint_work(encode(on_a_margin(drawing(23)), "PNG")).variants["untrimmed"]
    _, frame = frame_with_pdq(encode(caption_band(web_copy(on_a_margin(drawing(27)))), "JPEG"))
    forced = replace(frame, dhash=work.dhash)
    refused = verify(forced, work, region=True, variant="untrimmed")
    assert refused.distances["phash"] <= DEFAULT_MATCHING.phash_radius
    assert refused.distances["pdq"] > DEFAULT_MATCHING.pdq_path_radius
    assert not refused.matched
    admitted = replace(DEFAULT_MATCHING, pdq_path_radius=256)
    assert verify(forced, work, admitted, region=True, variant="untrimmed").matched


def test_closest_work_is_the_lowest_score() -> None:
    near = Verdict(matched=True, distances={}, score=0.4)
    far = Verdict(matched=True, distances={}, score=0.9)
    missed = Verdict(matched=False, distances={}, score=0.1)
    assert closest_work({1: far, 2: near, 3: missed}) == 2
    assert closest_work({3: missed}) is None


def meme(image: Image.Image) -> Image.Image:
    """White caption bars with black text above and below the picture."""
    width, height = image.size
    bar = round(0.18 * height)
    framed = Image.new("RGB", (width, height + 2 * bar), "white")
    framed.paste(image, (0, bar))
    draw = ImageDraw.Draw(framed)
    font = ImageFont.load_default(size=round(0.4 * bar))
    draw.text((0.05 * width, 0.3 * bar), "me explaining my art", fill="black", font=font)
    draw.text((0.05 * width, height + 1.3 * bar), "nobody:", fill="black", font=font)
    return framed


def collage_tile(image: Image.Image) -> Image.Image:
    """The picture as one tile of a 2x2 collage with white gutters."""
    side = 300
    sheet = Image.new("RGB", (2 * side + 12, 2 * side + 12), "white")
    tiles = [image, painting(61), painting(62), drawing(63)]
    for position, tile in enumerate(tiles):
        fitted = tile.resize((side, side))
        sheet.paste(fitted, (4 + position % 2 * (side + 4), 4 + position // 2 * (side + 4)))
    return sheet


@pytest.mark.parametrize("edit", [meme, collage_tile], ids=["meme", "collage"])
@pytest.mark.parametrize("name", ["painting-a", "painting-b"])
def test_a_work_inside_a_bigger_picture_is_found_by_its_region(name: str, edit) -> None:
    query = fingerprint_image(encode(edit(web_copy(PICTURES[name])), "JPEG", quality=90))
    assert query.regions  # the XY cut found the picture's rectangle
    assert matched_works(query) == set()  # the whole frame alone does not match
    found = {
        work
        for k, region in enumerate(query.searched())
        for work in PICTURES
        for hashes in registered(work).variants.values()
        if is_candidate(region, hashes) and verify(region, hashes, region=k > 0).matched
    }
    assert found == {name}


def test_a_work_found_in_a_part_is_looked_for_in_the_whole_picture_within_the_budget() -> None:
    """Found first through a region (a panel of a comic), a work may match the whole
    picture too, which is how it is then reported; that look is a comparison like any other
    and is made only with what the item's budget has left."""
    work = registered("painting-a").variants["original"]
    query = reposted("painting-a")
    far = replace(query, phash=query.phash ^ ((1 << (DEFAULT_MATCHING.phash_radius + 1)) - 1))
    candidates = {7: [("original", 1, work), ("original", 0, work)]}  # region: pHash; whole: dHash
    whole = [True, False]

    roomy = verify_item([far, query], candidates, MatchingConfig(max_verifications=2), whole=whole)
    tight = verify_item([far, query], candidates, MatchingConfig(max_verifications=1), whole=whole)

    assert roomy.found_by == {7: 0} and roomy.spent == 2
    assert tight.found_by == {7: 1} and tight.spent == 1 and not tight.over_budget
    assert set(roomy.matched) == set(tight.matched) == {7}
    assert verify_item([far, query], candidates).found_by == {7: 1}  # bench: no such pass


def test_a_weak_match_whose_closer_look_the_budget_cut_short_is_reported_unsettled() -> None:
    """A registration must know when the strong pass or the whole-picture pass ran out of
    budget: a strong (freezing) claim was not ruled out. With the budget to finish, nothing is
    unsettled; a screened item is decided on the weak match either way."""
    query = reposted("painting-a")
    stuck = replace(reposted("painting-a", sticker), phash=query.phash)  # nearest, weak
    copy = replace(registered("painting-a").variants["original"], phash=query.phash ^ 0b11)
    strong_pass = {7: [("original", 0, stuck), ("untrimmed", 0, copy)]}
    assert verify_item([query], strong_pass).unsettled == frozenset()
    assert verify_item([query], strong_pass, MatchingConfig(max_verifications=1)).unsettled == {7}

    work = registered("painting-a").variants["original"]
    far = replace(query, phash=query.phash ^ ((1 << (DEFAULT_MATCHING.phash_radius + 1)) - 1))
    in_part = {7: [("original", 1, work), ("original", 0, work)]}
    whole = [True, False]
    roomy = verify_item([far, query], in_part, MatchingConfig(max_verifications=2), whole=whole)
    tight = verify_item([far, query], in_part, MatchingConfig(max_verifications=1), whole=whole)
    assert roomy.unsettled == frozenset() and tight.unsettled == {7}
