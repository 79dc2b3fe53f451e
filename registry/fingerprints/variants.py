"""The variants registered for each work, so that common re-post edits hash close to one."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageEnhance

from registry.fingerprints.decode import WORK_SIZE, DecodedImage, shrink, trim_borders, trim_box
from registry.fingerprints.regions import MIN_MARGIN, content_box

Transpose = Image.Transpose

# One centre crop, 7.5% off each side: a re-post cropped anywhere from 5% to 10% a side is
# within 2.5% of it, which the comparison absorbs. (Until version 2, two crops at 5% and
# 10% took two slots; the second went to "brightened".)
CENTRE_KEEP = 0.85
CORNER_KEEP = 0.80
TILT_DEGREES = 3.0
# Brightening clips a picture's light areas to white: a pale drawing loses its shading
# into the page, and a light background is trimmed away. No comparison can restore what
# clipping removed, so the clipped picture is registered as a variant of its own.
BRIGHTENED = 1.25
# Version 4: deep centre crops, 70% and 50% of each side kept. A crop's pHash stays within
# the candidate radius only about 1% of the side away from where it was registered
# (`python -m bench.crop_reach`), and a re-poster's centre is off by a few percent on each
# axis, so each keep is registered five times: at the centre (the crop a centring tool
# makes) and moved DEEP_OFFSET of the side diagonally each way, so that a centre off by up
# to 3% on each axis is at most 1.5% of the side from one of them on each axis
# (docs/matching.md, "Version 4").
DEEP_KEEPS = (0.70, 0.50)
DEEP_OFFSET = 0.015
DEEP_CORNERS = (("nw", -1, -1), ("ne", 1, -1), ("sw", -1, 1), ("se", 1, 1))
# Version 4: a wider tilt each way. A painting turned in a re-post stays within the
# candidate radius of a registered tilt only a few degrees from it (`python -m
# bench.tilt_reach`; drawings on white much further), and 7 degrees reaches the turns of
# 4-10 degrees that the 3-degree tilts miss. A second pair at 11 degrees reached 11-15 but
# more than doubled the false matches the tilts brought on corpus 2's DEV set
# (docs/matching.md, "Version 4").
WIDE_TILTS = (7.0,)
# Version 5: windows as social networks crop a post (16:9 here). A re-post cut to the
# widest window of an aspect lies anywhere along the axis the window slides on, and is found
# only about 1.5% of that side from a registered window (`python -m bench.crop_reach`), so
# windows are registered every WINDOW_STEP of the side, both ends included. Only a window
# the picture fills (the trim leaves it as it is): a drawing on white cut to a window
# re-trims to a piece of the drawing that depends on where the cut fell, and such strips of
# sparse drawings matched strips of other drawings (docs/matching.md, "Windows of pictures
# that fill them").
WINDOW_ASPECTS = {"16x9": 16 / 9}
WINDOW_STEP = 0.03
# A window keeping this much of the picture is "original" within what the comparison absorbs.
WINDOW_MAX_AREA = 0.94
# The most windows an aspect: a picture whose window would slide further than this many
# steps (a tall strip cut to 16:9 keeps little of it) gets them that much further apart.
WINDOW_SLOTS = 24
# A window must carry this much information (fingerprint.information): twice what the
# weak-image gate asks of any picture (MatchingConfig.min_information, 2.5). A window near
# the gate (a strip of sky) is nearly as plain as the pictures the gate refuses, whose
# hashes collide with every other such picture.
WINDOW_MIN_INFORMATION = 5.0
# A window narrower than pHash's own 32x32 grid is hashed from pixels the hash invents; and on
# a small picture, windows a step apart round to the same pixels (each would cost an index row
# and a comparison of the budget for nothing), so a box equal to the one before is skipped.
WINDOW_MIN_SIDE = 32


def _crop(image: Image.Image, keep: float, anchor_x: float, anchor_y: float) -> Image.Image:
    width, height = image.size
    kept_w, kept_h = round(width * keep), round(height * keep)
    left = round((width - kept_w) * anchor_x)
    top = round((height - kept_h) * anchor_y)
    return image.crop((left, top, left + kept_w, top + kept_h))


def _tilted(degrees: float) -> Callable[[DecodedImage], Image.Image]:
    def make(decoded: DecodedImage) -> Image.Image:
        image = decoded.untrimmed
        # Corners are filled with the picture's own edge colour: white for a drawing on
        # white, so that a re-post filled with white trims as the variant does.
        edge = np.concatenate(
            [
                np.asarray(image)[[0, -1]].reshape(-1, 3),
                np.asarray(image)[:, [0, -1]].reshape(-1, 3),
            ]
        )
        fill = tuple(int(v) for v in np.median(edge, axis=0))
        turned = image.rotate(degrees, resample=Image.Resampling.BICUBIC, fillcolor=fill)
        return trim_borders(turned)

    return make


def _transposed(method: Transpose) -> Callable[[DecodedImage], Image.Image]:
    return lambda decoded: decoded.trimmed.transpose(method)


def _cropped(keep: float, x: float, y: float) -> Callable[[DecodedImage], Image.Image]:
    # A re-poster crops the picture as published, margins included, and the query is
    # trimmed afterwards: the variant is made the same way round.
    return lambda decoded: trim_borders(_crop(decoded.untrimmed, keep, x, y))


def _content(decoded: DecodedImage) -> Image.Image | None:
    """The picture trimmed to its content on every side on its own, when that differs from
    the symmetric trim by at least MIN_MARGIN of a side: what the query's cut frames when the
    work is shown on a page of its own background colour (a drawing on white in a screenshot,
    a meme, a collage with white gutters)."""
    frame = decoded.decoded  # at most twice the working size, as the cut reads it
    box = content_box(np.asarray(frame.convert("L"), dtype=np.float32))
    if box is None:
        return None
    trimmed = trim_box(frame)
    width, height = frame.size
    moved = max(
        abs(box[0] - trimmed[0]) / width,
        abs(box[1] - trimmed[1]) / height,
        abs(box[2] - trimmed[2]) / width,
        abs(box[3] - trimmed[3]) / height,
    )
    if moved < MIN_MARGIN:
        return None  # framed like "original" within what the comparison absorbs
    return shrink(trim_borders(frame.crop(box)), WORK_SIZE)


def _offset_crop(keep: float, dx: int, dy: int) -> Callable[[DecodedImage], Image.Image]:
    """A centre crop moved by DEEP_OFFSET of the side along each axis (signs dx, dy)."""

    def make(decoded: DecodedImage) -> Image.Image:
        image = decoded.untrimmed
        width, height = image.size
        kept_w, kept_h = round(width * keep), round(height * keep)
        left = round((width - kept_w) / 2 + dx * DEEP_OFFSET * width)
        top = round((height - kept_h) / 2 + dy * DEEP_OFFSET * height)
        return trim_borders(image.crop((left, top, left + kept_w, top + kept_h)))

    return make


def window_box(size: tuple[int, int], aspect: float, position: float) -> tuple[int, int, int, int]:
    """The widest window of `aspect` (width / height), `position` (0 to 1) of the way along
    the axis it slides on."""
    width, height = size
    if width / height < aspect:
        kept = round(width / aspect)
        top = round((height - kept) * position)
        return (0, top, width, top + kept)
    kept = round(height * aspect)
    left = round((width - kept) * position)
    return (left, 0, left + kept, height)


def window_positions(
    size: tuple[int, int], aspect: float, step: float = WINDOW_STEP
) -> list[float]:
    """Evenly spaced places along the window's slide, at most `step` of the side apart
    (WINDOW_SLOTS at most), both ends included; none when the window keeps nearly all.
    (bench.window_sets measures other steps.)"""
    width, height = size
    left, top, right, bottom = window_box(size, aspect, 0.0)
    if (right - left) * (bottom - top) >= WINDOW_MAX_AREA * width * height:
        return []
    slack = 1 - (bottom - top) / height if width / height < aspect else 1 - (right - left) / width
    count = min(WINDOW_SLOTS, math.ceil(slack / step - 1e-9) + 1)
    return [number / (count - 1) for number in range(count)]


def _windows(decoded: DecodedImage) -> dict[str, Image.Image]:
    """The picture's windows (WINDOW_ASPECTS) that it fills and that carry
    WINDOW_MIN_INFORMATION, cut from the picture as published, as a re-post is."""
    # fingerprint.py imports this module to make every variant: the import goes one way.
    from registry.fingerprints.fingerprint import information

    image = decoded.untrimmed
    windows = {}
    for label, aspect in WINDOW_ASPECTS.items():
        previous = None
        for number, position in enumerate(window_positions(image.size, aspect)):
            box = window_box(image.size, aspect, position)
            if box == previous or min(box[2] - box[0], box[3] - box[1]) < WINDOW_MIN_SIDE:
                continue
            previous = box
            window = image.crop(box)
            # A re-post cut here and trimmed is framed as the window only when the trim
            # leaves the window as it is.
            if trim_box(window) != (0, 0, window.width, window.height):
                continue
            if information(window) >= WINDOW_MIN_INFORMATION:
                windows[f"crop_{label}_{number}"] = window
    return windows


WINDOW_VARIANTS: tuple[str, ...] = tuple(
    f"crop_{label}_{number}" for label in WINDOW_ASPECTS for number in range(WINDOW_SLOTS)
)


def _brightened(decoded: DecodedImage) -> Image.Image:
    # Brightened at the size a query is trimmed at, so that it trims as a brightened
    # re-post does.
    bright = ImageEnhance.Brightness(decoded.decoded).enhance(BRIGHTENED)
    return shrink(trim_borders(bright))


# The version 4 variants: each holds only a part of the work (a deep crop, a turn that brings
# fill into its corners) or frames it as another picture on the same sheet may be framed (the
# content box), so a match through one may deny but never allow (MatchingConfig.weak_variants,
# which reads WEAK_VARIANTS: named where they are made, so the two cannot drift apart).
_WEAK_MAKERS: dict[str, Callable[[DecodedImage], Image.Image | None]] = {
    "content_box": _content,
    **{f"crop_centre_{round(keep * 100)}": _cropped(keep, 0.5, 0.5) for keep in DEEP_KEEPS},
    **{
        f"crop_centre_{round(keep * 100)}_{corner}": _offset_crop(keep, dx, dy)
        for keep in DEEP_KEEPS
        for corner, dx, dy in DEEP_CORNERS
    },
    **{
        f"tilt_{side}_{round(degrees)}": _tilted(sign * degrees)
        for degrees in WIDE_TILTS
        for side, sign in (("left", 1), ("right", -1))
    },
}

_MAKERS: dict[str, Callable[[DecodedImage], Image.Image | None]] = {
    "original": lambda decoded: decoded.trimmed,
    "mirror": _transposed(Transpose.FLIP_LEFT_RIGHT),
    "rotate90": _transposed(Transpose.ROTATE_90),
    "rotate270": _transposed(Transpose.ROTATE_270),
    "tilt_left": _tilted(TILT_DEGREES),
    "tilt_right": _tilted(-TILT_DEGREES),
    "crop_centre": _cropped(CENTRE_KEEP, 0.5, 0.5),
    "brightened": _brightened,
    "crop_top_left": _cropped(CORNER_KEEP, 0.0, 0.0),
    "crop_top_right": _cropped(CORNER_KEEP, 1.0, 0.0),
    "crop_bottom_left": _cropped(CORNER_KEEP, 0.0, 1.0),
    "crop_bottom_right": _cropped(CORNER_KEEP, 1.0, 1.0),
    "untrimmed": lambda decoded: decoded.untrimmed,
    # Version 3: upside down and flipped top to bottom. Registered rather than tried on the
    # query side: two index rows a work against two more lookups and descriptors per item
    # (docs/matching.md, orientation).
    "rotate180": _transposed(Transpose.ROTATE_180),
    "flip_vertical": _transposed(Transpose.FLIP_TOP_BOTTOM),
    # Version 4: the content box, the deep centre crops and the wider tilts.
    **_WEAK_MAKERS,
}

# The windows come last: how many a work gets depends on its shape (_windows).
VARIANTS: tuple[str, ...] = (*_MAKERS, *WINDOW_VARIANTS)
WEAK_VARIANTS: tuple[str, ...] = (*_WEAK_MAKERS, *WINDOW_VARIANTS)


def variant_images(decoded: DecodedImage) -> dict[str, Image.Image]:
    """Every registered variant's image. "untrimmed" only when trimming changed the image,
    "content_box" only when it is framed differently from "original", windows only where
    the picture fills them (_windows)."""
    images = {}
    for name, make in _MAKERS.items():
        if name == "untrimmed":
            continue
        image = make(decoded)
        # A crop of a picture a pixel or two wide can keep nothing: no variant to register.
        if image is not None and min(image.size) > 0:
            images[name] = image
    if decoded.was_trimmed:
        images["untrimmed"] = decoded.untrimmed
    images.update(_windows(decoded))
    return images
