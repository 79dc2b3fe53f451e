"""Regions of a query that may hold a registered work inside a bigger picture.

A screenshot of a post, a meme with caption bars or a collage holds the work in a rectangle
separated from the rest by uniform rows or columns (the app's background, the bars, the
gutters). Cutting the query along such runs, bands first and then columns within each band
(an XY cut), finds those rectangles; each is hashed like a query of its own. The untrimmed
frame is a region too when trimming changed the query: a mark in the margin of a drawing
changes how it trims, and the registered "untrimmed" variant is framed like it.

A work pasted onto another picture, with no uniform surroundings, is not found this way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from registry.fingerprints.decode import WORK_SIZE, DecodedImage, shrink, trim_borders

MAX_REGIONS = 4
# A row or column is uniform when its grey levels spread less than this (standard deviation).
UNIFORM = 6.0
# A cut needs a run of at least this many uniform rows or columns (at twice the working size).
MIN_GAP = 2
# A region covers at least this share of the query's area, and at most this much of it (the
# whole frame is hashed anyway).
MIN_AREA, MAX_AREA = 0.10, 0.85
# A region is no thinner than this share of the frame's side.
MIN_SIDE = 0.2


@dataclass(frozen=True)
class Region:
    box: tuple[int, int, int, int]  # left, top, right, bottom in thousandths of the frame
    image: Image.Image


def query_regions(decoded: DecodedImage) -> list[Region]:
    """At most MAX_REGIONS regions: the untrimmed frame, then the largest XY-cut rectangles."""
    found: list[Region] = []
    if decoded.was_trimmed:
        found.append(Region((0, 0, 1000, 1000), decoded.untrimmed))
    # Cut at twice the working size: a collage's gutter of a few pixels blurs into one
    # non-uniform row at the working size.
    frame = shrink(decoded.decoded, 2 * WORK_SIZE)
    width, height = frame.size
    grey = np.asarray(frame.convert("L"), dtype=np.float32)
    boxes = []
    bands = _runs(grey.std(axis=1), height)
    if len(bands) == 1 and bands[0][1] - bands[0][0] > MAX_AREA * height:
        bands = []  # no cut across: the frame itself, or a trimmed margin
    for top, bottom in bands:
        for left, right in _runs(grey[top:bottom].std(axis=0), width):
            area = (right - left) * (bottom - top) / (width * height)
            thin = min((right - left) / width, (bottom - top) / height) < MIN_SIDE
            if MIN_AREA <= area <= MAX_AREA and not thin:
                boxes.append((area, (left, top, right, bottom)))
    for _, (left, top, right, bottom) in sorted(boxes, reverse=True):
        if len(found) >= MAX_REGIONS:
            break
        image = shrink(trim_borders(frame.crop((left, top, right, bottom))), WORK_SIZE)
        box = (
            1000 * left // width,
            1000 * top // height,
            1000 * right // width,
            1000 * bottom // height,
        )
        found.append(Region(box, image))
    return found


def _runs(spread: np.ndarray, size: int) -> list[tuple[int, int]]:
    """The stretches of busy lines between runs of at least MIN_GAP uniform ones."""
    busy = spread >= UNIFORM
    stretches: list[tuple[int, int]] = []
    start, quiet = None, 0
    for position, line_busy in enumerate(busy.tolist()):
        if line_busy:
            if start is None:
                start = position
            quiet = 0
            continue
        quiet += 1
        if start is not None and quiet >= MIN_GAP:
            stretches.append((start, position - quiet + 1))
            start = None
    if start is not None:
        stretches.append((start, size))
    return stretches
