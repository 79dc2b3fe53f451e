"""The variants registered for each work, so that common re-post edits hash close to one."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageEnhance

from registry.fingerprints.decode import DecodedImage, shrink, trim_borders

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


def _brightened(decoded: DecodedImage) -> Image.Image:
    # Brightened at the size a query is trimmed at, so that it trims as a brightened
    # re-post does.
    bright = ImageEnhance.Brightness(decoded.decoded).enhance(BRIGHTENED)
    return shrink(trim_borders(bright))


_MAKERS: dict[str, Callable[[DecodedImage], Image.Image]] = {
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
}

VARIANTS: tuple[str, ...] = tuple(_MAKERS)


def variant_images(decoded: DecodedImage) -> dict[str, Image.Image]:
    """Every registered variant's image. "untrimmed" only when trimming changed the image."""
    images = {name: make(decoded) for name, make in _MAKERS.items() if name != "untrimmed"}
    if decoded.was_trimmed:
        images["untrimmed"] = decoded.untrimmed
    return images
